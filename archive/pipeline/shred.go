package pipeline

import (
	"bytes"
	"fmt"

	"github.com/shardpacs/shardpacs/crypto"
)

// ShredKeys finds the shred key of an object by its object ID (the opt-in
// crypto-shredding mode; archive/shredkeys keeps them). ShredKey returns an
// error wrapping ErrShredKeyMissing when the object has no key (it was
// destroyed with the instance, or never existed), another error when the
// key store cannot answer. It must be safe for concurrent use.
type ShredKeys interface {
	ShredKey(objectID [16]byte) ([]byte, error)
}

// ShredWrapper is the KeyWrapper of an archive that may hold shred-sealed
// objects: a decorator of the KEK keyring.
//
// For a key share of an object with FlagShredSealed, Wrap first seals the
// share under the object's shred key (crypto.ShredSeal: AES-256-GCM,
// random nonce, the key AAD bound), then wraps the result with KEK; Unwrap
// reverses both. Which object, and whether it is shred-sealed, come from
// the associated data, which is the object's common header followed by the
// share index (the only AAD this package passes to a KeyWrapper). Key
// shares of other objects go to KEK unchanged, so one ShredWrapper reads
// the objects written before shred keys were turned on.
//
// The KEK layer is outermost on purpose: rotating the KEK (Rewrap with the
// bare keyring) rewraps the sealed share without needing the shred key.
//
// Keys nil means "no key store": shred-sealed key shares fail with
// ErrShredKeyMissing. The zero ShredWrapper (no KEK) fails every call.
type ShredWrapper struct {
	KEK  KeyWrapper
	Keys ShredKeys
}

var _ KeyWrapper = (*ShredWrapper)(nil)

// Wrap implements KeyWrapper.
func (s *ShredWrapper) Wrap(plaintext, aad []byte) ([]byte, uint32, error) {
	if s.KEK == nil {
		return nil, 0, fmt.Errorf("pipeline: %w", crypto.ErrNoKEK)
	}
	id, sealed, err := parseKeyAAD(aad)
	if err != nil {
		return nil, 0, err
	}
	if !sealed {
		return s.KEK.Wrap(plaintext, aad)
	}
	key, err := s.key(id)
	if err != nil {
		return nil, 0, err
	}
	defer clear(key)
	inner, err := crypto.ShredSeal(key, plaintext, aad)
	if err != nil {
		return nil, 0, err
	}
	return s.KEK.Wrap(inner, aad)
}

// Unwrap implements KeyWrapper. Beyond the KEK's errors, a shred-sealed key
// share fails with ErrShredKeyMissing (no key for the object: it was
// deleted) or crypto.ErrShredOpen (the key does not open it).
func (s *ShredWrapper) Unwrap(version uint32, wrapped, aad []byte) ([]byte, error) {
	if s.KEK == nil {
		return nil, fmt.Errorf("pipeline: %w", crypto.ErrNoKEK)
	}
	id, sealed, err := parseKeyAAD(aad)
	if err != nil {
		return nil, err
	}
	inner, err := s.KEK.Unwrap(version, wrapped, aad)
	if err != nil || !sealed {
		return inner, err
	}
	defer clear(inner)
	key, err := s.key(id)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return crypto.ShredOpen(key, inner, aad)
}

func (s *ShredWrapper) key(id [16]byte) ([]byte, error) {
	if s.Keys == nil {
		return nil, fmt.Errorf("pipeline: object %x: %w (no shred key store)", id, ErrShredKeyMissing)
	}
	key, err := s.Keys.ShredKey(id)
	if err != nil {
		return nil, fmt.Errorf("pipeline: object %x: %w", id, err)
	}
	return key, nil
}

// parseKeyAAD reads the object ID and the shred flag from the associated
// data of a key share (Header.keyAAD: common header ‖ share index).
func parseKeyAAD(aad []byte) (id [16]byte, sealed bool, err error) {
	if len(aad) != CommonHeaderSize+1 || !bytes.HasPrefix(aad, []byte(Magic)) {
		return id, false, fmt.Errorf("%w: key share associated data of %d bytes is not a share header", ErrFormat, len(aad))
	}
	copy(id[:], aad[8:24])
	return id, aad[36]&FlagShredSealed != 0, nil
}

// fixedShredKey is the one shred key Encode seals with.
type fixedShredKey struct {
	id  [16]byte
	key []byte
}

func (f fixedShredKey) ShredKey(id [16]byte) ([]byte, error) {
	if id != f.id {
		return nil, fmt.Errorf("%w: not the object being encoded", ErrShredKeyMissing)
	}
	return bytes.Clone(f.key), nil
}
