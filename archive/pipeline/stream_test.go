package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/shardpacs/shardpacs/archive/store"
	"github.com/shardpacs/shardpacs/archive/store/fsstore"
)

// streamSource yields n bytes (half compressible, half random) without holding them.
type streamSource struct {
	rnd *rand.ChaCha8
	n   int64
	off int64
}

func (s *streamSource) Read(p []byte) (int, error) {
	if s.off >= s.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n-s.off)]
	if (s.off>>20)%2 == 1 {
		s.rnd.Read(p)
	} else {
		clear(p)
	}
	s.off += int64(len(p))
	return len(p), nil
}

// A large instance is encoded and decoded with bounded memory.
func TestLargeBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB streaming test skipped in -short mode")
	}
	size := int64(64 << 20)
	if raceEnabled {
		size = 16 << 20 // the race detector is ~10x slower
	}
	kr, _ := newKeyring(t)
	dir := t.TempDir()
	var files [N]*os.File
	var ws [N]io.Writer
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i], ws[i] = f, f
	}
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	res, err := Encode(context.Background(), Params{Keyring: kr}, &streamSource{rnd: rand.NewChaCha8([32]byte{1}), n: size}, ws)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	m := map[int]io.Reader{}
	for _, i := range []int{1, 3} { // one data and one parity share: Reed–Solomon on every stripe
		files[i].Seek(0, io.SeekStart)
		m[i] = files[i]
	}
	h := sha256.New()
	if _, err := Decode(context.Background(), kr, m, h, &res.PlainSHA256); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m2)
	want := sha256.New()
	io.Copy(want, &streamSource{rnd: rand.NewChaCha8([32]byte{1}), n: size})
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) || res.Codec != CodecZstd {
		t.Fatalf("round trip of %d MiB failed (codec %v)", size>>20, res.Codec)
	}
	// Pools may be empty on the first run: allow a few MiB of buffers per stage.
	const limit = 24 << 20
	enc, dec := m1.TotalAlloc-m0.TotalAlloc, m2.TotalAlloc-m1.TotalAlloc
	t.Logf("%d MiB instance: Encode allocated %.1f MiB, Decode %.1f MiB", size>>20, float64(enc)/(1<<20), float64(dec)/(1<<20))
	if enc > limit || dec > limit {
		t.Fatalf("64 MiB instance: Encode allocated %d MiB, Decode %d MiB", enc>>20, dec>>20)
	}
}

// The archive's wiring: Encode → io.Pipe → ShareStore.Put, one goroutine per store.
func TestEncodeThroughPipesToStores(t *testing.T) {
	kr, _ := newKeyring(t)
	ctx := context.Background()
	data := compressible(3<<20, 12)
	var stores [N]store.ShareStore
	var names [N]string
	var ws [N]io.Writer
	var wg sync.WaitGroup
	var putErr [N]error
	for i := range N {
		s, err := fsstore.Open(filepath.Join(t.TempDir(), fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		stores[i], names[i] = s, fmt.Sprintf("%032x", i+1)
		pr, pw := io.Pipe()
		ws[i] = pw
		wg.Go(func() {
			_, _, putErr[i] = s.Put(ctx, names[i], pr)
			pr.CloseWithError(putErr[i]) // unblock the encoder if Put gave up
		})
		defer pw.Close()
	}
	res, err := Encode(ctx, Params{Keyring: kr}, bytes.NewReader(data), ws)
	for _, w := range ws {
		w.(*io.PipeWriter).CloseWithError(err)
	}
	wg.Wait()
	if err != nil || putErr != [N]error{} {
		t.Fatalf("Encode %v, Puts %v", err, putErr)
	}
	m := map[int]io.Reader{}
	for _, i := range []int{0, 2} {
		rc, err := stores[i].Open(ctx, names[i])
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		m[i] = rc
	}
	var out bytes.Buffer
	if _, err := Decode(ctx, kr, m, &out, &res.PlainSHA256); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("Decode from stores: %v", err)
	}
}

func TestConcurrentEncodeDecode(t *testing.T) {
	kr, _ := newKeyring(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 4 {
				data := compressible(100000+g*1000+i, uint64(g))
				shares, _ := encodeBytes(t, Params{K: 2 + g%3, Keyring: kr}, data)
				sub := Subsets(2+g%3, []int{0, 1, 2, 3})
				got, _, err := decodeSubset(kr, shares, nil, sub[len(sub)-1]...)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("goroutine %d: %v", g, err)
				}
			}
		})
	}
	wg.Wait()
}
