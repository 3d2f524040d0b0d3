package dcm

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error this package returns for bad input matches
// exactly one of them with errors.Is, except ErrDepth, which narrows
// ErrLimit.
var (
	// ErrFormat matches every *FormatError: the bytes are not a well-formed
	// DICOM data set (PS3.5 §7). At the C-STORE boundary this is a
	// 0xC000-range "cannot understand" failure (PS3.4 B.2.3).
	ErrFormat = errors.New("dcm: malformed data set")
	// ErrLimit matches every *LimitError: a configured resource limit was
	// exceeded. At the C-STORE boundary this is 0xA700 "out of resources".
	ErrLimit = errors.New("dcm: limit exceeded")
	// ErrDepth matches the *LimitError of sequences nested deeper than
	// Limits.MaxDepth (it also matches ErrLimit). A nesting bomb is a
	// malformed data set rather than a resource shortage: the node answers
	// it with a 0xCxxx status, not 0xA700.
	ErrDepth = errors.New("dcm: sequence depth limit")
	// ErrNoPart10Header is returned by ReadPart10Header when the stream does
	// not start with the 128-byte preamble and "DICM" prefix (PS3.10 §7.1)
	// nor with a File Meta Information group; the stream may still be a raw
	// data set (see SniffTransferSyntax).
	ErrNoPart10Header = errors.New("dcm: no DICOM Part 10 header")
	// ErrTransferSyntax is returned when a transfer syntax UID is empty or
	// not a valid UID.
	ErrTransferSyntax = errors.New("dcm: invalid transfer syntax UID")
	// ErrUnsupportedCharset matches *CharsetError: a Specific Character Set
	// (0008,0005) term this package does not know. It is a warning: the
	// text was still decoded (see DecodeText).
	ErrUnsupportedCharset = errors.New("dcm: unsupported specific character set")
)

// FormatError reports a malformed data set: a length that runs past the end
// of its container, an undefined length where PS3.5 §7.1 forbids it, an item
// outside a sequence, a delimiter that does not match (PS3.5 §7.5), a
// truncated stream. It matches ErrFormat.
type FormatError struct {
	Offset int64  // byte offset of the offending element header, from the start of the (inflated) data set
	Tag    Tag    // tag of the offending element, or 0 when not known
	Msg    string // what is wrong; never contains attribute values
}

func (e *FormatError) Error() string {
	return "dcm: malformed data set at offset " + strconv.FormatInt(e.Offset, 10) + ", tag " + e.Tag.String() + ": " + e.Msg
}

// Is reports whether target is ErrFormat.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// LimitError reports that a configured limit (see Limits) was exceeded. It
// matches ErrLimit.
type LimitError struct {
	What string // which limit, e.g. "sequence depth > 32"
	Kind error  // a more specific sentinel it also matches (ErrDepth), or nil
}

func (e *LimitError) Error() string { return "dcm: limit exceeded: " + e.What }

// Is reports whether target is ErrLimit, or the error's Kind.
func (e *LimitError) Is(target error) bool {
	return target == ErrLimit || (e.Kind != nil && target == e.Kind)
}

// depthError is the LimitError of a nesting deeper than max.
func depthError(max int) *LimitError {
	return &LimitError{What: "sequence depth > " + strconv.Itoa(max), Kind: ErrDepth}
}

// CharsetError is the warning DecodeText returns for a Specific Character
// Set term it does not know (PS3.3 C.12.1.1.2); the text is still decoded
// (see DecodeText). It matches ErrUnsupportedCharset.
type CharsetError struct {
	Charset string // the unknown defined term, as found
}

func (e *CharsetError) Error() string {
	return "dcm: unsupported specific character set " + strconv.Quote(e.Charset) + ", decoded as ISO_IR 100"
}

// Is reports whether target is ErrUnsupportedCharset.
func (e *CharsetError) Is(target error) bool { return target == ErrUnsupportedCharset }
