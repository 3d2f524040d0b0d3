package archive

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/archive/store"
)

// Repair queue.
//
// A share goes missing when a store failed during a Store that still met
// its quorum, and goes bad when a read finds it absent or corrupt. Such
// instances are queued (by SOP Instance UID) in memory for the background
// repairer, which rebuilds the share from the others. The queue is not
// persistent, and need not be: the durable state is the index itself — an
// instance with fewer than four share rows, or a share whose bytes differ
// from its row — and Verify(repair=true) finds and repairs every such
// instance after a restart. When the queue is full, instances are left to
// Verify.

// queueRepair asks the background repairer to check one instance.
func (a *Archive) queueRepair(sopUID string) {
	if a.opts.NoRepairer || a.closed.Load() {
		return
	}
	select {
	case a.repairs <- sopUID:
	default:
		a.repairDropped.Add(1)
		now := a.opts.now().UnixNano()
		last := a.repairWarnedAt.Load()
		if now-last >= int64(repairWarnEvery) && a.repairWarnedAt.CompareAndSwap(last, now) {
			a.log.Warn().Int64("not_queued", a.repairDropped.Swap(0)).
				Msg("archive: repair queue full; run verify --repair")
		}
	}
}

// repairWarnEvery spaces the "repair queue full" warnings; each counts
// the instances left to verify since the previous one.
const repairWarnEvery = 10 * time.Second

func (a *Archive) repairer(ctx context.Context) {
	defer a.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case uid := <-a.repairs:
			c, err := a.checkInstance(ctx, uid, true, nil)
			if err != nil && ctx.Err() == nil {
				a.log.Warn().Err(err).Msg("archive: background repair failed")
			}
			if c != nil {
				a.emitIntegrity(c.events(FoundByRepairer))
			}
		}
	}
}

// ShareStatus is the state of one share found by Verify.
type ShareStatus int

const (
	ShareOK       ShareStatus = iota
	ShareMissing              // no index row, or the store has no such object / cannot be read
	ShareCorrupt              // size or SHA-256 differs from the index
	ShareRepaired             // was missing or corrupt, rebuilt and re-recorded
)

func (s ShareStatus) String() string {
	switch s {
	case ShareOK:
		return "ok"
	case ShareMissing:
		return "missing"
	case ShareCorrupt:
		return "corrupt"
	case ShareRepaired:
		return "repaired"
	}
	return "ShareStatus(?)"
}

// VerifyEvent reports one share that is not ok, or an instance that could
// not be checked or repaired (Store = -1). Objects are named by their
// random IDs and store numbers; SOPInstanceUID is for the operator's
// report and must not go to the operational log.
type VerifyEvent struct {
	SOPInstanceUID string
	ObjectID       string
	Store          int
	Status         ShareStatus
	Err            error
}

// instanceCheck is what checkInstance found.
type instanceCheck struct {
	rec     *index.InstanceRecord // as read under the lock, before repair
	status  [4]ShareStatus        // after repair
	found   [4]ShareStatus        // before repair
	problem [4]IntegrityProblem   // of the shares not found ok
	errs    [4]error
	err     error // instance-level: unrecoverable, repair failed
	when    time.Time
}

