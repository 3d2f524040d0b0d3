package crypto

import (
	"crypto/rand"
	"fmt"
	"io"
)

// MaxShares is the largest number of shares SplitSecret makes: X takes the
// values 1..255 of GF(2^8) (X = 0 would be the secret itself).
const MaxShares = 255

// Share is one share of a secret split by SplitSecret: the value Y[i] of the
// i-th byte's polynomial at the point X. X is in 1..255, never 0; Y has the
// length of the secret. A Share is not secret on its own only while fewer
// than k shares of the same secret are known: treat it as key material.
type Share struct {
	X byte
	Y []byte
}

// SplitSecret splits secret into n shares with threshold k using Shamir's
// scheme over GF(2^8) (AES polynomial 0x11B), byte by byte: for each secret
// byte s_i a polynomial f_i(x) = s_i + a_{i,1}·x + … + a_{i,k-1}·x^(k-1) with
// uniformly random coefficients in GF(2^8) (zero included, as perfect secrecy
// requires), and share j = (X = j, Y[i] = f_i(j)) for j = 1..n.
//
// Any k shares recover the secret with CombineSecret; any k-1 or fewer are
// independent of it (every secret is equally likely given them).
//
// Limits: 2 ≤ k ≤ n ≤ 255 and len(secret) ≥ 1. k = 1 is refused: it would
// make every share a plain copy of the secret, which is never what a caller
// sharing a key across stores wants.
//
// Randomness: coefficients are read from rand (crypto/rand.Reader when nil)
// in one read of len(secret)·(k-1) bytes, in the order a_{0,1} … a_{0,k-1},
// a_{1,1} … a_{1,k-1}, …; tests rely on this order. An error or short read
// from rand is returned.
func SplitSecret(secret []byte, n, k int, rand io.Reader) ([]Share, error) {
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("crypto: split: empty secret")
	case k < 2:
		return nil, fmt.Errorf("crypto: split: threshold k = %d, need k ≥ 2", k)
	case n < k:
		return nil, fmt.Errorf("crypto: split: n = %d shares below threshold k = %d", n, k)
	case n > MaxShares:
		return nil, fmt.Errorf("crypto: split: n = %d shares, at most %d", n, MaxShares)
	}
	rand = randOrDefault(rand)
	deg := k - 1
	coef := make([]byte, len(secret)*deg)
	if _, err := io.ReadFull(rand, coef); err != nil {
		return nil, fmt.Errorf("crypto: split: reading random coefficients: %w", err)
	}
	defer clear(coef)

	shares := make([]Share, n)
	ys := make([]byte, n*len(secret)) // one allocation for every Y
	for j := range shares {
		x := byte(j + 1)
		y := ys[j*len(secret) : (j+1)*len(secret) : (j+1)*len(secret)]
		for i, s := range secret {
			a := coef[i*deg : (i+1)*deg]
			// Horner: ((a_{k-1}·x + a_{k-2})·x + … + a_1)·x + s.
			var v byte
			for t := deg - 1; t >= 0; t-- {
				v = gfMulPub(v, x) ^ a[t]
			}
			y[i] = gfMulPub(v, x) ^ s
		}
		shares[j] = Share{X: x, Y: y}
	}
	return shares, nil
}

// CombineSecret recovers a secret from shares made by SplitSecret, by
// Lagrange interpolation at x = 0 in GF(2^8).
//
// The caller supplies at least k distinct shares of one secret (k is not
// recorded in a share); with fewer, or with shares of different secrets, the
// result is a wrong value, not an error. Errors (wrapping ErrInvalidShares):
// fewer than two shares, an X of 0, a repeated X, an empty Y, Y lengths that
// differ.
//
// The arithmetic on Y bytes is constant-time in them (see gfMulPub): the X
// values are public, and so are the Lagrange coefficients computed from
// them.
func CombineSecret(shares []Share) ([]byte, error) {
	if err := checkShares(shares); err != nil {
		return nil, err
	}
	return interpolate(shares, 0), nil
}

func checkShares(shares []Share) error {
	if len(shares) < 2 {
		return fmt.Errorf("%w: %d shares, need at least 2", ErrInvalidShares, len(shares))
	}
	var seen [256]bool
	size := len(shares[0].Y)
	for i, s := range shares {
		switch {
		case s.X == 0:
			return fmt.Errorf("%w: share %d has X = 0", ErrInvalidShares, i)
		case seen[s.X]:
			return fmt.Errorf("%w: X = %d appears twice", ErrInvalidShares, s.X)
		case len(s.Y) == 0:
			return fmt.Errorf("%w: share %d is empty", ErrInvalidShares, i)
		case len(s.Y) != size:
			return fmt.Errorf("%w: share %d has %d bytes, share 0 has %d", ErrInvalidShares, i, len(s.Y), size)
		}
		seen[s.X] = true
	}
	return nil
}

// interpolate evaluates at x, byte by byte, the polynomial of degree
// < len(shares) through the (checked, distinct-X) shares:
// f(x) = Σ_i Y_i · Π_{j≠i} (x − X_j)/(X_i − X_j).
func interpolate(shares []Share, x byte) []byte {
	out := make([]byte, len(shares[0].Y))
	for i, si := range shares {
		num, den := byte(1), byte(1)
		for j, sj := range shares {
			if j == i {
				continue
			}
			num = gfMul(num, x^sj.X)
			den = gfMul(den, si.X^sj.X)
		}
		l := gfMul(num, gfInv(den))
		for b, y := range si.Y {
			out[b] ^= gfMulPub(y, l)
		}
	}
	return out
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
