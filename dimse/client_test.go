package dimse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// acceptAll is an AcceptConfig policy accepting every abstract syntax in
// any known transfer syntax.
func acceptAll(string) ([]string, bool) {
	var out []string
	for _, ts := range uid.TransferSyntaxes {
		out = append(out, ts.UID)
	}
	return out, true
}

// startFakeSCP accepts associations on a loopback port with cfg (nil:
// accept everything) and runs serve on each, which plays the SCP with a
// MessageReader and WriteMessage, independently of Server. When serve
// returns the association is aborted if still up. Everything is stopped
// and waited for at the end of the test.
func startFakeSCP(t *testing.T, cfg *ul.AcceptConfig, serve func(a *ul.Association, r *MessageReader)) string {
	t.Helper()
	return startFakeSCPOn(t, testutil.Listen(t), cfg, serve)
}

// startFakeSCPOn is startFakeSCP on a given listener (e.g. TLS).
func startFakeSCPOn(t *testing.T, l net.Listener, cfg *ul.AcceptConfig, serve func(a *ul.Association, r *MessageReader)) string {
	t.Helper()
	if cfg == nil {
		cfg = &ul.AcceptConfig{Contexts: acceptAll}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := ul.Accept(ctx, conn, cfg)
				if err != nil {
					return
				}
				serve(a, &MessageReader{R: a})
				_ = a.Abort(pdu.AbortNotSpecified)
				<-a.Done()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		cancel()
		wg.Wait()
	})
	return l.Addr().String()
}

// reply sends a response to rq with status s (and data, when not nil).
func reply(a *ul.Association, msg *Message, s Status, data []byte, edit func(*Command)) error {
	rsp := NewResponse(msg.Command, s)
	if edit != nil {
		edit(rsp)
	}
	var r io.Reader
	if data != nil {
		r = bytes.NewReader(data)
	}
	return WriteMessage(context.Background(), a, msg.ContextID, rsp, r, a.MaxSendPDULength())
}

// echoServe answers every C-ECHO-RQ with success and stores nothing.
func echoServe(a *ul.Association, r *MessageReader) {
	for {
		msg, err := r.ReadMessage(context.Background())
		if err != nil {
			return
		}
		_ = reply(a, msg, StatusSuccess, nil, nil)
		msg.Close()
	}
}

func TestBuildProposals(t *testing.T) {
	many := make([]ContextProposal, MaxProposedContexts+1)
	for i := range many {
		many[i] = EchoContext()
	}
	ct := "1.2.840.10008.5.1.4.1.1.2"
	cases := []struct {
		name    string
		props   []ContextProposal
		wantErr bool
		ids     []uint8
		roles   []pdu.RoleSelection
	}{
		{"none", nil, true, nil, nil},
		{"one", []ContextProposal{EchoContext()}, false, []uint8{1}, nil},
		{"max", many[:MaxProposedContexts], false, nil, nil},
		{"too many", many, true, nil, nil},
		{"no transfer syntax", []ContextProposal{{AbstractSyntax: ct}}, true, nil, nil},
		{"no abstract syntax", []ContextProposal{{TransferSyntaxes: []string{uid.ImplicitVRLittleEndian}}}, true, nil, nil},
		{"get contexts", append(QueryRetrieveContexts(), StorageContexts([]string{ct}, nil, true)...), false,
			[]uint8{1, 3, 5, 7, 9, 11, 13, 15}, []pdu.RoleSelection{{SOPClassUID: ct, SCU: false, SCP: true}}},
		{"roles disagree", []ContextProposal{{AbstractSyntax: ct, TransferSyntaxes: []string{uid.ImplicitVRLittleEndian}, SCPRole: true},
			{AbstractSyntax: ct, TransferSyntaxes: []string{uid.ExplicitVRLittleEndian}}}, true, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pcs, roles, err := buildProposals(tc.props)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidProposal) {
					t.Fatalf("err = %v, want ErrInvalidProposal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(pcs) != len(tc.props) {
				t.Fatalf("%d contexts, want %d", len(pcs), len(tc.props))
			}
			for i, pc := range pcs {
				if pc.ID != uint8(2*i+1) || pc.AbstractSyntax != tc.props[i].AbstractSyntax {
					t.Errorf("context %d: ID %d %s", i, pc.ID, pc.AbstractSyntax)
				}
			}
			if tc.ids != nil {
				for i, id := range tc.ids {
					if pcs[i].ID != id {
						t.Errorf("context %d has ID %d, want %d", i, pcs[i].ID, id)
					}
				}
			}
			if len(roles) != len(tc.roles) {
				t.Fatalf("roles %+v, want %+v", roles, tc.roles)
			}
			for i := range roles {
				if roles[i] != tc.roles[i] {
					t.Errorf("role %d = %+v, want %+v", i, roles[i], tc.roles[i])
				}
			}
		})
	}
}

