package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"go.uber.org/goleak"
)

// A large instance whose first block does not compress: CodecAuto decides
// CodecNone after the first block's frames are done, with blocks already
// read ahead (their frames discarded) and more to copy after them.
func TestFramesAutoNone(t *testing.T) {
	kr, _ := newKeyring(t)
	data := append(random(probeSize, 5), compressible(3<<20+777, 5)...)
	roundTrip(t, kr, Params{Keyring: kr}, data)
	if _, res := encodeBytes(t, Params{Keyring: kr}, data); res.Codec != CodecNone {
		t.Fatalf("codec %v, want none", res.Codec)
	}
}

// Large instances round-trip through the frames path, for block counts
// from 2 to 9 and an odd last block, with and without the shuffle.
func TestFramesRoundTrip(t *testing.T) {
	kr, _ := newKeyring(t)
	for _, codec := range []Codec{CodecZstd, CodecZstdShuffle, CodecAuto} {
		for _, n := range []int{probeSize + 1, 2 * probeSize, 5*probeSize + 3, 9*probeSize - 1} {
			roundTrip(t, kr, Params{Keyring: kr, Codec: codec}, pixels16(n, uint64(n)))
		}
	}
}

// A block becomes framesPerBlock independent zstd frames whose contents,
// in order, are the block's shuffle (or the block itself without the
// shuffle): what the streaming decoder and the unshuffle reader expect.
func TestFramerFrames(t *testing.T) {
	dec, err := getDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer putDecoder(dec)
	for _, shuffle := range []bool{false, true} {
		for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 1001, 1002, probeSize - 1, probeSize} {
			block := pixels16(n, 3)
			fr := newFramer(1, shuffle)
			bp := fr.newBlock()
			copy(*bp, block)
			fr.submit(bp, n, true)
			var got []byte
			for i := range framesPerBlock {
				f := fr.next()
				if f.err != nil {
					t.Fatal(f.err)
				}
				frame, err := dec.DecodeAll(*f.out, nil)
				if err != nil {
					t.Fatalf("shuffle %v, %d bytes: frame %d alone: %v", shuffle, n, i, err)
				}
				got = append(got, frame...)
				fr.free(f)
				if kept := len(fr.blocks) == 1; kept != (i == framesPerBlock-1) {
					t.Fatalf("block back in the framer after frame %d: %v", i, kept)
				}
			}
			fr.close()
			want := block
			if shuffle {
				want = shuffle2(make([]byte, n), block)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("shuffle %v, %d bytes: the two frames decode to other bytes", shuffle, n)
			}
		}
	}
}

// Cancelling while frames compress returns the context's error and
// leaves no goroutine behind.
func TestFramesCancelled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	kr, _ := newKeyring(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := pixels16(8*probeSize, 9)
	r := &cancelAfter{r: bytes.NewReader(data), n: 3*probeSize + 100, cancel: cancel}
	_, err := Encode(ctx, Params{Keyring: kr}, r, discards())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Encode: %v, want context.Canceled", err)
	}
	// And the same instance encodes whole afterwards (pools intact).
	shares, res := encodeBytes(t, Params{Keyring: kr}, data)
	sum := sha256.Sum256(data)
	if got, _, err := decodeSubset(kr, shares, &sum, 0, 1); err != nil || !bytes.Equal(got, data) || res.PlainSHA256 != sum {
		t.Fatalf("after a cancelled Encode: %v", err)
	}
}

// cancelAfter cancels once n bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}
