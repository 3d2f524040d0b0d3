package crypto

import "testing"

// refMulPoly multiplies as polynomials over GF(2) (carry-less, 15 bits) and
// then reduces by long division by x^8+x^4+x^3+x+1: a reference written
// independently of gfMul's interleaved shift-and-reduce.
func refMulPoly(a, b byte) byte {
	var p uint16
	for i := 0; i < 8; i++ {
		if b&(1<<i) != 0 {
			p ^= uint16(a) << i
		}
	}
	for deg := 14; deg >= 8; deg-- {
		if p&(1<<deg) != 0 {
			p ^= 0x11B << (deg - 8)
		}
	}
	return byte(p)
}

// logExpTables builds log/exp tables from the generator 0x03, using only
// xtime-style multiplication by 3 (x·a ⊕ a).
func logExpTables() (exp [510]byte, log [256]byte) {
	v := byte(1)
	for i := 0; i < 255; i++ {
		exp[i], exp[i+255] = v, v
		log[v] = byte(i)
		x := v << 1
		if v&0x80 != 0 {
			x ^= 0x1B
		}
		v = x ^ v
	}
	return exp, log
}

func TestGFMulAllPairs(t *testing.T) {
	exp, log := logExpTables()
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			got := gfMul(byte(a), byte(b))
			if want := refMulPoly(byte(a), byte(b)); got != want {
				t.Fatalf("gfMul(%#02x, %#02x) = %#02x, polynomial reference %#02x", a, b, got, want)
			}
			if pub := gfMulPub(byte(a), byte(b)); pub != got {
				t.Fatalf("gfMulPub(%#02x, %#02x) = %#02x, gfMul %#02x", a, b, pub, got)
			}
			var want byte
			if a != 0 && b != 0 {
				want = exp[int(log[a])+int(log[b])]
			}
			if got != want {
				t.Fatalf("gfMul(%#02x, %#02x) = %#02x, log/exp tables %#02x", a, b, got, want)
			}
		}
	}
}

func TestGFMulKnownAnswers(t *testing.T) {
	// FIPS 197 §4.2 and §4.2.1 worked examples, and §5.1.1's inverse pair.
	for _, tc := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xC1},
		{0x57, 0x13, 0xFE},
		{0x57, 0x02, 0xAE},
		{0x57, 0x04, 0x47},
		{0x57, 0x08, 0x8E},
		{0x57, 0x10, 0x07},
		{0x53, 0xCA, 0x01},
		{0x00, 0xFF, 0x00},
		{0x01, 0xFF, 0xFF},
	} {
		if got := gfMul(tc.a, tc.b); got != tc.want {
			t.Errorf("gfMul(%#02x, %#02x) = %#02x, want %#02x", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestGFInv(t *testing.T) {
	if gfInv(0) != 0 {
		t.Errorf("gfInv(0) = %#02x, want 0", gfInv(0))
	}
	if gfInv(0x53) != 0xCA || gfInv(0xCA) != 0x53 {
		t.Errorf("gfInv(0x53) = %#02x, gfInv(0xCA) = %#02x; want 0xCA, 0x53", gfInv(0x53), gfInv(0xCA))
	}
	for a := 1; a < 256; a++ {
		if p := refMulPoly(byte(a), gfInv(byte(a))); p != 1 {
			t.Fatalf("a·gfInv(a) = %#02x for a = %#02x", p, a)
		}
	}
}
