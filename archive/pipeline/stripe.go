package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Reed–Solomon coders, one per k < N, built once: a systematic code over
// GF(2^8) (klauspost/reedsolomon's Vandermonde-derived matrix), k data + N−k
// parity shards. k = N has no parity and no coder.
var rsCoders [N]struct {
	once sync.Once
	enc  reedsolomon.Encoder
	err  error
}

func rsCoder(k int) (reedsolomon.Encoder, error) {
	if k >= N {
		return nil, nil
	}
	c := &rsCoders[k]
	// One goroutine per call: a stripe's shards are small (≤ 1 MiB / k)
	// and parallelism comes from concurrent instances; the library's own
	// fan-out costs more in hand-offs than the GF(2^8) work it splits.
	// (The option does not change the code: old objects decode as before.)
	c.once.Do(func() { c.enc, c.err = reedsolomon.New(k, N-k, reedsolomon.WithMaxGoroutines(1)) })
	return c.enc, c.err
}

// shardLen is the shard size of a stripe holding m ciphertext bytes.
func shardLen(m, k int) int { return (m + k - 1) / k }

// ---- writing ----

// shareOut is one share's destination. A failed destination is dropped and
// the others continue, as long as k remain.
type shareOut struct {
	w   io.Writer
	n   int64
	err error
}

type outs struct {
	o [N]shareOut
	k int
}

// write writes the parts (in order) to share i, dropping it on error.
func (s *outs) write(i int, parts ...[]byte) error {
	o := &s.o[i]
	for _, b := range parts {
		if o.err != nil {
			break
		}
		n, err := o.w.Write(b)
		o.n += int64(n)
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			o.err = fmt.Errorf("pipeline: writing share %d: %w", i, err)
		}
	}
	return s.check()
}

// check fails once fewer than k destinations are alive.
func (s *outs) check() error {
	live := 0
	var errs []error
	for i := range s.o {
		if s.o[i].err == nil {
			live++
		} else {
			errs = append(errs, s.o[i].err)
		}
	}
	if live < s.k {
		return fmt.Errorf("%w: %d of %d share writers left, need %d: %w", ErrTooFewShares, live, N, s.k, errors.Join(errs...))
	}
	return nil
}

// stripeWriter receives the AEAD stream, cuts it into stripes of at most
// size bytes, splits each into k data shards (the last one zero-padded)
// and N−k parity shards, and appends shard i, as one record, to share i.
type stripeWriter struct {
	k, size int
	rs      reedsolomon.Encoder
	out     *outs
	buf     []byte   // pending stripe; cap k·shardLen(size)
	parity  [][]byte // N−k buffers of shardLen(size)
	shards  [][]byte
	n       int64 // ciphertext bytes so far
	pooled  []*[]byte
}

func newStripeWriter(k, size int, out *outs) (*stripeWriter, error) {
	rs, err := rsCoder(k)
	if err != nil {
		return nil, err
	}
	sl := shardLen(size, k)
	s := &stripeWriter{k: k, size: size, rs: rs, out: out, shards: make([][]byte, N)}
	p := getBuf(k * sl)
	s.pooled = append(s.pooled, p)
	s.buf = (*p)[:0]
	for range N - k {
		p := getBuf(sl)
		s.pooled = append(s.pooled, p)
		s.parity = append(s.parity, *p)
	}
	return s, nil
}

// release returns the buffers to the pool; s is unusable afterwards.
func (s *stripeWriter) release() {
	for _, p := range s.pooled {
		putBuf(p)
	}
	s.pooled, s.buf, s.parity = nil, nil, nil
}

