package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/shardpacs/shardpacs/crypto"
)

// Parallel zstd for large instances.
//
// An instance larger than probeSize is compressed block by block, each
// probeSize block (the shuffle block) as an independent zstd frame
// (EncodeAll) on a goroutine of its own, up to maxFramesInFlight blocks at
// a time, while the calling goroutine reads and hashes the next block and
// seals the frames already done, in order. A zstd stream may be a sequence
// of frames (RFC 8878 §3.1), which the streaming decoder reads as one
// stream, and each frame decodes to exactly one shuffle block: the share
// format and Decode are the same as for one frame, and objects written
// either way decode alike. The cost is the match history across block
// boundaries (ratio 4.57 → 4.56 on the 1024×1024 phantom); the gain is the
// wall time of one large instance on an idle multi-core node, e.g. the
// 1024×1024 16-bit image of the papers' comparison (docs/performance.md).
//
// Memory: each block in flight holds its plaintext, a shuffle buffer and
// its frame, ~3 MiB; so a large Encode holds at most
// maxFramesInFlight × 3 MiB, whatever the instance size.

// framesInFlight is how many blocks a large Encode compresses at once:
// GOMAXPROCS, at least 1 and at most 4.
func framesInFlight() int { return min(max(runtime.GOMAXPROCS(0), 1), 4) }

// frame is one half of a probeSize block and, once done is closed, its
// zstd frame (or err).
type frame struct {
	block  *[]byte // the whole block
	owned  bool    // block is the framer's, returned when the second frame is freed
	second bool    // the block's second half
	out    *[]byte
	err    error
	done   chan struct{}
}

// framer runs the frame goroutines of one Encode and keeps the encoders
// and buffers they use for the length of that Encode (a pool round trip
// per frame would churn: sync.Pool drops items under the race detector and
// at every GC). Create with newFramer; close must be called: it waits for
// every goroutine and returns everything to the package pools.
type framer struct {
	level   zstd.EncoderLevel
	shuffle bool
	queue   []*frame // submitted, not yet taken by next, in order
	wg      sync.WaitGroup

	mu     sync.Mutex
	encs   []*zstd.Encoder
	bufs   []*[]byte // plane and frame buffers
	blocks []*[]byte
}

func newFramer(level zstd.EncoderLevel, shuffle bool) *framer {
	return &framer{level: level, shuffle: shuffle}
}

// newBlock returns a buffer of length probeSize for submit.
func (fr *framer) newBlock() *[]byte {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	var b *[]byte
	if n := len(fr.blocks); n > 0 {
		b = fr.blocks[n-1]
		fr.blocks = fr.blocks[:n-1]
	} else {
		b = probePool.Get().(*[]byte)
	}
	*b = (*b)[:probeSize]
	return b
}

// putBlock keeps a block buffer from newBlock that was not submitted.
func (fr *framer) putBlock(b *[]byte) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.blocks = append(fr.blocks, b)
}

// submit starts compressing (*block)[:n] (which must not change until its
// frames are freed) as two frames, each on a goroutine of its own: its
// even-offset then its odd-offset bytes when shuffling (the two halves of
// shuffle2's output, see plane2), else its two halves. owned says block
// came from newBlock and goes back when the second frame is freed.
func (fr *framer) submit(block *[]byte, n int, owned bool) {
	b := (*block)[:n]
	for half := range 2 {
		f := &frame{block: &b, owned: owned && half == 1, second: half == 1, done: make(chan struct{})}
		if f.owned {
			f.block = block
			*block = b
		}
		fr.queue = append(fr.queue, f)
		fr.wg.Add(1)
		go fr.compress(f)
	}
}

// compress runs on its own goroutine: f's half of its block as one zstd
// frame.
func (fr *framer) compress(f *frame) {
	defer fr.wg.Done()
	defer close(f.done)
	enc, err := fr.encoder()
	if err != nil {
		f.err = err
		return
	}
	defer fr.put(enc, nil)
	block := *f.block
	var src []byte
	if fr.shuffle {
		pb := fr.buf((len(block) + 1) / 2)
		defer fr.put(nil, pb)
		src = plane2(*pb, block, f.second)
	} else if mid := len(block) / 2; f.second {
		src = block[mid:]
	} else {
		src = block[:mid]
	}
	ob := fr.buf(0)
	*ob = enc.EncodeAll(src, (*ob)[:0])
	f.out = ob
}

func (fr *framer) encoder() (*zstd.Encoder, error) {
	fr.mu.Lock()
	if n := len(fr.encs); n > 0 {
		e := fr.encs[n-1]
		fr.encs = fr.encs[:n-1]
		fr.mu.Unlock()
		return e, nil
	}
	fr.mu.Unlock()
	return getFrameEncoder(fr.level)
}

// buf returns a buffer of length n (capacity at least probeSize/2).
func (fr *framer) buf(n int) *[]byte {
	fr.mu.Lock()
	if k := len(fr.bufs); k > 0 {
		b := fr.bufs[k-1]
		fr.bufs = fr.bufs[:k-1]
		fr.mu.Unlock()
		*b = (*b)[:n]
		return b
	}
	fr.mu.Unlock()
	b := getBuf(probeSize / 2)
	*b = (*b)[:n]
	return b
}

