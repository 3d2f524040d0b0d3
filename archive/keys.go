package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/archive/store"
)

// KEKUsage reads the header of every indexed share and counts the shares
// per KEK version that wrapped their key share. Missing or unreadable
// shares are counted under version 0. Run it before retiring a version:
// a version still in use must not be retired (its shares would no longer
// open; adversarial row 38).
func (a *Archive) KEKUsage(ctx context.Context) (map[uint32]int, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	out := map[uint32]int{}
	err := a.db.Each(ctx, func(rec *index.InstanceRecord) error {
		for _, s := range rec.Shares {
			h, err := a.shareHeader(ctx, s)
			if err != nil {
				out[0]++
				continue
			}
			out[h.KEKVersion]++
		}
		return nil
	})
	return out, err
}

func (a *Archive) shareHeader(ctx context.Context, s index.ShareRecord) (*pipeline.Header, error) {
	rc, err := a.opts.Stores[s.Index].Open(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return pipeline.ParseHeader(rc)
}

// RewrapKeys rewrites, after a KEK rotation, every share whose key share
// is wrapped under another version than the keyring's current one: the
// share is copied with a new header (pipeline.Rewrap) under a new name,
// its bytes checked against the index on the way, the index row updated,
// and the old object deleted. It returns how many shares were rewritten.
// Missing shares are skipped (repair writes them under the current KEK);
// the first other error stops the run (it can be resumed).
func (a *Archive) RewrapKeys(ctx context.Context) (int, error) {
	if err := a.check(); err != nil {
		return 0, err
	}
	cur := a.kr.CurrentVersion()
	n := 0
	err := a.db.Each(ctx, func(rec *index.InstanceRecord) error {
		for _, s := range rec.Shares {
			h, err := a.shareHeader(ctx, s)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("archive: rewrap: object %s share %d: %w", rec.ObjectID, s.Index, err)
			}
			if h.KEKVersion == cur {
				continue
			}
			done, err := a.rewrapShare(ctx, rec.SOPInstanceUID, s.Index)
			if err != nil {
				return fmt.Errorf("archive: rewrap: object %s share %d: %w", rec.ObjectID, s.Index, err)
			}
			if done {
				n++
			}
		}
		return nil
	})
	return n, err
}

// rewrapShare rewrites share i of one instance under the instance's lock.
func (a *Archive) rewrapShare(ctx context.Context, sopUID string, i int) (bool, error) {
	unlock := a.locks.lock(sopUID)
	defer unlock()
	rec, err := a.db.Lookup(ctx, sopUID)
	if errors.Is(err, index.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var old *index.ShareRecord
	for _, s := range rec.Shares {
		if s.Index == i {
			old = &s
		}
	}
	if old == nil {
		return false, nil
	}
	rc, err := a.opts.Stores[i].Open(ctx, old.Name)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	name, err := store.NewName(a.opts.rand())
	if err != nil {
		return false, err
	}
	names := map[int]string{i: name}
	a.addInflight(names)
	defer a.doneInflight(names)

	src := &hashingReader{r: bufio.NewReader(io.LimitReader(rc, old.Size+1)), h: sha256.New()}
	pr, pw := io.Pipe()
	type res struct {
		size int64
		sum  [32]byte
		err  error
	}
	done := make(chan res, 1)
	go func() {
		n, sum, err := a.opts.Stores[i].Put(ctx, name, pr)
		pr.CloseWithError(errAborted)
		done <- res{n, sum, err}
	}()
	// The bare keyring: a shred-sealed key share is rewrapped as the
	// sealed bytes it is under the KEK layer, without its shred key.
	_, _, err = pipeline.Rewrap(a.kr, src, pw)
	if err == nil {
		var sum [32]byte
		copy(sum[:], src.h.Sum(nil))
		if src.n != old.Size || sum != old.SHA256 {
			err = errShareHash // never launder a corrupt share: repair it first
		}
	}
	if err != nil {
		pw.CloseWithError(errAborted)
	} else {
		pw.Close()
	}
	r := <-done
	if err != nil {
		if r.err == nil {
			a.opts.Stores[i].Delete(context.WithoutCancel(ctx), name)
		}
		return false, err
	}
	if r.err != nil {
		return false, r.err
	}
	if err := a.db.UpdateShare(ctx, sopUID, index.ShareRecord{Index: i, Name: name, Size: r.size, SHA256: r.sum}); err != nil {
		a.opts.Stores[i].Delete(context.WithoutCancel(ctx), name)
		return false, err
	}
	if err := a.opts.Stores[i].Delete(context.WithoutCancel(ctx), old.Name); err != nil {
		a.log.Warn().Int("store", i).Str("object", old.Name).Err(err).Msg("archive: old share delete failed; left for garbage collection")
	}
	return true, nil
}

type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
