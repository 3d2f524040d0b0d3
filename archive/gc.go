package archive

import (
	"context"
	"errors"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
)

// ErrIndexEmpty: CollectGarbage removed no object (only temporary files)
// because the index holds no instance while the stores hold objects (a
// lost index.db: run Reindex first, or every object would be collected).
var ErrIndexEmpty = errors.New("archive: index is empty but the stores hold objects; run reindex first")

// CollectGarbage removes, from every store, the share objects that no
// index row references (crashed or refused writes, losers of concurrent
// stores, shares replaced by repair or left by an interrupted delete) and
// the temporary files of crashed writes, when they are older than minAge.
// Objects being written by this process are always spared; minAge spares
// those of other processes (use at least a few minutes on a live node).
// It returns how many objects and temporary files were removed. Then, with
// a shred key store, it destroys the shred keys older than minAge whose
// object has neither an index row nor a share object left (crashed or
// refused writes, interrupted deletes): not counted in the result, logged.
//
// The order is: list the store, snapshot the in-flight names, then read
// the index's names — so an object committed while the store was listed
// is seen as referenced.
func (a *Archive) CollectGarbage(ctx context.Context, minAge time.Duration) (int, error) {
	if err := a.check(); err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	indexEmpty := false
	for i, st := range a.opts.Stores {
		n, err := st.CleanTemp(ctx, minAge)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
		cutoff := a.opts.now().Add(-minAge)
		var names []string
		err = st.List(ctx, func(name string, _ int64, mod time.Time) error {
			if !mod.After(cutoff) {
				names = append(names, name)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(names) == 0 || indexEmpty {
			continue
		}
		inflight := a.inflightSnapshot()
		refs, err := a.db.ObjectNames(ctx, i)
		if err != nil {
			return total, err
		}
		if len(refs) == 0 {
			empty, err := a.indexEmpty(ctx)
			if err != nil {
				return total, err
			}
			if empty {
				// No object is removed, but the temporary files of every
				// store still are (they are never referenced).
				indexEmpty = true
				continue
			}
		}
		for _, n := range names {
			if refs[n] || inflight[i][n] {
				continue
			}
			if err := st.Delete(ctx, n); err != nil {
				errs = append(errs, err)
				continue
			}
			a.log.Info().Int("store", i).Str("object", n).Msg("archive: orphan share object removed")
			total++
		}
	}
	if indexEmpty {
		return total, errors.Join(append([]error{ErrIndexEmpty}, errs...)...)
	}
	if len(errs) == 0 {
		if _, err := a.collectShredKeys(ctx, minAge); err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

var errStopEach = errors.New("stop")

// indexEmpty reports whether the index holds no instance.
func (a *Archive) indexEmpty(ctx context.Context) (bool, error) {
	empty := true
	err := a.db.Each(ctx, func(*index.InstanceRecord) error { empty = false; return errStopEach })
	if err != nil && !errors.Is(err, errStopEach) {
		return false, err
	}
	return empty, nil
}
