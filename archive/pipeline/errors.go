package pipeline

import (
	"errors"
	"fmt"
)

// Sentinel errors, tested with errors.Is. Authentication failures come from
// package crypto: crypto.ErrAuth (a shard, the trailer or the stream was
// changed: some share in the subset is bad) and crypto.ErrUnwrap (a key
// share or common header was changed, or the KEK is wrong).
var (
	// ErrFormat: a share object is malformed (header, record framing,
	// trailer, trailing bytes).
	ErrFormat = errors.New("pipeline: malformed share object")
	// ErrMismatch: the shares given do not belong together (different
	// objects or headers, a share under the wrong index, records or
	// trailers that differ).
	ErrMismatch = errors.New("pipeline: shares do not match")
	// ErrTooFewShares: fewer than k usable shares (or writers) remain.
	ErrTooFewShares = errors.New("pipeline: too few shares")
	// ErrSize: the decoded sizes differ from those the trailer declares.
	ErrSize = errors.New("pipeline: decoded size differs from the recorded one")
	// ErrHashMismatch: the decoded instance's SHA-256 is not the expected one.
	ErrHashMismatch = errors.New("pipeline: plaintext SHA-256 mismatch")
	// ErrTooLarge: DecodeBytes met an instance above its size limit.
	ErrTooLarge = errors.New("pipeline: instance larger than the limit")
	// ErrShredKeyMissing: the object's key shares are shred-sealed
	// (FlagShredSealed) and its shred key is not available — destroyed
	// when the instance was deleted, or the key store is missing. No
	// subset of shares can help: it is never a *ShareError.
	ErrShredKeyMissing = errors.New("pipeline: shred key missing (instance deleted, or no shred key store)")
)

// ShareError attributes an error to one share (by index), so the archive
// knows which store to distrust and repair. Errors that cannot be
// attributed (an AEAD failure after combining k shares) are not wrapped in it.
type ShareError struct {
	Index int
	Err   error
}

func (e *ShareError) Error() string { return fmt.Sprintf("pipeline: share %d: %v", e.Index, e.Err) }

// Unwrap returns the cause.
func (e *ShareError) Unwrap() error { return e.Err }
