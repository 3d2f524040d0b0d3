package ul

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// testAcceptConfig accepts Verification and CT Image Storage with short
// timers.
func testAcceptConfig(rec *recorder) *AcceptConfig {
	cfg := &AcceptConfig{
		AETitle:       "SHARDPACS",
		CheckCalledAE: true,
		ARTIMTimeout:  shortTimeout,
		MaxPDULength:  16384,
		Contexts: func(as string) ([]string, bool) {
			switch as {
			case VerificationSOPClass:
				return []string{ImplicitVRLittleEndian}, true
			case testCTImage:
				return []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}, true
			}
			return nil, false
		},
	}
	if rec != nil {
		cfg.Observer = rec.observer()
	}
	return cfg
}

// TestAcceptSta2 sends each kind of PDU (and garbage) in Sta2, where only
// an A-ASSOCIATE-RQ is expected, and checks the exact answer.
func TestAcceptSta2(t *testing.T) {
	tests := []struct {
		name   string
		send   string
		answer string // expected bytes before close; "" = none
		check  func(error) bool
	}{
		{"P-DATA before association", hexPDataFoo, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-ASSOCIATE-AC from requestor", acHex, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-ASSOCIATE-RJ", hexRJ111, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-RELEASE-RQ", hexReleaseRQ, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-RELEASE-RP", hexReleaseRP, hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"unknown PDU type 0x08", "08 00 00 00 00 04 00 00 00 00", hexAbort21, func(err error) bool { return isAbort(err, 2, 1) }},
		{"TLS ClientHello on plain port", "16 03 01 02 00 01 00 01 FC 03 03", hexAbort21, func(err error) bool { return isAbort(err, 2, 1) }},
		{"PDU type 0xFF", "FF 00 00 00 00 04 00 00 00 00", hexAbort21, func(err error) bool { return isAbort(err, 2, 1) }},
		{"length 0xFFFFFFFF", "01 00 FF FF FF FF", hexAbort26, func(err error) bool { return isAbort(err, 2, 6) }},
		{"RQ over 64 KiB", "01 00 00 01 00 01", hexAbort26, func(err error) bool { return isAbort(err, 2, 6) }},
		{"A-ABORT", hexAbortUser, "", func(err error) bool { return isAbort(err, 0, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			goroutineCheck(t)
			rec := &recorder{}
			ours, theirs := tcpPair(t)
			ch := acceptAsync(ours, testAcceptConfig(rec))
			p := &peer{t, theirs}
			p.sendHex(tt.send)
			if tt.answer != "" {
				p.expectHex(tt.answer)
			}
			theirs.Close() // the peer closes: Sta13 + Evt17 → AR-5
			r := waitResult(t, ch)
			if r.a != nil || !tt.check(r.err) {
				t.Fatalf("Accept = %v, %v", r.a, r.err)
			}
			t.Log(rec.path())
		})
	}
}

// acHex is a minimal valid A-ASSOCIATE-AC.
var acHex = func() string {
	b, err := pdu.Encode(&pdu.AssociateAC{ProtocolVersion: 1, CalledAETitle: "A", CallingAETitle: "B", ApplicationContext: pdu.DICOMApplicationContext})
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}()

// TestAcceptMaxLengthNoAllocation: a declared length of 0xFFFFFFFF is
// refused after the header, without allocating the body.
func TestAcceptMaxLengthNoAllocation(t *testing.T) {
	ours, theirs := tcpPair(t)
	ch := acceptAsync(ours, testAcceptConfig(nil))
	p := &peer{t, theirs}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p.sendHex("04 00 FF FF FF FF")
	p.expectHex(hexAbort26)
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Errorf("allocated %d bytes answering a 4 GiB length", d)
	}
	theirs.Close()
	if r := waitResult(t, ch); !isAbort(r.err, 2, 6) {
		t.Fatalf("got %v", r.err)
	}
}

