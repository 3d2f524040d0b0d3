package crypto

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Keyring holds the node's key-encryption keys (KEKs): 32-byte AES-256 keys,
// each with a version number (1, 2, …), one of them current. Wrap uses the
// current KEK; Unwrap uses whichever version the wrapped data names, so data
// wrapped before a Rotate stays readable until its version is retired.
//
// The keyring lives in one file outside the share stores (a data-dir file
// made on first start by default). Losing it loses the archive: back it up
// (e.g. split among custodians); see docs/security.md.
//
// # File format
//
// A JSON object, mode 0600, written atomically (temporary file, fsync,
// rename or link, fsync of the directory):
//
//	{
//	  "format": "shardpacs-kek-keyring",
//	  "format_version": 1,
//	  "current": 2,
//	  "keys": [
//	    {"version": 1, "created": "2026-01-02T03:04:05Z", "key": "<base64, 32 bytes>"},
//	    {"version": 2, "created": "2026-06-01T00:00:00Z", "key": "<base64, 32 bytes>"}
//	  ]
//	}
//
// "key" is standard base64 (RFC 4648 §4) with padding. Loading refuses
// unknown fields, another format or format_version, a version of 0 or a
// repeated one, a key that is not 32 bytes, a current version that is not
// in "keys", and files over 1 MiB.
//
// # Zero value and concurrency
//
// The zero Keyring holds no KEK: Wrap and Rotate return ErrNoKEK. A Keyring
// is safe for concurrent use; one process owns its file (Rotate and Retire
// rewrite the whole file from memory). Printing a Keyring (%v, %#v) shows
// versions and fingerprints, never key bytes.
type Keyring struct {
	mu      sync.RWMutex
	current uint32
	keys    map[uint32]*kek
}

// kek is one version of the key-encryption key.
type kek struct {
	key     []byte
	created time.Time
	aead    cipher.AEAD
}

// LoadOrCreateKeyring loads the keyring at path, or creates it (as
// CreateKeyring) when the file does not exist; created reports which. Any
// other load error (permissions, malformed file) is returned: a bad keyring
// is never replaced by a new one.
func LoadOrCreateKeyring(path string, rand io.Reader) (kr *Keyring, created bool, err error) {
	kr, err = LoadKeyring(path)
	if !errors.Is(err, ErrNoKEK) {
		return kr, false, err
	}
	kr, err = CreateKeyring(path, rand)
	if errors.Is(err, ErrKeyringExists) {
		// Another process created it between our load and create.
		kr, err = LoadKeyring(path)
		return kr, false, err
	}
	return kr, err == nil, err
}

// CurrentVersion returns the version Wrap uses; 0 for a keyring without KEK.
func (kr *Keyring) CurrentVersion() uint32 {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.current
}

// Versions returns every version held, in ascending order.
func (kr *Keyring) Versions() []uint32 {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.versionsLocked()
}

func (kr *Keyring) versionsLocked() []uint32 {
	vs := make([]uint32, 0, len(kr.keys))
	for v := range kr.keys {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// Rotate adds a fresh KEK read from rand (crypto/rand.Reader when nil) as
// version max+1, makes it current, and rewrites the keyring file at path
// atomically. On error the keyring, in memory and on disk, is unchanged.
// Data wrapped under older versions stays readable; rewrap it and then
// Retire the old versions. A keyring without KEK returns ErrNoKEK (rotate
// never starts a keyring from nothing: that would replace the file).
func (kr *Keyring) Rotate(path string, rand io.Reader) (newVersion uint32, err error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if len(kr.keys) == 0 {
		return 0, fmt.Errorf("crypto: keyring: rotate: %w", ErrNoKEK)
	}
	vs := kr.versionsLocked()
	last := vs[len(vs)-1]
	if last == ^uint32(0) {
		return 0, fmt.Errorf("crypto: keyring: rotate: version numbers exhausted")
	}
	key, err := NewDataKey(rand)
	if err != nil {
		return 0, fmt.Errorf("crypto: keyring: rotate: %w", err)
	}
	v := last + 1
	oldCurrent := kr.current
	if err := kr.add(v, key, time.Now().UTC().Truncate(time.Second)); err != nil {
		return 0, err
	}
	kr.current = v
	if err := writeKeyringFile(path, kr.marshal(), false); err != nil {
		kr.current = oldCurrent
		kr.remove(v)
		return 0, err
	}
	return v, nil
}

// Retire removes KEK version from the keyring and rewrites the file at path
// atomically; data still wrapped under it becomes unreadable (Unwrap returns
// ErrUnknownKEKVersion), so rewrap first. It refuses the current version
// (ErrRetireCurrent) and unknown ones (ErrUnknownKEKVersion). On error the
// keyring is unchanged. The key bytes are zeroed in memory; copies on disk
// (backups, old blocks) are not in this package's reach.
func (kr *Keyring) Retire(path string, version uint32) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k, ok := kr.keys[version]
	switch {
	case !ok:
		return fmt.Errorf("crypto: keyring: retire version %d: %w", version, ErrUnknownKEKVersion)
	case version == kr.current:
		return fmt.Errorf("crypto: keyring: retire version %d: %w", version, ErrRetireCurrent)
	}
	delete(kr.keys, version)
	if err := writeKeyringFile(path, kr.marshal(), false); err != nil {
		kr.keys[version] = k
		return err
	}
	clear(k.key)
	return nil
}

// String describes the keyring without key material.
func (kr *Keyring) String() string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "crypto.Keyring{current: %d, versions:", kr.current)
	for _, v := range kr.versionsLocked() {
		fmt.Fprintf(&b, " %d(%s)", v, fingerprint(kr.keys[v].key))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v does not print key bytes either.
func (kr *Keyring) GoString() string { return kr.String() }

// add installs key as version v (caller holds the lock or owns kr).
func (kr *Keyring) add(v uint32, key []byte, created time.Time) error {
	aead, err := newGCM(key)
	if err != nil {
		return fmt.Errorf("crypto: keyring: version %d: %w", v, err)
	}
	if kr.keys == nil {
		kr.keys = make(map[uint32]*kek)
	}
	kr.keys[v] = &kek{key: key, created: created, aead: aead}
	return nil
}

func (kr *Keyring) remove(v uint32) {
	if k, ok := kr.keys[v]; ok {
		clear(k.key)
		delete(kr.keys, v)
	}
}
