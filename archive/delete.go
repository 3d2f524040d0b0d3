package archive

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardpacs/shardpacs/archive/index"
)

// Delete removes every instance under one entity (level and uid as in
// index.DB.Instances: a PatientID at LevelPatient) and returns how many
// were removed. The index rows go first, in one transaction; then the
// share objects are deleted. A crash or store failure between the two
// leaves orphan objects, which CollectGarbage removes.
//
// Then the shred keys of the removed instances, if any, are destroyed.
//
// What deletion guarantees: the instance can no longer be found or read
// through this archive, and its share objects are removed from the
// stores. For an instance stored without a shred key (the default), it
// does not erase copies made elsewhere: a snapshot or backup of the stores
// taken before the delete still holds k or more share objects, and with
// the KEK (its current or still-kept older versions) those decrypt. Rotate
// and retire the KEK versions that wrapped deleted data (keys rotate /
// rewrap / retire) to make such leftovers undecryptable. For an instance
// stored in shred mode (Options.Shred), destroying its shred key makes
// every copy of its shares undecryptable, KEK or not — as long as no copy
// of the key store made before the delete survives (docs/security.md §7).
//
// When the shred keys cannot be destroyed, the instances are deleted all
// the same and the count is returned with an error wrapping
// ErrShredPending; CollectGarbage destroys the keys later.
func (a *Archive) Delete(ctx context.Context, level index.Level, uid string) (int, error) {
	if err := a.check(); err != nil {
		return 0, err
	}
	recs, err := a.db.Instances(ctx, level, uid)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, ErrNotFound
	}
	uids := make([]string, len(recs))
	for i, r := range recs {
		uids[i] = r.SOPInstanceUID
	}
	unlock := a.locks.lock(uids...)
	defer unlock()
	removed, err := a.db.Delete(ctx, uids...)
	if errors.Is(err, index.ErrNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	a.opts.hook("delete:indexed")
	ids := make([]string, 0, len(removed))
	for _, r := range removed {
		a.deleteShares(context.WithoutCancel(ctx), r.Shares)
		ids = append(ids, r.ObjectID)
	}
	a.opts.hook("delete:shares-deleted")
	if err := a.destroyKeys(context.WithoutCancel(ctx), ids...); err != nil {
		return len(removed), fmt.Errorf("%w: %w", ErrShredPending, err)
	}
	return len(removed), nil
}

// ErrShredPending: Delete removed the instances and their shares but could
// not destroy their shred keys yet (the key store failed); CollectGarbage
// retries.
var ErrShredPending = errors.New("archive: deleted, but shred keys not yet destroyed")