func TestStorageContexts(t *testing.T) {
	got := StorageContexts([]string{"1.2.3", "1.2.4"}, nil, false)
	if len(got) != 4 {
		t.Fatalf("%d proposals, want 4 (2 classes x 2 default syntaxes)", len(got))
	}
	for _, p := range got {
		if len(p.TransferSyntaxes) != 1 || p.SCPRole {
			t.Errorf("proposal %+v: want one transfer syntax, no SCP role", p)
		}
	}
}

// TestEvenReader checks the pad byte Store adds to odd data sets, whatever
// the chunking of the source.
func TestEvenReader(t *testing.T) {
	for n := 0; n <= 9; n++ {
		src := pattern(n)
		want := src
		if n%2 == 1 {
			want = append(append([]byte(nil), src...), 0)
		}
		for name, r := range map[string]io.Reader{
			"plain":    bytes.NewReader(src),
			"one byte": iotest.OneByteReader(bytes.NewReader(src)),
			"data+EOF": iotest.DataErrReader(bytes.NewReader(src)),
		} {
			got, err := io.ReadAll(&evenReader{r: r})
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("n=%d %s: got %v (%v), want %v", n, name, got, err, want)
			}
		}
	}
	// A reader error is passed on, not padded over.
	boom := errors.New("boom")
	if _, err := io.ReadAll(&evenReader{r: iotest.ErrReader(boom)}); !errors.Is(err, boom) {
		t.Errorf("error = %v, want boom", err)
	}
}

func TestClientEchoAndStore(t *testing.T) {
	checkGoroutines(t)
	type stored struct {
		cmd  *Command
		data []byte
	}
	got := make(chan stored, 10)
	addr := startFakeSCP(t, nil, func(a *ul.Association, r *MessageReader) {
		for {
			msg, err := r.ReadMessage(context.Background())
			if err != nil {
				return
			}
			if msg.Command.CommandField == CStoreRQ {
				b, _ := dataBytes(msg.Data)
				got <- stored{msg.Command, append([]byte(nil), b...)}
				// A warning with a comment, to check how it comes back.
				_ = reply(a, msg, StatusCoercionOfDataElements, nil, func(c *Command) { c.ErrorComment = "coerced" })
			} else {
				_ = reply(a, msg, StatusSuccess, nil, nil)
			}
			msg.Close()
		}
	})
	ctx := testCtx(t, 30*time.Second)
	const sop = "1.2.840.10008.5.1.4.1.1.7"
	c := &Client{MaxPDULength: 4096}
	props := append([]ContextProposal{EchoContext()}, StorageContexts([]string{sop}, []string{uid.ExplicitVRLittleEndian}, false)...)
	cc, err := c.Dial(ctx, addr, "ANY-SCP", props)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Echo(ctx); err != nil {
		t.Fatalf("Echo: %v", err)
	}
	if ts, ok := cc.TransferSyntax(sop); !ok || ts != uid.ExplicitVRLittleEndian {
		t.Errorf("TransferSyntax = %q, %v", ts, ok)
	}
	for _, n := range []int{0, 1, 4089, 4090, 4091, 100_001} {
		data := pattern(n)
		st, err := cc.Store(ctx, sop, "1.2.3.4", uid.ExplicitVRLittleEndian, bytes.NewReader(data), WithMoveOriginator("MOVER", 7))
		var se *StatusError
		if st != StatusCoercionOfDataElements || !errors.As(err, &se) || se.Comment != "coerced" {
			t.Fatalf("Store(%d bytes) = %v, %v; want the 0xB000 warning with its comment", n, st, err)
		}
		s := <-got
		if !bytes.Equal(s.data, padEven(data)) {
			t.Errorf("Store(%d bytes): peer got %d bytes", n, len(s.data))
		}
		if s.cmd.MoveOriginatorApplicationEntityTitle != "MOVER" || s.cmd.MoveOriginatorMessageID == nil || *s.cmd.MoveOriginatorMessageID != 7 {
			t.Errorf("move originator not sent: %+v", s.cmd)
		}
	}
	// No context in that transfer syntax: nothing is sent.
	if _, err := cc.Store(ctx, sop, "1.2.3.5", uid.ImplicitVRLittleEndian, bytes.NewReader(nil)); !errors.Is(err, ErrNoContext) {
		t.Errorf("Store in an unnegotiated syntax: %v, want ErrNoContext", err)
	}
	if _, err := cc.Store(ctx, "1.2.3", "1.2.3.5", uid.ExplicitVRLittleEndian, bytes.NewReader(nil)); !errors.Is(err, ErrNoContext) {
		t.Errorf("Store of an unnegotiated class: %v, want ErrNoContext", err)
	}
	// An invalid UID is refused before sending.
	if _, err := cc.Store(ctx, sop, "1.02.x", uid.ExplicitVRLittleEndian, bytes.NewReader(nil)); !errors.Is(err, ErrInvalidElement) {
		t.Errorf("Store with a bad instance UID: %v, want ErrInvalidElement", err)
	}
	if _, _, err := cc.Move(ctx, uid.StudyRootQRMove, "X", nil, nil); !errors.Is(err, ErrNoContext) {
		t.Errorf("Move without the model: %v, want ErrNoContext", err)
	}
	if err := cc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := cc.Echo(ctx); err == nil {
		t.Error("Echo after Close succeeded")
	}
}

