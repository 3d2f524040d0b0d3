package ul

import (
	"errors"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Sentinel errors. Errors returned by this package wrap one of them (or are
// a *pdu.AssociateRJ / *pdu.Abort), so callers test with errors.Is / As.
var (
	// ErrClosed: the association has ended, or is ending (Sta13), and
	// accepts no more local requests.
	ErrClosed = errors.New("ul: association closed")
	// ErrARTIMExpired: the ARTIM timer (PS3.8 9.1.5) expired while waiting
	// for an A-ASSOCIATE-RQ (Sta2), an A-ASSOCIATE-AC/RJ (Sta5) or the
	// transport close (Sta13).
	ErrARTIMExpired = errors.New("ul: ARTIM timer expired")
	// ErrIdleTimeout: no PDU was sent or received for IdleTimeout while the
	// association was established; it was aborted with A-ABORT (2,0).
	ErrIdleTimeout = errors.New("ul: idle timeout")
	// ErrTransportClosed: the transport connection closed or failed without
	// an A-ABORT or release (PS3.8 A-P-ABORT, Evt17).
	ErrTransportClosed = errors.New("ul: transport connection closed")
	// ErrUnexpectedPDU: the peer sent a PDU the state machine does not
	// expect in its current state (PS3.8 Table 9-10).
	ErrUnexpectedPDU = errors.New("ul: unexpected PDU")
	// ErrUndefinedTransition: an event arrived in a state where PS3.8 Table
	// 9-10 defines no action; the machine aborted (AA-8).
	ErrUndefinedTransition = errors.New("ul: undefined state transition")
	// ErrUnknownContext: a PDV names a presentation context that was not
	// accepted on this association.
	ErrUnknownContext = errors.New("ul: presentation context not accepted")
	// ErrPDUTooLarge: SendPData was given PDVs that do not fit in one
	// P-DATA-TF of MaxSendPDULength.
	ErrPDUTooLarge = errors.New("ul: P-DATA-TF larger than the negotiated maximum length")
	// ErrNoAcceptedContext: the acceptor accepted none of the proposed
	// presentation contexts (requestor side; the association is aborted).
	ErrNoAcceptedContext = errors.New("ul: no presentation context accepted")
	// ErrPeerMaxLength: the peer's Maximum Length (PS3.8 D.1) is below
	// MinPeerPDULength.
	ErrPeerMaxLength = errors.New("ul: peer maximum PDU length below our floor")
	// ErrLocalAbort: the local user asked for an A-ABORT (Association.Abort).
	ErrLocalAbort = errors.New("ul: aborted by local user")
	// ErrInvalidConfig: a RequestConfig cannot be turned into a valid
	// A-ASSOCIATE-RQ.
	ErrInvalidConfig = errors.New("ul: invalid configuration")
)

// AbortedError is how an association ends when this side sent the A-ABORT
// (PS3.8 AA-1, AA-7, AA-8). Unwrap yields both the A-ABORT sent and the
// cause, so errors.As(err, new(*pdu.Abort)) and errors.Is(err, ErrIdleTimeout)
// both work. When the peer aborts, the error is the received *pdu.Abort
// itself.
type AbortedError struct {
	Sent  *pdu.Abort // the A-ABORT PDU we sent
	Cause error      // why; never nil
}

// Error returns e.g. "ul: sent A-ABORT (service-provider: unexpected-PDU):
// ul: unexpected PDU: P-DATA-TF in Sta2".
func (e *AbortedError) Error() string {
	s := "ul: sent A-ABORT (" + e.Sent.Source.String()
	if e.Sent.Source == pdu.AbortServiceProvider {
		s += ": " + e.Sent.Reason.String()
	}
	return s + "): " + e.Cause.Error()
}

// Unwrap returns the A-ABORT sent and the cause.
func (e *AbortedError) Unwrap() []error { return []error{e.Sent, e.Cause} }
