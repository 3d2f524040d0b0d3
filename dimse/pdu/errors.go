package pdu

import "errors"

// Sentinel errors. A *DecodeError wraps exactly one of the decode sentinels,
// so errors.Is(err, ErrMalformed) works on anything ReadPDU or Decode returns.
var (
	// ErrUnknownPDUType: the PDU-type byte is not one of PS3.8 Table 9-11
	// (abort reason 1, unrecognized-PDU).
	ErrUnknownPDUType = errors.New("pdu: unrecognized PDU type")
	// ErrTooLong: a declared PDU length exceeds the Limits, or a count
	// (contexts, transfer syntaxes, PDVs) exceeds them (abort reason 6).
	ErrTooLong = errors.New("pdu: length or count over limit")
	// ErrMalformed: lengths are inconsistent, a mandatory item is missing or
	// a field holds an invalid value (abort reason 6 or 5).
	ErrMalformed = errors.New("pdu: malformed PDU")
	// ErrUnexpectedItem: a known item in the wrong place or repeated where
	// PS3.8 allows one (abort reason 5, unexpected-PDU-parameter). Items of
	// unrecognized types are skipped, as PS3.8 9.3.1 requires, so abort
	// reason 4 is never produced.
	ErrUnexpectedItem = errors.New("pdu: unexpected item")
	// ErrInvalid: Encode was given a value it cannot put on the wire (an AE
	// title over 16 bytes, a UID over 64, an empty P-DATA-TF, an item over
	// 65535 bytes...).
	ErrInvalid = errors.New("pdu: invalid value for encoding")
)

// DecodeError reports input that is not a valid PDU. Reason is the A-ABORT
// reason (PS3.8 9.3.8) the association state machine should send with source
// service-provider; Err is one of the sentinels above.
type DecodeError struct {
	Reason AbortReason
	Msg    string
	Err    error
}

// Error returns "pdu: " + Msg.
func (e *DecodeError) Error() string { return "pdu: " + e.Msg }

// Unwrap returns the sentinel error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Abort returns the A-ABORT PDU (source service-provider) that answers e.
func (e *DecodeError) Abort() *Abort {
	return &Abort{Source: AbortServiceProvider, Reason: e.Reason}
}

func malformed(msg string) *DecodeError {
	return &DecodeError{Reason: AbortInvalidParameterValue, Msg: msg, Err: ErrMalformed}
}

func tooLong(msg string) *DecodeError {
	return &DecodeError{Reason: AbortInvalidParameterValue, Msg: msg, Err: ErrTooLong}
}
