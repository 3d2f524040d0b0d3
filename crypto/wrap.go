package crypto

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
)

// WrapOverhead is how many bytes Wrap adds: a 12-byte nonce and a 16-byte tag.
const WrapOverhead = nonceSize + TagSize

// Domain-separation labels: a KEK is used for nothing but these two purposes.
const (
	wrapLabel        = "shardpacs kek wrap v1\x00"
	fingerprintLabel = "shardpacs kek fingerprint v1\x00"
)

// Wrap encrypts plaintext (a key share, a data key) under the current KEK
// with AES-256-GCM and returns nonce || ciphertext || tag (len(plaintext) +
// WrapOverhead bytes) and the KEK version, which the caller stores beside
// it. aad (e.g. the object id and share index) must be given again to
// Unwrap; the version is bound too. The 96-bit nonce is random from
// crypto/rand: keep each KEK version under 2^32 wraps (NIST SP 800-38D
// §8.3) by rotating well before. ErrNoKEK on a keyring without KEK.
func (kr *Keyring) Wrap(plaintext, aad []byte) (wrapped []byte, version uint32, err error) {
	kr.mu.RLock()
	version = kr.current
	k := kr.keys[version]
	kr.mu.RUnlock()
	if k == nil {
		return nil, 0, fmt.Errorf("crypto: wrap: %w", ErrNoKEK)
	}
	out := make([]byte, nonceSize, len(plaintext)+WrapOverhead)
	if _, err := io.ReadFull(rand.Reader, out); err != nil {
		return nil, 0, fmt.Errorf("crypto: wrap: reading nonce: %w", err)
	}
	return k.aead.Seal(out, out[:nonceSize], plaintext, wrapAAD(version, aad)), version, nil
}

// Unwrap reverses Wrap: it opens wrapped with KEK version and aad. Errors
// wrap ErrUnknownKEKVersion (version not held: never created or retired) or
// ErrUnwrap (wrong aad or version, modified or short input).
func (kr *Keyring) Unwrap(version uint32, wrapped, aad []byte) ([]byte, error) {
	kr.mu.RLock()
	k := kr.keys[version]
	kr.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("crypto: unwrap: version %d: %w", version, ErrUnknownKEKVersion)
	}
	if len(wrapped) < WrapOverhead {
		return nil, fmt.Errorf("crypto: unwrap: %d bytes, shorter than nonce and tag: %w", len(wrapped), ErrUnwrap)
	}
	plain, err := k.aead.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], wrapAAD(version, aad))
	if err != nil {
		return nil, fmt.Errorf("crypto: unwrap: version %d: %w", version, ErrUnwrap)
	}
	return plain, nil
}

// Fingerprint returns a non-secret identifier of KEK version, for logs and
// backup records: the first 8 bytes, in hex, of SHA-256 over a
// domain-separation label and the key. "" when the version is not held.
func (kr *Keyring) Fingerprint(version uint32) string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	k := kr.keys[version]
	if k == nil {
		return ""
	}
	return fingerprint(k.key)
}

func fingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte(fingerprintLabel))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// wrapAAD is label || version (4 bytes, big-endian) || aad: a fixed-length
// prefix, so the encoding is unambiguous.
func wrapAAD(version uint32, aad []byte) []byte {
	b := make([]byte, 0, len(wrapLabel)+4+len(aad))
	b = append(b, wrapLabel...)
	b = binary.BigEndian.AppendUint32(b, version)
	return append(b, aad...)
}
