package pdu

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Buffer sizes the pool keeps: powers of two from 4 KiB to 1 MiB (the
// default Maximum Length). Larger buffers are allocated and left to the
// garbage collector.
const (
	minBufferShift = 12
	maxBufferShift = 20
)

// bufferPools holds one pool per size class; index shift-minBufferShift.
var bufferPools [maxBufferShift - minBufferShift + 1]sync.Pool // of *Buffer

// Buffer is a reference-counted byte buffer lent by a process-wide pool of
// power-of-two size classes: PDU bodies read by [PooledReader], and the
// memory a DIMSE layer assembles data sets in, come from it, so that a
// steady stream of P-DATA allocates nothing.
//
// Ownership: GetBuffer returns a Buffer holding one reference. Every
// holder that keeps the bytes takes its own reference with Retain and
// gives it back with Release; the last Release returns the memory to the
// pool, after which the bytes must not be used (they will be handed out
// again). Dropping a Buffer without Release is safe: the garbage collector
// reclaims it, only the reuse is lost. Retain and Release are safe for
// concurrent use; the bytes themselves are not synchronized.
type Buffer struct {
	b     []byte
	refs  atomic.Int32
	class int8 // index into bufferPools, -1 when not pooled
}

// GetBuffer returns a Buffer of length n (its capacity is the size class,
// at least n) holding one reference. Its contents are unspecified: the
// caller overwrites them. n <= 0 gives an empty Buffer.
func GetBuffer(n int) *Buffer {
	n = max(n, 0)
	class := sizeClass(n)
	if class < 0 {
		b := &Buffer{b: make([]byte, n), class: -1}
		b.refs.Store(1)
		return b
	}
	b, _ := bufferPools[class].Get().(*Buffer)
	if b == nil {
		b = &Buffer{b: make([]byte, 1<<(class+minBufferShift)), class: int8(class)}
	}
	b.b = b.b[:n]
	b.refs.Store(1)
	return b
}

// sizeClass returns the pool index of the smallest class holding n bytes,
// or -1 when n is beyond the largest.
func sizeClass(n int) int {
	if n > 1<<maxBufferShift {
		return -1
	}
	shift := minBufferShift
	if n > 1<<minBufferShift {
		shift = bits.Len(uint(n - 1))
	}
	return shift - minBufferShift
}

// Bytes returns the buffer's bytes (length as requested from GetBuffer,
// capacity the size class). Valid until the last Release.
func (b *Buffer) Bytes() []byte { return b.b }

// Retain takes one more reference.
func (b *Buffer) Retain() { b.refs.Add(1) }

// Release gives one reference back; the last one returns the memory to the
// pool. Releasing more often than GetBuffer plus Retain is a bug; the
// extra calls are ignored rather than corrupting the pool. Safe on nil.
func (b *Buffer) Release() {
	if b == nil {
		return
	}
	if b.refs.Add(-1) != 0 || b.class < 0 {
		return
	}
	b.b = b.b[:cap(b.b)]
	bufferPools[b.class].Put(b)
}
