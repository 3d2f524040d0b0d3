package ul

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// cellInput builds the input of event e for the cell test.
func cellInput(e Event) input {
	switch e {
	case Evt3:
		return input{p: &pdu.AssociateAC{ProtocolVersion: 1, ApplicationContext: pdu.DICOMApplicationContext}, why: ErrUnexpectedPDU}
	case Evt4:
		return input{p: rj(pdu.RejectPermanent, pdu.SourceServiceUser, pdu.RejectUserNoReason), why: ErrUnexpectedPDU}
	case Evt6:
		return input{p: echoRQ(), why: ErrUnexpectedPDU}
	case Evt8:
		return input{p: rj(pdu.RejectPermanent, pdu.SourceServiceUser, pdu.RejectUserCallingAENotRecognized), why: errors.New("test")}
	case Evt9, Evt11:
		return input{req: &request{ev: e, ctx: context.Background(), reply: make(chan error, 1),
			pdvs: []pdu.PDV{{ContextID: 1, Command: true, Last: true, Data: []byte("foo\x00")}}}}
	case Evt10:
		return input{p: &pdu.PDataTF{Items: []pdu.PDV{{ContextID: 1, Last: true, Data: []byte{1, 2}}}}, why: ErrUnexpectedPDU}
	case Evt12:
		return input{p: &pdu.ReleaseRQ{}, why: ErrUnexpectedPDU}
	case Evt13:
		return input{p: &pdu.ReleaseRP{}, why: ErrUnexpectedPDU}
	case Evt15:
		return input{abort: &pdu.Abort{Source: pdu.AbortServiceUser}, why: ErrLocalAbort}
	case Evt16:
		return input{p: &pdu.Abort{Source: pdu.AbortServiceUser}}
	case Evt17:
		return input{why: ErrTransportClosed}
	case Evt18:
		return input{why: ErrARTIMExpired}
	case Evt19:
		return input{abort: &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortInvalidParameterValue}, why: errors.New("bad PDU")}
	}
	return input{}
}

// wantBytes is what the action of a cell writes to the peer.
func wantBytes(t *testing.T, act string, defined bool, e Event) []byte {
	switch act {
	case "AE-8":
		return unhex(t, hexRJ113)
	case "AR-1":
		return unhex(t, hexReleaseRQ)
	case "AR-4", "AR-9":
		return unhex(t, hexReleaseRP)
	case "DT-1", "AR-7":
		return unhex(t, hexPDataFoo)
	case "AA-1", "AA-7", "AA-8":
		switch {
		case !defined && e.FromPeer():
			return unhex(t, hexAbort22)
		case !defined:
			return unhex(t, hexAbort20)
		case e == Evt15:
			return unhex(t, hexAbortUser)
		case e == Evt19:
			return unhex(t, hexAbort26)
		}
		return unhex(t, hexAbort22)
	}
	return nil
}

// TestEveryCell drives the machine into every state and fires every event,
// checking the action against the standard's table: the next state, the
// exact bytes sent to the peer, whether the transport was closed, and
// whether a P-DATA indication was issued. Undefined cells must give AA-8.
func TestEveryCell(t *testing.T) {
	goroutineCheck(t)
	for _, requestor := range []bool{false, true} {
		for s := Sta1; s <= Sta13; s++ {
			for e := Evt1; e <= Evt19; e++ {
				name := fmt.Sprintf("requestor=%v/%s/%s", requestor, s, e)
				std := stdCell(t, s, e)
				defined := std != ""
				act := std
				if !defined {
					act = "AA-8"
				}
				wantState := nextStateStd[act]
				if act == "AR-8" && requestor {
					wantState = "Sta9"
				}
				// AE-2 writes an A-ASSOCIATE-RQ, AE-7 an -AC: checked by type.
				wantType := map[string]byte{"AE-2": 0x01, "AE-7": 0x02}[act]
				wantClosed := map[string]bool{"AE-4": true, "AR-3": true, "AR-5": true, "AA-2": true, "AA-3": true, "AA-4": true, "AA-5": true}[act]
				wantPending := act == "DT-2" || act == "AR-6"

				ours, theirs := net.Pipe()
				got := make(chan []byte, 1)
				go func() {
					b, _ := io.ReadAll(theirs)
					got <- b
				}()
				m := newMachine(ours, (&AcceptConfig{ARTIMTimeout: time.Minute}).settings(), requestor)
				m.state = s
				m.sentRQ = echoRQ()
				m.ac = &pdu.AssociateAC{ProtocolVersion: 1, CalledAETitle: "A", CallingAETitle: "B", ApplicationContext: pdu.DICOMApplicationContext,
					PresentationContexts: []pdu.PresentationContextAC{{ID: 1, TransferSyntax: ImplicitVRLittleEndian}}}
				in := cellInput(e)
				m.step(e, in)
				closed, pending, state := m.closed, m.pending.pdvs != nil, m.state
				m.finish()
				theirs.Close()
				b := <-got

				if state.String() != wantState {
					t.Errorf("%s: %s → %s, want %s", name, act, state, wantState)
				}
				if closed != wantClosed {
					t.Errorf("%s: %s closed=%v, want %v", name, act, closed, wantClosed)
				}
				if pending != wantPending {
					t.Errorf("%s: %s P-DATA indication=%v, want %v", name, act, pending, wantPending)
				}
				if wantType != 0 {
					if len(b) == 0 || b[0] != wantType {
						t.Errorf("%s: %s sent % X, want a PDU of type %d", name, act, b, wantType)
					}
				} else if w := wantBytes(t, act, defined, e); !bytes.Equal(b, w) {
					t.Errorf("%s: %s sent % X, want % X", name, act, b, w)
				}
				if in.req != nil && !defined {
					select {
					case err := <-in.req.reply:
						if !errors.Is(err, ErrUndefinedTransition) {
							t.Errorf("%s: local request answered %v", name, err)
						}
					default:
						t.Errorf("%s: local request not answered", name)
					}
				}
			}
		}
	}
}
