package pipeline

import (
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
// An instance larger than probeSize is compressed block by block (the
// shuffle block, probeSize bytes), each block as framesPerBlock
// independent zstd frames (EncodeAll): with the shuffle, the first and
// second half of its even-offset bytes, then of its odd-offset bytes (in
// order, shuffle2's output; see plane2); without, its four quarters. The
// frames are compressed by a few worker goroutines taking them in order
// (the slow, noisy low-byte frames of a block first), while the calling
// goroutine reads and hashes the next blocks and seals the frames already
// done, in order. A zstd stream may be a sequence of frames (RFC 8878
// §3.1), which the streaming decoder reads as one stream: the share format
// and Decode are the same as for one frame, and objects written either way
// decode alike. The cost is the match history across frame boundaries
// (ratio 4.57 → 4.56 on the 1024×1024 phantom); the gain is the wall time
// of one large instance on an idle multi-core node, e.g. the 1024×1024
// 16-bit image of the papers' comparison (docs/performance.md).
//
// Memory, whatever the instance size: blocksInFlight (= frameWorkers)
// blocks read ahead, each its plaintext (1 MiB) and its four frames'
// outputs (frameBufSize each); a plane buffer (frameBufSize) per worker
// compressing; the workers' encoders (~1 MiB each: a 256 KiB window).
// With 2 cores: ~8 MiB per large Encode.

// framesPerBlock is the number of zstd frames of one probeSize block.
const framesPerBlock = 4

// frameBufSize is the size of the plane and output buffers of a frame: a
// power of two (the buffer pools' classes) with room for a quarter block
// and the few bytes zstd adds to incompressible input.
const frameBufSize = 2 * probeSize / framesPerBlock

// frameWorkers is the number of goroutines compressing frames in one
// Encode: GOMAXPROCS, at least 1 and at most 4. blocksInFlight, the
// number of blocks read ahead, is the same.
func frameWorkers() int { return min(max(runtime.GOMAXPROCS(0), 1), 4) }

// frame is one part of a probeSize block and, once done is closed, its
// zstd frame (or err).
type frame struct {
	block *[]byte // the whole block
	part  int     // 0..framesPerBlock-1
	owned bool    // block is the framer's, returned when this (last) frame is freed
	out   *[]byte
	err   error
	done  chan struct{}
}

// last reports whether f is its block's last frame (which holds the
// block's plaintext in the queue).
func (f *frame) last() bool { return f.part == framesPerBlock-1 }

// src returns the bytes f compresses: its part of the block, gathered into
// buf (len ≥ len(block)/2 + 1) when shuffling.
func (f *frame) src(shuffle bool, buf []byte) []byte {
	block := *f.block
	n := len(block)
	if !shuffle {
		q := (n + framesPerBlock - 1) / framesPerBlock
		return block[min(n, f.part*q):min(n, (f.part+1)*q)]
	}
	odd := f.part >= framesPerBlock/2
	plane := (n + 1) / 2 // even-offset bytes
	if odd {
		plane = n / 2
	}
	half := (plane + 1) / 2
	from, to := 0, half // plane indexes of this frame
	if f.part%2 == 1 {
		from, to = half, plane
	}
	// Plane index i is block byte 2i (+1 when odd): the frame is the plane
	// of block[2·from : 2·to], clipped to the block.
	return plane2(buf, block[min(n, 2*from):min(n, 2*to)], odd)
}

// framer runs the frame workers of one Encode and keeps the encoders and
// buffers they use for the length of that Encode (a pool round trip per
// frame would churn: sync.Pool drops items under the race detector and at
// every GC). Create with newFramer; close must be called: it waits for
// every goroutine and returns everything to the package pools.
type framer struct {
	level   zstd.EncoderLevel
	shuffle bool
	queue   []*frame // submitted, not yet taken by next, in order
	jobs    chan *frame
	workers int // started
	wg      sync.WaitGroup

	mu     sync.Mutex
	encs   []*zstd.Encoder
	bufs   []*[]byte // plane and frame buffers
	blocks []*[]byte
}

func newFramer(level zstd.EncoderLevel, shuffle bool) *framer {
	return &framer{level: level, shuffle: shuffle, jobs: make(chan *frame, 64)}
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

// submit queues (*block)[:n] (which must not change until its frames are
// freed) as framesPerBlock frames for the workers, starting a worker while
// fewer than frameWorkers run. owned says block came from newBlock and
// goes back when its last frame is freed.
func (fr *framer) submit(block *[]byte, n int, owned bool) {
	*block = (*block)[:n]
	for part := range framesPerBlock {
		f := &frame{block: block, part: part, done: make(chan struct{})}
		f.owned = owned && f.last()
		fr.queue = append(fr.queue, f)
		fr.jobs <- f // never blocks: at most blocksInFlight × framesPerBlock are queued
	}
	for fr.workers < frameWorkers() && fr.workers < len(fr.queue) {
		fr.workers++
		fr.wg.Go(fr.work)
	}
}

// work compresses queued frames, in order, until close.
func (fr *framer) work() {
	for f := range fr.jobs {
		fr.compress(f)
	}
}

// compress makes f's zstd frame.
func (fr *framer) compress(f *frame) {
	defer close(f.done)
	enc, err := fr.encoder()
	if err != nil {
		f.err = err
		return
	}
	defer fr.put(enc, nil)
	var pb *[]byte
	if fr.shuffle {
		pb = fr.buf(frameBufSize)
		defer fr.put(nil, pb)
		*pb = (*pb)[:cap(*pb)]
	}
	var buf []byte
	if pb != nil {
		buf = *pb
	}
	ob := fr.buf(0)
	*ob = enc.EncodeAll(f.src(fr.shuffle, buf), (*ob)[:0])
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

// buf returns a buffer of length n ≤ frameBufSize (capacity frameBufSize).
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
	b := getBuf(frameBufSize)
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
// no larger than a frame (a quarter block), so that each holds ~1 MiB of
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
		zstd.WithWindowSize(probeSize/framesPerBlock),
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

// free keeps f's buffers for the next frames; f is done.
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

// close stops the workers once the queued frames are done, frees the
// frames not taken, and returns encoders and buffers to the package pools.
func (fr *framer) close() {
	close(fr.jobs)
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
	hr.hash(probe)                              // while the first frame compresses
	inFlight := framesPerBlock * frameWorkers() // frames of the blocks read ahead
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

	// The first block's frames decide CodecAuto.
	first := make([]*frame, framesPerBlock)
	firstSize := 0
	for i := range first {
		f := fr.next()
		defer fr.free(f)
		if f.err != nil {
			return nil, fmt.Errorf("pipeline: zstd: %w", f.err)
		}
		first[i] = f
		firstSize += len(*f.out)
	}
	if h.Codec == CodecAuto {
		h.Codec = autoCodec(p, CodecZstd, shuffle, len(probe), firstSize)
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
			if !f.last() {
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

	for _, f := range first {
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
