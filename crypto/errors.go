package crypto

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the package wraps them
// with context ("crypto: ...: %w").
var (
	// ErrAuth reports that a sealed stream failed authentication: a wrong
	// key or associated data, or ciphertext that was modified, reordered,
	// truncated or extended.
	ErrAuth = errors.New("crypto: message authentication failed")

	// ErrTruncated reports a sealed stream that ended before its final
	// segment, while every segment read so far authenticated. It wraps
	// ErrAuth, so errors.Is(err, ErrAuth) holds for it too.
	ErrTruncated = fmt.Errorf("crypto: sealed stream truncated before its final segment: %w", ErrAuth)

	// ErrKeySize reports a key that is not 32 bytes (AES-256).
	ErrKeySize = errors.New("crypto: key must be 32 bytes")

	// ErrClosed reports a Write or Close on a seal writer that is closed.
	ErrClosed = errors.New("crypto: seal writer already closed")

	// ErrInvalidShares reports shares that cannot be combined: fewer than
	// two, an X of 0, two shares with the same X, or Y values of different
	// or zero length.
	ErrInvalidShares = errors.New("crypto: invalid secret shares")

	// ErrNoKEK reports that no key-encryption key is available: the keyring
	// file does not exist, or a zero Keyring was used.
	ErrNoKEK = errors.New("crypto: no key-encryption key (KEK)")

	// ErrUnknownKEKVersion reports a KEK version the keyring does not hold
	// (never created, or retired).
	ErrUnknownKEKVersion = errors.New("crypto: unknown KEK version")

	// ErrUnwrap reports wrapped key material that failed to unwrap: wrong
	// KEK, wrong associated data, or modified bytes.
	ErrUnwrap = errors.New("crypto: unwrap failed")

	// ErrKeyringExists reports that CreateKeyring found a file at its path.
	ErrKeyringExists = errors.New("crypto: keyring file already exists")

	// ErrKeyringPermissions reports a keyring file that group or others may
	// access; the error message says to chmod 600 it.
	ErrKeyringPermissions = errors.New("crypto: keyring file permissions too open")

	// ErrShredOpen reports a shred-sealed key share that did not open
	// under the shred key given: another instance's key, wrong associated
	// data, or modified bytes.
	ErrShredOpen = errors.New("crypto: shred-sealed key share did not open")

	// ErrRetireCurrent reports an attempt to retire the current KEK version.
	ErrRetireCurrent = errors.New("crypto: cannot retire the current KEK version")
)
