package dimse

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

const srvCTImage = "1.2.840.10008.5.1.4.1.1.2"

func srvStorePC(id uint8, class string) pdu.PresentationContextRQ {
	return pdu.PresentationContextRQ{ID: id, AbstractSyntax: class,
		TransferSyntaxes: []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian}}
}

func TestServerZeroValueEcho(t *testing.T) {
	srvLeakCheck(t)
	rec := newSrvObs()
	addr := srvStart(t, &Server{Observer: rec})
	c := srvDial(t, addr, "ECHO")
	if st := c.echo(1); st != StatusSuccess {
		t.Fatalf("C-ECHO status %v", st)
	}
	c.release()
	rec.waitEnd(t)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.accepted != 1 || rec.released != 1 || len(rec.requests) != 1 {
		t.Fatalf("observer saw accepted=%d released=%d requests=%v", rec.accepted, rec.released, rec.requests)
	}
}

func TestServerRejectsUnsupportedContexts(t *testing.T) {
	srvLeakCheck(t)
	addr := srvStart(t, &Server{}) // no Store handler
	c := srvDial(t, addr, "SCU", srvEchoPC(1), srvStorePC(3, srvCTImage))
	if _, ok := c.a.ContextByID(3); ok {
		t.Fatal("storage context accepted without a Store handler")
	}
	if _, ok := c.a.ContextByID(1); !ok {
		t.Fatal("verification context rejected")
	}
	c.release()
}

func TestServerCalledAETitle(t *testing.T) {
	srvLeakCheck(t)
	for _, tc := range []struct {
		name   string
		s      *Server
		called string
		ok     bool
	}{
		{"any", &Server{}, "WHATEVER", true},
		{"match", &Server{AETitle: "SHARDPACS"}, "SHARDPACS", true},
		{"mismatch", &Server{AETitle: "OTHER"}, "SHARDPACS", false},
		{"mismatch-any", &Server{AETitle: "OTHER", AcceptAnyCalledAE: true}, "SHARDPACS", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := srvStart(t, tc.s)
			_ = tc.called // srvDialErr always calls "SHARDPACS"
			c, err := srvDialErr(t, addr, "SCU", nil, nil)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				c.release()
				return
			}
			var rj *pdu.AssociateRJ
			if !errors.As(err, &rj) || *rj != (pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserCalledAENotRecognized}) {
				t.Fatalf("got %v, want RJ(1,1,7)", err)
			}
		})
	}
}

func TestServerStoreStatusMapping(t *testing.T) {
	srvLeakCheck(t)
	boom := errors.New("disk on fire")
	for _, tc := range []struct {
		name    string
		err     error
		want    Status
		comment string
	}{
		{"nil", nil, StatusSuccess, ""},
		{"status", StatusOutOfResources, StatusOutOfResources, ""},
		{"status-error", &StatusError{Status: StatusDataSetDoesNotMatchSOPClass, Comment: "SOP Instance UID differs", Offending: []Tag{0x00080018}},
			StatusDataSetDoesNotMatchSOPClass, "SOP Instance UID differs"},
		{"wrapped", errors.Join(boom, StatusCoercionOfDataElements), StatusCoercionOfDataElements, ""},
		{"other", boom, StatusProcessingFailure, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *StoreRequest
			var gotData []byte
			s := &Server{Store: StoreHandlerFunc(func(ctx context.Context, req *StoreRequest) error {
				got = req
				b, _ := req.DataSet.Bytes()
				gotData = append([]byte(nil), b...)
				return tc.err
			})}
			addr := srvStart(t, s)
			c := srvDial(t, addr, "SCU", srvStorePC(1, srvCTImage))
			c.send(1, NewCStoreRQ(c.nextID(), srvCTImage, "1.2.3.4", PriorityMedium), []byte("dataset"))
			m := c.mustRecv()
			if m.Command.CommandField != CStoreRSP || m.Command.Status != tc.want || m.Command.ErrorComment != tc.comment ||
				m.Command.AffectedSOPInstanceUID != "1.2.3.4" {
				t.Fatalf("response %+v", m.Command)
			}
			if strings.Contains(m.Command.ErrorComment, "fire") {
				t.Fatal("local error text reached the network")
			}
			if got == nil || got.SOPInstanceUID != "1.2.3.4" || got.TransferSyntaxUID != uid.ExplicitVRLittleEndian ||
				string(gotData) != "dataset" || got.Assoc.CallingAETitle != "SCU" {
				t.Fatalf("request %+v data %q", got, gotData)
			}
			c.release()
		})
	}
}

