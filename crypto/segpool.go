package crypto

import (
	"math/bits"
	"sync"
)

// Segment buffers (up to MaxSegmentSize plus a tag and a byte) are pooled
// by power-of-two size class: an archive seals and opens one stream per
// share set read or written, and a fresh 1 MiB buffer each time was most
// of what an Encode or Decode allocated. Buffers are cleared before they
// go back (they held plaintext).
var segPools [bits.UintSize]sync.Pool

// getSegBuf returns a buffer of length n (capacity the next power of two).
func getSegBuf(n int) *[]byte {
	c := bits.Len(uint(n - 1))
	if p, ok := segPools[c].Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, 1<<c)
	return &b
}

// putSegBuf clears p and returns it to its pool.
func putSegBuf(p *[]byte) {
	clear((*p)[:cap(*p)])
	putSegBufCleared(p)
}

// putSegBufCleared returns p, whose caller cleared every byte it wrote,
// to its pool.
func putSegBufCleared(p *[]byte) {
	b := (*p)[:cap(*p)]
	*p = b
	segPools[bits.Len(uint(cap(b)-1))].Put(p)
}
