package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/shardpacs/shardpacs/crypto"
)

// mapKeys is an in-memory ShredKeys.
type mapKeys map[[16]byte][]byte

func (m mapKeys) ShredKey(id [16]byte) ([]byte, error) {
	k, ok := m[id]
	if !ok {
		return nil, ErrShredKeyMissing
	}
	return bytes.Clone(k), nil
}

func shredParams(t testing.TB, kr KeyWrapper, seed byte) (Params, [16]byte, []byte) {
	t.Helper()
	key, err := crypto.NewShredKey(detRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	var id [16]byte
	id[0], id[15] = 0x5d, seed
	return Params{Keyring: kr, ShredKey: key, ObjectID: id}, id, key
}

// TestShredRoundTrip: a shred-sealed object decodes through a ShredWrapper
// holding its key, from every subset; without the key (deleted), with the
// bare KEK, or with another object's key it does not, and the error says
// which.
func TestShredRoundTrip(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(300_000, 7)
	want := sha256.Sum256(data)
	p, id, key := shredParams(t, kr, 1)
	shares, res := encodeBytes(t, p, data)
	if res.ObjectID != id {
		t.Fatalf("object ID %x, want %x", res.ObjectID, id)
	}
	for i, s := range shares {
		h, err := ParseHeader(bytes.NewReader(s))
		if err != nil || !h.ShredSealed || h.ObjectID != id || len(h.WrappedKey) != ShredWrappedKeySize {
			t.Fatalf("share %d header %+v, %v", i, h, err)
		}
		if bytes.Contains(s, key) {
			t.Fatalf("share %d contains the shred key", i)
		}
	}
	sw := &ShredWrapper{KEK: kr, Keys: mapKeys{id: key}}
	for _, sub := range Subsets(2, []int{0, 1, 2, 3}) {
		got, _, err := decodeSubset(sw, shares, &want, sub...)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("subset %v: %v", sub, err)
		}
	}

	var se *ShareError
	for _, tc := range []struct {
		name string
		kw   KeyWrapper
	}{
		{"key destroyed", &ShredWrapper{KEK: kr, Keys: mapKeys{}}},
		{"no key store", &ShredWrapper{KEK: kr}},
		{"bare KEK keyring", kr},
	} {
		_, _, err := decodeSubset(tc.kw, shares, &want, 0, 1)
		if !errors.Is(err, ErrShredKeyMissing) || errors.As(err, &se) {
			t.Errorf("%s: %v, want ErrShredKeyMissing, not a ShareError", tc.name, err)
		}
	}
	other, _ := crypto.NewShredKey(detRand(99))
	_, _, err := decodeSubset(&ShredWrapper{KEK: kr, Keys: mapKeys{id: other}}, shares, &want, 0, 1)
	if !errors.Is(err, crypto.ErrShredOpen) || errors.As(err, &se) {
		t.Errorf("another key: %v, want crypto.ErrShredOpen, not a ShareError", err)
	}
	kr2, _ := newKeyring(t)
	_, _, err = decodeSubset(&ShredWrapper{KEK: kr2, Keys: mapKeys{id: key}}, shares, &want, 0, 1)
	if !errors.Is(err, crypto.ErrUnwrap) {
		t.Errorf("shred key without the KEK: %v, want crypto.ErrUnwrap", err)
	}
}

func TestShredEncodeParams(t *testing.T) {
	kr, _ := newKeyring(t)
	var ws [N]io.Writer
	for i := range ws {
		ws[i] = io.Discard
	}
	key, _ := crypto.NewShredKey(nil)
	for name, p := range map[string]Params{
		"no object ID":    {Keyring: kr, ShredKey: key},
		"short shred key": {Keyring: kr, ShredKey: key[:16], ObjectID: [16]byte{1}},
	} {
		if _, err := Encode(context.Background(), p, bytes.NewReader([]byte("x")), ws); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
	}
	// A ShredWrapper as Keyring would seal twice: refused by the header check.
	p, id, key := shredParams(t, kr, 2)
	p.Keyring = &ShredWrapper{KEK: kr, Keys: mapKeys{id: key}}
	if _, err := Encode(context.Background(), p, bytes.NewReader([]byte("x")), ws); !errors.Is(err, ErrFormat) {
		t.Errorf("ShredWrapper as Keyring: %v, want ErrFormat", err)
	}
}