// TestAcceptSilentPeer: TCP connect then nothing (slowloris): the
// connection is closed at ARTIM expiry, nothing is sent.
func TestAcceptSilentPeer(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	ours, theirs := tcpPair(t)
	start := time.Now()
	ch := acceptAsync(ours, testAcceptConfig(rec))
	(&peer{t, theirs}).expectClosed(expectTimeout)
	r := waitResult(t, ch)
	if !errors.Is(r.err, ErrARTIMExpired) {
		t.Fatalf("err = %v", r.err)
	}
	if d := time.Since(start); d < shortTimeout || d > shortTimeout+2*time.Second {
		t.Errorf("closed after %v, ARTIM is %v", d, shortTimeout)
	}
	if got := rec.path(); got != "Sta1+Evt5=AE-5>Sta2 Sta2+Evt18=AA-2>Sta1" {
		t.Errorf("path %s", got)
	}
}

// TestAcceptPartialRQ: half a PDU then silence is also cut by ARTIM.
func TestAcceptPartialRQ(t *testing.T) {
	goroutineCheck(t)
	ours, theirs := tcpPair(t)
	ch := acceptAsync(ours, testAcceptConfig(nil))
	p := &peer{t, theirs}
	p.send(encode(t, echoRQ())[:20])
	p.expectClosed(expectTimeout)
	if r := waitResult(t, ch); !errors.Is(r.err, ErrARTIMExpired) {
		t.Fatalf("err = %v", r.err)
	}
}

// TestAcceptPeerClosesInSta2: Evt17 in Sta2 is AA-5.
func TestAcceptPeerClosesInSta2(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	ours, theirs := tcpPair(t)
	ch := acceptAsync(ours, testAcceptConfig(rec))
	theirs.Write(encode(t, echoRQ())[:10])
	theirs.Close()
	r := waitResult(t, ch)
	if !errors.Is(r.err, ErrTransportClosed) || !errors.Is(r.err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", r.err)
	}
	if got := rec.path(); got != "Sta1+Evt5=AE-5>Sta2 Sta2+Evt17=AA-5>Sta1" {
		t.Errorf("path %s", got)
	}
}

// TestAcceptRejections checks every built-in rejection and the decision
// hook, byte for byte (adversarial rows 1, 2, 4, 5, 14).
func TestAcceptRejections(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*pdu.AssociateRQ)
		cfg    func(*AcceptConfig)
		want   string
	}{
		{"application context not DICOM", func(rq *pdu.AssociateRQ) { rq.ApplicationContext = "1.2.3.4" }, nil, hexRJ112},
		{"protocol version without bit 0", func(rq *pdu.AssociateRQ) { rq.ProtocolVersion = 2 }, nil, hexRJ122},
		{"wrong called AE", func(rq *pdu.AssociateRQ) { rq.CalledAETitle = "NOTUS" }, nil, hexRJ117},
		{"hook: unknown calling AE", func(rq *pdu.AssociateRQ) { rq.CallingAETitle = "EVIL" }, func(c *AcceptConfig) {
			c.Accept = func(rq *pdu.AssociateRQ, _ net.Addr) *pdu.AssociateRJ {
				if rq.CallingAETitle != "ECHOSCU" {
					return rj(pdu.RejectPermanent, pdu.SourceServiceUser, pdu.RejectUserCallingAENotRecognized)
				}
				return nil
			}
		}, hexRJ113},
		{"hook: over limit", nil, func(c *AcceptConfig) {
			c.Accept = func(*pdu.AssociateRQ, net.Addr) *pdu.AssociateRJ {
				return rj(pdu.RejectTransient, pdu.SourceServiceProviderPresentation, pdu.RejectPresentationLocalLimitExceeded)
			}
		}, hexRJ232},
		{"peer max PDU below floor", func(rq *pdu.AssociateRQ) { rq.UserInfo.MaxLength = 16 }, nil, hexRJ111},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			goroutineCheck(t)
			rec := &recorder{}
			cfg := testAcceptConfig(rec)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			rq := echoRQ()
			if tt.mutate != nil {
				tt.mutate(rq)
			}
			ours, theirs := tcpPair(t)
			ch := acceptAsync(ours, cfg)
			p := &peer{t, theirs}
			p.send(encode(t, rq))
			p.expectHex(tt.want)
			theirs.Close()
			r := waitResult(t, ch)
			var got *pdu.AssociateRJ
			if r.a != nil || !errors.As(r.err, &got) {
				t.Fatalf("Accept = %v, %v", r.a, r.err)
			}
			if len(rec.rejects) != 1 {
				t.Errorf("observer saw %d rejections", len(rec.rejects))
			}
		})
	}
}

