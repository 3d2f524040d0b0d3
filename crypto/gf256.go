package crypto

// Arithmetic in GF(2^8) = GF(2)[x] / (x^8 + x^4 + x^3 + x + 1), the field of
// AES (FIPS 197 §4): a byte is a polynomial over GF(2), bit i the coefficient
// of x^i. Addition (and subtraction) is XOR.
//
// Multiplication is computed bitwise, without table look-ups (no
// cache-timing channel) and without branches on secret operands: gfMul on
// both operands, gfMulPub only on the operand that is public (a share's X, a
// Lagrange coefficient). The tests check both against an independent
// log/exp-table implementation and a polynomial long-division reference for
// all 65536 pairs.

// gfPoly is the low byte of the reduction polynomial 0x11B.
const gfPoly = 0x1B

// gfMul returns a·b in GF(2^8), in constant time.
func gfMul(a, b byte) byte {
	var p byte
	for i := 0; i < 8; i++ {
		// p ^= a if the low bit of b is set; mask is 0x00 or 0xFF.
		p ^= a & -(b & 1)
		b >>= 1
		// a = a·x mod the polynomial: shift, then XOR 0x1B if bit 7 fell off.
		carry := a >> 7
		a = a<<1 ^ gfPoly&-carry
	}
	return p
}

// gfInv returns the multiplicative inverse of a (a^254, since a^255 = 1 for
// a ≠ 0), in constant time; gfInv(0) is 0.
func gfInv(a byte) byte {
	// 254 = 0b11111110: square-and-multiply with a fixed sequence.
	a2 := gfMul(a, a)   // a^2
	a3 := gfMul(a2, a)  // a^3
	a6 := gfMul(a3, a3) // a^6
	a7 := gfMul(a6, a)  // a^7
	a14 := gfMul(a7, a7)
	a15 := gfMul(a14, a)
	a30 := gfMul(a15, a15)
	a31 := gfMul(a30, a)
	a62 := gfMul(a31, a31)
	a63 := gfMul(a62, a)
	a126 := gfMul(a63, a63)
	a127 := gfMul(a126, a)
	return gfMul(a127, a127) // a^254
}

// gfMulPub returns s·pub in GF(2^8) where only s is secret: the loop runs
// over the bits of the public operand pub (a share's X, a Lagrange
// coefficient computed from public X values), so its length leaks pub and
// nothing about s. Faster than gfMul for the small X of a share.
func gfMulPub(s, pub byte) byte {
	var p byte
	for ; pub != 0; pub >>= 1 {
		p ^= s & -(pub & 1)
		s = s<<1 ^ gfPoly&-(s>>7)
	}
	return p
}
