package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/archive/shredkeys"
	"github.com/shardpacs/shardpacs/crypto"
)

// Archive is the secure archive: Store, Open, Delete, Query over the share
// pipeline, the four share stores and the index. It is safe for concurrent
// use; operations on one SOP Instance UID are serialised in this process
// (the index's uniqueness arbitrates between processes). Build it with Open;
// Close it when done.
type Archive struct {
	opts  Options
	db    *index.DB
	ownDB bool
	kr    *crypto.Keyring
	// kw unwraps (and, for repair, wraps) key shares: the KEK keyring
	// behind a pipeline.ShredWrapper over the shred key store (if any).
	kw      pipeline.KeyWrapper
	keys    *shredkeys.Store // nil without a key store
	ownKeys bool
	codec   pipeline.Codec
	// compressor is what CodecAuto compresses with (zstd or s2).
	compressor pipeline.Codec
	log        zerolog.Logger

	locks keyedMutex

	// inflight holds, per store, the object names being written and not
	// yet committed to the index (or deleted): CollectGarbage spares them.
	inflightMu sync.Mutex
	inflight   [4]map[string]int
	// inflightIDs holds the object IDs whose shred key is stored and whose
	// instance is not yet committed (or discarded): spared by the shred
	// key collection.
	inflightIDs map[[16]byte]int

	repairs chan string // SOP Instance UIDs queued for the background repairer
	stop    context.CancelFunc
	wg      sync.WaitGroup
	closed  atomic.Bool

	// Instances not queued because the queue was full since the last
	// warning, and when that was (unix ns): one warning per
	// repairWarnEvery, not one per read while a store is down.
	repairDropped, repairWarnedAt atomic.Int64

	integrity integrityObservers // added by ObserveIntegrity
}

// Open checks opts, opens the index when opts.IndexPath is given and the
// shred key store when opts.ShredKeyPath is given (see Options.Shred), and
// starts the background repairer (unless opts.NoRepairer).
func Open(ctx context.Context, opts Options) (*Archive, error) {
	for i, s := range opts.Stores {
		if s == nil {
			return nil, fmt.Errorf("archive: store %d is nil", i)
		}
	}
	if opts.Keyring == nil || opts.Keyring.CurrentVersion() == 0 {
		return nil, fmt.Errorf("archive: %w", crypto.ErrNoKEK)
	}
	if k := opts.k(); k < 2 || k > 4 {
		return nil, fmt.Errorf("archive: k = %d, want 2, 3 or 4", k)
	}
	codec, compressor := pipeline.CodecAuto, pipeline.CodecZstd
	switch opts.Codec {
	case "", "zstd", "auto":
	case "s2":
		compressor = pipeline.CodecS2
	case "none":
		codec = pipeline.CodecNone
	default:
		return nil, fmt.Errorf("archive: unknown codec %q (want zstd, s2 or none)", opts.Codec)
	}
	if opts.Duplicates != KeepFirst && opts.Duplicates != Replace {
		return nil, fmt.Errorf("archive: unknown duplicates policy %d", opts.Duplicates)
	}
	a := &Archive{opts: opts, db: opts.Index, kr: opts.Keyring, codec: codec, compressor: compressor, log: opts.Logger,
		repairs: make(chan string, 1024)}
	if a.db == nil {
		if opts.IndexPath == "" {
			return nil, errors.New("archive: neither Index nor IndexPath given")
		}
		db, err := index.Open(ctx, opts.IndexPath, index.Options{})
		if err != nil {
			return nil, err
		}
		a.db, a.ownDB = db, true
	}
	for i := range a.inflight {
		a.inflight[i] = map[string]int{}
	}
	a.inflightIDs = map[[16]byte]int{}
	if err := a.openShredKeys(ctx); err != nil {
		if a.ownDB {
			a.db.Close()
		}
		return nil, err
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	if !opts.NoRepairer {
		a.wg.Add(1)
		go a.repairer(rctx)
	}
	return a, nil
}

// Close stops the background repairer (waiting for a repair in progress)
// and closes the index if Open opened it. Close is idempotent; other
// methods return ErrClosed afterwards.
func (a *Archive) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	a.stop()
	a.wg.Wait()
	var errs []error
	if a.ownKeys {
		errs = append(errs, a.keys.Close())
	}
	if a.ownDB {
		errs = append(errs, a.db.Close())
	}
	return errors.Join(errs...)
}

func (a *Archive) check() error {
	if a.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Index returns the archive's index (for C-FIND and tests). Do not Close it.
func (a *Archive) Index() *index.DB { return a.db }

// K returns the number of shares needed to read an instance written now.
func (a *Archive) K() int { return a.opts.k() }

// Query runs a C-FIND query on the index (see index.DB.Query); it never
// reads a share store.
func (a *Archive) Query(ctx context.Context, q *index.Query, fn func(index.Match) error) error {
	if err := a.check(); err != nil {
		return err
	}
	return a.db.Query(ctx, q, fn)
}

// Instances lists the instances under one entity (see index.DB.Instances),
// for C-MOVE, C-GET, export and delete.
func (a *Archive) Instances(ctx context.Context, level index.Level, uid string) ([]*index.InstanceRecord, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	return a.db.Instances(ctx, level, uid)
}

// Lookup returns the index record of one instance, or ErrNotFound.
func (a *Archive) Lookup(ctx context.Context, sopInstanceUID string) (*index.InstanceRecord, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	rec, err := a.db.Lookup(ctx, sopInstanceUID)
	if errors.Is(err, index.ErrNotFound) {
		return nil, ErrNotFound
	}
	return rec, err
}

// addInflight registers object names about to be written.
func (a *Archive) addInflight(names map[int]string) {
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	for i, n := range names {
		a.inflight[i][n]++
	}
}

func (a *Archive) doneInflight(names map[int]string) {
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	for i, n := range names {
		if a.inflight[i][n]--; a.inflight[i][n] <= 0 {
			delete(a.inflight[i], n)
		}
	}
}

func (a *Archive) inflightSnapshot() [4]map[string]bool {
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	var out [4]map[string]bool
	for i := range out {
		out[i] = make(map[string]bool, len(a.inflight[i]))
		for n := range a.inflight[i] {
			out[i][n] = true
		}
	}
	return out
}

// keyedMutex serialises operations per key (a SOP Instance UID).
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks every key (sorted, so two callers never deadlock) and returns
// the unlock function.
func (k *keyedMutex) lock(keys ...string) func() {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	entries := make([]*keyedEntry, len(keys))
	for i, key := range keys {
		e := k.m[key]
		if e == nil {
			e = &keyedEntry{}
			k.m[key] = e
		}
		e.refs++
		entries[i] = e
	}
	k.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
	}
	return func() {
		for _, e := range entries {
			e.mu.Unlock()
		}
		k.mu.Lock()
		for i, key := range keys {
			if entries[i].refs--; entries[i].refs == 0 {
				delete(k.m, key)
			}
		}
		k.mu.Unlock()
	}
}

// Keyring returns the archive's keyring (for the keys subcommands).
func (a *Archive) Keyring() *crypto.Keyring { return a.kr }
