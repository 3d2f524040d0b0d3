package crypto

import (
	"crypto/rand"
	"fmt"
	"io"
)

// ShredSealOverhead is how many bytes ShredSeal adds: a 12-byte nonce and a
// 16-byte tag.
const ShredSealOverhead = nonceSize + TagSize

// shredLabel separates shred sealing from every other use of AES-GCM here:
// a shred key is used for nothing else.
const shredLabel = "shardpacs shred seal v1\x00"

// NewShredKey returns a fresh 32-byte shred key read from rand
// (crypto/rand.Reader when nil).
func NewShredKey(rand io.Reader) ([]byte, error) {
	key := make([]byte, DataKeySize)
	if _, err := io.ReadFull(randOrDefault(rand), key); err != nil {
		return nil, fmt.Errorf("crypto: reading random shred key: %w", err)
	}
	return key, nil
}

// ShredSeal encrypts plaintext (a key share) under a per-instance shred key
// with AES-256-GCM and returns nonce ‖ ciphertext ‖ tag
// (len(plaintext) + ShredSealOverhead bytes). aad is bound and must be
// given again to ShredOpen. The nonce is random (crypto/rand): a shred key
// seals the handful of key shares of one instance, far below the 2^32
// limit of NIST SP 800-38D §8.3.
//
// A shred key is the opt-in crypto-shredding layer (docs/security.md §7):
// the sealed key share is then wrapped by the KEK as usual, so the KEK
// alone no longer opens it, and destroying the shred key makes every copy
// of the instance's shares undecryptable.
func ShredSeal(key, plaintext, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: shred seal: %w", err)
	}
	out := make([]byte, nonceSize, len(plaintext)+ShredSealOverhead)
	if _, err := io.ReadFull(rand.Reader, out); err != nil {
		return nil, fmt.Errorf("crypto: shred seal: reading nonce: %w", err)
	}
	return g.Seal(out, out[:nonceSize], plaintext, shredAAD(aad)), nil
}

// ShredOpen reverses ShredSeal. Errors wrap ErrShredOpen (wrong key or aad,
// modified or short input) or ErrKeySize.
func ShredOpen(key, sealed, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: shred open: %w", err)
	}
	if len(sealed) < ShredSealOverhead {
		return nil, fmt.Errorf("crypto: shred open: %d bytes, shorter than nonce and tag: %w", len(sealed), ErrShredOpen)
	}
	plain, err := g.Open(nil, sealed[:nonceSize], sealed[nonceSize:], shredAAD(aad))
	if err != nil {
		return nil, fmt.Errorf("crypto: shred open: %w", ErrShredOpen)
	}
	return plain, nil
}

func shredAAD(aad []byte) []byte {
	return append([]byte(shredLabel), aad...)
}
