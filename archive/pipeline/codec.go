package pipeline

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Codec is the lossless compression applied before encryption, recorded in
// every share header so that new codecs never need old objects rewritten.
type Codec uint8

const (
	// CodecAuto (Params only, never stored): zstd, unless the first
	// probeSize bytes compress by less than Params.MinRatio; then none.
	CodecAuto Codec = 0
	// CodecNone stores the plaintext as is (already-compressed transfer
	// syntaxes: JPEG, JPEG 2000, JPEG-LS, RLE, MPEG...).
	CodecNone Codec = 1
	// CodecZstd is Zstandard (RFC 8878), klauspost/compress.
	CodecZstd Codec = 2
	// CodecS2 is klauspost/compress S2 in its stream format (framed 1 MiB
	// blocks with CRC-32C): ~4× faster than zstd's fastest level, but a
	// lower ratio on 16-bit pixel data (1.36 against 2.05 on a CT slice).
	CodecS2 Codec = 3
	// CodecZstdShuffle and CodecS2Shuffle compress the plaintext after a
	// byte shuffle of each 1 MiB block (see shuffle.go): better and faster
	// on 16-bit pixel data. CodecAuto picks them when a sample says so.
	CodecZstdShuffle Codec = 4
	CodecS2Shuffle   Codec = 5
)

// compressor returns the compression of c without the shuffle.
func (c Codec) compressor() Codec {
	switch c {
	case CodecZstdShuffle:
		return CodecZstd
	case CodecS2Shuffle:
		return CodecS2
	}
	return c
}

// shuffled reports whether c shuffles bytes before compressing.
func (c Codec) shuffled() bool { return c == CodecZstdShuffle || c == CodecS2Shuffle }

// withShuffle returns the shuffling variant of zstd or s2.
func withShuffle(c Codec) Codec {
	if c == CodecS2 {
		return CodecS2Shuffle
	}
	return CodecZstdShuffle
}

// validStored reports whether c may appear in a share header.
func (c Codec) validStored() bool { return c >= CodecNone && c <= CodecS2Shuffle }

func (c Codec) String() string {
	switch c {
	case CodecAuto:
		return "auto"
	case CodecNone:
		return "none"
	case CodecZstd:
		return "zstd"
	case CodecS2:
		return "s2"
	case CodecZstdShuffle:
		return "zstd+shuffle"
	case CodecS2Shuffle:
		return "s2+shuffle"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec maps "auto", "none", "zstd", "s2", "zstd+shuffle",
// "s2+shuffle" (Codec.String values) to a Codec.
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "", "auto":
		return CodecAuto, nil
	case "none":
		return CodecNone, nil
	case "zstd":
		return CodecZstd, nil
	case "s2":
		return CodecS2, nil
	case "zstd+shuffle":
		return CodecZstdShuffle, nil
	case "s2+shuffle":
		return CodecS2Shuffle, nil
	}
	return 0, fmt.Errorf("pipeline: unknown codec %q", s)
}

// maxDecoderWindow bounds the zstd window a decoder accepts; our encoders
// use at most 8 MiB.
const maxDecoderWindow = 64 << 20

// Encoders and decoders are expensive to create (tens of µs and hundreds of
// KB each): pool them, one pool per level. Concurrency 1: parallelism comes
// from concurrent instances, and a synchronous encoder spawns no goroutine.
var (
	encPools [zstd.SpeedBestCompression + 1]sync.Pool
	decPool  sync.Pool
)

func getEncoder(level zstd.EncoderLevel) (*zstd.Encoder, error) {
	if level < zstd.SpeedFastest || level > zstd.SpeedBestCompression {
		return nil, fmt.Errorf("pipeline: zstd level %d", level)
	}
	if e, ok := encPools[level].Get().(*zstd.Encoder); ok {
		return e, nil
	}
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), // AES-GCM and SHA-256 already check every byte
	)
}

func putEncoder(level zstd.EncoderLevel, e *zstd.Encoder) {
	e.Reset(nil)
	encPools[level].Put(e)
}

func getDecoder() (*zstd.Decoder, error) {
	if d, ok := decPool.Get().(*zstd.Decoder); ok {
		return d, nil
	}
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
	)
}

func putDecoder(d *zstd.Decoder) {
	if d.Reset(nil) == nil {
		decPool.Put(d)
	}
}

// s2BlockSize is the S2 stream block size: the decoder refuses larger
// blocks, so its buffers stay at ~2 × 1 MiB whatever a share claims.
const s2BlockSize = 1 << 20

var (
	s2WriterPool sync.Pool
	s2ReaderPool sync.Pool
)

// streamEncoder is what Encode needs of a streaming compressor
// (*zstd.Encoder and *s2.Writer).
type streamEncoder interface {
	io.WriteCloser
	Reset(w io.Writer)
	Flush() error
}

var (
	_ streamEncoder = (*zstd.Encoder)(nil)
	_ streamEncoder = (*s2.Writer)(nil)
)

func getS2Writer() *s2.Writer {
	if w, ok := s2WriterPool.Get().(*s2.Writer); ok {
		return w
	}
	return s2.NewWriter(nil, s2.WriterConcurrency(1), s2.WriterBlockSize(s2BlockSize))
}

func putS2Writer(w *s2.Writer) {
	w.Reset(nil)
	s2WriterPool.Put(w)
}

func getS2Reader() *s2.Reader {
	if r, ok := s2ReaderPool.Get().(*s2.Reader); ok {
		return r
	}
	// The CRC is redundant with AES-GCM (every byte authenticated) and
	// the SHA-256 of the plaintext.
	return s2.NewReader(nil, s2.ReaderMaxBlockSize(s2BlockSize), s2.ReaderIgnoreCRC())
}

func putS2Reader(r *s2.Reader) {
	r.Reset(nil)
	s2ReaderPool.Put(r)
}
