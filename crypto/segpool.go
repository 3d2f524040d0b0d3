package crypto

import "github.com/shardpacs/shardpacs/internal/bufpool"

// Segment buffers (up to MaxSegmentSize plus a tag and a byte) are pooled
// (internal/bufpool): an archive seals and opens one stream per share set
// read or written, and a fresh 1 MiB buffer each time was most of what an
// Encode or Decode allocated. Buffers are cleared before they go back
// (they held plaintext).

// getSegBuf returns a buffer of length n.
func getSegBuf(n int) *[]byte { return bufpool.Get(n) }

// putSegBuf clears p and returns it to the pool.
func putSegBuf(p *[]byte) {
	clear((*p)[:cap(*p)])
	bufpool.Put(p)
}

// putSegBufCleared returns p, whose caller cleared every byte it wrote,
// to the pool.
func putSegBufCleared(p *[]byte) { bufpool.Put(p) }
