package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"github.com/shardpacs/shardpacs/crypto"
)

func rebuild(kr KeyWrapper, shares [N][]byte, target int, want *[32]byte, from ...int) ([]byte, error) {
	var out bytes.Buffer
	_, err := Rebuild(context.Background(), kr, readers(shares, from...), target, &out, want)
	return out.Bytes(), err
}

func TestRebuild(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(10*MinSegmentSize+77, 9)
	sum := sha256.Sum256(data)
	for _, k := range []int{2, 3} {
		shares, _ := encodeBytes(t, Params{K: k, SegmentSize: MinSegmentSize, Keyring: kr}, data)
		for target := range N {
			var from []int
			for i := range N {
				if i != target {
					from = append(from, i)
				}
			}
			for _, sub := range Subsets(k, from) {
				got, err := rebuild(kr, shares, target, &sum, sub...)
				if err != nil {
					t.Fatalf("k=%d rebuild %d from %v: %v", k, target, sub, err)
				}
				// Same object, same index, same data; only the wrapping differs.
				orig := shares[target]
				if !bytes.Equal(got[:47], orig[:47]) || !bytes.Equal(got[HeaderSize:], orig[HeaderSize:]) {
					t.Fatalf("k=%d rebuilt share %d from %v differs from the original", k, target, sub)
				}
				// The rebuilt share works with any of the old ones.
				fixed := shares
				fixed[target] = got
				for _, dsub := range Subsets(k, []int{0, 1, 2, 3}) {
					if b, _, err := decodeSubset(kr, fixed, &sum, dsub...); err != nil || !bytes.Equal(b, data) {
						t.Fatalf("k=%d decode %v with rebuilt %d: %v", k, dsub, target, err)
					}
				}
			}
		}
	}
}

func TestRebuildFailsClosed(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(5*MinSegmentSize, 10)
	shares, _ := encodeBytes(t, Params{SegmentSize: MinSegmentSize, Keyring: kr}, data)
	bad := shares
	bad[1] = bytes.Clone(shares[1])
	bad[1][len(bad[1])-trailerSize-recordHeaderSize-5] ^= 0x80 // last stripe
	out, err := rebuild(kr, bad, 3, nil, 0, 1)
	if !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("rebuild from a corrupt source: %v", err)
	}
	// The output has no end record: it can never pass for a share.
	shares2 := shares
	shares2[3] = out
	if _, _, err := decodeSubset(kr, shares2, nil, 2, 3); err == nil {
		t.Fatal("partial rebuild output decoded")
	}
	if _, err := rebuild(kr, shares, 3, nil, 0); !errors.Is(err, ErrTooFewShares) {
		t.Fatalf("one source: %v", err)
	}
	// The target's own (bad) share is ignored.
	if _, err := rebuild(kr, bad, 1, nil, 0, 1, 2); err != nil {
		t.Fatalf("target among the sources: %v", err)
	}
	if _, err := Rebuild(context.Background(), kr, readers(shares, 0, 1), 4, io.Discard, nil); err == nil {
		t.Fatal("target 4 accepted")
	}
	// k = 4: nothing to rebuild from.
	s4, _ := encodeBytes(t, Params{K: 4, Keyring: kr}, data)
	if _, err := rebuild(kr, s4, 0, nil, 1, 2, 3); !errors.Is(err, ErrTooFewShares) {
		t.Fatalf("k=4: %v", err)
	}
}

// After a KEK rotation, a rebuilt share is wrapped with the new version
// and decodes together with shares wrapped by the old one.
func TestRebuildAfterKEKRotation(t *testing.T) {
	kr, path := newKeyring(t)
	data := compressible(4000, 11)
	shares, res := encodeBytes(t, Params{Keyring: kr}, data)
	v, err := kr.Rotate(path, nil)
	if err != nil || v == res.KEKVersion {
		t.Fatalf("Rotate: %v %v", v, err)
	}
	got, err := rebuild(kr, shares, 0, nil, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(bytes.NewReader(got))
	if err != nil || h.KEKVersion != v {
		t.Fatalf("rebuilt header: %+v %v", h, err)
	}
	shares[0] = got
	if b, _, err := decodeSubset(kr, shares, nil, 0, 3); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("mixed KEK versions: %v", err)
	}
}

// The Shamir shift used by Rebuild gives exactly the share SplitSecret made.
func TestKeyShareRecompute(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42, 0x99}, 16)
	for _, k := range []int{2, 3, 4} {
		all, err := crypto.SplitSecret(secret, N, k, detRand(byte(k)))
		if err != nil {
			t.Fatal(err)
		}
		for target := range N {
			var src []crypto.Share
			for i := range N {
				if i != target && len(src) < k {
					src = append(src, all[i])
				}
			}
			if len(src) < k {
				continue
			}
			var moved []crypto.Share
			for _, s := range src {
				moved = append(moved, crypto.Share{X: s.X ^ all[target].X, Y: s.Y})
			}
			y, err := crypto.CombineSecret(moved)
			if err != nil || !bytes.Equal(y, all[target].Y) {
				t.Fatalf("k=%d target %d: recomputed %x, want %x (%v)", k, target, y, all[target].Y, err)
			}
		}
	}
}

func FuzzDecodeShare(f *testing.F) {
	kr, err := crypto.CreateKeyring(f.TempDir()+"/kek", detRand(1))
	if err != nil {
		f.Fatal(err)
	}
	shares, _ := encodeBytes(f, Params{SegmentSize: MinSegmentSize, Keyring: kr, Rand: detRand(2)}, compressible(3000, 1))
	f.Add(shares[1])
	f.Add(shares[1][:HeaderSize+100])
	f.Fuzz(func(t *testing.T, data []byte) {
		m := map[int]io.Reader{0: bytes.NewReader(shares[0]), 1: bytes.NewReader(data)}
		_, _ = Decode(context.Background(), kr, m, io.Discard, nil)
	})
}

// Rewrap (rewrap.go) moves one share to the current KEK version; the
// object still decodes with shares on the old version.
func TestRewrap(t *testing.T) {
	kr, path := newKeyring(t)
	data := compressible(4000, 13)
	shares, res := encodeBytes(t, Params{Keyring: kr}, data)
	v, err := kr.Rotate(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	old, nh, err := Rewrap(kr, bytes.NewReader(shares[2]), &out)
	if err != nil || old.KEKVersion != res.KEKVersion || nh.KEKVersion != v {
		t.Fatalf("Rewrap: %v %+v %+v", err, old, nh)
	}
	if !bytes.Equal(out.Bytes()[HeaderSize:], shares[2][HeaderSize:]) {
		t.Fatal("Rewrap changed the body")
	}
	shares[2] = out.Bytes()
	if b, _, err := decodeSubset(kr, shares, &res.PlainSHA256, 1, 2); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("decode with the rewrapped share: %v", err)
	}
	bad := bytes.Clone(shares[1])
	bad[50] ^= 1
	if _, _, err := Rewrap(kr, bytes.NewReader(bad), io.Discard); !errors.Is(err, crypto.ErrUnwrap) {
		t.Fatalf("Rewrap of a tampered key share: %v", err)
	}
}
