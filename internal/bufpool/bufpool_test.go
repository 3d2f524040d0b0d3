package bufpool

import "testing"

// Every request gets a buffer of its length with at most 25 % more
// capacity (MinSize aside), and a buffer put back serves its own class.
func TestClasses(t *testing.T) {
	prev := -1
	for _, n := range []int{1, 4095, 4096, 4097, 5120, 5121, 8192, 8193, 1 << 20, 1<<20 + 16, 1<<20 + 17, 3 << 20, 64 << 20} {
		p := Get(n)
		if len(*p) != n {
			t.Fatalf("Get(%d): length %d", n, len(*p))
		}
		if c := cap(*p); c < n || (n > MinSize && float64(c) > 1.25*float64(n)+1) {
			t.Fatalf("Get(%d): capacity %d", n, c)
		}
		// A pooled buffer may be bigger than its class (see the odd
		// capacity below, left by an earlier -count run), never smaller.
		idx, size := class(n)
		if size < n || cap(*p) < size || idx < prev {
			t.Fatalf("class(%d) = %d, %d; capacity %d, previous index %d", n, idx, size, cap(*p), prev)
		}
		prev = idx
		Put(p)
	}
	// A buffer of an odd capacity is filed under the class below it.
	b := make([]byte, 0, 5000)
	Put(&b)
	if q := Get(4096); cap(*q) < 4096 {
		t.Fatalf("got capacity %d for 4096", cap(*q))
	}
}

// Sizes just over a power of two get the 5/8 class, not the next power.
func TestClassSizes(t *testing.T) {
	for _, c := range []struct{ n, size int }{
		{4096, 4096}, {4097, 5120}, {1<<20 + 16, 5 << 18}, {1<<20 + 17, 5 << 18}, {3 << 19, 3 << 19}, {2 << 20, 2 << 20},
	} {
		if _, size := class(c.n); size != c.size {
			t.Errorf("class(%d) size %d, want %d", c.n, size, c.size)
		}
	}
}
