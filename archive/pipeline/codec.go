package pipeline

import (
	"fmt"
	"sync"

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
)

func (c Codec) String() string {
	switch c {
	case CodecAuto:
		return "auto"
	case CodecNone:
		return "none"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec maps "auto", "none", "zstd" (configuration values) to a Codec.
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "", "auto":
		return CodecAuto, nil
	case "none":
		return CodecNone, nil
	case "zstd":
		return CodecZstd, nil
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