func TestClientRejected(t *testing.T) {
	checkGoroutines(t)
	addr := startFakeSCP(t, &ul.AcceptConfig{
		Accept: func(*pdu.AssociateRQ, net.Addr) *pdu.AssociateRJ {
			return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserCallingAENotRecognized}
		},
	}, echoServe)
	_, err := (&Client{AETitle: "EVIL"}).Dial(testCtx(t, 10*time.Second), addr, "ANY-SCP", []ContextProposal{EchoContext()})
	var rj *pdu.AssociateRJ
	if !errors.As(err, &rj) || rj.Reason != pdu.RejectUserCallingAENotRecognized || rj.Result != pdu.RejectPermanent {
		t.Fatalf("Dial = %v, want the A-ASSOCIATE-RJ (1,1,3)", err)
	}
	// No accepted context: the association is aborted at once.
	addr = startFakeSCP(t, &ul.AcceptConfig{}, echoServe)
	_, err = (&Client{}).Dial(testCtx(t, 10*time.Second), addr, "ANY-SCP",
		StorageContexts([]string{"1.2.840.10008.5.1.4.1.1.7"}, nil, false))
	if !errors.Is(err, ul.ErrNoAcceptedContext) {
		t.Fatalf("Dial = %v, want ErrNoAcceptedContext", err)
	}
}

