package ul

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

func requestAsync(ours net.Conn, cfg *RequestConfig) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		a, err := Request(context.Background(), ours, cfg)
		ch <- acceptResult{a, err}
	}()
	return ch
}

func testRequestConfig(rec *recorder) *RequestConfig {
	cfg := &RequestConfig{
		CallingAETitle: "SCU",
		CalledAETitle:  "SHARDPACS",
		ARTIMTimeout:   shortTimeout,
		MaxPDULength:   16384,
		Contexts: []pdu.PresentationContextRQ{
			{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
			{ID: 3, AbstractSyntax: testCTImage, TransferSyntaxes: []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}},
		},
	}
	if rec != nil {
		cfg.Observer = rec.observer()
	}
	return cfg
}

// acFor answers rq, accepting every context with its first transfer syntax.
func acFor(rq *pdu.AssociateRQ, maxLen uint32) *pdu.AssociateAC {
	ac := &pdu.AssociateAC{ProtocolVersion: 1, CalledAETitle: rq.CalledAETitle, CallingAETitle: rq.CallingAETitle,
		ApplicationContext: pdu.DICOMApplicationContext, UserInfo: pdu.UserInfo{MaxLength: maxLen, ImplementationClassUID: "1.2.3"}}
	for _, pc := range rq.PresentationContexts {
		ac.PresentationContexts = append(ac.PresentationContexts, pdu.PresentationContextAC{ID: pc.ID, TransferSyntax: pc.TransferSyntaxes[0]})
	}
	return ac
}

// startRequest runs Request against a scripted acceptor and returns the
// A-ASSOCIATE-RQ it read.
func startRequest(t *testing.T, cfg *RequestConfig) (<-chan acceptResult, *peer, *pdu.AssociateRQ) {
	t.Helper()
	ours, theirs := tcpPair(t)
	ch := requestAsync(ours, cfg)
	p := &peer{t, theirs}
	rq, ok := p.readPDU().(*pdu.AssociateRQ)
	if !ok {
		t.Fatal("no A-ASSOCIATE-RQ")
	}
	return ch, p, rq
}

func TestRequestSta5(t *testing.T) {
	tests := []struct {
		name   string
		answer func(*testing.T, *pdu.AssociateRQ) []byte
		reply  string // expected bytes from us; "" = none
		check  func(error) bool
	}{
		{"A-ASSOCIATE-RJ", func(t *testing.T, _ *pdu.AssociateRQ) []byte { return unhex(t, hexRJ117) }, "", func(err error) bool {
			var r *pdu.AssociateRJ
			return errors.As(err, &r) && *r == *rj(1, 1, 7)
		}},
		{"A-ABORT", func(t *testing.T, _ *pdu.AssociateRQ) []byte { return unhex(t, hexAbort26) }, "", func(err error) bool { return isAbort(err, 2, 6) }},
		{"P-DATA", func(t *testing.T, _ *pdu.AssociateRQ) []byte { return unhex(t, hexPDataFoo) }, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-ASSOCIATE-RQ", func(t *testing.T, rq *pdu.AssociateRQ) []byte { return encode(t, rq) }, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-RELEASE-RP", func(t *testing.T, _ *pdu.AssociateRQ) []byte { return unhex(t, hexReleaseRP) }, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"unknown PDU", func(t *testing.T, _ *pdu.AssociateRQ) []byte { return unhex(t, "0A 00 00 00 00 00") }, hexAbort21, func(err error) bool { return isAbort(err, 2, 1) }},
		{"AC accepting a transfer syntax not proposed", func(t *testing.T, rq *pdu.AssociateRQ) []byte {
			ac := acFor(rq, 0)
			ac.PresentationContexts[0].TransferSyntax = tsJPEG2000
			return encode(t, ac)
		}, hexAbort26, func(err error) bool { return isAbort(err, 2, 6) }},
		{"AC accepting nothing", func(t *testing.T, rq *pdu.AssociateRQ) []byte {
			ac := acFor(rq, 0)
			for i := range ac.PresentationContexts {
				ac.PresentationContexts[i].Result = pdu.ContextAbstractSyntaxNotSupported
			}
			return encode(t, ac)
		}, hexAbortUser, func(err error) bool { return isAbort(err, 0, 0) && errors.Is(err, ErrNoAcceptedContext) }},
		{"AC with a tiny maximum length", func(t *testing.T, rq *pdu.AssociateRQ) []byte { return encode(t, acFor(rq, 16)) },
			hexAbortUser, func(err error) bool { return errors.Is(err, ErrPeerMaxLength) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			goroutineCheck(t)
			ch, p, rq := startRequest(t, testRequestConfig(nil))
			p.send(tt.answer(t, rq))
			if tt.reply != "" {
				p.expectHex(tt.reply)
				p.c.Close()
			} else {
				p.expectClosed(expectTimeout)
			}
			r := waitResult(t, ch)
			if r.a != nil || !tt.check(r.err) {
				t.Fatalf("Request = %v, %v", r.a, r.err)
			}
		})
	}
}

