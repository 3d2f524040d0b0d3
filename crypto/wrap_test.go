package crypto

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

var timeZero time.Time

func TestWrapUnwrap(t *testing.T) {
	kr, err := CreateKeyring(keyringPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	aad := []byte("object 42, share 3")
	wrapped, v, err := kr.Wrap(plain, aad)
	if err != nil || v != 1 {
		t.Fatal(v, err)
	}
	if len(wrapped) != len(plain)+WrapOverhead {
		t.Errorf("wrapped %d bytes, want %d", len(wrapped), len(plain)+WrapOverhead)
	}
	if bytes.Contains(wrapped, plain) {
		t.Error("wrapped output contains the plaintext")
	}
	again, _, _ := kr.Wrap(plain, aad)
	if bytes.Equal(again[:12], wrapped[:12]) || bytes.Equal(again, wrapped) {
		t.Error("two wraps share a nonce")
	}
	got, err := kr.Unwrap(v, wrapped, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	if got, err := kr.Unwrap(v, wrapped[:0:0], nil); err == nil {
		t.Errorf("empty input unwrapped to %x", got)
	}
	for _, tc := range []struct {
		name    string
		version uint32
		wrapped []byte
		aad     []byte
		want    error
	}{
		{"aad mismatch", v, wrapped, []byte("object 42, share 4"), ErrUnwrap},
		{"nil aad", v, wrapped, nil, ErrUnwrap},
		{"unknown version", 9, wrapped, aad, ErrUnknownKEKVersion},
		{"version 0", 0, wrapped, aad, ErrUnknownKEKVersion},
		{"short", v, wrapped[:WrapOverhead-1], aad, ErrUnwrap},
		{"truncated", v, wrapped[:len(wrapped)-1], aad, ErrUnwrap},
	} {
		if got, err := kr.Unwrap(tc.version, tc.wrapped, tc.aad); !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: %x, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for i := 0; i < len(wrapped)*8; i++ {
		bad := bytes.Clone(wrapped)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := kr.Unwrap(v, bad, aad); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	// Another keyring's KEK with the same version number does not unwrap.
	other, _ := CreateKeyring(keyringPath(t), nil)
	if _, err := other.Unwrap(v, wrapped, aad); !errors.Is(err, ErrUnwrap) {
		t.Errorf("other KEK: %v", err)
	}
}

// The version is bound: bytes wrapped under v1 do not open as v2 even if
// both versions held the same key.
func TestWrapBindsVersion(t *testing.T) {
	kr := &Keyring{}
	key := bytes.Repeat([]byte{5}, 32)
	if err := kr.add(1, bytes.Clone(key), timeZero); err != nil {
		t.Fatal(err)
	}
	kr.add(2, bytes.Clone(key), timeZero)
	kr.current = 1
	w, _, _ := kr.Wrap([]byte("share"), nil)
	if _, err := kr.Unwrap(2, w, nil); !errors.Is(err, ErrUnwrap) {
		t.Errorf("unwrap under another version with the same key: %v", err)
	}
	if kr.Fingerprint(1) != kr.Fingerprint(2) || kr.Fingerprint(1) != fingerprint(key) || len(kr.Fingerprint(1)) != 16 {
		t.Errorf("fingerprints: %q %q", kr.Fingerprint(1), kr.Fingerprint(2))
	}
}
