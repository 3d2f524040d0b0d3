package archive

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/archive/store"
)

// bufferLimit is the canonical size up to which Store encodes the four
// shares into memory and then writes them in parallel; larger instances
// stream through one io.Pipe per store (Encode writes the shares in lock
// step, so memory stays at a few stripes). Measured on the corpus
// (BenchmarkStore): for a CT slice the buffers avoid four goroutine
// hand-offs per stripe and are slightly faster; above a few MiB the pipes
// win on memory and latency.
const bufferLimit = 4 << 20

// shareBufs pools the in-memory shares of instances up to bufferLimit
// (four per Store: ~1 MiB for a CT slice, which would otherwise be
// allocated and zeroed per instance). Memory stays bounded by the number
// of concurrent Stores.
var shareBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putShareBuf(b *bytes.Buffer) {
	if b.Cap() <= bufferLimit {
		b.Reset()
		shareBufs.Put(b)
	}
}

// errAborted closes a share's pipe when its share must not be committed
// (Encode failed or dropped that writer): the store's Put then fails and
// leaves no object.
var errAborted = errors.New("archive: share write aborted")

// written is the outcome of writeShares.
type written struct {
	res    *pipeline.Result
	names  map[int]string // every name tried (inflight until release)
	shares []index.ShareRecord
	failed []ShareFailure
	shred  bool // the object has a shred key (inflight until release)
}

// writeShares encodes the canonical bytes read from r (size bytes) into
// four share objects under fresh random names and puts share i into store
// i, in parallel. It returns the durable shares when at least the write
// quorum is durable; otherwise it deletes what was written and returns a
// *QuorumError (or the encoding/context error). The names stay registered
// as in flight (spared by CollectGarbage) until w.release is called.
func (a *Archive) writeShares(ctx context.Context, r io.Reader, size int64, codec pipeline.Codec) (*written, error) {
	w := &written{names: map[int]string{}}
	for i := range 4 {
		n, err := store.NewName(a.opts.rand())
		if err != nil {
			return nil, err
		}
		w.names[i] = n
	}
	a.addInflight(w.names)
	params := pipeline.Params{K: a.opts.k(), Codec: codec, Compressor: a.compressor, Keyring: a.kr, Rand: a.opts.Rand}
	// In shred mode the key must be durable before any share is put
	// (shred.go). Its commit (an fsync) runs while the shares are encoded
	// into memory; waitKey is called before the first Put.
	waitKey := func() error { return nil }
	if a.opts.Shred {
		id, key, err := a.makeShredKey()
		if err != nil {
			a.doneInflight(w.names)
			return nil, err
		}
		keyDone := make(chan error, 1)
		go func() { keyDone <- a.putShredKey(ctx, id, key) }()
		var keyErr error
		waited := false
		waitKey = func() error {
			if !waited {
				keyErr, waited = <-keyDone, true
			}
			return keyErr
		}
		defer func() {
			waitKey()
			clear(key)
		}()
		params.ObjectID, params.ShredKey, w.shred = id, key, true
	}
	keyFailed := func(err error) (*written, error) {
		// putShredKey took the ID out of flight; nothing was put.
		a.doneInflight(w.names)
		return nil, err
	}

	type putResult struct {
		ran  bool
		size int64
		sum  [32]byte
		err  error
	}
	var puts [4]putResult
	var encErr error
	var wg sync.WaitGroup
	if size <= bufferLimit {
		var bufs [4]*bytes.Buffer
		var ws [4]io.Writer
		for i := range bufs {
			bufs[i] = shareBufs.Get().(*bytes.Buffer)
			bufs[i].Reset()
			bufs[i].Grow(int(size)/a.opts.k() + 4096)
			ws[i] = bufs[i]
		}
		// Puts are synchronous: once wg.Wait returns no store holds a
		// buffer any more.
		defer func() {
			for _, b := range bufs {
				putShareBuf(b)
			}
		}()
		w.res, encErr = pipeline.Encode(ctx, params, r, ws)
		if err := waitKey(); err != nil {
			return keyFailed(err)
		}
		if encErr == nil {
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := &puts[i]
					p.ran = true
					p.size, p.sum, p.err = a.opts.Stores[i].Put(ctx, w.names[i], bytes.NewReader(bufs[i].Bytes()))
					if p.err == nil {
						a.opts.hook("put:" + strconv.Itoa(i))
					}
				}()
			}
			wg.Wait()
		}
	} else {
		if err := waitKey(); err != nil {
			return keyFailed(err)
		}
		var prs [4]*io.PipeReader
		var pws [4]*io.PipeWriter
		var ws [4]io.Writer
		for i := range 4 {
			prs[i], pws[i] = io.Pipe()
			ws[i] = pws[i]
		}
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := &puts[i]
				p.ran = true
				p.size, p.sum, p.err = a.opts.Stores[i].Put(ctx, w.names[i], prs[i])
				cause := p.err
				if cause == nil {
					cause = errors.New("archive: store returned before the end of the share")
					a.opts.hook("put:" + strconv.Itoa(i))
				}
				prs[i].CloseWithError(cause)
			}()
		}
		w.res, encErr = pipeline.Encode(ctx, params, r, ws)
		for i := range 4 {
			if encErr != nil || w.res.ShareErr[i] != nil {
				pws[i].CloseWithError(errAborted)
			} else {
				pws[i].Close()
			}
		}
		wg.Wait()
	}

	toDelete := map[int]string{}
	for i := range 4 {
		p := puts[i]
		switch {
		case !p.ran:
		case p.err != nil:
			w.failed = append(w.failed, ShareFailure{Store: i, Err: p.err})
		case encErr != nil:
			toDelete[i] = w.names[i]
		case w.res.ShareErr[i] != nil: // cannot happen: the aborted pipe fails Put
			toDelete[i] = w.names[i]
			w.failed = append(w.failed, ShareFailure{Store: i, Err: w.res.ShareErr[i]})
		case p.size != w.res.ShareSize[i]:
			toDelete[i] = w.names[i]
			w.failed = append(w.failed, ShareFailure{Store: i,
				Err: fmt.Errorf("archive: store kept %d of %d share bytes", p.size, w.res.ShareSize[i])})
		default:
			w.shares = append(w.shares, index.ShareRecord{Index: i, Name: w.names[i], Size: p.size, SHA256: p.sum})
		}
	}
	a.opts.hook("shares-written")
	if encErr != nil || len(w.shares) < a.opts.quorum() {
		for _, s := range w.shares {
			toDelete[s.Index] = s.Name
		}
		a.deleteObjects(context.WithoutCancel(ctx), toDelete)
		a.doneInflight(w.names)
		if w.shred {
			a.destroyKeys(context.WithoutCancel(ctx), hex.EncodeToString(params.ObjectID[:]))
			a.doneInflightID(params.ObjectID)
		}
		switch {
		case encErr == nil, errors.Is(encErr, pipeline.ErrTooFewShares) && ctx.Err() == nil:
			// Quorum failure (Encode gives up once fewer than k writers remain).
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			return nil, fmt.Errorf("archive: encoding: %w", encErr)
		}
		return nil, &QuorumError{Durable: len(w.shares), Quorum: a.opts.quorum(), Failures: w.failed}
	}
	if len(toDelete) > 0 {
		a.deleteObjects(context.WithoutCancel(ctx), toDelete)
	}
	return w, nil
}

