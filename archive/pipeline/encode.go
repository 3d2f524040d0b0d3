package pipeline

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/shardpacs/shardpacs/crypto"
)

// KeyWrapper wraps and unwraps key shares with the node's KEK.
// *crypto.Keyring implements it.
type KeyWrapper interface {
	Wrap(plaintext, aad []byte) (wrapped []byte, version uint32, err error)
	Unwrap(version uint32, wrapped, aad []byte) ([]byte, error)
}

var _ KeyWrapper = (*crypto.Keyring)(nil)

// probeSize is how much plaintext Encode reads before it decides the codec
// (CodecAuto). An instance no larger is compressed in one call.
const probeSize = 1 << 20

// DefaultMinRatio is the compression ratio below which CodecAuto stores
// an instance uncompressed.
const DefaultMinRatio = 1.05

// Params configures Encode. The zero value of every field but Keyring works.
type Params struct {
	// K is the number of data shards: any K of the N = 4 shares rebuild
	// the instance. 2 (default; 2 parity shards), 3 (1 parity) or 4 (no
	// parity: the papers' plain split, every share needed).
	K int
	// Codec: CodecAuto (default), CodecZstd, CodecS2 or CodecNone.
	// Callers pass CodecNone for encapsulated (already compressed)
	// transfer syntaxes.
	Codec Codec
	// Compressor is the codec CodecAuto tries: CodecZstd (default) or
	// CodecS2 (the fast ingest option).
	Compressor Codec
	// NoShuffle stops CodecAuto from choosing the byte shuffle (which it
	// does when a sample of the instance says it pays: 16-bit images; see
	// shuffleHelps).
	NoShuffle bool
	// Level is the zstd level; 0 means zstd.SpeedFastest (the ingest CPU
	// budget; SpeedDefault gains ~5% size for twice the time).
	Level zstd.EncoderLevel
	// MinRatio is CodecAuto's threshold; 0 means DefaultMinRatio.
	MinRatio float64
	// SegmentSize is the AEAD segment (and stripe) size; 0 means
	// crypto.DefaultSegmentSize (1 MiB). MinSegmentSize..MaxSegmentSize.
	SegmentSize int
	// Keyring wraps the key shares (required): the KEK keyring itself,
	// not a ShredWrapper (ShredKey adds that layer).
	Keyring KeyWrapper
	// ShredKey, when not nil, is the object's 32-byte shred key: the header
	// gets FlagShredSealed and every key share is sealed under ShredKey
	// before Keyring wraps it (ShredWrapper). ObjectID must then be set,
	// and the caller must have made the key durable, under ObjectID,
	// before any share is written. Nil: a plain version-1 object, as
	// before shred keys existed.
	ShredKey []byte
	// ObjectID is the object ID to use; zero means a random one from Rand.
	ObjectID [16]byte
	// Rand is the source of object IDs, data keys and Shamir
	// coefficients; nil means crypto/rand.Reader.
	Rand io.Reader
}

func (p *Params) k() int {
	if p.K == 0 {
		return 2
	}
	return p.K
}

func (p *Params) level() zstd.EncoderLevel {
	if p.Level == 0 {
		return zstd.SpeedFastest
	}
	return p.Level
}

func (p *Params) compressor() Codec {
	if p.Codec != CodecAuto {
		return p.Codec.compressor()
	}
	if p.Compressor == CodecS2 {
		return CodecS2
	}
	return CodecZstd
}

func (p *Params) minRatio() float64 {
	if p.MinRatio == 0 {
		return DefaultMinRatio
	}
	return p.MinRatio
}

func (p *Params) segmentSize() int {
	if p.SegmentSize == 0 {
		return crypto.DefaultSegmentSize
	}
	return p.SegmentSize
}

func (p *Params) rand() io.Reader {
	if p.Rand == nil {
		return cryptorand.Reader
	}
	return p.Rand
}

