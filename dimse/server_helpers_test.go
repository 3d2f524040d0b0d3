package dimse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// srvLeakCheck fails t if goroutines started during the test outlive it.
// Register it first so that it runs after the other cleanups.
func srvLeakCheck(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		goleak.VerifyNone(t, opt)
	})
}

// srvStart serves s on a loopback listener and returns its address;
// cleanup closes the server and waits for Serve to return.
func srvStart(t *testing.T, s *Server) string { return srvStartB(t, s) }

// pduPC shortens the presentation context type in helpers.
type pduPC = pdu.PresentationContextRQ

func srvStartB(t testing.TB, s *Server) string {
	t.Helper()
	l := testutil.Listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// srvPeer is a bare requestor for tests, built on dimse/ul and the message
// layer only (independent of Client).
type srvPeer struct {
	t  testing.TB
	a  *ul.Association
	r  *MessageReader
	id uint16
}

func srvEchoPC(id uint8) pdu.PresentationContextRQ {
	return pdu.PresentationContextRQ{ID: id, AbstractSyntax: VerificationSOPClass,
		TransferSyntaxes: []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian}}
}

func srvDialErr(t testing.TB, addr, calling string, pcs []pdu.PresentationContextRQ, roles []pdu.RoleSelection) (*srvPeer, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if len(pcs) == 0 {
		pcs = []pdu.PresentationContextRQ{srvEchoPC(1)}
	}
	a, err := ul.Request(ctx, conn, &ul.RequestConfig{CallingAETitle: calling, CalledAETitle: "SHARDPACS",
		Contexts: pcs, RoleSelections: roles, ARTIMTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	c := &srvPeer{t: t, a: a, r: &MessageReader{R: a}}
	t.Cleanup(func() { c.abort() })
	return c, nil
}

func srvDial(t testing.TB, addr, calling string, pcs ...pdu.PresentationContextRQ) *srvPeer {
	t.Helper()
	c, err := srvDialErr(t, addr, calling, pcs, nil)
	if err != nil {
		t.Fatalf("association from %s: %v", calling, err)
	}
	return c
}

func (c *srvPeer) nextID() uint16 { c.id++; return c.id }

func (c *srvPeer) send(ctxID uint8, cmd *Command, data []byte) {
	c.t.Helper()
	var r *bytes.Reader
	if data != nil {
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if r == nil {
		err = WriteMessage(ctx, c.a, ctxID, cmd, nil, c.a.MaxSendPDULength())
	} else {
		err = WriteMessage(ctx, c.a, ctxID, cmd, r, c.a.MaxSendPDULength())
	}
	if err != nil {
		c.t.Fatalf("sending %s: %v", cmd.CommandField, err)
	}
}

func (c *srvPeer) recv() (*Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.r.ReadMessage(ctx)
}

func (c *srvPeer) mustRecv() *Message {
	c.t.Helper()
	m, err := c.recv()
	if err != nil {
		c.t.Fatalf("receiving: %v", err)
	}
	return m
}

// echo sends a C-ECHO-RQ on context ctxID and returns the response status.
func (c *srvPeer) echo(ctxID uint8) Status {
	c.t.Helper()
	c.send(ctxID, NewCEchoRQ(c.nextID()), nil)
	m := c.mustRecv()
	defer m.Close()
	if m.Command.CommandField != CEchoRSP {
		c.t.Fatalf("got %s, want C-ECHO-RSP", m.Command.CommandField)
	}
	return m.Command.Status
}

func (c *srvPeer) release() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.a.Release(ctx); err != nil {
		c.t.Fatalf("release: %v", err)
	}
}

func (c *srvPeer) abort() {
	_ = c.a.Abort(pdu.AbortNotSpecified)
	select {
	case <-c.a.Done():
	case <-time.After(10 * time.Second):
	}
}

// srvObs is an Observer that keeps every event, for assertions.
type srvObs struct {
	NopObserver
	mu       sync.Mutex
	accepted int
	rejected []*pdu.AssociateRJ
	released int
	aborted  []error
	requests []Status
	ended    chan struct{} // receives on release or abort
	rejects  chan struct{} // receives on each rejection
}

func newSrvObs() *srvObs {
	return &srvObs{ended: make(chan struct{}, 64), rejects: make(chan struct{}, 64)}
}

func (r *srvObs) AssociationAccepted(*AssociationInfo, []ul.Context) {
	r.mu.Lock()
	r.accepted++
	r.mu.Unlock()
}

func (r *srvObs) AssociationRejected(_ *AssociationInfo, rj *pdu.AssociateRJ, _ error) {
	r.mu.Lock()
	r.rejected = append(r.rejected, rj)
	r.mu.Unlock()
	select { // never block the server: tests that do not wait may reject many
	case r.rejects <- struct{}{}:
	default:
	}
}

func (r *srvObs) AssociationReleased(*AssociationInfo) {
	r.mu.Lock()
	r.released++
	r.mu.Unlock()
	r.ended <- struct{}{}
}

func (r *srvObs) AssociationAborted(_ *AssociationInfo, _ *pdu.Abort, why error) {
	r.mu.Lock()
	r.aborted = append(r.aborted, why)
	r.mu.Unlock()
	r.ended <- struct{}{}
}

func (r *srvObs) RequestDone(_ *AssociationInfo, _ *Command, st Status, _ int64, _ time.Duration, _ error) {
	r.mu.Lock()
	r.requests = append(r.requests, st)
	r.mu.Unlock()
}

func (r *srvObs) waitEnd(t *testing.T) {
	t.Helper()
	srvWait(t, r.ended, "association did not end")
}

// waitRejected waits for the Observer to hear of one rejection. The
// server reports a rejection after the A-ASSOCIATE-RJ is on the wire, so a
// peer can read the RJ before the Observer has been told.
func (r *srvObs) waitRejected(t *testing.T) {
	t.Helper()
	srvWait(t, r.rejects, "observer not told of the rejection")
}

func srvWait(t *testing.T, ch <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
	}
}

// srvPart10 splits a Part-10 file into its transfer syntax and data set
// bytes (PS3.10 7.1): preamble, "DICM", the group 0002 meta elements in
// Explicit VR Little Endian, then the data set. ok is false for files that
// are not Part-10.
func srvPart10(path string) (ts, class string, ds []byte, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 132 || string(b[128:132]) != "DICM" {
		return "", "", nil, false
	}
	off := 132
	for off+8 <= len(b) {
		group := binary.LittleEndian.Uint16(b[off:])
		if group != 2 {
			break
		}
		elem := binary.LittleEndian.Uint16(b[off+2:])
		vr := string(b[off+4 : off+6])
		var n, hdr int
		switch vr {
		case "OB", "OW", "OF", "SQ", "UT", "UN", "OD", "OL", "OV", "UC", "UR":
			if off+12 > len(b) {
				return "", "", nil, false
			}
			n, hdr = int(binary.LittleEndian.Uint32(b[off+8:])), 12
		default:
			n, hdr = int(binary.LittleEndian.Uint16(b[off+6:])), 8
		}
		if n < 0 || off+hdr+n > len(b) {
			return "", "", nil, false
		}
		switch elem {
		case 0x0002:
			class = string(bytes.TrimRight(b[off+hdr:off+hdr+n], "\x00 "))
		case 0x0010:
			ts = string(bytes.TrimRight(b[off+hdr:off+hdr+n], "\x00 "))
		}
		off += hdr + n
	}
	if ts == "" || class == "" {
		return "", "", nil, false
	}
	return ts, class, b[off:], true
}
