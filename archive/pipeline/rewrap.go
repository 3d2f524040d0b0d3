package pipeline

import (
	"fmt"
	"io"
)

// Rewrap copies one share object from r to w with its key share re-wrapped
// by kr's current KEK (after a KEK rotation): the header is parsed, the key
// share unwrapped with the KEK version it names (which authenticates the
// common header), wrapped again, and the rest of the object copied as is.
// Only the share header's KEK version and wrapped key change; the common
// header and the AEAD stream are untouched, so the other shares stay valid.
// It returns the old and the new header. On error the caller discards w's
// bytes. The body is not verified here: callers check the object's SHA-256
// against the index while it is read.
func Rewrap(kr KeyWrapper, r io.Reader, w io.Writer) (old, updated *Header, err error) {
	h, err := ParseHeader(r)
	if err != nil {
		return nil, nil, err
	}
	aad := h.keyAAD(h.Index)
	y, err := kr.Unwrap(h.KEKVersion, h.WrappedKey, aad)
	if err != nil {
		return nil, nil, &ShareError{Index: h.Index, Err: err}
	}
	defer clear(y)
	wrapped, ver, err := kr.Wrap(y, aad)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: rewrap: %w", err)
	}
	nh := *h
	nh.KEKVersion, nh.WrappedKey = ver, wrapped
	b, err := nh.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, nil, err
	}
	if _, err := io.Copy(w, r); err != nil {
		return nil, nil, err
	}
	return h, &nh, nil
}
