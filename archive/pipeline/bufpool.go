package pipeline

import "github.com/shardpacs/shardpacs/internal/bufpool"

// Shard, stripe, shuffle and frame buffers are pooled (internal/bufpool):
// allocating (and zeroing) a few MiB per instance costs more than sealing
// a CT image.

// getBuf returns a buffer of length n (contents undefined).
func getBuf(n int) *[]byte { return bufpool.Get(n) }

// putBuf returns p to the pool (p may be nil).
func putBuf(p *[]byte) { bufpool.Put(p) }