// TestClientSilentPeer: a server that accepts the TCP connection and never
// answers costs at most ARTIMTimeout; a dial that never completes at most
// DialTimeout.
func TestClientSilentPeer(t *testing.T) {
	checkGoroutines(t)
	l := testutil.Listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				break
			}
			conns = append(conns, c) // read nothing, answer nothing
		}
		for _, c := range conns {
			c.Close()
		}
	}()
	defer func() { l.Close(); <-done }()

	start := time.Now()
	_, err := (&Client{ARTIMTimeout: 300 * time.Millisecond}).Dial(testCtx(t, 10*time.Second), l.Addr().String(), "X", []ContextProposal{EchoContext()})
	if !errors.Is(err, ul.ErrARTIMExpired) {
		t.Errorf("Dial to a silent peer = %v, want ErrARTIMExpired", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Dial took %v", d)
	}

	hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	start = time.Now()
	_, err = (&Client{DialTimeout: 200 * time.Millisecond, Dialer: hang}).Dial(context.Background(), "192.0.2.1:104", "X", []ContextProposal{EchoContext()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial that never connects = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Dial took %v", d)
	}
}

// TestClientResponseTimeout: an established peer that never answers a
// C-ECHO costs ResponseTimeout, then the association is aborted.
func TestClientResponseTimeout(t *testing.T) {
	checkGoroutines(t)
	addr := startFakeSCP(t, nil, func(a *ul.Association, r *MessageReader) {
		_, _ = r.ReadMessage(context.Background()) // and never answer
		<-a.Done()
	})
	ctx := testCtx(t, 10*time.Second)
	cc, err := (&Client{ResponseTimeout: 200 * time.Millisecond}).Dial(ctx, addr, "X", []ContextProposal{EchoContext()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Echo(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Echo = %v, want DeadlineExceeded", err)
	}
	<-cc.Done()
	var ab *pdu.Abort
	if !errors.As(cc.Association().Err(), &ab) {
		t.Errorf("association ended with %v, want our A-ABORT", cc.Association().Err())
	}
}

// TestClientPeerAbortsMidStore: the peer aborts while a large data set is
// being streamed: Store fails with the A-ABORT, nothing leaks.
func TestClientPeerAbortsMidStore(t *testing.T) {
	checkGoroutines(t)
	addr := startFakeSCP(t, nil, func(a *ul.Association, r *MessageReader) {
		for i := 0; i < 20; i++ {
			if _, err := a.ReadPData(context.Background()); err != nil {
				return
			}
		}
		_ = a.Abort(pdu.AbortNotSpecified)
		<-a.Done()
	})
	ctx := testCtx(t, 30*time.Second)
	const sop = "1.2.840.10008.5.1.4.1.1.7"
	cc, err := (&Client{}).Dial(ctx, addr, "X", StorageContexts([]string{sop}, nil, false))
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := cc.TransferSyntax(sop)
	_, err = cc.Store(ctx, sop, "1.2.3", ts, io.LimitReader(&gen{}, 1<<30))
	var ab *pdu.Abort
	if err == nil || !errors.As(err, &ab) {
		t.Fatalf("Store = %v, want an error carrying the peer's A-ABORT", err)
	}
	<-cc.Done()
	if err := cc.Abort(); err != nil {
		t.Errorf("Abort after the end = %v, want nil", err)
	}
}

// TestClientUnexpectedResponse: a response to another Message ID aborts the
// association with ErrUnexpectedMessage.
func TestClientUnexpectedResponse(t *testing.T) {
	checkGoroutines(t)
	addr := startFakeSCP(t, nil, func(a *ul.Association, r *MessageReader) {
		msg, err := r.ReadMessage(context.Background())
		if err != nil {
			return
		}
		_ = reply(a, msg, StatusSuccess, nil, func(c *Command) { c.MessageIDBeingRespondedTo++ })
		<-a.Done()
	})
	ctx := testCtx(t, 10*time.Second)
	cc, err := (&Client{}).Dial(ctx, addr, "X", []ContextProposal{EchoContext()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Echo(ctx); !errors.Is(err, ErrUnexpectedMessage) {
		t.Errorf("Echo = %v, want ErrUnexpectedMessage", err)
	}
	<-cc.Done()
}

// findServe answers a C-FIND with pending responses until it sees a
// C-CANCEL-RQ (then 0xFE00), or with success after max matches. With
// ignoreCancel it never sends a final response after a cancel.
func findServe(max int, ignoreCancel bool, cancels chan<- uint16) func(a *ul.Association, r *MessageReader) {
	return func(a *ul.Association, r *MessageReader) {
		ctx := context.Background()
		for {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			if msg.Command.CommandField != CFindRQ {
				_ = reply(a, msg, StatusSuccess, nil, nil)
				continue
			}
			// Serve pendings one by one; between them, look for a cancel
			// with a short read.
			id := msg.Command.MessageID
			final := StatusSuccess
			for i := 0; i < max; i++ {
				if err := reply(a, msg, StatusPending, []byte{0x08, 0x00, 0x52, 0x00, 0x06, 0x00, 0x00, 0x00, 'S', 'T', 'U', 'D', 'Y', ' '}, nil); err != nil {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				c, err := r.ReadMessage(rctx)
				cancel()
				if err == nil && c.Command.CommandField == CCancelRQ {
					cancels <- c.Command.MessageIDBeingRespondedTo
					final = StatusCancel
					break
				}
			}
			if final == StatusCancel && ignoreCancel {
				<-a.Done()
				return
			}
			_ = reply(a, msg, final, nil, nil)
			_ = id
		}
	}
}

func TestClientFindCancel(t *testing.T) {
	checkGoroutines(t)
	cancels := make(chan uint16, 4)
	addr := startFakeSCP(t, nil, findServe(1000, false, cancels))
	ctx := testCtx(t, 20*time.Second)
	cc, err := (&Client{}).Dial(ctx, addr, "X", append(QueryRetrieveContexts(), EchoContext()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stop := errors.New("stop")
	n := 0
	st, err := cc.Find(ctx, uid.StudyRootQRFind, []byte{}, func(b []byte) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || st != StatusCancel || n != 3 {
		t.Fatalf("Find = %v, %v after %d matches; want 0xFE00, the callback's error, 3", st, err, n)
	}
	select {
	case id := <-cancels:
		if id != 1 {
			t.Errorf("C-CANCEL-RQ for message %d, want 1", id)
		}
	default:
		t.Error("the peer saw no C-CANCEL-RQ")
	}
	if err := cc.Echo(ctx); err != nil {
		t.Errorf("Echo after the cancel: %v", err)
	}
}

// TestClientFindCancelIgnored: a peer that never answers the cancel gets
// its association aborted after the drain timeout.
func TestClientFindCancelIgnored(t *testing.T) {
	checkGoroutines(t)
	old := cancelDrainTimeout
	cancelDrainTimeout = 200 * time.Millisecond
	defer func() { cancelDrainTimeout = old }()
	cancels := make(chan uint16, 4)
	addr := startFakeSCP(t, nil, findServe(1000, true, cancels))
	ctx := testCtx(t, 20*time.Second)
	cc, err := (&Client{}).Dial(ctx, addr, "X", QueryRetrieveContexts())
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	_, err = cc.Find(cctx, uid.PatientRootQRFind, []byte{}, func([]byte) error { cancel(); return nil })
	if !errors.Is(err, errCancelIgnored) {
		t.Errorf("Find = %v, want errCancelIgnored", err)
	}
	<-cc.Done()
}
