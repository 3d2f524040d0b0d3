package pipeline

import "sync"

// Shard and stripe buffers are pooled: allocating (and zeroing) a few MiB
// per instance costs more than sealing a CT image.
var bufPool sync.Pool

// getBuf returns a buffer of length n from the pool (contents undefined).
func getBuf(n int) *[]byte {
	if p, ok := bufPool.Get().(*[]byte); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
		bufPool.Put(p)
	}
	b := make([]byte, n)
	return &b
}

func putBuf(p *[]byte) {
	if p != nil {
		bufPool.Put(p)
	}
}