// release ends the in-flight registration of w's names (and shred key).
func (a *Archive) release(w *written) {
	a.doneInflight(w.names)
	if w.shred {
		a.doneInflightID(w.res.ObjectID)
	}
}

// discard deletes the shares of a written object that will not be
// committed, and its shred key.
func (a *Archive) discard(ctx context.Context, w *written) {
	a.deleteShares(ctx, w.shares)
	if w.shred {
		a.destroyKeys(ctx, hex.EncodeToString(w.res.ObjectID[:]))
	}
}

// deleteShares deletes the share objects of a record (best effort: a
// failure leaves an orphan that CollectGarbage removes) and returns how
// many deletions failed.
func (a *Archive) deleteShares(ctx context.Context, shares []index.ShareRecord) int {
	m := map[int]string{}
	for _, s := range shares {
		m[s.Index] = s.Name
	}
	return a.deleteObjects(ctx, m)
}

func (a *Archive) deleteObjects(ctx context.Context, names map[int]string) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for i, n := range names {
		if i < 0 || i > 3 || !store.ValidName(n) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.opts.Stores[i].Delete(ctx, n); err != nil {
				a.log.Warn().Int("store", i).Str("object", n).Err(err).Msg("archive: share delete failed; left for garbage collection")
				mu.Lock()
				failed++
				mu.Unlock()
			}
			a.opts.hook("delete-share")
		}()
	}
	wg.Wait()
	return failed
}