// TestAcceptBadContextIDs: even or duplicate presentation context IDs are
// refused by the codec with A-ABORT (2,6) (adversarial row 12 allows this
// or RJ (1,1,1); negotiateAccept would answer RJ (1,1,1) had the codec let
// them through, see TestCheckContextIDs).
func TestAcceptBadContextIDs(t *testing.T) {
	even := encode(t, echoRQ())
	patchContextID(t, even, 1, 2)
	dupRQ := echoRQ()
	dupRQ.PresentationContexts = append(dupRQ.PresentationContexts, dupRQ.PresentationContexts[0])
	for _, raw := range [][]byte{even, encode(t, dupRQ)} {
		goroutineCheck(t)
		ours, theirs := tcpPair(t)
		ch := acceptAsync(ours, testAcceptConfig(nil))
		p := &peer{t, theirs}
		p.send(raw)
		p.expectHex(hexAbort26)
		theirs.Close()
		if r := waitResult(t, ch); !isAbort(r.err, 2, 6) {
			t.Fatalf("err = %v", r.err)
		}
	}
}

// patchContextID rewrites the ID of the first presentation context item.
func patchContextID(t *testing.T, raw []byte, from, to byte) {
	for i := 74; i+4 < len(raw); {
		typ, n := raw[i], int(raw[i+2])<<8|int(raw[i+3])
		if typ == 0x20 && raw[i+4] == from {
			raw[i+4] = to
			return
		}
		i += 4 + n
	}
	t.Fatal("no presentation context item")
}

// TestAcceptAfterRJWaitsForClose: after an A-ASSOCIATE-RJ the acceptor is in
// Sta13: a further A-ASSOCIATE-RQ gets an A-ABORT (AA-7), P-DATA is ignored
// (AA-6), and without a close from the peer ARTIM closes.
func TestAcceptAfterRJWaitsForClose(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	ours, theirs := tcpPair(t)
	ch := acceptAsync(ours, testAcceptConfig(rec))
	p := &peer{t, theirs}
	bad := echoRQ()
	bad.CalledAETitle = "NOTUS"
	p.send(encode(t, bad))
	p.expectHex(hexRJ117)
	p.sendHex(hexPDataFoo)
	p.send(encode(t, echoRQ()))
	p.expectHex(hexAbort22)
	p.expectClosed(expectTimeout)
	r := waitResult(t, ch)
	var got *pdu.AssociateRJ
	if !errors.As(r.err, &got) || got.Reason != pdu.RejectUserCalledAENotRecognized {
		t.Fatalf("err = %v", r.err)
	}
	want := "Sta1+Evt5=AE-5>Sta2 Sta2+Evt6=AE-6>Sta3 Sta3+Evt8=AE-8>Sta13 Sta13+Evt10=AA-6>Sta13 Sta13+Evt6=AA-7>Sta13 Sta13+Evt18=AA-2>Sta1"
	if got := rec.path(); got != want {
		t.Errorf("path\n got %s\nwant %s", got, want)
	}
}

