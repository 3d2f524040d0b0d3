package pipeline

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

func TestShuffle2(t *testing.T) {
	got := shuffle2(make([]byte, 5), []byte{0, 1, 2, 3, 4})
	if want := []byte{0, 2, 4, 1, 3}; !bytes.Equal(got, want) {
		t.Fatalf("shuffle2 = %v, want %v", got, want)
	}
	src := random(1000, 9)
	for n := range len(src) {
		sh := shuffle2(make([]byte, n), src[:n])
		for i := range n { // the definition, byte by byte
			j := i / 2
			if i%2 == 1 {
				j += (n + 1) / 2
			}
			if sh[j] != src[i] {
				t.Fatalf("n=%d: byte %d not at %d", n, i, j)
			}
		}
		if back := unshuffle2(make([]byte, n), sh); !bytes.Equal(back, src[:n]) {
			t.Fatalf("n=%d: unshuffle2(shuffle2(x)) != x", n)
		}
	}
}

func TestUnshuffleReader(t *testing.T) {
	for _, n := range []int{0, 1, shuffleBlock - 1, shuffleBlock, shuffleBlock + 3, 2 * shuffleBlock} {
		src := random(n, 4)
		var shuffled []byte
		for off := 0; off < n; off += shuffleBlock {
			blk := src[off:min(n, off+shuffleBlock)]
			shuffled = append(shuffled, shuffle2(make([]byte, len(blk)), blk)...)
		}
		u := newUnshuffleReader(iotest.HalfReader(bytes.NewReader(shuffled)))
		got, err := io.ReadAll(u)
		u.release()
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: %v, equal %v", n, err, bytes.Equal(got, src))
		}
	}
	boom := errors.New("boom")
	u := newUnshuffleReader(iotest.ErrReader(boom))
	defer u.release()
	if _, err := io.ReadAll(u); !errors.Is(err, boom) {
		t.Fatalf("error not passed on: %v", err)
	}
}

func FuzzShuffle2(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0, 4}, 33))
	f.Fuzz(func(t *testing.T, b []byte) {
		sh := shuffle2(make([]byte, len(b)), b)
		if back := unshuffle2(make([]byte, len(b)), sh); !bytes.Equal(back, b) {
			t.Fatalf("round trip of %x gave %x", b, back)
		}
	})
}

// The sample test on real files: the 16-bit CT and multi-frame shuffle with
// zstd, the JPEG-compressed corpus files (entropy ~8 bits) do not.
func TestShuffleHelpsCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	for _, tc := range []struct {
		rel  string
		want bool
	}{
		{"grailbio-examples/CT-MONO2-16-ort.dcm", true},
		{"suyashkumar-testdata/5.dcm", true},
		{"grailbio-examples/IM-0001-0001.dcm", false},
	} {
		data, err := os.ReadFile(filepath.Join(dir, tc.rel))
		if err != nil {
			testutil.SkipOrFail(t, "corpus file %s: %v", tc.rel, err)
		}
		if got := shuffleHelps(data[:min(len(data), probeSize)], CodecZstd); got != tc.want {
			t.Errorf("%s: shuffleHelps = %v, want %v", tc.rel, got, tc.want)
		}
	}
	if shuffleHelps(text(1<<20), CodecZstd) || shuffleHelps(random(1<<20, 1), CodecZstd) || !shuffleHelps(pixels16(1<<20, 1), CodecZstd) {
		t.Error("shuffleHelps wrong on synthetic text, random or 16-bit data")
	}
}

// plane2's two halves are shuffle2's output, for every length and
// alignment of the tail.
func TestPlane2(t *testing.T) {
	src := make([]byte, 100)
	for i := range src {
		src[i] = byte(i*7 + 3)
	}
	for n := range len(src) + 1 {
		want := shuffle2(make([]byte, n), src[:n])
		even := plane2(make([]byte, (n+1)/2), src[:n], false)
		odd := plane2(make([]byte, (n+1)/2), src[:n], true)
		if got := append(append([]byte{}, even...), odd...); !bytes.Equal(got, want) {
			t.Fatalf("n=%d: plane2 even ‖ odd = %v, want %v", n, got, want)
		}
	}
}