// put keeps an encoder or a buffer for the next frame.
func (fr *framer) put(e *zstd.Encoder, b *[]byte) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if e != nil {
		fr.encs = append(fr.encs, e)
	}
	if b != nil {
		fr.bufs = append(fr.bufs, b)
	}
}

// frameEncPools hold encoders for frames: EncodeAll only, with a window
// no larger than a frame (half a block), so that each holds ~1 MiB of
// history and tables instead of the 8 MiB window of a streaming encoder.
var frameEncPools [zstd.SpeedBestCompression + 1]sync.Pool

func getFrameEncoder(level zstd.EncoderLevel) (*zstd.Encoder, error) {
	if level < zstd.SpeedFastest || level > zstd.SpeedBestCompression {
		return nil, fmt.Errorf("pipeline: zstd level %d", level)
	}
	if e, ok := frameEncPools[level].Get().(*zstd.Encoder); ok {
		return e, nil
	}
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false),
		zstd.WithWindowSize(probeSize/2),
	)
}

// pending is the number of frames submitted and not yet taken.
func (fr *framer) pending() int { return len(fr.queue) }

// next waits for the oldest frame and removes it from the queue; the
// caller frees it.
func (fr *framer) next() *frame {
	f := fr.queue[0]
	fr.queue = fr.queue[1:]
	<-f.done
	return f
}

// free keeps f's buffers for the next frames; f's goroutine is done.
func (fr *framer) free(f *frame) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if f.out != nil {
		fr.bufs = append(fr.bufs, f.out)
		f.out = nil
	}
	if f.owned {
		fr.blocks = append(fr.blocks, f.block)
		f.owned = false
	}
}

// close waits for every goroutine, frees the frames not taken, and returns
// encoders and buffers to the package pools.
func (fr *framer) close() {
	fr.wg.Wait()
	for _, f := range fr.queue {
		fr.free(f)
	}
	fr.queue = nil
	for _, e := range fr.encs {
		frameEncPools[fr.level].Put(e)
	}
	for _, b := range fr.bufs {
		putBuf(b)
	}
	for _, b := range fr.blocks {
		probePool.Put(b)
	}
	fr.encs, fr.bufs, fr.blocks = nil, nil, nil
}

// encodeFrames is Encode's path for a zstd-compressed instance larger than
// probeSize (probe, already read through hr, is its first block): frames
// compress in parallel while this goroutine reads ahead and seals.
func encodeFrames(ctx context.Context, p *Params, kw KeyWrapper, h *Header, hr *hashReader, probe []byte,
	keyShares []crypto.Share, dek []byte, out *outs) (*Result, error) {
	shuffle := p.Codec.shuffled() || p.Codec == CodecAuto && !p.NoShuffle && shuffleHelps(probe, CodecZstd)
	fr := newFramer(p.level(), shuffle)
	defer fr.close()
	fr.submit(&probe, len(probe), false)
	hr.hash(probe)                   // while the first frame compresses
	inFlight := 2 * framesInFlight() // frames: two per block
	eof := false
	// readAhead reads, submits and hashes blocks until inFlight frames are
	// pending or the plaintext ends.
	readAhead := func() error {
		for !eof && fr.pending() < inFlight {
			bp := fr.newBlock()
			n, end, err := hr.readFull((*bp)[:probeSize])
			if err == nil && n > 0 {
				fr.submit(bp, n, true)
				hr.hash((*bp)[:n])
			} else {
				fr.putBlock(bp)
			}
			if err != nil {
				return wrapRead(err)
			}
			eof = end
		}
		return nil
	}
	if err := readAhead(); err != nil {
		return nil, err
	}

	// The first block's two frames decide CodecAuto.
	f0, f1 := fr.next(), fr.next()
	defer fr.free(f0)
	defer fr.free(f1)
	if err := cmp.Or(f0.err, f1.err); err != nil {
		return nil, fmt.Errorf("pipeline: zstd: %w", err)
	}
	if h.Codec == CodecAuto {
		h.Codec = autoCodec(p, CodecZstd, shuffle, len(probe), len(*f0.out)+len(*f1.out))
	}
	b, err := startBody(kw, h, keyShares, dek, out)
	if err != nil {
		return nil, err
	}
	defer b.release()

	if h.Codec == CodecNone {
		// Not worth compressing: the blocks already read go as they are
		// (their frames are discarded by close), then the rest.
		if _, err := b.Write(probe); err != nil {
			return nil, err
		}
		for _, f := range fr.queue {
			if !f.second {
				continue
			}
			if _, err := b.Write(*f.block); err != nil {
				return nil, err
			}
		}
		if !eof {
			bp := probePool.Get().(*[]byte)
			defer probePool.Put(bp)
			if _, err := io.CopyBuffer(b, hr, (*bp)[:probeSize]); err != nil {
				return nil, wrapRead(err)
			}
		}
		return b.finish(hr, out)
	}

	for _, f := range []*frame{f0, f1} {
		if _, err := b.Write(*f.out); err != nil {
			return nil, err
		}
	}
	for {
		if err := readAhead(); err != nil {
			return nil, err
		}
		if fr.pending() == 0 {
			return b.finish(hr, out)
		}
		f := fr.next()
		if f.err != nil {
			fr.free(f)
			return nil, fmt.Errorf("pipeline: zstd: %w", f.err)
		}
		_, err := b.Write(*f.out)
		fr.free(f)
		if err != nil {
			return nil, err
		}
	}
}
