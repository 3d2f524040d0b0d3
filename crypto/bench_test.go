package crypto

import (
	"bytes"
	"io"
	"testing"
)

const benchSize = 8 << 20 // 8 MiB object in 1 MiB segments

func BenchmarkSeal(b *testing.B) {
	plain := testPlaintext(benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		w, _ := NewSealWriter(io.Discard, testKey, testAAD, DefaultSegmentSize)
		w.Write(plain)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	plain := testPlaintext(benchSize)
	sealed := seal(b, plain, testKey, testAAD, DefaultSegmentSize)
	buf := make([]byte, 64<<10)
	b.SetBytes(benchSize)
	for b.Loop() {
		r, _ := NewOpenReader(bytes.NewReader(sealed), testKey, testAAD, DefaultSegmentSize)
		if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplitSecret32(b *testing.B) {
	secret := bytes.Repeat([]byte{0x5A}, 32)
	b.SetBytes(32)
	for b.Loop() {
		if _, err := SplitSecret(secret, 4, 2, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCombineSecret32(b *testing.B) {
	shares, _ := SplitSecret(bytes.Repeat([]byte{0x5A}, 32), 4, 2, nil)
	b.SetBytes(32)
	for b.Loop() {
		if _, err := CombineSecret(shares[2:]); err != nil {
			b.Fatal(err)
		}
	}
}
