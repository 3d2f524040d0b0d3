package archive

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/archive/shredkeys"
	"github.com/shardpacs/shardpacs/crypto"
)

// Crypto-shredding (opt-in, Options.Shred; docs/security.md §7).
//
// Each instance stored in shred mode gets a random 256-bit shred key,
// kept in the key store (archive/shredkeys) under the instance's object
// ID; its key shares are sealed under it before the KEK wraps them
// (pipeline.ShredWrapper). The order of durable steps:
//
//	Store:   shred key durable → shares durable → index commit
//	Delete:  index rows gone → share objects deleted → shred key destroyed
//	Replace: new key, new shares, index commit → old shares, old key
//
// so a crash never leaves a share object of a live (or reindexable)
// instance without its key; it may leave a key whose instance never
// committed or was deleted, which CollectGarbage destroys once neither an
// index row nor a share object refers to it.

// ErrShredKeysMissing: shred mode is configured, the data directory holds
// data, and the key store file does not exist. The node refuses to start
// rather than create an empty key store over instances whose keys would
// then be lost; restore it from the backup taken with the KEK, or create it
// explicitly when turning shred mode on for an existing archive
// (`shardpacs keys shred-init`).
var ErrShredKeysMissing = errors.New("archive: shred key store missing")

// ErrShredKeyMissing is pipeline.ErrShredKeyMissing: an instance's key
// shares are shred-sealed and its shred key is gone (it was deleted) or no
// key store is open.
var ErrShredKeyMissing = pipeline.ErrShredKeyMissing

// openShredKeys opens the key store the options name and sets a.kw.
func (a *Archive) openShredKeys(ctx context.Context) error {
	a.keys = a.opts.ShredKeys
	if a.keys == nil && a.opts.ShredKeyPath != "" {
		s, err := shredkeys.Open(ctx, a.opts.ShredKeyPath, shredkeys.Options{Create: true, Now: a.opts.Now})
		if err != nil {
			return fmt.Errorf("archive: shred key store: %w", err)
		}
		a.keys, a.ownKeys = s, true
	}
	if a.opts.Shred && a.keys == nil {
		return errors.New("archive: shred mode needs a shred key store (ShredKeys or ShredKeyPath)")
	}
	sw := &pipeline.ShredWrapper{KEK: a.kr}
	if a.keys != nil {
		sw.Keys = storeKeys{a.keys}
	}
	a.kw = sw
	return nil
}

// ShredKeys returns the archive's shred key store, or nil.
func (a *Archive) ShredKeys() *shredkeys.Store { return a.keys }

// storeKeys adapts the key store to pipeline.ShredKeys.
type storeKeys struct{ s *shredkeys.Store }

func (k storeKeys) ShredKey(id [16]byte) ([]byte, error) {
	key, err := k.s.Get(context.Background(), id)
	if errors.Is(err, shredkeys.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", pipeline.ErrShredKeyMissing, err)
	}
	return key, err
}

// newShredKey makes a fresh object ID and shred key and stores the key
// durably, registered as in flight (until doneInflightID).
func (a *Archive) newShredKey(ctx context.Context) ([16]byte, []byte, error) {
	id, key, err := a.makeShredKey()
	if err != nil {
		return id, nil, err
	}
	if err := a.putShredKey(ctx, id, key); err != nil {
		clear(key)
		return id, nil, err
	}
	return id, key, nil
}

// makeShredKey makes a fresh object ID and shred key, and registers the ID
// as in flight (until doneInflightID).
func (a *Archive) makeShredKey() ([16]byte, []byte, error) {
	var id [16]byte
	if _, err := io.ReadFull(a.opts.rand(), id[:]); err != nil {
		return id, nil, fmt.Errorf("archive: object id: %w", err)
	}
	key, err := crypto.NewShredKey(a.opts.rand())
	if err != nil {
		return id, nil, err
	}
	a.addInflightID(id)
	return id, key, nil
}

// putShredKey stores the key durably; on failure the ID leaves the
// in-flight set.
func (a *Archive) putShredKey(ctx context.Context, id [16]byte, key []byte) error {
	a.opts.hook("shred-key:put")
	if err := a.keys.Put(ctx, id, key); err != nil {
		a.doneInflightID(id)
		return fmt.Errorf("archive: storing the shred key: %w", err)
	}
	a.opts.hook("shred-key")
	return nil
}

func (a *Archive) addInflightID(id [16]byte) {
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	a.inflightIDs[id]++
}

