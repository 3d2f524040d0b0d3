package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/shardpacs/shardpacs/crypto"
)

// Info describes a decoded (or rebuilt) instance.
type Info struct {
	Header  *Header // header of the first share used (its Index, KEKVersion, WrappedKey are that share's)
	Trailer Trailer // sizes, checked against what was decoded
	SHA256  [32]byte
	Used    []int // indices of the shares read, ascending
}

// Decode rebuilds an instance from its shares and streams the canonical
// Part-10 bytes to w.
//
// shares maps share index (0..3, as recorded in the index) to a reader
// positioned at the start of that share object; at least K entries. Decode
// reads the K lowest indices (data shards first, so Reed–Solomon runs only
// when a data shard is missing) and leaves the others unread; Info.Used
// lists those it read. It checks that their headers belong together,
// unwraps their key shares with kr, combines the data key, then streams:
// records → Reed–Solomon → AES-256-GCM open → zstd → SHA-256 → w.
//
// Fail closed: every byte written to w comes from an authenticated AEAD
// segment (≤ 1 MiB). But the instance is authentic only when Decode returns
// nil: a failure can come after some bytes were written (a bad segment
// further on; the final size or SHA-256 check). A caller that must not
// forward any byte of a bad instance (a C-GET/C-MOVE sub-operation) either
// buffers — DecodeBytes, or a spool file — or streams and aborts the
// transfer on error. See doc.go for the trade-off.
//
// want, when not nil, is the SHA-256 the index recorded; a mismatch
// returns ErrHashMismatch at the end. Errors: ErrTooFewShares, ErrFormat,
// ErrMismatch, ErrSize, ErrHashMismatch, crypto.ErrAuth (some share in the
// subset is corrupt: retry with another subset, see Subsets),
// crypto.ErrUnwrap / crypto.ErrUnknownKEKVersion (key share or header
// changed, or KEK missing), ErrShredKeyMissing (a shred-sealed object
// whose shred key is gone, or kr is not a ShredWrapper with its key),
// crypto.ErrShredOpen (the shred key found is not the object's); those two
// are never *ShareError values.
// Errors attributable to one share are *ShareError values naming it.
func Decode(ctx context.Context, kr KeyWrapper, shares map[int]io.Reader, w io.Writer, want *[32]byte) (*Info, error) {
	return decode(ctx, kr, shares, w, want, -1, nil)
}

// DecodeBytes is Decode into memory: it returns the instance only when it
// fully decoded and verified, never a partial one. Instances larger than
// limit bytes fail with ErrTooLarge (limit ≤ 0: no limit).
func DecodeBytes(ctx context.Context, kr KeyWrapper, shares map[int]io.Reader, want *[32]byte, limit int64) ([]byte, *Info, error) {
	lw := &limitBuffer{limit: limit}
	info, err := decode(ctx, kr, shares, lw, want, -1, nil)
	if err != nil {
		return nil, nil, err
	}
	return lw.buf.Bytes(), info, nil
}

type limitBuffer struct {
	buf   bytes.Buffer
	limit int64
}

func (l *limitBuffer) Write(p []byte) (int, error) {
	if l.limit > 0 && int64(l.buf.Len()+len(p)) > l.limit {
		return 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, l.limit)
	}
	return l.buf.Write(p)
}

// Rebuild writes a new, complete share number target of an object, from
// at least K of its other shares (target's own entry in shares, if any, is
// ignored: it is the share being replaced). It is repair: the data shard
// or parity shard of every stripe is recomputed by Reed–Solomon, and the
// key share is recomputed from K key shares (Shamir shares are points of
// one polynomial: K points give its value at target's X), then wrapped
// with the current KEK. The other shares stay valid as they are; the new
// share differs in bytes (a fresh wrapping) but not in meaning.
//
// The sources are fully decoded and verified on the way (AEAD, sizes,
// want if not nil), so a corrupt source makes Rebuild fail instead of
// spreading: w receives the end record only after everything checked out,
// and the caller must discard the output on error.
func Rebuild(ctx context.Context, kr KeyWrapper, shares map[int]io.Reader, target int, w io.Writer, want *[32]byte) (*Info, error) {
	if target < 0 || target >= N {
		return nil, fmt.Errorf("pipeline: rebuild target %d outside 0..%d", target, N-1)
	}
	if w == nil {
		return nil, errors.New("pipeline: rebuild: nil writer")
	}
	return decode(ctx, kr, shares, io.Discard, want, target, w)
}

