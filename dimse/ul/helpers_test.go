package ul

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// Wire fixtures quoted in the adversarial tests (PS3.8 9.3.4, 9.3.6-9.3.8).
const (
	hexAbort22    = "07 00 00 00 00 04 00 00 02 02" // A-ABORT provider, unexpected-PDU
	hexAbort21    = "07 00 00 00 00 04 00 00 02 01" // A-ABORT provider, unrecognized-PDU
	hexAbort26    = "07 00 00 00 00 04 00 00 02 06" // A-ABORT provider, invalid-parameter-value
	hexAbort20    = "07 00 00 00 00 04 00 00 02 00" // A-ABORT provider, not specified
	hexAbortUser  = "07 00 00 00 00 04 00 00 00 00" // A-ABORT service-user
	hexReleaseRQ  = "05 00 00 00 00 04 00 00 00 00"
	hexReleaseRP  = "06 00 00 00 00 04 00 00 00 00"
	hexRJ112      = "03 00 00 00 00 04 00 01 01 02"                   // app context not supported
	hexRJ122      = "03 00 00 00 00 04 00 01 02 02"                   // protocol version not supported
	hexRJ117      = "03 00 00 00 00 04 00 01 01 07"                   // called AE not recognized
	hexRJ113      = "03 00 00 00 00 04 00 01 01 03"                   // calling AE not recognized
	hexRJ111      = "03 00 00 00 00 04 00 01 01 01"                   // no reason given
	hexRJ232      = "03 00 00 00 00 04 00 02 03 02"                   // local limit exceeded
	hexPDataFoo   = "04 00 00 00 00 0A 00 00 00 06 01 03 66 6F 6F 00" // PDV ctx 1, last command "foo\0"
	testCtxTS     = ExplicitVRLittleEndian
	testCTImage   = "1.2.840.10008.5.1.4.1.1.2"
	shortTimeout  = 300 * time.Millisecond
	expectTimeout = 5 * time.Second
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func encode(t testing.TB, p pdu.PDU) []byte {
	t.Helper()
	b, err := pdu.Encode(p)
	if err != nil {
		t.Fatalf("encode %T: %v", p, err)
	}
	return b
}

// echoRQ is a valid A-ASSOCIATE-RQ proposing Verification (context 1).
func echoRQ() *pdu.AssociateRQ {
	return &pdu.AssociateRQ{
		ProtocolVersion:    pdu.ProtocolVersion1,
		CalledAETitle:      "SHARDPACS",
		CallingAETitle:     "ECHOSCU",
		ApplicationContext: pdu.DICOMApplicationContext,
		PresentationContexts: []pdu.PresentationContextRQ{
			{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
		},
		UserInfo: pdu.UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.3.4"},
	}
}

// goroutineCheck records the goroutine count and, at cleanup, waits up to
// two seconds for it to come back down.
func goroutineCheck(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d running, %d before the test\n%s", n, base, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (ours, theirs net.Conn) {
	t.Helper()
	l := testutil.Listen(t)
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	theirs, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close(); theirs.Close() })
	return r.c, theirs
}

// peer is a scripted remote end writing and expecting raw bytes.
type peer struct {
	t *testing.T
	c net.Conn
}

func (p *peer) send(b []byte) {
	p.t.Helper()
	_ = p.c.SetWriteDeadline(time.Now().Add(expectTimeout))
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

func (p *peer) sendHex(s string) { p.t.Helper(); p.send(unhex(p.t, s)) }

// expect reads exactly len(want) bytes and compares them.
func (p *peer) expect(want []byte) {
	p.t.Helper()
	got := make([]byte, len(want))
	_ = p.c.SetReadDeadline(time.Now().Add(expectTimeout))
	if _, err := io.ReadFull(p.c, got); err != nil {
		p.t.Fatalf("peer expected % X, read error: %v (got % X)", want, err, got)
	}
	if !bytes.Equal(got, want) {
		p.t.Fatalf("peer got  % X\n         want % X", got, want)
	}
}

func (p *peer) expectHex(s string) { p.t.Helper(); p.expect(unhex(p.t, s)) }

// readPDU reads one PDU sent to the peer.
func (p *peer) readPDU() pdu.PDU {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(expectTimeout))
	x, err := pdu.ReadPDU(p.c, pdu.Limits{MaxPDataLength: 1 << 24})
	if err != nil {
		p.t.Fatalf("peer readPDU: %v", err)
	}
	return x
}

// expectClosed reads until EOF: nothing more may arrive, and the other side
// must close within d.
func (p *peer) expectClosed(d time.Duration) {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(p.c)
	if len(b) > 0 {
		p.t.Fatalf("peer: unexpected bytes before close: % X", b)
	}
	if err != nil {
		p.t.Fatalf("peer: connection not closed within %v: %v", d, err)
	}
}

// acceptAsync runs Accept on ours and returns a channel with its result.
type acceptResult struct {
	a   *Association
	err error
}

func acceptAsync(ours net.Conn, cfg *AcceptConfig) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		a, err := Accept(context.Background(), ours, cfg)
		ch <- acceptResult{a, err}
	}()
	return ch
}

func waitResult(t *testing.T, ch <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(expectTimeout):
		t.Fatal("Accept/Request did not return")
	}
	return acceptResult{}
}

// recorder is an Observer that keeps what it saw.
type recorder struct {
	mu          sync.Mutex
	transitions []Transition
	sent        []pdu.Type
	received    []pdu.Type
	aborts      []string
	rejects     []*pdu.AssociateRJ
	established int
	closed      []error
}

func (r *recorder) observer() Observer {
	return Observer{
		PDU: func(_ net.Addr, dir Direction, ty pdu.Type, n int) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if dir == Sent {
				r.sent = append(r.sent, ty)
			} else {
				r.received = append(r.received, ty)
			}
		},
		Transition: func(_ net.Addr, tr Transition) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.transitions = append(r.transitions, tr)
		},
		Abort: func(_ net.Addr, dir Direction, ab *pdu.Abort, why error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.aborts = append(r.aborts, dir.String()+" "+ab.Error())
		},
		Rejected: func(_ net.Addr, dir Direction, rj *pdu.AssociateRJ, why error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.rejects = append(r.rejects, rj)
		},
		Established: func(*Association) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.established++
		},
		Closed: func(_ *Association, err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.closed = append(r.closed, err)
		},
	}
}

// path renders the transitions as "Sta2+Evt6=AE-6>Sta3 ...".
func (r *recorder) path() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sb strings.Builder
	for i, tr := range r.transitions {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(tr.From.String() + "+" + tr.Event.String() + "=" + tr.Action.String() + ">" + tr.To.String())
		if tr.Undefined {
			sb.WriteString("!")
		}
	}
	return sb.String()
}

func isAbort(err error, src pdu.AbortSource, reason pdu.AbortReason) bool {
	var ab *pdu.Abort
	return errors.As(err, &ab) && ab.Source == src && (src != pdu.AbortServiceProvider || ab.Reason == reason)
}