// Result describes an encoded instance: what the index records.
type Result struct {
	ObjectID       [16]byte
	PlainSHA256    [32]byte
	PlainSize      int64
	CompressedSize int64
	CipherSize     int64
	Codec          Codec
	K              int
	SegmentSize    int // as recorded: smaller than Params' for a small instance
	KEKVersion     uint32
	// ShareSize is the number of bytes written to each share writer.
	ShareSize [N]int64
	// ShareErr is the error of each share writer that failed (the share is
	// incomplete and must be discarded); nil for complete shares.
	ShareErr [N]error
}

// hashReader hashes and counts the plaintext as it is read, and stops on
// a cancelled context. readFull counts without hashing: its caller hashes
// the block later (hash), after handing it to a compressor.
type hashReader struct {
	ctx context.Context
	r   io.Reader
	h   hash.Hash
	n   int64
}

func (r *hashReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

// readFull reads len(p) bytes, or fewer at the end of the plaintext (eof
// true), without hashing them.
func (r *hashReader) readFull(p []byte) (n int, eof bool, err error) {
	n, err = io.ReadFull(ctxReader{r.ctx, r.r}, p)
	r.n += int64(n)
	switch err {
	case nil:
		return n, false, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return n, true, nil
	}
	return n, false, err
}

// hash adds a block read by readFull to the hash, in plaintext order.
func (r *hashReader) hash(b []byte) { r.h.Write(b) }

var probePool = sync.Pool{New: func() any { b := make([]byte, probeSize); return &b }}
var compPool = sync.Pool{New: func() any { b := make([]byte, 0, probeSize); return &b }}

// Encode turns one instance into N = 4 share objects, written to shares
// (see doc.go for the stages and the format). It reads plaintext to EOF
// with bounded memory (a few MiB whatever the size) and writes the shares
// in lock step: writing to an io.Pipe per share is cheap, and so is a
// bytes.Buffer for small instances.
//
// A share writer that fails is dropped (its error in Result.ShareErr) and
// the others are completed; Encode fails with ErrTooFewShares once fewer
// than K remain. On any error the caller discards every share. The write
// quorum (K+1 by default) is the caller's decision, after its Puts.
func Encode(ctx context.Context, p Params, plaintext io.Reader, shares [N]io.Writer) (*Result, error) {
	k, seg := p.k(), p.segmentSize()
	switch {
	case k < 2 || k > N:
		return nil, fmt.Errorf("pipeline: k = %d, want 2..%d", k, N)
	case seg < MinSegmentSize || seg > MaxSegmentSize:
		return nil, fmt.Errorf("pipeline: segment size %d outside %d..%d", seg, MinSegmentSize, MaxSegmentSize)
	case p.Codec != CodecAuto && !p.Codec.validStored():
		return nil, fmt.Errorf("pipeline: unknown codec %d", p.Codec)
	case p.Compressor != CodecAuto && p.Compressor != CodecZstd && p.Compressor != CodecS2:
		return nil, fmt.Errorf("pipeline: compressor %v, want zstd or s2", p.Compressor)
	case p.Keyring == nil:
		return nil, errors.New("pipeline: no keyring")
	case p.ShredKey != nil && len(p.ShredKey) != crypto.DataKeySize:
		return nil, fmt.Errorf("pipeline: shred key: %w", crypto.ErrKeySize)
	case p.ShredKey != nil && p.ObjectID == [16]byte{}:
		return nil, errors.New("pipeline: a shred key needs the object ID it is stored under")
	}
	out := &outs{k: k}
	for i, w := range shares {
		if w == nil {
			return nil, fmt.Errorf("pipeline: share writer %d is nil", i)
		}
		out.o[i].w = w
	}
	rnd := p.rand()
	h := &Header{K: k, SegmentSize: seg, StripeSize: seg + crypto.TagSize, ObjectID: p.ObjectID}
	if h.ObjectID == [16]byte{} {
		if _, err := io.ReadFull(rnd, h.ObjectID[:]); err != nil {
			return nil, fmt.Errorf("pipeline: object id: %w", err)
		}
	}
	kw := p.Keyring
	if p.ShredKey != nil {
		h.ShredSealed = true
		kw = &ShredWrapper{KEK: p.Keyring, Keys: fixedShredKey{id: h.ObjectID, key: p.ShredKey}}
	}
	dek, err := crypto.NewDataKey(rnd)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	keyShares, err := crypto.SplitSecret(dek, N, k, rnd)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range keyShares {
			clear(s.Y)
		}
	}()
	for i, s := range keyShares {
		h.KeyX[i] = s.X
	}

	// Read the probe, then choose the codec.
	hr := &hashReader{ctx: ctx, r: plaintext, h: sha256.New()}
	pb := probePool.Get().(*[]byte)
	defer probePool.Put(pb)
	probe := (*pb)[:probeSize]
	np, whole, err := hr.readFull(probe)
	if err != nil {
		return nil, fmt.Errorf("pipeline: reading instance: %w", err)
	}
	probe = probe[:np]

	h.Codec = p.Codec
	if !whole && h.Codec != CodecNone && p.compressor() == CodecZstd {
		return encodeFrames(ctx, &p, kw, h, hr, probe, keyShares, dek, out)
	}
	hr.hash(probe)
	var enc streamEncoder
	var sw *switchWriter
	var comp []byte
	var shuf []byte // shuffle buffer, when shuffling
	if h.Codec != CodecNone {
		codec := p.compressor()
		src := probe
		if p.Codec.shuffled() || p.Codec == CodecAuto && !p.NoShuffle && shuffleHelps(probe, codec) {
			sbp := getBuf(shuffleBlock)
			defer putBuf(sbp)
			shuf = *sbp
			src = shuffle2(shuf, probe)
		}
		cbp := compPool.Get().(*[]byte)
		defer compPool.Put(cbp)
		var zenc *zstd.Encoder
		if codec == CodecZstd {
			level := p.level()
			if zenc, err = getEncoder(level); err != nil {
				return nil, err
			}
			defer putEncoder(level, zenc)
			enc = zenc
		} else {
			s2w := getS2Writer()
			defer putS2Writer(s2w)
			enc = s2w
		}
		if whole && zenc != nil {
			comp = zenc.EncodeAll(src, (*cbp)[:0])
			*cbp = comp[:0] // keep a grown buffer for the pool
		} else {
			cb := bytes.NewBuffer((*cbp)[:0])
			defer func() { *cbp = cb.Bytes()[:0] }()
			sw = &switchWriter{w: cb}
			enc.Reset(sw)
			if _, err := enc.Write(src); err != nil {
				return nil, fmt.Errorf("pipeline: %v: %w", codec, err)
			}
			if whole {
				err = enc.Close()
			} else {
				err = enc.Flush()
			}
			if err != nil {
				return nil, fmt.Errorf("pipeline: %v: %w", codec, err)
			}
			comp = cb.Bytes()
		}
		if h.Codec == CodecAuto {
			h.Codec = autoCodec(&p, codec, shuf != nil, np, len(comp))
		}
	}

	// A small instance, whole in memory, gets one segment of its own size:
	// smaller AEAD and stripe buffers, and no padding in the shares.
	if whole {
		body := np
		if h.Codec != CodecNone {
			body = len(comp)
		}
		if s := max(MinSegmentSize, (body+4095)&^4095); s < h.SegmentSize {
			h.SegmentSize, h.StripeSize = s, s+crypto.TagSize
		}
	}

	b, err := startBody(kw, h, keyShares, dek, out)
	if err != nil {
		return nil, err
	}
	defer b.release()
	switch {
	case h.Codec == CodecNone:
		if _, err := b.Write(probe); err != nil {
			return nil, err
		}
		if !whole {
			if _, err := io.CopyBuffer(b, hr, (*pb)[:probeSize]); err != nil {
				return nil, wrapRead(err)
			}
		}
	case whole:
		if _, err := b.Write(comp); err != nil {
			return nil, err
		}
	default:
		if _, err := b.Write(comp); err != nil {
			return nil, err
		}
		sw.w = b
		if shuf != nil {
			if err := copyShuffled(enc, hr, (*pb)[:shuffleBlock], shuf); err != nil {
				return nil, err
			}
		} else if _, err := io.CopyBuffer(writerOnly{enc}, hr, (*pb)[:probeSize]); err != nil {
			return nil, wrapRead(err)
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return b.finish(hr, out)
}

// autoCodec is CodecAuto's choice once the first block is compressed:
// codec (with the shuffle if shuffled) unless the block of n bytes
// compressed to c bytes shrank by less than MinRatio; then CodecNone.
func autoCodec(p *Params, codec Codec, shuffled bool, n, c int) Codec {
	if n == 0 || float64(n) < p.minRatio()*float64(c) {
		return CodecNone
	}
	if shuffled {
		return withShuffle(codec)
	}
	return codec
}

// body is the second half of Encode: the share headers are written, and
// what is written to it (the codec's output) is sealed, striped and
// erasure-coded into the shares.
type body struct {
	h          *Header
	k          int
	kekVersion uint32
	stripes    *stripeWriter
	sealer     io.WriteCloser
	n          int64 // bytes written: the compressed size
}

// startBody wraps one key share per share header (with kw: the keyring,
// or a ShredWrapper around it), writes the headers and
// sets up the AEAD stream over the stripes. h is final (codec, segment
// size) when it is called.
func startBody(kw KeyWrapper, h *Header, keyShares []crypto.Share, dek []byte, out *outs) (*body, error) {
	b := &body{h: h, k: out.k}
	for i := range N {
		wrapped, ver, err := kw.Wrap(keyShares[i].Y, h.keyAAD(i))
		if err != nil {
			return nil, fmt.Errorf("pipeline: wrapping key share %d: %w", i, err)
		}
		hi := *h
		hi.Index, hi.KEKVersion, hi.WrappedKey = i, ver, wrapped
		hb, err := hi.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b.kekVersion = ver
		if err := out.write(i, hb); err != nil {
			return nil, err
		}
	}
	var err error
	if b.stripes, err = newStripeWriter(b.k, h.StripeSize, out); err != nil {
		return nil, err
	}
	if b.sealer, err = crypto.NewSealWriter(b.stripes, dek, h.Common(), h.SegmentSize); err != nil {
		b.stripes.release()
		return nil, err
	}
	return b, nil
}

func (b *body) Write(p []byte) (int, error) {
	n, err := b.sealer.Write(p)
	b.n += int64(n)
	return n, err
}

// finish seals the last segment, writes the end records and returns the
// Result; hr has read the whole plaintext.
func (b *body) finish(hr *hashReader, out *outs) (*Result, error) {
	if err := b.sealer.Close(); err != nil {
		return nil, err
	}
	t, err := b.stripes.finish(hr.n, b.n)
	if err != nil {
		return nil, err
	}
	h := b.h
	res := &Result{ObjectID: h.ObjectID, PlainSize: hr.n, CompressedSize: b.n, CipherSize: t.CipherSize,
		Codec: h.Codec, K: b.k, SegmentSize: h.SegmentSize, KEKVersion: b.kekVersion}
	copy(res.PlainSHA256[:], hr.h.Sum(nil))
	for i := range N {
		res.ShareSize[i], res.ShareErr[i] = out.o[i].n, out.o[i].err
	}
	return res, nil
}

func (b *body) release() { b.stripes.release() }

// copyShuffled feeds w the rest of r, shuffled block by block (buf and
// shuf are shuffleBlock bytes; the blocks stay aligned on the stream's
// shuffleBlock boundaries because the probe was one whole block).
func copyShuffled(w io.Writer, r io.Reader, buf, shuf []byte) error {
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := w.Write(shuffle2(shuf, buf[:n])); werr != nil {
				return werr
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return wrapRead(err)
		}
	}
}

func wrapRead(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("pipeline: encoding: %w", err)
}

// switchWriter lets the zstd encoder's output move from the probe buffer
// to the AEAD stream.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// writerOnly hides ReadFrom, so io.CopyBuffer reads through hashReader
// with our buffer.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
