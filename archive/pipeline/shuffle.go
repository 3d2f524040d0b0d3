package pipeline

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/klauspost/compress/s2"
)

// Byte shuffle (the HDF5 / Blosc "shuffle" filter for 2-byte samples).
//
// Most DICOM pixel data is 16-bit: the high bytes of neighbouring samples
// are nearly constant and the low bytes noisy, and interleaved they defeat
// a fast LZ matcher. Splitting every block into its even bytes then its
// odd bytes gives the compressor one very redundant half and one noisy
// half: on a CT slice zstd's fastest level goes from ratio 2.05 to 2.60
// and gets ~1.7× faster, and S2 from 1.36 to 2.24.
//
// The plaintext is cut into blocks of shuffleBlock bytes from its start
// (the last one shorter); each block is shuffled on its own, so encoder
// and decoder stream with two block buffers. A codec with shuffle
// (CodecZstdShuffle, CodecS2Shuffle) compresses the shuffled blocks.
const shuffleBlock = probeSize

// shuffle2 writes src's even-offset bytes then its odd-offset bytes to
// dst[:len(src)] and returns that slice. dst must not overlap src.
func shuffle2(dst, src []byte) []byte {
	n := len(src)
	dst = dst[:n]
	half := (n + 1) / 2
	even, odd := dst[:half], dst[half:]
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint32(even[i/2:], pack(x))
		binary.LittleEndian.PutUint32(odd[i/2:], pack(x>>8))
	}
	for ; i < n; i++ {
		if i%2 == 0 {
			even[i/2] = src[i]
		} else {
			odd[i/2] = src[i]
		}
	}
	return dst
}

// plane2 writes src's even-offset bytes (odd false) or odd-offset bytes
// (odd true) to dst and returns that slice: one half of shuffle2's output,
// so that the two halves of a block can be computed (and compressed)
// apart: shuffle2(src) = plane2(src, false) ‖ plane2(src, true). dst must
// hold (len(src)+1)/2 bytes and not overlap src.
func plane2(dst, src []byte, odd bool) []byte {
	n := len(src)
	shift, first := uint(0), 0
	if odd {
		shift, first = 8, 1
	}
	dst = dst[:(n-first+1)/2]
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint32(dst[i/2:], pack(binary.LittleEndian.Uint64(src[i:])>>shift))
	}
	for i += first; i < n; i += 2 {
		dst[i/2] = src[i]
	}
	return dst
}

// unshuffle2 is shuffle2's inverse.
func unshuffle2(dst, src []byte) []byte {
	n := len(src)
	dst = dst[:n]
	half := (n + 1) / 2
	even, odd := src[:half], src[half:]
	i := 0
	for ; i+8 <= n; i += 8 {
		e := spread(binary.LittleEndian.Uint32(even[i/2:]))
		o := spread(binary.LittleEndian.Uint32(odd[i/2:]))
		binary.LittleEndian.PutUint64(dst[i:], e|o<<8)
	}
	for ; i < n; i++ {
		if i%2 == 0 {
			dst[i] = even[i/2]
		} else {
			dst[i] = odd[i/2]
		}
	}
	return dst
}

// pack gathers bytes 0, 2, 4, 6 of x (little-endian order).
func pack(x uint64) uint32 {
	x &= 0x00ff00ff00ff00ff
	x = (x | x>>8) & 0x0000ffff0000ffff
	x = (x | x>>16) & 0x00000000ffffffff
	return uint32(x)
}

// spread is pack's inverse: the 4 bytes of v to bytes 0, 2, 4, 6.
func spread(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	return x
}

// shuffleSample is how much of the probe shuffleHelps looks at.
const shuffleSample = 32 << 10

// shuffleHelps guesses, from a sample of probe, whether the byte shuffle
// makes it compress better with codec (~0.05 ms):
//
//   - zstd (Huffman-coded literals): when the order-0 entropy of the even
//     and odd bytes, taken apart, is at least 8% below that of all bytes
//     together — true for 16-bit images (CT 4.84 against 5.78 bits), false
//     for 8-bit images, text and compressed data (equal to ±1%);
//   - S2 (no entropy coding): when shuffling the middle of probe makes S2
//     itself compress it at least 5% smaller.
func shuffleHelps(probe []byte, codec Codec) bool {
	if len(probe) < 1024 {
		return false
	}
	if codec == CodecS2 {
		n := min(len(probe), shuffleSample)
		start := (len(probe) - n) / 2 &^ 1 // keep the sample on even offsets
		sample := probe[start : start+n]
		bp := getBuf(n + s2.MaxEncodedLen(n))
		defer putBuf(bp)
		sh := shuffle2((*bp)[:n], sample)
		dst := (*bp)[n:]
		plain := len(s2.Encode(dst, sample))
		shuffled := len(s2.Encode(dst, sh))
		return float64(shuffled) < 0.95*float64(plain)
	}
	// Four slices spread over the probe (pixel data fills most of it, but
	// a multi-frame's first frame may be blank in the middle).
	var hist [2][256]int
	chunk := min(len(probe), shuffleSample) / 4 &^ 1
	for q := range 4 {
		start := len(probe) * (2*q + 1) / 8 &^ 1
		start = min(start, len(probe)-chunk) &^ 1
		for i, c := range probe[start : start+chunk] {
			hist[i&1][c]++
		}
	}
	var all [256]int
	for c := range all {
		all[c] = hist[0][c] + hist[1][c]
	}
	hAll := entropy(all[:])
	hPlanes := (entropy(hist[0][:]) + entropy(hist[1][:])) / 2
	return hAll > 0 && hPlanes < 0.92*hAll
}

// entropy is the order-0 entropy of a histogram, in bits per symbol.
func entropy(hist []int) float64 {
	n := 0
	for _, c := range hist {
		n += c
	}
	if n == 0 {
		return 0
	}
	h := 0.0
	for _, c := range hist {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h
}

// unshuffleReader undoes the block shuffle of a decompressed stream.
type unshuffleReader struct {
	r       io.Reader
	in, out *[]byte
	cur     []byte // unshuffled bytes not yet served
	err     error  // sticky: io.EOF after the last (short) block
}

func newUnshuffleReader(r io.Reader) *unshuffleReader {
	return &unshuffleReader{r: r, in: getBuf(shuffleBlock), out: getBuf(shuffleBlock)}
}

func (u *unshuffleReader) Read(p []byte) (int, error) {
	for len(u.cur) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		n, err := io.ReadFull(u.r, (*u.in)[:shuffleBlock])
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			u.err = io.EOF // a short block is the last one
		default:
			u.err = err
		}
		u.cur = unshuffle2(*u.out, (*u.in)[:n])
	}
	n := copy(p, u.cur)
	u.cur = u.cur[n:]
	return n, nil
}

// release returns the buffers to the pool; u is unusable afterwards.
func (u *unshuffleReader) release() {
	putBuf(u.in)
	putBuf(u.out)
	u.in, u.out, u.cur = nil, nil, nil
}
