package pdu

import "testing"

func TestSizeClass(t *testing.T) {
	for _, tc := range []struct{ n, class int }{
		{0, 0}, {1, 0}, {4096, 0}, {4097, 1}, {16384, 2}, {16385, 3},
		{131066, 5}, {131072, 5}, {1 << 20, 8}, {1<<20 + 1, -1},
	} {
		if got := sizeClass(tc.n); got != tc.class {
			t.Errorf("sizeClass(%d) = %d, want %d", tc.n, got, tc.class)
		}
	}
}

func TestGetBufferShape(t *testing.T) {
	for _, tc := range []struct{ n, cap int }{
		{-1, 4096}, {0, 4096}, {100, 4096}, {5000, 8192}, {131066, 131072}, {1 << 20, 1 << 20}, {1<<20 + 6, 1<<20 + 6},
	} {
		b := GetBuffer(tc.n)
		if len(b.Bytes()) != max(tc.n, 0) || cap(b.Bytes()) != tc.cap {
			t.Errorf("GetBuffer(%d): len %d cap %d, want %d, %d", tc.n, len(b.Bytes()), cap(b.Bytes()), max(tc.n, 0), tc.cap)
		}
		if r := b.refs.Load(); r != 1 {
			t.Errorf("GetBuffer(%d): %d references, want 1", tc.n, r)
		}
		b.Release()
	}
}

// TestBufferRefs: only the last Release gives the buffer back; extra
// Releases do not push it into the pool a second time.
func TestBufferRefs(t *testing.T) {
	b := GetBuffer(100)
	b.Retain()
	b.Release()
	if r := b.refs.Load(); r != 1 {
		t.Fatalf("after Retain+Release: %d references, want 1", r)
	}
	if len(b.Bytes()) != 100 {
		t.Fatal("a buffer still referenced was reset")
	}
	b.Release()
	if r := b.refs.Load(); r != 0 {
		t.Fatalf("after the last Release: %d references", r)
	}
	if len(b.Bytes()) != cap(b.Bytes()) {
		t.Fatal("the last Release did not reset the buffer for the pool")
	}
	b.Release() // a bug in the caller, but it must not panic nor re-pool
	if r := b.refs.Load(); r != -1 {
		t.Fatalf("extra Release: %d references, want -1", r)
	}
	var nilBuf *Buffer
	nilBuf.Release()
}

func BenchmarkGetBuffer128KiB(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		GetBuffer(131066).Release()
	}
}
