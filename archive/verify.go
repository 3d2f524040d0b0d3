package archive

import (
	"context"
	"fmt"

	"github.com/shardpacs/shardpacs/archive/index"
)

// StoreCounts are Verify's counts for one store.
type StoreCounts struct {
	OK, Missing, Corrupt, Repaired int
}

// VerifyReport sums up a Verify run.
type VerifyReport struct {
	Instances int
	Stores    [4]StoreCounts
	// Unrecoverable counts instances with fewer than k good shares; Failed
	// counts instances whose repair failed (a store still down, say).
	Unrecoverable, Failed int
}

// Clean reports whether every share of every instance was ok (repaired
// shares are not clean: run Verify again to confirm the repair).
func (r *VerifyReport) Clean() bool {
	for _, s := range r.Stores {
		if s.Missing+s.Corrupt+s.Repaired > 0 {
			return false
		}
	}
	return r.Unrecoverable == 0 && r.Failed == 0
}

func (r *VerifyReport) String() string {
	s := fmt.Sprintf("%d instances", r.Instances)
	for i, c := range r.Stores {
		s += fmt.Sprintf("; store %d: %d ok, %d missing, %d corrupt, %d repaired", i, c.OK, c.Missing, c.Corrupt, c.Repaired)
	}
	return s + fmt.Sprintf("; %d unrecoverable, %d repairs failed", r.Unrecoverable, r.Failed)
}

// Verify reads every share of every indexed instance and compares its size
// and SHA-256 with the index (adversarial rows 34, 35). A share without a
// row, absent from its store or unreadable is missing; one whose bytes
// differ is corrupt. With repair, every instance that still has k good
// shares gets its other shares rebuilt (pipeline.Rebuild: the sources are
// fully authenticated), written under new names, recorded, and the bad
// objects deleted. fn, when not nil, sees every share that is not ok and
// every instance-level failure; Options.OnIntegrity and the
// ObserveIntegrity observers see every share that is not ok as an
// IntegrityEvent (FoundByVerify, Repaired when rebuilt). Verify does not
// look for orphan objects: that is CollectGarbage.
func (a *Archive) Verify(ctx context.Context, repair bool, fn func(VerifyEvent)) (*VerifyReport, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	rep := &VerifyReport{}
	err := a.db.Each(ctx, func(rec *index.InstanceRecord) error {
		c, err := a.checkInstance(ctx, rec.SOPInstanceUID, repair, rec)
		if err != nil {
			return err
		}
		if c == nil {
			return nil // deleted meanwhile
		}
		a.emitIntegrity(c.events(FoundByVerify))
		rep.Instances++
		for i := range 4 {
			sc := &rep.Stores[i]
			switch c.found[i] {
			case ShareOK:
				sc.OK++
			case ShareMissing:
				sc.Missing++
			case ShareCorrupt:
				sc.Corrupt++
			}
			if c.status[i] == ShareRepaired {
				sc.Repaired++
			}
			if c.status[i] != ShareOK && fn != nil {
				fn(VerifyEvent{SOPInstanceUID: rec.SOPInstanceUID, ObjectID: rec.ObjectID, Store: i, Status: c.status[i], Err: c.errs[i]})
			}
		}
		if c.err != nil {
			if _, ok := c.err.(*UnavailableError); ok {
				rep.Unrecoverable++
			} else {
				rep.Failed++
			}
			if fn != nil {
				fn(VerifyEvent{SOPInstanceUID: rec.SOPInstanceUID, ObjectID: rec.ObjectID, Store: -1, Status: ShareMissing, Err: c.err})
			}
		}
		return nil
	})
	return rep, err
}
