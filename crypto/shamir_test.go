package crypto

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// fixedRand returns the given bytes, then io.EOF: coefficients chosen by the test.
func fixedRand(b ...byte) *bytes.Reader { return bytes.NewReader(b) }

func TestSplitSecretKnownAnswers(t *testing.T) {
	// Hand computation (checked with an independent Python bitwise
	// implementation): f(x) = 0x53 + 0xCA·x, and 0x53·0xCA = 1 (FIPS 197).
	// 0xCA·2 = 0x8F, 0xCA·3 = 0x8F^0xCA = 0x45, 0xCA·4 = 0x8F·2 = 0x05.
	t.Run("k=2", func(t *testing.T) {
		shares, err := SplitSecret([]byte{0x53}, 4, 2, fixedRand(0xCA))
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{0x53 ^ 0xCA, 0x53 ^ 0x8F, 0x53 ^ 0x45, 0x53 ^ 0x05} // 99 DC 16 56
		for i, s := range shares {
			if s.X != byte(i+1) || len(s.Y) != 1 || s.Y[0] != want[i] {
				t.Errorf("share %d = {%d %x}, want {%d %02x}", i, s.X, s.Y, i+1, want[i])
			}
		}
	})
	// f_0 = 0x57 + 0x83x + 0x13x², f_1 = x + x², f_2 = 0xFF (zero coefficients).
	// x = 1: 0x57^0x83^0x13 = 0xC7; f_1(2) = 2^4 = 6; f_1(3) = 3^5 = 6; f_1(4) = 4^0x10.
	t.Run("k=3", func(t *testing.T) {
		shares, err := SplitSecret([]byte{0x57, 0x00, 0xFF}, 5, 3, fixedRand(0x83, 0x13, 0x01, 0x01, 0x00, 0x00))
		if err != nil {
			t.Fatal(err)
		}
		want := [][]byte{
			{0xC7, 0x00, 0xFF},
			{0x06, 0x06, 0xFF},
			{0x96, 0x06, 0xFF},
			{0x46, 0x14, 0xFF},
			{0xD6, 0x14, 0xFF},
		}
		for i, s := range shares {
			if s.X != byte(i+1) || !bytes.Equal(s.Y, want[i]) {
				t.Errorf("share %d = {%d %x}, want {%d %x}", i, s.X, s.Y, i+1, want[i])
			}
		}
		got, err := CombineSecret([]Share{shares[4], shares[1], shares[2]})
		if err != nil || !bytes.Equal(got, []byte{0x57, 0x00, 0xFF}) {
			t.Errorf("CombineSecret = %x, %v", got, err)
		}
	})
}

func TestSplitSecretArguments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret []byte
		n, k   int
	}{
		{"empty secret", nil, 4, 2},
		{"k=1", []byte{1}, 4, 1},
		{"k=0", []byte{1}, 4, 0},
		{"n<k", []byte{1}, 2, 3},
		{"n=256", []byte{1}, 256, 2},
	} {
		if _, err := SplitSecret(tc.secret, tc.n, tc.k, nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := SplitSecret([]byte{1, 2}, 4, 3, fixedRand(1, 2, 3)); err == nil {
		t.Error("short random source: no error")
	}
	shares, err := SplitSecret([]byte{7}, 255, 255, nil)
	if err != nil || len(shares) != 255 || shares[254].X != 255 {
		t.Fatalf("n = k = 255: %v", err)
	}
	got, err := CombineSecret(shares)
	if err != nil || !bytes.Equal(got, []byte{7}) {
		t.Errorf("n = k = 255 combine = %x, %v", got, err)
	}
}

func TestCombineSecretErrors(t *testing.T) {
	y := []byte{1, 2}
	for _, tc := range []struct {
		name   string
		shares []Share
	}{
		{"none", nil},
		{"one", []Share{{1, y}}},
		{"x=0", []Share{{0, y}, {1, y}}},
		{"duplicate x", []Share{{1, y}, {2, y}, {1, y}}},
		{"length mismatch", []Share{{1, y}, {2, []byte{1}}}},
		{"empty", []Share{{1, nil}, {2, nil}}},
	} {
		_, err := CombineSecret(tc.shares)
		if !errors.Is(err, ErrInvalidShares) {
			t.Errorf("%s: err = %v, want ErrInvalidShares", tc.name, err)
		}
	}
}

// subsets calls f with every subset of {0..n-1} of size ≥ k.
func subsets(n, k int, f func(idx []int)) {
	for mask := 0; mask < 1<<n; mask++ {
		var idx []int
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				idx = append(idx, i)
			}
		}
		if len(idx) >= k {
			f(idx)
		}
	}
}

