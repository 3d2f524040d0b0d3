// Package bufpool pools byte buffers in size classes: four classes per
// power of two (the sizes 5/8, 6/8, 7/8 and 8/8 of it), so a buffer is at
// most 25 % larger than asked for, and a request is always served by a
// buffer of its own class, never by one too small that goes back to the
// pool while a new one is allocated. That pattern — one sync.Pool of mixed
// sizes — let buffers pile up between garbage collections: the live heap
// of a node ingesting CT slices on four associations grew with its GC goal
// (~200 MB) instead of with its concurrency.
//
// Buffers are not cleared: callers that held secrets clear them first.
package bufpool

import (
	"math/bits"
	"sync"
)

// MinSize is the smallest class; smaller requests get a buffer of it.
const MinSize = 4096

var pools [4 * bits.UintSize]sync.Pool

// class returns the pool index and the buffer size of requests of n
// bytes (n ≥ 1).
func class(n int) (idx, size int) {
	n = max(n, MinSize)
	c := bits.Len(uint(n - 1)) // 2^(c-1) < n ≤ 2^c
	step := 1 << (c - 3)
	size = (n + step - 1) &^ (step - 1) // 5..8 steps
	return 4*c + size>>(c-3) - 5, size
}

// Get returns a buffer of length n (contents undefined).
func Get(n int) *[]byte {
	idx, size := class(n)
	if p, ok := pools[idx].Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, size)
	return &b
}

// Put returns p to the pool of the largest class its capacity serves. A
// nil p, or one smaller than MinSize, is dropped.
func Put(p *[]byte) {
	if p == nil || cap(*p) < MinSize {
		return
	}
	idx, size := class(cap(*p))
	if size != cap(*p) {
		idx-- // between two classes: it serves the smaller one
	}
	pools[idx].Put(p)
}