// establish runs a scripted requestor up to Sta6 and returns the
// association and the peer.
func establish(t *testing.T, cfg *AcceptConfig, rq *pdu.AssociateRQ) (*Association, *peer, *pdu.AssociateAC) {
	t.Helper()
	ours, theirs := tcpPair(t)
	ch := acceptAsync(ours, cfg)
	p := &peer{t, theirs}
	p.send(encode(t, rq))
	ac, ok := p.readPDU().(*pdu.AssociateAC)
	if !ok {
		t.Fatal("no A-ASSOCIATE-AC")
	}
	r := waitResult(t, ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.a, p, ac
}

// TestAcceptSta6Violations: in Sta6, protocol violations end in A-ABORT
// with the right reason (adversarial rows 8, 9, 13, 15).
func TestAcceptSta6Violations(t *testing.T) {
	big := make([]byte, 20000)
	bigPData := encode(t, &pdu.PDataTF{Items: []pdu.PDV{{ContextID: 1, Last: true, Data: big}}})
	tests := []struct {
		name   string
		send   []byte
		answer string
		check  func(error) bool
	}{
		{"second A-ASSOCIATE-RQ", encode(t, echoRQ()), hexAbort22, func(err error) bool { return isAbort(err, 2, 2) && errors.Is(err, ErrUnexpectedPDU) }},
		{"A-ASSOCIATE-AC", encode(t, &pdu.AssociateAC{ProtocolVersion: 1, CalledAETitle: "A", CallingAETitle: "B", ApplicationContext: pdu.DICOMApplicationContext}), hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-RELEASE-RP", unhex(t, hexReleaseRP), hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"A-ASSOCIATE-RJ", unhex(t, hexRJ111), hexAbort22, func(err error) bool { return isAbort(err, 2, 2) }},
		{"unknown PDU type", unhex(t, "09 00 00 00 00 00"), hexAbort21, func(err error) bool { return isAbort(err, 2, 1) }},
		{"P-DATA over our maximum", bigPData, hexAbort26, func(err error) bool { return isAbort(err, 2, 6) }},
		{"PDV on a context not accepted", unhex(t, "04 00 00 00 00 08 00 00 00 04 03 03 00 00"), hexAbort26, func(err error) bool {
			return isAbort(err, 2, 6) && errors.Is(err, ErrUnknownContext)
		}},
		{"PDV on a rejected context", unhex(t, "04 00 00 00 00 08 00 00 00 04 05 03 00 00"), hexAbort26, func(err error) bool { return isAbort(err, 2, 6) }},
		{"malformed P-DATA", unhex(t, "04 00 00 00 00 08 00 00 00 09 01 03 00 00"), hexAbort26, func(err error) bool { return isAbort(err, 2, 6) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			goroutineCheck(t)
			rq := echoRQ()
			rq.PresentationContexts = append(rq.PresentationContexts, pdu.PresentationContextRQ{ID: 5, AbstractSyntax: "1.2.3.999", TransferSyntaxes: []string{ImplicitVRLittleEndian}})
			a, p, _ := establish(t, testAcceptConfig(nil), rq)
			p.send(tt.send)
			p.expectHex(tt.answer)
			p.c.Close()
			<-a.Done()
			_, err := a.ReadPData(context.Background())
			if !tt.check(err) || !tt.check(a.Err()) {
				t.Fatalf("ReadPData err = %v, Err = %v", err, a.Err())
			}
		})
	}
}

// TestAcceptIdleAbort: silent after A-ASSOCIATE-AC → A-ABORT (2,0) at the
// idle timeout, then close at ARTIM (adversarial row 7), also when the
// peer stalls in the middle of a P-DATA-TF.
func TestAcceptIdleAbort(t *testing.T) {
	for _, partial := range []bool{false, true} {
		t.Run("", func(t *testing.T) {
			goroutineCheck(t)
			cfg := testAcceptConfig(nil)
			cfg.IdleTimeout = shortTimeout
			a, p, _ := establish(t, cfg, echoRQ())
			if partial {
				p.send(unhex(t, hexPDataFoo)[:8])
			}
			p.expectHex(hexAbort20)
			p.expectClosed(expectTimeout)
			<-a.Done()
			if err := a.Err(); !errors.Is(err, ErrIdleTimeout) || !isAbort(err, 2, 0) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestAcceptPeerClosesMidPDU: TCP closed in the middle of a PDU ends the
// association with ErrTransportClosed and leaves no goroutine.
func TestAcceptPeerClosesMidPDU(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	a, p, _ := establish(t, testAcceptConfig(rec), echoRQ())
	p.send(unhex(t, hexPDataFoo)[:9])
	p.c.Close()
	_, err := a.ReadPData(context.Background())
	if !errors.Is(err, ErrTransportClosed) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadPData err = %v", err)
	}
	<-a.Done()
	if len(rec.closed) != 1 || rec.closed[0] == nil {
		t.Errorf("observer closed = %v", rec.closed)
	}
}

// TestAcceptDataAndPeerRelease: P-DATA both ways, then the peer releases:
// RP is sent, ReadPData returns io.EOF once the peer closed.
func TestAcceptDataAndPeerRelease(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	a, p, _ := establish(t, testAcceptConfig(rec), echoRQ())
	ctx := context.Background()

	p.sendHex(hexPDataFoo)
	pdvs, err := a.ReadPData(ctx)
	if err != nil || len(pdvs) != 1 || string(pdvs[0].Data) != "foo\x00" || !pdvs[0].Command || !pdvs[0].Last || pdvs[0].ContextID != 1 {
		t.Fatalf("ReadPData = %+v, %v", pdvs, err)
	}
	if err := a.SendPData(ctx, []pdu.PDV{{ContextID: 1, Command: true, Last: true, Data: []byte("foo\x00")}}); err != nil {
		t.Fatal(err)
	}
	p.expectHex(hexPDataFoo)

	p.sendHex(hexReleaseRQ)
	p.expectHex(hexReleaseRP)
	p.c.Close()
	if _, err := a.ReadPData(ctx); err != io.EOF {
		t.Fatalf("after release ReadPData err = %v", err)
	}
	if a.Err() != nil {
		t.Errorf("Err = %v", a.Err())
	}
	if err := a.SendPData(ctx, []pdu.PDV{{ContextID: 1, Last: true}}); !errors.Is(err, ErrClosed) {
		t.Errorf("SendPData after release: %v", err)
	}
	want := "Sta1+Evt5=AE-5>Sta2 Sta2+Evt6=AE-6>Sta3 Sta3+Evt7=AE-7>Sta6 Sta6+Evt10=DT-2>Sta6 Sta6+Evt9=DT-1>Sta6 " +
		"Sta6+Evt12=AR-2>Sta8 Sta8+Evt14=AR-4>Sta13 Sta13+Evt17=AR-5>Sta1"
	if got := rec.path(); got != want {
		t.Errorf("path\n got %s\nwant %s", got, want)
	}
	if rec.established != 1 || len(rec.closed) != 1 || rec.closed[0] != nil {
		t.Errorf("established %d closed %v", rec.established, rec.closed)
	}
}

// TestAcceptPeerAbort: the peer's A-ABORT is what ReadPData returns.
func TestAcceptPeerAbort(t *testing.T) {
	goroutineCheck(t)
	a, p, _ := establish(t, testAcceptConfig(nil), echoRQ())
	p.sendHex("07 00 00 00 00 04 00 00 02 05")
	_, err := a.ReadPData(context.Background())
	if !isAbort(err, 2, 5) {
		t.Fatalf("err = %v", err)
	}
	p.expectClosed(expectTimeout)
}

// TestAcceptLocalAbort: Abort sends A-ABORT (0,0) or (2,reason), then the
// machine waits for the peer to close.
func TestAcceptLocalAbort(t *testing.T) {
	for _, tt := range []struct {
		reason pdu.AbortReason
		want   string
	}{{pdu.AbortNotSpecified, hexAbortUser}, {pdu.AbortInvalidParameterValue, hexAbort26}} {
		goroutineCheck(t)
		a, p, _ := establish(t, testAcceptConfig(nil), echoRQ())
		if err := a.Abort(tt.reason); err != nil {
			t.Fatal(err)
		}
		p.expectHex(tt.want)
		select {
		case <-a.Done():
			t.Fatal("done before the peer closed (Sta13 must wait)")
		default:
		}
		p.c.Close()
		<-a.Done()
		if !errors.Is(a.Err(), ErrLocalAbort) {
			t.Errorf("Err = %v", a.Err())
		}
		if err := a.Abort(0); !errors.Is(err, ErrClosed) {
			t.Errorf("second Abort = %v", err)
		}
	}
}

// TestAcceptReleaseByAcceptor: the acceptor may release too (AR-1 … AR-3).
func TestAcceptReleaseByAcceptor(t *testing.T) {
	goroutineCheck(t)
	a, p, _ := establish(t, testAcceptConfig(nil), echoRQ())
	done := make(chan error, 1)
	go func() { done <- a.Release(context.Background()) }()
	p.expectHex(hexReleaseRQ)
	p.sendHex(hexReleaseRP)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.expectClosed(expectTimeout)
}

// TestAcceptReleaseCollision: both sides send A-RELEASE-RQ; we are the
// acceptor: Sta7 → Sta10 (AR-8) → Sta12 on the peer's RP (AR-10) → our RP
// (AR-4) → Sta13 → close (PS3.8 9.2.1 release collision).
func TestAcceptReleaseCollision(t *testing.T) {
	goroutineCheck(t)
	rec := &recorder{}
	a, p, _ := establish(t, testAcceptConfig(rec), echoRQ())
	done := make(chan error, 1)
	go func() { done <- a.Release(context.Background()) }()
	p.expectHex(hexReleaseRQ)
	p.sendHex(hexReleaseRQ)
	p.sendHex(hexReleaseRP)
	p.expectHex(hexReleaseRP)
	p.c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := "Sta6+Evt11=AR-1>Sta7 Sta7+Evt12=AR-8>Sta10 Sta10+Evt13=AR-10>Sta12 Sta12+Evt14=AR-4>Sta13 Sta13+Evt17=AR-5>Sta1"
	if got := rec.path(); !endsWith(got, want) {
		t.Errorf("path\n got %s\nwant …%s", got, want)
	}
}

func endsWith(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// TestAcceptContextCancelled: cancelling ctx in Sta2 closes the connection.
func TestAcceptContextCancelled(t *testing.T) {
	goroutineCheck(t)
	ours, theirs := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() {
		_, err := Accept(ctx, ours, &AcceptConfig{ARTIMTimeout: time.Minute})
		ch <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	(&peer{t, theirs}).expectClosed(expectTimeout)
	if err := <-ch; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestAcceptAccessorsAndAbortPDU: what the layer above reads from an
// accepted association, then AbortPDU with an exact (2,0).
func TestAcceptAccessorsAndAbortPDU(t *testing.T) {
	goroutineCheck(t)
	rq := echoRQ()
	rq.PresentationContexts = append(rq.PresentationContexts,
		pdu.PresentationContextRQ{ID: 9, AbstractSyntax: testCTImage, TransferSyntaxes: []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian}})
	a, p, ac := establish(t, testAcceptConfig(nil), rq)
	if a.CallingAETitle() != "ECHOSCU" || a.CalledAETitle() != "SHARDPACS" || a.IsRequestor() ||
		a.RemoteAddr().String() != p.c.LocalAddr().String() || a.LocalAddr().String() != p.c.RemoteAddr().String() ||
		a.AssociateRQ().UserInfo.ImplementationClassUID != "1.2.3.4" || a.AssociateAC().UserInfo.MaxLength != 16384 {
		t.Errorf("accessors wrong")
	}
	if a.PeerMaxPDULength() != 16384 || a.MaxSendPDULength() != 16384 {
		t.Errorf("max lengths %d %d", a.PeerMaxPDULength(), a.MaxSendPDULength())
	}
	want := []Context{{1, VerificationSOPClass, ImplicitVRLittleEndian, true, false}, {9, testCTImage, ExplicitVRLittleEndian, true, false}}
	got := a.Contexts()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("contexts %+v", got)
	}
	got[0].ID = 99 // a copy
	if c, ok := a.ContextByID(1); !ok || c != want[0] {
		t.Errorf("ContextByID(1) = %+v", c)
	}
	if ac.PresentationContexts[1].TransferSyntax != ExplicitVRLittleEndian {
		t.Errorf("AC %+v", ac.PresentationContexts)
	}
	if a.Err() != nil {
		t.Errorf("Err while running = %v", a.Err())
	}
	if err := a.AbortPDU(&pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortNotSpecified}); err != nil {
		t.Fatal(err)
	}
	p.expectHex(hexAbort20)
	p.c.Close()
	<-a.Done()
	var ae *AbortedError
	if !errors.As(a.Err(), &ae) || ae.Error() != "ul: sent A-ABORT (service-provider: reason-not-specified): ul: aborted by local user" {
		t.Errorf("Err = %v", a.Err())
	}
}
