package storetest

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/archive/store"
)

// ErrDown is the cause a Faulty store returns while it is down.
var ErrDown = errors.New("storetest: store is down")

// Faulty wraps a ShareStore and fails or corrupts operations on demand: the
// "store stub" the archive's tests use to take one, two or three stores down,
// to fail a write in the middle, or to flip a byte of what a store returns.
// Its zero value is not usable; build it with NewFaulty. Safe for concurrent use.
type Faulty struct {
	inner store.ShareStore

	mu           sync.Mutex
	down         error            // every op fails with it
	failOp       map[string]error // op → error ("put", "open", "delete", "list", "clean")
	putFailAfter int64            // >= 0: Puts fail after this many bytes
	putFailErr   error
	corrupt      map[string]int64 // name → offset of the byte Open flips (-1: none)
	before       func(op, name string) error
	stall        time.Duration // Open waits this long first; < 0: until cancelled
	cancelled    int           // Opens a stall ended by their context
}

// NewFaulty wraps s with no fault armed.
func NewFaulty(s store.ShareStore) *Faulty {
	return &Faulty{inner: s, putFailAfter: -1, failOp: map[string]error{}, corrupt: map[string]int64{}}
}

// Inner returns the wrapped store.
func (f *Faulty) Inner() store.ShareStore { return f.inner }

// SetDown makes every operation fail with ErrDown (down = true) or work
// again (down = false).
func (f *Faulty) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = nil
	if down {
		f.down = ErrDown
	}
}

// FailOp makes every call of op ("put", "open", "delete", "list", "clean")
// fail with err before reaching the inner store; a nil err disarms it.
// A failed Put does not read its reader: callers feeding Put through an
// io.Pipe must close the pipe when Put returns, as with any real store.
func (f *Faulty) FailOp(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.failOp, op)
	} else {
		f.failOp[op] = err
	}
}

// FailPutAfter makes every Put fail with err after n bytes reached the inner
// store (a write dying mid-stream, like a full disk); n < 0 disarms it.
func (f *Faulty) FailPutAfter(n int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putFailAfter, f.putFailErr = n, err
}

// CorruptOnOpen makes Open(name) return the object with the byte at offset
// inverted (bit rot or tampering the store does not report); offset < 0
// disarms it.
func (f *Faulty) CorruptOnOpen(name string, offset int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if offset < 0 {
		delete(f.corrupt, name)
	} else {
		f.corrupt[name] = offset
	}
}

// Before installs a hook called before every operation (after the armed
// faults); a non-nil result fails the operation with that cause. Tests use
// it to count operations or to crash after the n-th Put.
func (f *Faulty) Before(fn func(op, name string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = fn
}

func (f *Faulty) check(op, name string) error {
	f.mu.Lock()
	down, fail, before := f.down, f.failOp[op], f.before
	f.mu.Unlock()
	if down != nil {
		return store.NewError(op, f, name, down)
	}
	if fail != nil {
		return store.NewError(op, f, name, fail)
	}
	if before != nil {
		if err := before(op, name); err != nil {
			return store.NewError(op, f, name, err)
		}
	}
	return nil
}

// Put implements store.ShareStore.
func (f *Faulty) Put(ctx context.Context, name string, r io.Reader) (int64, [32]byte, error) {
	if err := f.check("put", name); err != nil {
		return 0, [32]byte{}, err
	}
	f.mu.Lock()
	after, ferr := f.putFailAfter, f.putFailErr
	f.mu.Unlock()
	if after >= 0 {
		r = io.MultiReader(io.LimitReader(r, after), errReader{ferr})
	}
	return f.inner.Put(ctx, name, r)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// StallOpen makes Open wait d before it does anything (a slow store), or,
// with d < 0, until its context is cancelled (a hung store that honours
// cancellation); 0 ends the stall. A stalled Open whose context is
// cancelled returns the context's error.
func (f *Faulty) StallOpen(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stall = d
}

// CancelledOpens is the number of Opens whose stall their context ended.
func (f *Faulty) CancelledOpens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cancelled
}

func (f *Faulty) stallOpen(ctx context.Context, name string) error {
	f.mu.Lock()
	d := f.stall
	f.mu.Unlock()
	if d == 0 {
		return nil
	}
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		f.cancelled++
		f.mu.Unlock()
		return store.NewError("open", f, name, ctx.Err())
	}
}

// Open implements store.ShareStore.
func (f *Faulty) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := f.check("open", name); err != nil {
		return nil, err
	}
	if err := f.stallOpen(ctx, name); err != nil {
		return nil, err
	}
	rc, err := f.inner.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	off, ok := f.corrupt[name]
	f.mu.Unlock()
	if ok {
		return &flipReader{rc: rc, at: off}, nil
	}
	return rc, nil
}

type flipReader struct {
	rc  io.ReadCloser
	pos int64
	at  int64
}

func (r *flipReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if r.at >= r.pos && r.at < r.pos+int64(n) {
		p[r.at-r.pos] ^= 0xff
	}
	r.pos += int64(n)
	return n, err
}

func (r *flipReader) Close() error { return r.rc.Close() }

// Delete implements store.ShareStore.
func (f *Faulty) Delete(ctx context.Context, name string) error {
	if err := f.check("delete", name); err != nil {
		return err
	}
	return f.inner.Delete(ctx, name)
}

// List implements store.ShareStore.
func (f *Faulty) List(ctx context.Context, fn func(string, int64, time.Time) error) error {
	if err := f.check("list", ""); err != nil {
		return err
	}
	return f.inner.List(ctx, fn)
}

// CleanTemp implements store.ShareStore.
func (f *Faulty) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	if err := f.check("clean", ""); err != nil {
		return 0, err
	}
	return f.inner.CleanTemp(ctx, olderThan)
}

// String implements store.ShareStore.
func (f *Faulty) String() string { return "faulty:" + f.inner.String() }