func (a *Archive) doneInflightID(id [16]byte) {
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	if a.inflightIDs[id]--; a.inflightIDs[id] <= 0 {
		delete(a.inflightIDs, id)
	}
}

// dropObject deletes an object's shares, then destroys its shred key (if
// it has one): the end of a deleted, replaced or never committed instance.
// Failures are logged; CollectGarbage finishes the job. It returns the
// shred error, if any.
func (a *Archive) dropObject(ctx context.Context, objectID string, shares []index.ShareRecord) error {
	a.deleteShares(ctx, shares)
	return a.destroyKeys(ctx, objectID)
}

// destroyKeys destroys the shred keys of the objects named (hex IDs); a
// no-op without a key store or for objects without a key.
func (a *Archive) destroyKeys(ctx context.Context, objectIDs ...string) error {
	if a.keys == nil || len(objectIDs) == 0 {
		return nil
	}
	ids := make([][16]byte, 0, len(objectIDs))
	for _, s := range objectIDs {
		if id, ok := parseObjectID(s); ok {
			ids = append(ids, id)
		}
	}
	n, err := a.keys.Destroy(ctx, ids...)
	if err != nil {
		a.log.Warn().Err(err).Int("objects", len(ids)).Msg("archive: shred keys not destroyed; left for garbage collection")
		return fmt.Errorf("archive: destroying shred keys: %w", err)
	}
	if n > 0 {
		a.log.Debug().Int("keys", n).Msg("archive: shred keys destroyed")
	}
	return nil
}

func parseObjectID(s string) ([16]byte, bool) {
	var id [16]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// collectShredKeys destroys the shred keys older than minAge whose object
// has neither an index row nor a share object in any store, and is not
// being written by this process. A key whose shares exist is kept, indexed
// or not: Reindex needs it. When a store cannot be listed, nothing is
// destroyed (its shares might need the keys).
//
// Order: list the keys, snapshot the in-flight IDs, scan the stores for
// unreferenced objects' IDs, and read the index's IDs last, so an instance
// committed meanwhile is seen.
func (a *Archive) collectShredKeys(ctx context.Context, minAge time.Duration) (int, error) {
	if a.keys == nil {
		return 0, nil
	}
	entries, err := a.keys.List(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := a.opts.now().Add(-minAge)
	var old []shredkeys.Entry
	for _, e := range entries {
		if !e.Created.After(cutoff) {
			old = append(old, e)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	a.inflightMu.Lock()
	inflight := make(map[[16]byte]bool, len(a.inflightIDs))
	for id := range a.inflightIDs {
		inflight[id] = true
	}
	a.inflightMu.Unlock()
	present := map[[16]byte]bool{}
	for i, st := range a.opts.Stores {
		var names []string
		if err := st.List(ctx, func(name string, _ int64, _ time.Time) error {
			names = append(names, name)
			return nil
		}); err != nil {
			return 0, fmt.Errorf("archive: shred key collection: listing store %d: %w", i, err)
		}
		refs, err := a.db.ObjectNames(ctx, i)
		if err != nil {
			return 0, err
		}
		for _, n := range names {
			if refs[n] {
				continue
			}
			h, err := a.shareHeader(ctx, index.ShareRecord{Index: i, Name: n})
			if err != nil {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				continue // gone meanwhile, or not a share object
			}
			present[h.ObjectID] = true
		}
	}
	indexed, err := a.db.ObjectIDs(ctx)
	if err != nil {
		return 0, err
	}
	var doomed [][16]byte
	for _, e := range old {
		if inflight[e.ObjectID] || present[e.ObjectID] || indexed[hex.EncodeToString(e.ObjectID[:])] {
			continue
		}
		doomed = append(doomed, e.ObjectID)
	}
	n, err := a.keys.Destroy(ctx, doomed...)
	if n > 0 {
		a.log.Info().Int("keys", n).Msg("archive: orphan shred keys destroyed")
	}
	return n, err
}

// checkShredKey reports, for Reindex, an object whose shares are
// shred-sealed and whose key is not in the key store (or no store is
// open): such an object cannot be decoded, whatever its shares.
func (a *Archive) checkShredKey(ctx context.Context, h *pipeline.Header) error {
	if !h.ShredSealed {
		return nil
	}
	if a.keys == nil {
		return fmt.Errorf("%w: shares are shred-sealed and no shred key store is open (shred_key_file)", ErrShredKeyMissing)
	}
	ok, err := a.keys.Has(ctx, h.ObjectID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: not in %s (deleted instance, or the key store is not the one backed up with the KEK)", ErrShredKeyMissing, a.keys.Path())
	}
	return nil
}