// Subsets lists the K-element subsets of the available share indices in
// the order to try them: lexicographic, so subsets of data shards come
// first. After Decode over one subset fails with crypto.ErrAuth, the
// archive tries the next; a subset without the corrupt share succeeds.
func Subsets(k int, available []int) [][]int {
	av := slices.Clone(available)
	slices.Sort(av)
	av = slices.Compact(av)
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, slices.Clone(cur))
			return
		}
		for i := start; i < len(av); i++ {
			rec(i+1, append(cur, av[i]))
		}
	}
	if k > 0 {
		rec(0, nil)
	}
	return out
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	hw.n += int64(len(p))
	return hw.w.Write(p)
}

func decode(ctx context.Context, kr KeyWrapper, shares map[int]io.Reader, w io.Writer, want *[32]byte, target int, tw io.Writer) (*Info, error) {
	if kr == nil {
		return nil, errors.New("pipeline: no keyring")
	}
	var idx []int
	for i, r := range shares {
		if i < 0 || i >= N || r == nil {
			return nil, fmt.Errorf("pipeline: share index %d invalid or nil reader", i)
		}
		if i != target {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	if len(idx) < 2 {
		return nil, fmt.Errorf("%w: %d given", ErrTooFewShares, len(idx))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first, err := ParseHeader(shares[idx[0]])
	if err != nil {
		return nil, &ShareError{Index: idx[0], Err: err}
	}
	k := first.K
	if len(idx) < k {
		return nil, fmt.Errorf("%w: %d given, object needs %d", ErrTooFewShares, len(idx), k)
	}
	idx = idx[:k]
	common := first.Common()
	headers := []*Header{first}
	for _, i := range idx[1:] {
		h, err := ParseHeader(shares[i])
		if err != nil {
			return nil, &ShareError{Index: i, Err: err}
		}
		if !bytes.Equal(h.Common(), common) {
			return nil, fmt.Errorf("%w: share %d and share %d are of different objects or headers", ErrMismatch, idx[0], i)
		}
		headers = append(headers, h)
	}
	keyShares := make([]crypto.Share, k)
	defer func() {
		for _, s := range keyShares {
			clear(s.Y)
		}
	}()
	for j, h := range headers {
		if h.Index != idx[j] {
			return nil, &ShareError{Index: idx[j], Err: fmt.Errorf("%w: header says share %d", ErrMismatch, h.Index)}
		}
		y, err := kr.Unwrap(h.KEKVersion, h.WrappedKey, h.keyAAD(h.Index))
		if errors.Is(err, ErrShredKeyMissing) || errors.Is(err, crypto.ErrShredOpen) {
			// The object's shred key is gone or wrong (the KEK layer
			// authenticated this share): no other subset helps.
			return nil, err
		}
		if err != nil {
			return nil, &ShareError{Index: h.Index, Err: err}
		}
		keyShares[j] = crypto.Share{X: h.KeyX[h.Index], Y: y}
		if len(y) != crypto.DataKeySize {
			if h.ShredSealed && len(y) == crypto.DataKeySize+crypto.ShredSealOverhead {
				// A bare KEK keyring opened the outer layer only.
				return nil, fmt.Errorf("pipeline: object %x: key shares are shred-sealed and the keyring has no shred keys: %w", h.ObjectID, ErrShredKeyMissing)
			}
			return nil, &ShareError{Index: h.Index, Err: fmt.Errorf("%w: key share of %d bytes", ErrFormat, len(y))}
		}
	}
	dek, err := crypto.CombineSecret(keyShares)
	if err != nil {
		return nil, err
	}
	defer clear(dek)

	var emit func(int, []byte) error
	var tout *outs
	if target >= 0 {
		tout = &outs{k: 1}
		tout.o[0].w = tw
		th, err := rebuildHeader(kr, first, keyShares, target)
		if err != nil {
			return nil, err
		}
		if err := tout.write(0, th); err != nil {
			return nil, err
		}
		emit = func(m int, shard []byte) error {
			var hdr [recordHeaderSize]byte
			hdr[0], hdr[1], hdr[2], hdr[3] = byte(m>>24), byte(m>>16), byte(m>>8), byte(m)
			return tout.write(0, hdr[:], shard)
		}
	}

	ins := make([]shareIn, k)
	for j, i := range idx {
		ins[j] = shareIn{idx: i, r: ctxReader{ctx, shares[i]}}
	}
	sr, err := newStripeReader(first, ins, target, emit)
	if err != nil {
		return nil, err
	}
	defer sr.release()
	opened, err := crypto.NewOpenReader(sr, dek, common, first.SegmentSize)
	if err != nil {
		return nil, err
	}
	cr := &countReader{r: opened}
	var src io.Reader = cr
	if first.Codec.compressor() == CodecZstd {
		dec, err := getDecoder()
		if err != nil {
			return nil, err
		}
		defer putDecoder(dec)
		if err := dec.Reset(cr); err != nil {
			return nil, err
		}
		src = dec
	}
	if first.Codec.compressor() == CodecS2 {
		dec := getS2Reader()
		defer putS2Reader(dec)
		dec.Reset(cr)
		src = dec
	}
	if first.Codec.shuffled() {
		us := newUnshuffleReader(src)
		defer us.release()
		src = us
	}
	hw := &hashWriter{w: w, h: sha256.New()}
	bp := getBuf(64 << 10)
	defer putBuf(bp)
	buf := *bp
	if _, err := io.CopyBuffer(hw, ctxReader{ctx, src}, buf); err != nil {
		return nil, decodeErr(err)
	}
	// The codec stops at the end of its input; make sure the AEAD stream did too.
	if n, err := cr.Read(buf[:1]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("%w: data after the compressed stream", ErrFormat)
		}
		return nil, decodeErr(err)
	}
	if !sr.done {
		return nil, fmt.Errorf("%w: stream ended before the end record", ErrFormat)
	}
	t, err := parseTrailer(sr.trailer)
	if err != nil {
		return nil, err
	}
	compressed := cr.n
	if t.CipherSize != sr.n || t.CompressedSize != compressed || t.PlainSize != hw.n ||
		(first.Codec == CodecNone && t.PlainSize != t.CompressedSize) {
		return nil, fmt.Errorf("%w: trailer %d/%d/%d, decoded %d/%d/%d", ErrSize,
			t.PlainSize, t.CompressedSize, t.CipherSize, hw.n, compressed, sr.n)
	}
	info := &Info{Header: first, Trailer: t, Used: idx}
	copy(info.SHA256[:], hw.h.Sum(nil))
	if want != nil && *want != info.SHA256 {
		return nil, ErrHashMismatch
	}
	if tout != nil {
		if err := tout.write(0, append(make([]byte, recordHeaderSize), sr.trailer...)); err != nil {
			return nil, err
		}
	}
	return info, nil
}

func decodeErr(err error) error {
	var se *ShareError
	if errors.Is(err, crypto.ErrAuth) || errors.Is(err, ErrFormat) || errors.Is(err, ErrMismatch) ||
		errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("pipeline: decoding: %w", err)
}

// rebuildHeader makes the header of share target: the common header, and
// target's key share recomputed from k others and wrapped with the current
// KEK.
//
// Shamir shares are points (X, f(X)) of a polynomial f of degree k−1 with
// f(0) = data key; k points determine f, so f(X_t) is computable.
// crypto.CombineSecret evaluates at 0 only; in GF(2^8) addition is XOR, so
// g(x) = f(x ⊕ X_t) has the same degree, passes through (X_j ⊕ X_t, Y_j),
// and g(0) = f(X_t).
func rebuildHeader(kr KeyWrapper, first *Header, src []crypto.Share, target int) ([]byte, error) {
	xt := first.KeyX[target]
	moved := make([]crypto.Share, len(src))
	for j, s := range src {
		moved[j] = crypto.Share{X: s.X ^ xt, Y: s.Y}
	}
	y, err := crypto.CombineSecret(moved)
	if err != nil {
		return nil, err
	}
	defer clear(y)
	h := *first
	wrapped, ver, err := kr.Wrap(y, h.keyAAD(target))
	if err != nil {
		return nil, fmt.Errorf("pipeline: wrapping key share %d: %w", target, err)
	}
	h.Index, h.KEKVersion, h.WrappedKey = target, ver, wrapped
	return h.MarshalBinary()
}