func TestSplitCombineEverySubset(t *testing.T) {
	check := func(t *testing.T, secret []byte, n, k int, r *rand.Rand) {
		t.Helper()
		shares, err := SplitSecret(secret, n, k, rand.NewChaCha8([32]byte{byte(n), byte(k)}))
		if err != nil {
			t.Fatal(err)
		}
		subsets(n, k, func(idx []int) {
			sub := make([]Share, len(idx))
			for i, j := range idx {
				sub[i] = shares[j]
			}
			r.Shuffle(len(sub), func(i, j int) { sub[i], sub[j] = sub[j], sub[i] })
			got, err := CombineSecret(sub)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("n=%d k=%d subset %v: got %x, %v; want %x", n, k, idx, got, err, secret)
			}
		})
		// k-1 shares interpolate a polynomial of too low a degree: for a
		// 32-byte secret, recovering it by chance is negligible.
		if len(secret) == 32 {
			if got, _ := CombineSecret(shares[:k-1]); k > 2 && bytes.Equal(got, secret) {
				t.Fatalf("n=%d k=%d: %d shares recovered the secret", n, k, k-1)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(r.Uint32())
	}
	for k := 2; k <= 4; k++ {
		check(t, secret, 4, k, r)
	}
	for range 20 {
		n := 2 + r.IntN(9)
		k := 2 + r.IntN(n-1)
		s := make([]byte, 1+r.IntN(40))
		for i := range s {
			s[i] = byte(r.Uint32())
		}
		check(t, s, n, k, r)
	}
}

// TestSharesRevealNothing is the exhaustive perfect-secrecy check on 1-byte
// secrets, run through SplitSecret itself: with k = 2, for every secret and
// every X, the 256 choices of the coefficient give each share value exactly
// once; with k = 3, for every pair of X values, the 65536 coefficient pairs
// give each pair of share values exactly once. So the shares below the
// threshold are uniform whatever the secret: they carry no information.
//
// One call per secret covers every coefficient choice at once: the secret
// byte is repeated, and byte i's coefficients enumerate all choices (the
// documented order in which SplitSecret reads rand). Under -short or -race
// the k = 3 case samples 16 secrets instead of all 256.
func TestSharesRevealNothing(t *testing.T) {
	t.Run("k=2", func(t *testing.T) {
		coef := make([]byte, 256)
		for i := range coef {
			coef[i] = byte(i)
		}
		for s := 0; s < 256; s++ {
			shares, err := SplitSecret(bytes.Repeat([]byte{byte(s)}, 256), 4, 2, bytes.NewReader(coef))
			if err != nil {
				t.Fatal(err)
			}
			for _, sh := range shares {
				var seen [256]bool
				for _, y := range sh.Y {
					if seen[y] {
						t.Fatalf("secret %#02x, X = %d: share value %#02x from two coefficients", s, sh.X, y)
					}
					seen[y] = true
				}
			}
		}
	})
	t.Run("k=3", func(t *testing.T) {
		coef := make([]byte, 2*65536) // byte i: a1 = i>>8, a2 = i&0xFF
		for i := 0; i < 65536; i++ {
			coef[2*i], coef[2*i+1] = byte(i>>8), byte(i)
		}
		secret := make([]byte, 65536)
		seen := make([]uint64, 65536/64)
		step := 1
		if testing.Short() || raceEnabled {
			step = 17 // 0x00, 0x11, …, 0xFF: 16 secrets
			t.Logf("-short or -race: checking every %dth secret only", step)
		}
		for s := 0; s < 256; s += step {
			for i := range secret {
				secret[i] = byte(s)
			}
			shares, err := SplitSecret(secret, 4, 3, bytes.NewReader(coef))
			if err != nil {
				t.Fatal(err)
			}
			for a := 0; a < 4; a++ {
				for b := a + 1; b < 4; b++ {
					clear(seen)
					ya, yb := shares[a].Y, shares[b].Y
					for i := range ya {
						v := int(ya[i])<<8 | int(yb[i])
						if seen[v/64]&(1<<(v%64)) != 0 {
							t.Fatalf("secret %#02x, X = %d,%d: values (%#02x,%#02x) from two coefficient pairs",
								s, shares[a].X, shares[b].X, ya[i], yb[i])
						}
						seen[v/64] |= 1 << (v % 64)
					}
				}
			}
		}
	})
}
