package store

import (
	"encoding/hex"
	"fmt"
	"io"
)

// NameLen is the length of every object name: 32 lower-case hex digits,
// i.e. 128 random bits.
const NameLen = 32

// ValidName reports whether name is a well-formed object name: exactly
// NameLen characters, each in [0-9a-f]. No separator, dot or upper case can
// pass, so a name can never escape a store's folder or alias another name
// on a case-insensitive file system.
func ValidName(name string) bool {
	if len(name) != NameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckName returns ErrInvalidName (unwrapped) when !ValidName(name).
func CheckName(name string) error {
	if !ValidName(name) {
		return ErrInvalidName
	}
	return nil
}

// NewName returns a fresh random object name read from rand (crypto/rand's
// Reader in production). Names carry no meaning: never a UID or patient data.
func NewName(rand io.Reader) (string, error) {
	var b [NameLen / 2]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("store: new name: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