// events are the integrity events of the shares c found not ok.
func (c *instanceCheck) events(found IntegrityCheck) []IntegrityEvent {
	var evs []IntegrityEvent
	for i := range 4 {
		if c.found[i] == ShareOK {
			continue
		}
		ev := IntegrityEvent{SOPInstanceUID: c.rec.SOPInstanceUID, ObjectID: c.rec.ObjectID, Store: i,
			Problem: c.problem[i], Found: found, Repaired: c.status[i] == ShareRepaired, When: c.when, Err: c.errs[i]}
		for _, s := range c.rec.Shares {
			if s.Index == i {
				ev.Share = s.Name
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// checkInstance reads every share of one instance, compares it with the
// index and, when repair is set and at least k shares are good, rebuilds
// the others. It holds the instance's lock.
func (a *Archive) checkInstance(ctx context.Context, sopUID string, repair bool, rec *index.InstanceRecord) (*instanceCheck, error) {
	unlock := a.locks.lock(sopUID)
	defer unlock()
	rec, err := a.db.Lookup(ctx, sopUID) // fresh, under the lock
	if errors.Is(err, index.ErrNotFound) {
		return nil, nil // deleted meanwhile
	}
	if err != nil {
		return nil, err
	}
	c := &instanceCheck{rec: rec, when: a.opts.now()}
	byIdx := map[int]index.ShareRecord{}
	for _, s := range rec.Shares {
		byIdx[s.Index] = s
	}
	var good []int
	for i := range 4 {
		s, ok := byIdx[i]
		if !ok {
			c.found[i], c.problem[i] = ShareMissing, ProblemMissing
			continue
		}
		st, err := a.checkShare(ctx, i, s)
		c.found[i], c.errs[i] = st, err
		switch st {
		case ShareMissing:
			c.problem[i] = ProblemMissing
		case ShareCorrupt:
			c.problem[i] = shareProblem(err)
		}
		if st == ShareOK {
			good = append(good, i)
		}
	}
	c.status = c.found
	k := rec.K
	if k == 0 {
		k = a.opts.k()
	}
	if len(good) < k {
		c.err = &UnavailableError{Missing: statusList(c.found, ShareMissing), Bad: statusList(c.found, ShareCorrupt)}
		return c, nil
	}
	if len(good) == 4 || !repair {
		return c, nil
	}
	for i := range 4 {
		if c.found[i] == ShareOK {
			continue
		}
		if err := a.rebuildShare(ctx, rec, i, good, byIdx); err != nil {
			c.errs[i] = err
			c.err = err
			continue
		}
		c.status[i] = ShareRepaired
	}
	return c, nil
}

func statusList(s [4]ShareStatus, want ShareStatus) []int {
	var out []int
	for i, v := range s {
		if v == want {
			out = append(out, i)
		}
	}
	return out
}

// checkShare reads one share object whole and compares it with its row.
func (a *Archive) checkShare(ctx context.Context, i int, s index.ShareRecord) (ShareStatus, error) {
	rc, err := a.opts.Stores[i].Open(ctx, s.Name)
	if err != nil {
		return ShareMissing, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(rc, s.Size+1))
	if err != nil {
		return ShareMissing, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	if n != s.Size {
		return ShareCorrupt, errShareSize
	}
	if sum != s.SHA256 {
		return ShareCorrupt, errShareHash
	}
	return ShareOK, nil
}

// rebuildShare writes a new share number target of rec from the good
// shares (pipeline.Rebuild: every source authenticated), under a fresh
// name, records it in the index, and deletes the old object.
func (a *Archive) rebuildShare(ctx context.Context, rec *index.InstanceRecord, target int, good []int, byIdx map[int]index.ShareRecord) error {
	name, err := store.NewName(a.opts.rand())
	if err != nil {
		return err
	}
	names := map[int]string{target: name}
	a.addInflight(names)
	defer a.doneInflight(names)
	k := rec.K
	if k == 0 {
		k = a.opts.k()
	}
	var lastErr error
	for _, subset := range pipeline.Subsets(k, good) {
		srcs := map[int]io.Reader{}
		var closers []io.Closer
		ok := true
		for _, i := range subset {
			rc, err := a.opts.Stores[i].Open(ctx, byIdx[i].Name)
			if err != nil {
				lastErr, ok = err, false
				break
			}
			closers = append(closers, rc)
			s := byIdx[i]
			srcs[i] = &checkedReader{r: rc, src: shareSrc{idx: i, name: s.Name, size: s.Size, sum: s.SHA256, known: true}, h: sha256.New()}
		}
		if ok {
			lastErr = a.putRebuilt(ctx, rec, target, name, srcs)
		}
		for _, c := range closers {
			c.Close()
		}
		if ok && lastErr == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if lastErr != nil {
		return fmt.Errorf("archive: repairing share %d of object %s: %w", target, rec.ObjectID, lastErr)
	}
	return nil
}

// putRebuilt streams pipeline.Rebuild into store target under name and
// records the new share; any failure leaves no object.
func (a *Archive) putRebuilt(ctx context.Context, rec *index.InstanceRecord, target int, name string, srcs map[int]io.Reader) error {
	pr, pw := io.Pipe()
	type res struct {
		size int64
		sum  [32]byte
		err  error
	}
	done := make(chan res, 1)
	go func() {
		n, sum, err := a.opts.Stores[target].Put(ctx, name, pr)
		if err == nil {
			pr.CloseWithError(errors.New("archive: store returned before the end of the share"))
		} else {
			pr.CloseWithError(err)
		}
		done <- res{n, sum, err}
	}()
	_, err := pipeline.Rebuild(ctx, a.kw, srcs, target, pw, &rec.SHA256)
	if err != nil {
		pw.CloseWithError(errAborted)
	} else {
		pw.Close()
	}
	r := <-done
	if err != nil {
		if r.err == nil {
			a.opts.Stores[target].Delete(context.WithoutCancel(ctx), name)
		}
		return err
	}
	if r.err != nil {
		return r.err
	}
	a.opts.hook("repair:put")
	if err := a.db.UpdateShare(ctx, rec.SOPInstanceUID, index.ShareRecord{Index: target, Name: name, Size: r.size, SHA256: r.sum}); err != nil {
		a.opts.Stores[target].Delete(context.WithoutCancel(ctx), name)
		return err
	}
	a.opts.hook("repair:updated")
	for _, s := range rec.Shares {
		if s.Index == target && s.Name != name {
			if err := a.opts.Stores[target].Delete(context.WithoutCancel(ctx), s.Name); err != nil {
				a.log.Warn().Int("store", target).Str("object", s.Name).Err(err).Msg("archive: old share delete failed; left for garbage collection")
			}
		}
	}
	a.log.Info().Int("store", target).Str("object", rec.ObjectID).Msg("archive: share repaired")
	return nil
}
