package archive

import (
	"context"
	"errors"

	"github.com/shardpacs/shardpacs/archive/index"
)

// Delete removes every instance under one entity (level and uid as in
// index.DB.Instances: a PatientID at LevelPatient) and returns how many
// were removed. The index rows go first, in one transaction; then the
// share objects are deleted. A crash or store failure between the two
// leaves orphan objects, which CollectGarbage removes.
//
// What deletion guarantees: the instance can no longer be found or read
// through this archive, and its share objects are removed from the
// stores. It does not erase copies made elsewhere: a snapshot or backup of
// the stores taken before the delete still holds k or more share objects,
// and with the KEK (its current or still-kept older versions) those
// decrypt. Rotate and retire the KEK versions that wrapped deleted data
// (keys rotate / rewrap / retire) to make such leftovers undecryptable.
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
	for _, r := range removed {
		a.deleteShares(context.WithoutCancel(ctx), r.Shares)
	}
	return len(removed), nil
}