// TestShredRebuildRewrap: repair of a shred-sealed object recomputes a
// sealed key share (with the key); KEK rotation rewraps it with the bare
// keyring (no shred key needed) and the result still needs the shred key.
func TestShredRebuildRewrap(t *testing.T) {
	kr, path := newKeyring(t)
	data := compressible(70_000, 3)
	want := sha256.Sum256(data)
	p, id, key := shredParams(t, kr, 3)
	shares, _ := encodeBytes(t, p, data)
	sw := &ShredWrapper{KEK: kr, Keys: mapKeys{id: key}}

	if _, err := Rebuild(context.Background(), kr, readers(shares, 0, 1), 2, io.Discard, &want); !errors.Is(err, ErrShredKeyMissing) {
		t.Fatalf("Rebuild with the bare KEK: %v", err)
	}
	var out bytes.Buffer
	if _, err := Rebuild(context.Background(), sw, readers(shares, 0, 1), 2, &out, &want); err != nil {
		t.Fatal(err)
	}
	rebuilt := shares
	rebuilt[2] = out.Bytes()
	if h, _ := ParseHeader(bytes.NewReader(rebuilt[2])); h == nil || !h.ShredSealed {
		t.Fatal("rebuilt share is not shred-sealed")
	}
	if got, _, err := decodeSubset(sw, rebuilt, &want, 2, 3); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("rebuilt share: %v", err)
	}

	if _, err := kr.Rotate(path, nil); err != nil {
		t.Fatal(err)
	}
	var rw [N][]byte
	for i := range N {
		var b bytes.Buffer
		_, nh, err := Rewrap(kr, bytes.NewReader(rebuilt[i]), &b)
		if err != nil || nh.KEKVersion != 2 || !nh.ShredSealed {
			t.Fatalf("Rewrap %d: %+v, %v", i, nh, err)
		}
		rw[i] = b.Bytes()
	}
	if got, _, err := decodeSubset(sw, rw, &want, 1, 3); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after rewrap: %v", err)
	}
	if _, _, err := decodeSubset(&ShredWrapper{KEK: kr}, rw, &want, 1, 3); !errors.Is(err, ErrShredKeyMissing) {
		t.Fatalf("after rewrap, without the key: %v", err)
	}
}

// TestDecodeV1Fixture decodes shares written by the code before shred keys
// existed (testdata/v1-plain, see its README): the old format still reads,
// through the bare keyring and through a ShredWrapper without a key store.
func TestDecodeV1Fixture(t *testing.T) {
	dir := filepath.Join("testdata", "v1-plain")
	kek, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(kp, kek, 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := crypto.LoadKeyring(kp)
	if err != nil {
		t.Fatal(err)
	}
	var shares [N][]byte
	for i := range N {
		if shares[i], err = os.ReadFile(filepath.Join(dir, "share"+string(rune('0'+i)))); err != nil {
			t.Fatal(err)
		}
		h, err := ParseHeader(bytes.NewReader(shares[i]))
		if err != nil || h.ShredSealed || h.Size() != HeaderSize {
			t.Fatalf("share %d: %+v, %v", i, h, err)
		}
	}
	plain := make([]byte, 5000)
	for i := range plain {
		plain[i] = byte(i * 7 % 251)
	}
	want := sha256.Sum256(plain)
	for _, kw := range []KeyWrapper{kr, &ShredWrapper{KEK: kr}, &ShredWrapper{KEK: kr, Keys: mapKeys{}}} {
		for _, sub := range Subsets(2, []int{0, 1, 2, 3}) {
			got, _, err := decodeSubset(kw, shares, &want, sub...)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("%T subset %v: %v", kw, sub, err)
			}
		}
	}
}
