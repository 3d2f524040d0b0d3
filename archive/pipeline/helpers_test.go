package pipeline

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/shardpacs/shardpacs/crypto"
)

func newKeyring(t testing.TB) (*crypto.Keyring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kek")
	kr, err := crypto.CreateKeyring(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kr, path
}

// detRand is a deterministic randomness source for repeatable objects.
func detRand(seed byte) io.Reader { return rand.NewChaCha8([32]byte{seed}) }

// compressible returns n bytes that zstd shrinks, like 16-bit pixel data:
// flat runs with a little noise.
func compressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	v := 1000
	for i := 0; i+1 < n; i += 2 {
		if r.IntN(64) == 0 {
			v = 1000 + r.IntN(200)
		}
		w := v + r.IntN(4)
		b[i], b[i+1] = byte(w), byte(w>>8)
	}
	return b
}

// pixels16 returns n bytes of 16-bit little-endian samples whose high
// byte is nearly constant and low byte noisy: what the byte shuffle is for.
func pixels16(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		if i%2 == 0 {
			b[i] = byte(r.IntN(256))
		} else {
			b[i] = 0x04
		}
	}
	return b
}

// text returns n bytes of repetitive 8-bit text, which shuffling does not help.
func text(n int) []byte {
	return bytes.Repeat([]byte(`ORIGINAL\PRIMARY\AXIAL^DOE^JANE 20240102 `), n/41+1)[:n]
}

func random(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed, 0xaa}).Read(b)
	return b
}

func encodeBytes(t testing.TB, p Params, data []byte) ([N][]byte, *Result) {
	t.Helper()
	var bufs [N]bytes.Buffer
	var ws [N]io.Writer
	for i := range ws {
		ws[i] = &bufs[i]
	}
	res, err := Encode(context.Background(), p, bytes.NewReader(data), ws)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	var out [N][]byte
	for i := range out {
		out[i] = bufs[i].Bytes()
		if int64(len(out[i])) != res.ShareSize[i] || res.ShareErr[i] != nil {
			t.Fatalf("share %d: %d bytes, Result says %d, err %v", i, len(out[i]), res.ShareSize[i], res.ShareErr[i])
		}
	}
	return out, res
}

func readers(shares [N][]byte, idx ...int) map[int]io.Reader {
	m := map[int]io.Reader{}
	for _, i := range idx {
		m[i] = bytes.NewReader(shares[i])
	}
	return m
}

func decodeSubset(kr KeyWrapper, shares [N][]byte, want *[32]byte, idx ...int) ([]byte, *Info, error) {
	return DecodeBytes(context.Background(), kr, readers(shares, idx...), want, 0)
}
