// Package storetest holds the conformance suite every store.ShareStore back
// end runs (Run), and Faulty, a wrapper that takes a store down or corrupts
// its reads on demand for the archive's fault-injection tests.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/store"
)

// LargeSize is the object size of the streaming test (skipped with -short).
const LargeSize = 64 << 20

// LargeAllocLimit bounds the bytes allocated while putting and reading back
// a LargeSize object: a back end must stream, not buffer.
const LargeAllocLimit = LargeSize / 2

// Run runs the conformance suite against fresh stores from newStore (each
// subtest gets its own, empty store).
func Run(t *testing.T, newStore func(t *testing.T) store.ShareStore) {
	t.Run("PutOpen", func(t *testing.T) { testPutOpen(t, newStore(t)) })
	t.Run("PutExists", func(t *testing.T) { testPutExists(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("InvalidNames", func(t *testing.T) { testInvalidNames(t, newStore(t)) })
	t.Run("FailedPut", func(t *testing.T) { testFailedPut(t, newStore(t)) })
	t.Run("CancelledPut", func(t *testing.T) { testCancelledPut(t, newStore(t)) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrentPuts(t, newStore(t)) })
	t.Run("ConcurrentSameName", func(t *testing.T) { testConcurrentSameName(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("CleanTemp", func(t *testing.T) { testCleanTemp(t, newStore(t)) })
	t.Run("String", func(t *testing.T) {
		if s := newStore(t).String(); s == "" {
			t.Fatal("String() is empty")
		}
	})
	t.Run("Large", func(t *testing.T) {
		if testing.Short() {
			t.Skip("64 MiB streaming test skipped in -short mode")
		}
		testLarge(t, newStore(t))
	})
}

// name returns a valid object name derived from i (tests only).
func name(i int) string { return fmt.Sprintf("%032x", 0xc0ffee0000+i) }

func payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func mustPut(t *testing.T, s store.ShareStore, n string, data []byte) {
	t.Helper()
	size, sum, err := s.Put(context.Background(), n, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%s): %v", n, err)
	}
	if size != int64(len(data)) || sum != sha256.Sum256(data) {
		t.Fatalf("Put(%s) = size %d sum %x, want %d %x", n, size, sum, len(data), sha256.Sum256(data))
	}
}

func readAll(t *testing.T, s store.ShareStore, n string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), n)
	if err != nil {
		t.Fatalf("Open(%s): %v", n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", n, err)
	}
	return b
}

// checkErr asserts err is an *store.Error for op/name whose cause is want.
func checkErr(t *testing.T, err error, op, n string, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s(%q): error %v, want %v", op, n, err, want)
	}
	var se *store.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s(%q): error %T is not *store.Error", op, n, err)
	}
	if se.Op != op || se.Name != n || se.Store == "" {
		t.Fatalf("%s(%q): *store.Error{Op:%q Name:%q Store:%q}", op, n, se.Op, se.Name, se.Store)
	}
}

func listAll(t *testing.T, s store.ShareStore) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.List(context.Background(), func(n string, size int64, mod time.Time) error {
		if _, dup := got[n]; dup {
			t.Errorf("List reported %s twice", n)
		}
		if !store.ValidName(n) {
			t.Errorf("List reported invalid name %q", n)
		}
		if mod.IsZero() || time.Since(mod) > time.Hour || time.Until(mod) > time.Hour {
			t.Errorf("List: %s modTime %v", n, mod)
		}
		got[n] = size
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

func assertAbsent(t *testing.T, s store.ShareStore, n string) {
	t.Helper()
	if _, err := s.Open(context.Background(), n); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open(%s) after failed put: %v, want ErrNotFound", n, err)
	}
	if _, ok := listAll(t, s)[n]; ok {
		t.Fatalf("List shows %s after failed put", n)
	}
}

func testPutOpen(t *testing.T, s store.ShareStore) {
	for i, n := range []int{0, 1, 4095, 4096, 4097, 1 << 20} {
		data := payload(uint64(i), n)
		mustPut(t, s, name(i), data)
		if got := readAll(t, s, name(i)); !bytes.Equal(got, data) {
			t.Fatalf("object %d (%d bytes) read back differs (%d bytes)", i, n, len(got))
		}
	}
}

func testPutExists(t *testing.T, s store.ShareStore) {
	first := payload(1, 1000)
	mustPut(t, s, name(1), first)
	_, _, err := s.Put(context.Background(), name(1), bytes.NewReader(payload(2, 500)))
	checkErr(t, err, "put", name(1), store.ErrExists)
	if got := readAll(t, s, name(1)); !bytes.Equal(got, first) {
		t.Fatal("existing object was modified by a refused Put")
	}
}

func testNotFound(t *testing.T, s store.ShareStore) {
	_, err := s.Open(context.Background(), name(7))
	checkErr(t, err, "open", name(7), store.ErrNotFound)
}

func testDelete(t *testing.T, s store.ShareStore) {
	mustPut(t, s, name(1), payload(1, 10))
	mustPut(t, s, name(2), payload(2, 10))
	ctx := context.Background()
	for range 2 { // idempotent
		if err := s.Delete(ctx, name(1)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := s.Delete(ctx, name(3)); err != nil {
		t.Fatalf("Delete of a never-stored name: %v", err)
	}
	_, err := s.Open(ctx, name(1))
	checkErr(t, err, "open", name(1), store.ErrNotFound)
	if got := listAll(t, s); len(got) != 1 || got[name(2)] != 10 {
		t.Fatalf("List after delete = %v", got)
	}
	// A deleted name may be put again.
	mustPut(t, s, name(1), payload(3, 20))
}

func testInvalidNames(t *testing.T, s store.ShareStore) {
	ctx := context.Background()
	ok := name(1)
	bad := []string{"", "..", "../" + ok[3:], ok[:31], ok + "0", strings.ToUpper(strings.Repeat("a", 32)),
		ok[:31] + "/", "/" + ok[1:], ok[:30] + "\\x", ".tmp-" + ok[5:], ok[:31] + "\x00"}
	for _, n := range bad {
		_, _, err := s.Put(ctx, n, strings.NewReader("x"))
		checkErr(t, err, "put", n, store.ErrInvalidName)
		_, err = s.Open(ctx, n)
		checkErr(t, err, "open", n, store.ErrInvalidName)
		err = s.Delete(ctx, n)
		checkErr(t, err, "delete", n, store.ErrInvalidName)
	}
	if got := listAll(t, s); len(got) != 0 {
		t.Fatalf("invalid names created objects: %v", got)
	}
}

// failingReader yields n good bytes then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testFailedPut(t *testing.T, s store.ShareStore) {
	boom := errors.New("storetest: reader failed")
	for i, n := range []int{0, 100, 300 << 10} {
		r := &failingReader{r: bytes.NewReader(payload(uint64(i), n)), err: boom}
		_, _, err := s.Put(context.Background(), name(i), r)
		checkErr(t, err, "put", name(i), boom)
		assertAbsent(t, s, name(i))
		mustPut(t, s, name(i), payload(9, 10)) // the name is free again
	}
}

// cancelReader cancels ctx once it has yielded after bytes.
type cancelReader struct {
	r      io.Reader
	after  int
	n      int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.n >= c.after {
		c.cancel()
	}
	if len(p) > 4096 {
		p = p[:4096]
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func testCancelledPut(t *testing.T, s store.ShareStore) {
	// Cancelled before the call.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := s.Put(ctx, name(1), bytes.NewReader(payload(1, 100)))
	checkErr(t, err, "put", name(1), context.Canceled)
	assertAbsent(t, s, name(1))

	// Cancelled in the middle of the stream; the reader would go on.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r := &cancelReader{r: bytes.NewReader(payload(2, 1<<20)), after: 64 << 10, cancel: cancel}
	_, _, err = s.Put(ctx, name(2), r)
	checkErr(t, err, "put", name(2), context.Canceled)
	assertAbsent(t, s, name(2))
}

func testConcurrentPuts(t *testing.T, s store.ShareStore) {
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			data := payload(uint64(i), 10000+i)
			_, _, errs[i] = s.Put(context.Background(), name(i), bytes.NewReader(data))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	got := listAll(t, s)
	if len(got) != n {
		t.Fatalf("List: %d objects, want %d", len(got), n)
	}
	for i := range n {
		if got[name(i)] != int64(10000+i) {
			t.Errorf("object %d size %d", i, got[name(i)])
		}
		if b := readAll(t, s, name(i)); !bytes.Equal(b, payload(uint64(i), 10000+i)) {
			t.Errorf("object %d content differs", i)
		}
	}
}

func testConcurrentSameName(t *testing.T, s store.ShareStore) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = s.Put(context.Background(), name(0), bytes.NewReader(payload(uint64(i), 50000)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two Puts of one name both succeeded (%d and %d)", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrExists):
			t.Fatalf("Put %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Put succeeded")
	}
	if !bytes.Equal(readAll(t, s, name(0)), payload(uint64(winner), 50000)) {
		t.Fatal("stored object is not the winner's")
	}
}

func testList(t *testing.T, s store.ShareStore) {
	want := map[string]int64{}
	for i := range 40 { // spans several fan-out folders
		n := fmt.Sprintf("%02x%030x", i*6, i)
		mustPut(t, s, n, payload(uint64(i), i))
		want[n] = int64(i)
	}
	got := listAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("List: %d objects, want %d", len(got), len(want))
	}
	for n, size := range want {
		if got[n] != size {
			t.Errorf("List %s: size %d, want %d", n, got[n], size)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := s.List(context.Background(), func(string, int64, time.Time) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List with failing fn: err %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.List(ctx, func(string, int64, time.Time) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("List with cancelled ctx: %v", err)
	}
}

func testCleanTemp(t *testing.T, s store.ShareStore) {
	mustPut(t, s, name(1), payload(1, 100))
	_, _, _ = s.Put(context.Background(), name(2), &failingReader{r: bytes.NewReader(payload(2, 100)), err: errors.New("x")})
	n, err := s.CleanTemp(context.Background(), 0)
	if err != nil || n != 0 {
		t.Fatalf("CleanTemp on a store without crashed writes = %d, %v (a failed Put must clean up itself)", n, err)
	}
	if got := listAll(t, s); len(got) != 1 || got[name(1)] != 100 {
		t.Fatalf("CleanTemp touched objects: %v", got)
	}
}

// streamReader yields size pseudo-random bytes without holding them.
type streamReader struct {
	src  *rand.ChaCha8
	left int64
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	r.src.Read(p)
	r.left -= int64(len(p))
	return len(p), nil
}

func testLarge(t *testing.T, s store.ShareStore) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	size, sum, err := s.Put(context.Background(), name(1), &streamReader{src: rand.NewChaCha8([32]byte{7}), left: LargeSize})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	h := sha256.New()
	rc, err := s.Open(context.Background(), name(1))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	n, err := io.CopyBuffer(h, rc, make([]byte, 64<<10))
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != LargeSize || size != LargeSize {
		t.Fatalf("large object: put size %d, read %d, err %v", size, n, err)
	}
	want := sha256.New()
	io.Copy(want, &streamReader{src: rand.NewChaCha8([32]byte{7}), left: LargeSize})
	if [32]byte(h.Sum(nil)) != sum || [32]byte(want.Sum(nil)) != sum {
		t.Fatal("large object: SHA-256 mismatch")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > LargeAllocLimit {
		t.Fatalf("putting and reading %d MiB allocated %d MiB: the back end does not stream", LargeSize>>20, alloc>>20)
	}
}