// TestRequestSilentAcceptor: no answer → A-ABORT (2,0) after the ARTIM
// timeout, then close after another ARTIM period.
func TestRequestSilentAcceptor(t *testing.T) {
	goroutineCheck(t)
	ch, p, _ := startRequest(t, testRequestConfig(nil))
	p.expectHex(hexAbort20)
	p.expectClosed(expectTimeout)
	if r := waitResult(t, ch); !errors.Is(r.err, ErrARTIMExpired) {
		t.Fatalf("err = %v", r.err)
	}
}

func TestRequestContextCancelled(t *testing.T) {
	goroutineCheck(t)
	ours, theirs := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() {
		_, err := Request(ctx, ours, &RequestConfig{ARTIMTimeout: shortTimeout})
		ch <- err
	}()
	p := &peer{t, theirs}
	p.readPDU()
	cancel()
	p.expectHex(hexAbortUser)
	p.c.Close()
	if err := <-ch; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestRequestInvalidConfig(t *testing.T) {
	ours, theirs := tcpPair(t)
	_, err := Request(context.Background(), ours, &RequestConfig{CallingAETitle: "WAY_TOO_LONG_AE_TITLE_X"})
	if err == nil {
		t.Fatal("accepted a 23-character AE title")
	}
	(&peer{t, theirs}).expectClosed(expectTimeout)
}

// TestRequestEstablishedAndRelease: accepted, limits, P-DATA, release.
func TestRequestEstablishedAndRelease(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	cfg := testRequestConfig(rec)
	cfg.RoleSelections = []pdu.RoleSelection{{SOPClassUID: testCTImage, SCU: true, SCP: true}}
	ch, p, rq := startRequest(t, cfg)
	if len(rq.UserInfo.RoleSelections) != 1 || rq.CallingAETitle != "SCU" || rq.UserInfo.MaxLength != 16384 {
		t.Fatalf("RQ %+v", rq)
	}
	ac := acFor(rq, 0) // unlimited: we still cap at our own 16384
	ac.UserInfo.RoleSelections = []pdu.RoleSelection{{SOPClassUID: testCTImage, SCU: true, SCP: true}}
	p.send(encode(t, ac))
	r := waitResult(t, ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	a := r.a
	if a.PeerMaxPDULength() != 0 || a.MaxSendPDULength() != 16384 || !a.IsRequestor() || a.CalledAETitle() != "SHARDPACS" {
		t.Errorf("peer max %d send max %d", a.PeerMaxPDULength(), a.MaxSendPDULength())
	}
	if c, ok := a.ContextByID(3); !ok || !c.SCPRole || !c.SCURole || c.TransferSyntax != ExplicitVRLittleEndian {
		t.Errorf("context 3 = %+v %v", c, ok)
	}
	if _, ok := a.ContextByID(5); ok {
		t.Error("context 5 was never proposed")
	}

	ctx := context.Background()
	max := pdu.MaxPDVData(a.MaxSendPDULength())
	if err := a.SendPData(ctx, []pdu.PDV{{ContextID: 3, Last: true, Data: make([]byte, max)}}); err != nil {
		t.Fatalf("a full PDU: %v", err)
	}
	if got := p.readPDU().(*pdu.PDataTF); len(got.Items[0].Data) != max {
		t.Fatalf("got %d bytes", len(got.Items[0].Data))
	}
	if err := a.SendPData(ctx, []pdu.PDV{{ContextID: 3, Last: true, Data: make([]byte, max+2)}}); !errors.Is(err, ErrPDUTooLarge) {
		t.Errorf("oversized PDU: %v", err)
	}
	if err := a.SendPData(ctx, []pdu.PDV{{ContextID: 5, Last: true}}); !errors.Is(err, ErrUnknownContext) {
		t.Errorf("unknown context: %v", err)
	}
	if err := a.SendPData(ctx, nil); err == nil {
		t.Error("empty P-DATA accepted")
	}

	done := make(chan error, 1)
	go func() { done <- a.Release(ctx) }()
	p.expectHex(hexReleaseRQ)
	p.sendHex(hexReleaseRP)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.expectClosed(expectTimeout)
	if _, err := a.ReadPData(ctx); err.Error() != "EOF" {
		t.Errorf("ReadPData after release: %v", err)
	}
	want := "Sta1+Evt1=AE-1>Sta4 Sta4+Evt2=AE-2>Sta5 Sta5+Evt3=AE-3>Sta6 Sta6+Evt9=DT-1>Sta6 Sta6+Evt11=AR-1>Sta7 Sta7+Evt13=AR-3>Sta1"
	if got := rec.path(); got != want {
		t.Errorf("path\n got %s\nwant %s", got, want)
	}
}

// TestRequestReleaseCollision: we are the association-requestor, so a
// collision goes Sta7 → Sta9 (AR-8) → our RP (AR-9) → Sta11 → the peer's RP
// (AR-3) → Sta1.
func TestRequestReleaseCollision(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	ch, p, rq := startRequest(t, testRequestConfig(rec))
	p.send(encode(t, acFor(rq, 16384)))
	a := waitResult(t, ch).a
	done := make(chan error, 1)
	go func() { done <- a.Release(context.Background()) }()
	p.expectHex(hexReleaseRQ)
	p.sendHex(hexReleaseRQ)
	p.expectHex(hexReleaseRP)
	p.sendHex(hexReleaseRP)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.expectClosed(expectTimeout)
	want := "Sta6+Evt11=AR-1>Sta7 Sta7+Evt12=AR-8>Sta9 Sta9+Evt14=AR-9>Sta11 Sta11+Evt13=AR-3>Sta1"
	if got := rec.path(); !endsWith(got, want) {
		t.Errorf("path\n got %s\nwant …%s", got, want)
	}
}

// TestRequestReleaseWithData: P-DATA arriving in Sta7 is delivered (AR-6).
func TestRequestReleaseWithData(t *testing.T) {
	goroutineCheck(t)
	ch, p, rq := startRequest(t, testRequestConfig(nil))
	p.send(encode(t, acFor(rq, 16384)))
	a := waitResult(t, ch).a
	done := make(chan error, 1)
	go func() { done <- a.Release(context.Background()) }()
	p.expectHex(hexReleaseRQ)
	p.sendHex(hexPDataFoo)
	if pdvs, err := a.ReadPData(context.Background()); err != nil || string(pdvs[0].Data) != "foo\x00" {
		t.Fatalf("ReadPData in Sta7 = %v, %v", pdvs, err)
	}
	p.sendHex(hexReleaseRP)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRequestReleaseTimeout: the peer never answers A-RELEASE-RQ: ctx ends
// the wait and the association is aborted.
func TestRequestReleaseTimeout(t *testing.T) {
	goroutineCheck(t)
	ch, p, rq := startRequest(t, testRequestConfig(nil))
	p.send(encode(t, acFor(rq, 16384)))
	a := waitResult(t, ch).a
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Release(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Release = %v", err)
	}
	p.expectHex(hexReleaseRQ)
	p.expectHex(hexAbortUser)
	p.c.Close()
	<-a.Done()
}

// TestSendPDataCancelled: a cancelled context stops SendPData before it
// writes.
func TestSendPDataCancelled(t *testing.T) {
	goroutineCheck(t)
	ch, p, rq := startRequest(t, testRequestConfig(nil))
	p.send(encode(t, acFor(rq, 16384)))
	a := waitResult(t, ch).a
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.SendPData(ctx, []pdu.PDV{{ContextID: 1, Last: true, Data: []byte{1, 2}}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("SendPData = %v", err)
	}
	if _, err := a.ReadPData(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadPData = %v", err)
	}
	a.Abort(0)
	p.expectHex(hexAbortUser)
	p.c.Close()
	<-a.Done()
}
