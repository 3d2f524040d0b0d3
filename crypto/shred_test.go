package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestShredSealOpen(t *testing.T) {
	key, err := NewShredKey(nil)
	if err != nil || len(key) != DataKeySize {
		t.Fatal(len(key), err)
	}
	plain := bytes.Repeat([]byte{0x42}, DataKeySize)
	aad := []byte("common header, share 2")
	sealed, err := ShredSeal(key, plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(plain)+ShredSealOverhead || bytes.Contains(sealed, plain[:8]) {
		t.Fatalf("sealed %d bytes: %x", len(sealed), sealed)
	}
	again, _ := ShredSeal(key, plain, aad)
	if bytes.Equal(again[:nonceSize], sealed[:nonceSize]) {
		t.Fatal("two seals share a nonce")
	}
	got, err := ShredOpen(key, sealed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("ShredOpen = %x, %v", got, err)
	}
	other, _ := NewShredKey(nil)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name      string
		key, data []byte
		aad       []byte
	}{
		{"another key", other, sealed, aad},
		{"another aad", key, sealed, []byte("common header, share 3")},
		{"modified", key, flipped, aad},
		{"short", key, sealed[:ShredSealOverhead-1], aad},
		{"empty", key, nil, aad},
	} {
		if _, err := ShredOpen(tc.key, tc.data, tc.aad); !errors.Is(err, ErrShredOpen) {
			t.Errorf("%s: %v, want ErrShredOpen", tc.name, err)
		}
	}
	if _, err := ShredSeal(key[:16], plain, aad); !errors.Is(err, ErrKeySize) {
		t.Errorf("16-byte key: %v", err)
	}
	if _, err := ShredOpen(nil, sealed, aad); !errors.Is(err, ErrKeySize) {
		t.Errorf("nil key: %v", err)
	}
}

// TestShredDomainSeparation: a plain AES-256-GCM seal under the same key
// and aad, without the label, does not open.
func TestShredDomainSeparation(t *testing.T) {
	key, _ := NewShredKey(nil)
	g, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, nonceSize)
	raw := g.Seal(bytes.Clone(nonce), nonce, []byte("key share"), []byte("aad"))
	if _, err := ShredOpen(key, raw, []byte("aad")); !errors.Is(err, ErrShredOpen) {
		t.Fatalf("unlabelled seal opened: %v", err)
	}
}
