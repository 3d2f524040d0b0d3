package dimse

import (
	"errors"
	"fmt"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Sentinel errors. Errors returned by this package wrap exactly one of them
// (or are a [Status], [*StatusError] or [*ProtocolError]).
var (
	// ErrMalformedCommand: command-set bytes that are not a valid group 0000
	// in Implicit VR Little Endian (PS3.7 §6.3.1): bad lengths, tags out of
	// order, wrong group length, a mandatory element missing.
	ErrMalformedCommand = errors.New("dimse: malformed command set")
	// ErrMissingElement: Validate found a required command element absent.
	ErrMissingElement = errors.New("dimse: missing command element")
	// ErrInvalidElement: Validate found a command element with a value PS3.5
	// or PS3.7 does not allow (bad UID, AE title over 16 characters...).
	ErrInvalidElement = errors.New("dimse: invalid command element")
	// ErrUnexpectedElement: Validate found an element the message must not
	// carry, or a data set where none is allowed (or none where one is
	// required).
	ErrUnexpectedElement = errors.New("dimse: unexpected command element")
	// ErrProtocol is wrapped by every [*ProtocolError]: the peer broke the
	// P-DATA rules (PS3.7 §6.3.1, PS3.8 Annex E) and the association must
	// be aborted.
	ErrProtocol = errors.New("dimse: protocol error")
	// ErrDataSetTooLarge: the message's data set exceeded Limits.MaxDataSetSize.
	// The message was read to its end (nothing of it is left on the wire),
	// so the association stays usable and the service can answer with
	// [StatusOutOfResources].
	ErrDataSetTooLarge = errors.New("dimse: data set too large")
	// ErrClosed: the DataSet was used after Close.
	ErrClosed = errors.New("dimse: data set closed")
)

// ErrSpool is wrapped when a data set could not be stored (temporary file
// creation or write failed, e.g. disk full). As with ErrDataSetTooLarge the
// message has been read to its end and the association stays usable; the
// service answers StatusOutOfResources.
var ErrSpool = errors.New("dimse: cannot spool data set")

// ErrMessageIncomplete is wrapped when WriteMessage failed after sending
// part of a message (the data reader or the writer failed mid-way). The
// peer cannot make sense of what follows: the association must be aborted.
var ErrMessageIncomplete = errors.New("dimse: message sent incompletely")

// ErrPDUTooSmall: the peer's Maximum Length leaves no room for PDV data.
var ErrPDUTooSmall = errors.New("dimse: peer maximum PDU length too small")

// ProtocolError reports P-DATA traffic that breaks PS3.7 §6.3.1 / PS3.8
// Annex E (a data fragment before the command's last fragment, a fragment on
// another presentation context mid-message, a command set over the cap, too
// many fragments...). The association must be aborted with
// A-ABORT(source service-provider, Reason) (PS3.8 §9.3.8): see [Abort].
type ProtocolError struct {
	Reason pdu.AbortReason // what to send in the A-ABORT
	Msg    string
	Err    error // optional cause, e.g. a *pdu.DecodeError or ErrMalformedCommand
}

// Error returns "dimse: protocol error: " + Msg (+ ": " + cause).
func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return "dimse: protocol error: " + e.Msg + ": " + e.Err.Error()
	}
	return "dimse: protocol error: " + e.Msg
}

// Unwrap returns ErrProtocol and the cause, if any.
func (e *ProtocolError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrProtocol, e.Err}
	}
	return []error{ErrProtocol}
}

// Abort returns the A-ABORT PDU (source service-provider) that answers e.
func (e *ProtocolError) Abort() *pdu.Abort {
	return &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: e.Reason}
}

func protocolErr(reason pdu.AbortReason, format string, args ...any) *ProtocolError {
	return &ProtocolError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ElementError reports a command element that fails [Command.Validate].
// Err is ErrMissingElement, ErrInvalidElement or ErrUnexpectedElement.
type ElementError struct {
	Command CommandField
	Tag     Tag
	Err     error
	Detail  string // optional, e.g. "65 characters, at most 64"
}

// Error returns e.g. "dimse: C-STORE-RQ: Affected SOP Class UID (0000,0002):
// missing command element".
func (e *ElementError) Error() string {
	s := fmt.Sprintf("dimse: %s: %s: %s", e.Command, e.Tag.label(), trimPrefix(e.Err.Error()))
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns Err.
func (e *ElementError) Unwrap() error { return e.Err }

func trimPrefix(s string) string {
	const p = "dimse: "
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// StatusError is a failure (or warning) status with the optional details a
// DIMSE response can carry (PS3.7 §9.1.1.1.x, Annex C): Error Comment
// (0000,0902) and Offending Element (0000,0901). Service handlers return it
// to choose the exact status; [StatusOf] and [Command.SetError] read it back.
//
// Err is a local cause for logs: it never crosses the network. Comment does,
// so it must not contain patient data, and is cut to 64 characters (LO).
type StatusError struct {
	Status    Status
	Comment   string
	Offending []Tag
	Err       error
}

// Error returns "dimse: status 0xA900 (...): comment: cause".
func (e *StatusError) Error() string {
	s := e.Status.Error()
	if e.Comment != "" {
		s += ": " + e.Comment
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the Status and the cause, so that errors.Is(err,
// StatusOutOfResources) and errors.As(err, &status) both work.
func (e *StatusError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Status, e.Err}
	}
	return []error{e.Status}
}

// StatusOf maps err to the status a response should carry: nil →
// StatusSuccess; a *StatusError or Status anywhere in err's chain → that
// status; anything else → fallback. A *StatusError wins over a bare Status.
func StatusOf(err error, fallback Status) Status {
	if err == nil {
		return StatusSuccess
	}
	if se := asStatusError(err); se != nil {
		return se.Status
	}
	var st Status
	if errors.As(err, &st) {
		return st
	}
	return fallback
}

func asStatusError(err error) *StatusError {
	var se *StatusError
	if errors.As(err, &se) {
		return se
	}
	return nil
}
