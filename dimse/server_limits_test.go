package dimse

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Adversarial row 5: MaxAssociations+1 → RJ(2,3,2), exact bytes; the
// existing associations are unaffected; the per-AE cap rejects the same
// AE while another AE still gets in.
func TestServerAssociationLimits(t *testing.T) {
	srvLeakCheck(t)
	rec := newSrvObs()
	addr := srvStart(t, &Server{MaxAssociations: 3, MaxAssociationsPerAE: 2, Observer: rec})
	a1 := srvDial(t, addr, "AE1")
	a2 := srvDial(t, addr, "AE1")

	// Per-AE: a third from AE1 is rejected, checked on the wire bytes.
	wantRJ := []byte{0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x02, 0x03, 0x02}
	if got := rawAssociate(t, addr, "AE1"); string(got) != string(wantRJ) {
		t.Fatalf("per-AE: got % x, want % x", got, wantRJ)
	}
	rec.waitRejected(t)
	a3 := srvDial(t, addr, "AE2") // another AE: fits the global cap of 3
	// Global: a fourth from a new AE is rejected.
	if got := rawAssociate(t, addr, "AE3"); string(got) != string(wantRJ) {
		t.Fatalf("global: got % x, want % x", got, wantRJ)
	}
	rec.waitRejected(t)
	for _, c := range []*srvPeer{a1, a2, a3} {
		if st := c.echo(1); st != StatusSuccess {
			t.Fatalf("existing association: %v", st)
		}
	}
	a1.release()
	rec.waitEnd(t)
	a4 := srvDial(t, addr, "AE3") // a slot is free again
	a4.release()
	a2.release()
	a3.release()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.rejected) != 2 {
		t.Fatalf("observer saw %d rejections", len(rec.rejected))
	}
}

// rawAssociate sends a minimal A-ASSOCIATE-RQ by hand and returns the
// answer PDU's bytes.
func rawAssociate(t *testing.T, addr, calling string) []byte {
	t.Helper()
	conn, answer := rawAssociatedAs(t, addr, calling)
	conn.Close()
	return answer
}

// rawAssociated opens a raw connection, sends an A-ASSOCIATE-RQ proposing
// Verification on context 1 and returns the connection (closed at cleanup)
// and the answer PDU.
func rawAssociated(t *testing.T, addr string) (net.Conn, []byte) {
	t.Helper()
	conn, answer := rawAssociatedAs(t, addr, "RAW")
	t.Cleanup(func() { conn.Close() })
	return conn, answer
}

func rawAssociatedAs(t *testing.T, addr, calling string) (net.Conn, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	rq := &pdu.AssociateRQ{ProtocolVersion: pdu.ProtocolVersion1, CalledAETitle: "SHARDPACS", CallingAETitle: calling,
		ApplicationContext:   pdu.DICOMApplicationContext,
		PresentationContexts: []pdu.PresentationContextRQ{srvEchoPC(1)},
		UserInfo:             pdu.UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.3.4"}}
	b, err := pdu.Encode(rq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	return conn, readRawPDU(t, conn)
}

// readRawPDU reads one PDU, header included.
func readRawPDU(t *testing.T, conn net.Conn) []byte {
	t.Helper()
	var h [6]byte
	if _, err := io.ReadFull(conn, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[2])<<24 | int(h[3])<<16 | int(h[4])<<8 | int(h[5])
	if n > 1<<16 {
		t.Fatalf("answer length %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	return append(h[:], body...)
}

// Shutdown lets a running request finish, then returns once the peer
// released; Serve returns ErrServerClosed and new associations are refused.
func TestServerShutdownGraceful(t *testing.T) {
	srvLeakCheck(t)
	entered, proceed := make(chan struct{}), make(chan struct{})
	s := &Server{Store: StoreHandlerFunc(func(context.Context, *StoreRequest) error {
		close(entered)
		<-proceed
		return nil
	})}
	l := srvListen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := srvDial(t, l.Addr().String(), "SCU", srvStorePC(1, srvCTImage))
	go c.send(1, NewCStoreRQ(1, srvCTImage, "1.2.3", PriorityMedium), []byte{0, 0})
	<-entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Fatal("listener still accepting")
	}
	close(proceed)
	if m := c.mustRecv(); m.Command.Status != StatusSuccess {
		t.Fatalf("status %v", m.Command.Status)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v before the association ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.release()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// When Shutdown's context ends, remaining associations are aborted and
// their handlers see cancellation.
func TestServerShutdownDeadlineAborts(t *testing.T) {
	srvLeakCheck(t)
	handlerDone := make(chan error, 1)
	s := &Server{ARTIMTimeout: 2 * time.Second, Store: StoreHandlerFunc(func(ctx context.Context, _ *StoreRequest) error {
		<-ctx.Done()
		handlerDone <- ctx.Err()
		return ctx.Err()
	})}
	l := srvListen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := srvDial(t, l.Addr().String(), "SCU", srvStorePC(1, srvCTImage))
	c.send(1, NewCStoreRQ(1, srvCTImage, "1.2.3", PriorityMedium), []byte{0, 0})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	<-served
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled")
	}
	_, err := c.recv()
	var ab *pdu.Abort
	if !errors.As(err, &ab) {
		t.Fatalf("peer got %v, want A-ABORT", err)
	}
}

// Idle associations are aborted after IdleTimeout.
func TestServerIdleTimeout(t *testing.T) {
	srvLeakCheck(t)
	addr := srvStart(t, &Server{IdleTimeout: 100 * time.Millisecond})
	c := srvDial(t, addr, "SCU")
	_, err := c.recv()
	var ab *pdu.Abort
	if !errors.As(err, &ab) {
		t.Fatalf("got %v, want A-ABORT", err)
	}
}

func srvListen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