// Adversarial row 17: a C-STORE whose SOP class is not the context's
// abstract syntax gets 0x0122; an invalid Affected SOP Instance UID 0xA900;
// a C-FIND on a storage context 0x0211; an unknown command field 0x0211.
func TestServerCommandContextMismatch(t *testing.T) {
	srvLeakCheck(t)
	called := 0
	s := &Server{Store: StoreHandlerFunc(func(context.Context, *StoreRequest) error { called++; return nil })}
	addr := srvStart(t, s)
	c := srvDial(t, addr, "SCU", srvStorePC(1, srvCTImage), srvEchoPC(3))
	for _, tc := range []struct {
		name string
		ctx  uint8
		cmd  *Command
		data []byte
		want Status
	}{
		{"class-not-negotiated", 1, NewCStoreRQ(1, "1.2.840.10008.5.1.4.1.1.4", "1.2.3", PriorityMedium), []byte{1, 2}, StatusSOPClassNotSupported},
		{"store-on-echo-context", 3, NewCStoreRQ(2, VerificationSOPClass, "1.2.3", PriorityMedium), []byte{1, 2}, StatusUnrecognizedOperation},
		{"bad-instance-uid", 1, NewCStoreRQ(3, srvCTImage, "1.2.03.x", PriorityMedium), []byte{1, 2}, StatusDataSetDoesNotMatchSOPClass},
		{"find-on-storage", 1, NewCFindRQ(4, srvCTImage, PriorityMedium), []byte{}, StatusUnrecognizedOperation},
		{"unknown-command", 3, &Command{CommandField: 0x0123, MessageID: 5, AffectedSOPClassUID: VerificationSOPClass}, nil, StatusUnrecognizedOperation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.send(tc.ctx, tc.cmd, tc.data)
			m := c.mustRecv()
			if m.Command.Status != tc.want || m.Command.MessageIDBeingRespondedTo != tc.cmd.MessageID {
				t.Fatalf("got %v (responding to %d), want %v", m.Command.Status, m.Command.MessageIDBeingRespondedTo, tc.want)
			}
		})
	}
	if called != 0 {
		t.Fatalf("handler called %d times", called)
	}
	if st := c.echo(3); st != StatusSuccess {
		t.Fatalf("association unusable afterwards: %v", st)
	}
	c.release()
}

// A data set over Limits.MaxDataSetSize is drained and answered 0xA700; the
// association stays usable.
func TestServerDataSetTooLarge(t *testing.T) {
	srvLeakCheck(t)
	called := false
	s := &Server{Limits: Limits{MaxDataSetSize: 1000},
		Store: StoreHandlerFunc(func(context.Context, *StoreRequest) error { called = true; return nil })}
	addr := srvStart(t, s)
	c := srvDial(t, addr, "SCU", srvStorePC(1, srvCTImage))
	c.send(1, NewCStoreRQ(1, srvCTImage, "1.2.3", PriorityMedium), make([]byte, 100000))
	if m := c.mustRecv(); m.Command.Status != StatusOutOfResources {
		t.Fatalf("status %v", m.Command.Status)
	}
	if called {
		t.Fatal("handler called")
	}
	c.send(1, NewCStoreRQ(2, srvCTImage, "1.2.3", PriorityMedium), make([]byte, 1000))
	if m := c.mustRecv(); m.Command.Status != StatusSuccess {
		t.Fatalf("status %v", m.Command.Status)
	}
	c.release()
}

func TestServerHandlerPanic(t *testing.T) {
	srvLeakCheck(t)
	rec := newSrvObs()
	s := &Server{Observer: rec, Store: StoreHandlerFunc(func(_ context.Context, req *StoreRequest) error {
		if req.SOPInstanceUID == "1.666" {
			panic("handler bug")
		}
		return nil
	})}
	addr := srvStart(t, s)
	good := srvDial(t, addr, "GOOD", srvStorePC(1, srvCTImage))
	bad := srvDial(t, addr, "BAD", srvStorePC(1, srvCTImage))
	bad.send(1, NewCStoreRQ(1, srvCTImage, "1.666", PriorityMedium), []byte{0, 0})
	_, err := bad.recv()
	var ab *pdu.Abort
	if !errors.As(err, &ab) || *ab != (pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortNotSpecified}) {
		t.Fatalf("got %v, want A-ABORT (2,0)", err)
	}
	rec.waitEnd(t)
	rec.mu.Lock()
	var pe *PanicError
	if len(rec.aborted) != 1 || !errors.As(rec.aborted[0], &pe) || pe.Value != "handler bug" || len(pe.Stack) == 0 {
		t.Errorf("observer got %v", rec.aborted)
	}
	rec.mu.Unlock()
	good.send(1, NewCStoreRQ(1, srvCTImage, "1.2", PriorityMedium), []byte{0, 0})
	if m := good.mustRecv(); m.Command.Status != StatusSuccess {
		t.Fatalf("other association: %v", m.Command.Status)
	}
	good.release()
}