func (s *stripeWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		c := copy(s.buf[len(s.buf):s.size], p)
		s.buf = s.buf[:len(s.buf)+c]
		p = p[c:]
		if len(s.buf) == s.size {
			if err := s.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (s *stripeWriter) flush() error {
	m := len(s.buf)
	if m == 0 {
		return nil
	}
	sl := shardLen(m, s.k)
	full := s.buf[:s.k*sl]
	clear(full[m:]) // zero padding of the last shard
	for i := range s.k {
		s.shards[i] = full[i*sl : (i+1)*sl]
	}
	for j := range s.parity {
		s.shards[s.k+j] = s.parity[j][:sl]
	}
	if s.rs != nil {
		if err := s.rs.Encode(s.shards); err != nil {
			return fmt.Errorf("pipeline: reed-solomon: %w", err)
		}
	}
	var hdr [recordHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(m))
	for i := range N {
		if err := s.out.write(i, hdr[:], s.shards[i]); err != nil {
			return err
		}
	}
	s.n += int64(m)
	s.buf = s.buf[:0]
	return nil
}

// finish flushes the last stripe and writes the end record and trailer.
func (s *stripeWriter) finish(plain, compressed int64) (Trailer, error) {
	if err := s.flush(); err != nil {
		return Trailer{}, err
	}
	t := Trailer{PlainSize: plain, CompressedSize: compressed, CipherSize: s.n}
	end := t.append(make([]byte, recordHeaderSize, recordHeaderSize+trailerSize))
	for i := range N {
		if err := s.out.write(i, end); err != nil {
			return t, err
		}
	}
	return t, nil
}

// ---- reading ----

type shareIn struct {
	idx int
	r   io.Reader
}

// stripeReader reads the records of k shares in lock step, rebuilds the
// data shards of each stripe (Reed–Solomon only when a data shard is
// missing) and serves the AEAD stream. With target ≥ 0 it also rebuilds
// shard target of every stripe and hands it to emit (repair).
type stripeReader struct {
	k, size int
	ins     []shareIn
	rs      reedsolomon.Encoder
	bufs    [N][]byte
	shards  [][]byte
	need    []bool // shards to reconstruct
	needRS  bool
	target  int
	emit    func(m int, shard []byte) error

	m, sl, pos int   // current stripe: bytes, shard size, bytes served
	n          int64 // ciphertext bytes served in all
	trailer    []byte
	done       bool
	pooled     []*[]byte
}

func newStripeReader(h *Header, ins []shareIn, target int, emit func(int, []byte) error) (*stripeReader, error) {
	rs, err := rsCoder(h.K)
	if err != nil {
		return nil, err
	}
	r := &stripeReader{k: h.K, size: h.StripeSize, ins: ins, rs: rs, shards: make([][]byte, N),
		need: make([]bool, N), target: target, emit: emit}
	have := [N]bool{}
	for _, in := range ins {
		have[in.idx] = true
	}
	sl := shardLen(h.StripeSize, h.K)
	for i := range N {
		want := i < h.K || i == target
		if have[i] || want {
			p := getBuf(sl)
			r.pooled = append(r.pooled, p)
			r.bufs[i] = *p
		}
		if want && !have[i] {
			r.need[i], r.needRS = true, true
		}
	}
	return r, nil
}

// release returns the buffers to the pool; r is unusable afterwards.
func (r *stripeReader) release() {
	for _, p := range r.pooled {
		putBuf(p)
	}
	r.pooled, r.bufs, r.shards = nil, [N][]byte{}, nil
}

func (r *stripeReader) Read(p []byte) (int, error) {
	for r.pos >= r.m {
		if r.done {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	i, off := r.pos/r.sl, r.pos%r.sl
	end := min(r.sl, r.m-i*r.sl)
	n := copy(p, r.shards[i][off:end])
	r.pos += n
	return n, nil
}

func formatErr(idx int, what string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &ShareError{Index: idx, Err: fmt.Errorf("%w: %s: %w", ErrFormat, what, err)}
}

// next reads the next record of every share.
func (r *stripeReader) next() error {
	var hdr, first [recordHeaderSize]byte
	for j, in := range r.ins {
		if _, err := io.ReadFull(in.r, hdr[:]); err != nil {
			return formatErr(in.idx, "reading record", err)
		}
		if j == 0 {
			first = hdr
		} else if hdr != first {
			return fmt.Errorf("%w: shares %d and %d disagree on a record length", ErrMismatch, r.ins[0].idx, in.idx)
		}
	}
	m := int(binary.BigEndian.Uint32(first[:]))
	if m == 0 {
		return r.end()
	}
	if m > r.size {
		return fmt.Errorf("%w: record of %d bytes, stripe size %d", ErrFormat, m, r.size)
	}
	sl := shardLen(m, r.k)
	for i := range N {
		if r.bufs[i] != nil {
			r.shards[i] = r.bufs[i][:0]
		} else {
			r.shards[i] = nil
		}
	}
	for _, in := range r.ins {
		b := r.bufs[in.idx][:sl]
		if _, err := io.ReadFull(in.r, b); err != nil {
			return formatErr(in.idx, "reading shard", err)
		}
		r.shards[in.idx] = b
	}
	if r.needRS {
		if err := r.rs.ReconstructSome(r.shards, r.need); err != nil {
			return fmt.Errorf("pipeline: reed-solomon: %w", err)
		}
	}
	if r.emit != nil {
		if err := r.emit(m, r.shards[r.target][:sl]); err != nil {
			return err
		}
	}
	r.m, r.sl, r.pos = m, sl, 0
	r.n += int64(m)
	return nil
}

// end reads and compares the trailers, then checks every share ends there.
func (r *stripeReader) end() error {
	var t, first [trailerSize]byte
	for j, in := range r.ins {
		if _, err := io.ReadFull(in.r, t[:]); err != nil {
			return formatErr(in.idx, "reading trailer", err)
		}
		if j == 0 {
			first = t
		} else if t != first {
			return fmt.Errorf("%w: shares %d and %d have different trailers", ErrMismatch, r.ins[0].idx, in.idx)
		}
	}
	var one [1]byte
	for _, in := range r.ins {
		if n, err := io.ReadFull(in.r, one[:]); n != 0 || err != io.EOF {
			if err == nil || err == io.ErrUnexpectedEOF {
				err = errors.New("bytes after the trailer")
			}
			return formatErr(in.idx, "end of share", err)
		}
	}
	r.trailer = bytes.Clone(first[:])
	r.m, r.pos, r.done = 0, 0, true
	return nil
}
