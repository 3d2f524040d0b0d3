package crypto

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

const fuzzSeg = 16

// FuzzOpenReader opens hostile streams. raw is opened as it is: without the
// key nothing authenticates, so it must fail with ErrAuth (or report a
// truncated stream) and release no byte. Then plain is sealed, the stream is
// damaged (edit XORed in at off, then cut to cut bytes or extended), and
// opened: an undamaged stream gives plain back; a damaged one fails with
// ErrAuth after releasing only whole segments of plain that precede the
// damage. Never a panic.
func FuzzOpenReader(f *testing.F) {
	f.Add([]byte{}, []byte("hello"), []byte{}, uint16(0), int16(-1))
	f.Add(make([]byte, 16), bytes.Repeat([]byte("a"), 3*fuzzSeg+1), []byte{1}, uint16(20), int16(-1))
	f.Add(make([]byte, 33), bytes.Repeat([]byte("b"), 2*fuzzSeg), []byte{}, uint16(0), int16(32))
	f.Add(bytes.Repeat([]byte{0xFF}, 100), []byte{}, []byte{0, 0, 1}, uint16(0), int16(17))
	f.Add([]byte{1}, bytes.Repeat([]byte("c"), 5*fuzzSeg), []byte{0x80}, uint16(79), int16(-1))
	f.Fuzz(func(t *testing.T, raw, plain, edit []byte, off uint16, cut int16) {
		if len(plain) > 1<<14 || len(raw) > 1<<16 {
			return
		}
		got, err := open(t, raw, testKey, testAAD, fuzzSeg)
		if !errors.Is(err, ErrAuth) || len(got) != 0 {
			t.Fatalf("random stream of %d bytes: released %d bytes, err %v", len(raw), len(got), err)
		}

		sealed := seal(t, plain, testKey, testAAD, fuzzSeg)
		bad := bytes.Clone(sealed)
		for i, e := range edit {
			if p := int(off) + i; p < len(bad) {
				bad[p] ^= e
			}
		}
		if cut >= 0 && int(cut) < len(bad) {
			bad = bad[:cut]
		} else if cut >= 0 {
			bad = append(bad, make([]byte, int(cut)-len(bad))...)
		}
		got, err = open(t, bad, testKey, testAAD, fuzzSeg)
		if bytes.Equal(bad, sealed) {
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("undamaged stream: %d bytes, %v", len(got), err)
			}
			return
		}
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("damaged stream: err %v", err)
		}
		firstBad := len(sealed) // first differing byte, in segments
		for i := range min(len(bad), len(sealed)) {
			if bad[i] != sealed[i] {
				firstBad = i
				break
			}
		}
		if len(bad) < len(sealed) {
			firstBad = min(firstBad, len(bad))
		}
		if len(got)%fuzzSeg != 0 || !bytes.HasPrefix(plain, got) || len(got) > firstBad/(fuzzSeg+TagSize)*fuzzSeg ||
			(len(plain) > 0 && len(got) == len(plain)) {
			t.Fatalf("damaged stream (first change at byte %d): released %d of %d bytes", firstBad, len(got), len(plain))
		}
	})
}

// FuzzCombineSecret feeds CombineSecret arbitrary shares and checks its
// errors and algebra; then splits a fuzzed secret with fuzzed coefficients
// and recombines a fuzzed subset. Never a panic.
//
// Share encoding in data: count byte, length byte, then per share X and
// length bytes of Y (a last share may be short, giving a length mismatch).
func FuzzCombineSecret(f *testing.F) {
	f.Add([]byte{2, 1, 1, 0x99, 2, 0xDC}, []byte{0x53}, []byte{0xCA}, byte(4), byte(2), uint16(0xF))
	f.Add([]byte{2, 1, 1, 7, 1, 7}, []byte{1, 2, 3}, []byte{}, byte(10), byte(3), uint16(0x107))
	f.Add([]byte{3, 2, 0, 1, 1, 2, 2, 3, 3, 4, 4}, []byte{0xFF}, []byte{1, 2, 3}, byte(255), byte(255), uint16(0xFFFF))
	f.Add([]byte{1, 0, 5}, []byte{}, []byte{}, byte(1), byte(1), uint16(1))
	f.Fuzz(func(t *testing.T, data, secret, coef []byte, n, k byte, subset uint16) {
		// Part 1: arbitrary shares.
		var shares []Share
		if len(data) >= 2 {
			count, size := int(data[0]), int(data[1])
			rest := data[2:]
			for i := 0; i < count && len(rest) > 0; i++ {
				y := rest[1:min(len(rest), 1+size)]
				shares = append(shares, Share{X: rest[0], Y: y})
				rest = rest[1+len(y):]
			}
		}
		got, err := CombineSecret(shares)
		if err != nil {
			if !errors.Is(err, ErrInvalidShares) || got != nil {
				t.Fatalf("error %v with output %x", err, got)
			}
			if validShares(shares) {
				t.Fatalf("valid shares refused: %v", err)
			}
		} else {
			if !validShares(shares) || len(got) != len(shares[0].Y) {
				t.Fatalf("invalid shares accepted: %v", shares)
			}
			// The polynomial through the shares passes through each of them.
			for _, s := range shares {
				if y := interpolate(shares, s.X); !bytes.Equal(y, s.Y) {
					t.Fatalf("interpolation at X=%d gives %x, share has %x", s.X, y, s.Y)
				}
			}
		}

		// Part 2: split, then combine a subset of at least k shares.
		if len(secret) > 64 {
			secret = secret[:64] // n = k = 255 costs 255² multiplications per byte
		}
		nn, kk := int(n), int(k)
		split, err := SplitSecret(secret, nn, kk, io.MultiReader(bytes.NewReader(coef), zeroReader{}))
		if err != nil {
			if len(secret) > 0 && kk >= 2 && kk <= nn && nn <= 255 {
				t.Fatalf("valid split refused: %v", err)
			}
			return
		}
		var sub []Share
		for i, s := range split {
			if subset&(1<<(i%16)) != 0 || len(split)-i <= kk-len(sub) {
				sub = append(sub, s)
			}
		}
		back, err := CombineSecret(sub)
		if err != nil || !bytes.Equal(back, secret) {
			t.Fatalf("n=%d k=%d, %d shares: %x, %v; want %x", nn, kk, len(sub), back, err, secret)
		}
	})
}

func validShares(shares []Share) bool {
	if len(shares) < 2 {
		return false
	}
	seen := map[byte]bool{}
	for _, s := range shares {
		if s.X == 0 || seen[s.X] || len(s.Y) == 0 || len(s.Y) != len(shares[0].Y) {
			return false
		}
		seen[s.X] = true
	}
	return true
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
