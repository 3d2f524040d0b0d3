package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/dcm"
)

// ReindexReport sums up a Reindex run.
type ReindexReport struct {
	Objects    int     // objects (groups of shares by object ID) found that the index did not reference
	Indexed    int     // instances added to the index
	Incomplete int     // objects with fewer than k shares: orphans, left for CollectGarbage
	Superseded int     // objects whose SOP Instance UID is indexed by another (newer) object: orphans
	Failed     int     // objects that did not decode (wrong KEK, corruption, shred-sealed with no key store open) or whose data set did not scan
	Shredded   int     // shred-sealed objects whose shred key is not in the key store: deleted instances (or the wrong key store); listed in Errors
	Foreign    int     // store objects that are not share objects
	Errors     []error // the first few failures
}

const maxReportErrors = 20

func (r *ReindexReport) fail(err error) {
	r.Failed++
	if len(r.Errors) < maxReportErrors {
		r.Errors = append(r.Errors, err)
	}
}

// Reindex rebuilds the index from the four stores and the KEK (and, for
// objects stored in shred mode, the shred key store: the key is looked up
// by the object ID of the share headers), after
// index.db was lost (design brief §3: share objects carry everything
// needed). Every share object that the index does not reference is read
// (its header groups it with the other shares of its object; its size and
// SHA-256 are computed), every object with at least k shares is decoded and
// authenticated, its data set scanned, and the instance inserted with the
// shares found. Objects are processed in the order of their files'
// modification times, which approximates the original arrival order; when
// two unindexed objects carry the same SOP Instance UID (an interrupted
// replace) the newer wins. ReceivedAt becomes the object's modification
// time; the source AE comes from the File Meta Information.
//
// A shred-sealed object whose key is not in the key store is not decoded:
// its instance was deleted (its key destroyed), so it stays deleted even
// when a restored store still holds its shares; it is counted in Shredded
// and named in Errors. With no key store open at all, every shred-sealed
// object is a failure naming it.
//
// Reindex adds to the current index (instances already indexed are kept),
// so it can also complete a partial index. Do not run CollectGarbage
// concurrently: until Reindex ends, unindexed objects look like orphans.
func (a *Archive) Reindex(ctx context.Context) (*ReindexReport, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	type object struct {
		shares  map[int]shareSrc
		k       int
		modTime time.Time
		id      string
		hdr     *pipeline.Header
	}
	objects := map[[16]byte]*object{}
	rep := &ReindexReport{}
	for i, st := range a.opts.Stores {
		refs, err := a.db.ObjectNames(ctx, i)
		if err != nil {
			return rep, err
		}
		type entry struct {
			name string
			mod  time.Time
		}
		var names []entry
		if err := st.List(ctx, func(name string, _ int64, mod time.Time) error {
			if !refs[name] {
				names = append(names, entry{name, mod})
			}
			return nil
		}); err != nil {
			return rep, fmt.Errorf("archive: reindex: listing store %d: %w", i, err)
		}
		for _, e := range names {
			h, size, sum, err := a.readShare(ctx, i, e.name)
			if err != nil {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.Foreign++
				continue
			}
			if h.Index != i {
				rep.Foreign++ // a share in the wrong store: not ours to place
				continue
			}
			o := objects[h.ObjectID]
			if o == nil {
				o = &object{shares: map[int]shareSrc{}, k: h.K, id: hex.EncodeToString(h.ObjectID[:]), hdr: h}
				objects[h.ObjectID] = o
			}
			o.shares[i] = shareSrc{idx: i, name: e.name, size: size, sum: sum, known: true}
			if e.mod.After(o.modTime) {
				o.modTime = e.mod
			}
		}
	}
	list := make([]*object, 0, len(objects))
	for _, o := range objects {
		list = append(list, o)
	}
	sort.Slice(list, func(x, y int) bool {
		if !list[x].modTime.Equal(list[y].modTime) {
			return list[x].modTime.Before(list[y].modTime)
		}
		return list[x].id < list[y].id
	})
	rep.Objects = len(list)

	out, err := newFileSink(a.opts.spoolDir())
	if err != nil {
		return rep, err
	}
	defer out.Close()
	mine := map[string]bool{} // SOP Instance UIDs indexed by this run
	for _, o := range list {
		if len(o.shares) < o.k {
			rep.Incomplete++
			continue
		}
		if err := a.checkShredKey(ctx, o.hdr); err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if a.keys != nil && errors.Is(err, ErrShredKeyMissing) {
				rep.Shredded++
				if len(rep.Errors) < maxReportErrors {
					rep.Errors = append(rep.Errors, fmt.Errorf("object %s: %w", o.id, err))
				}
				continue
			}
			rep.fail(fmt.Errorf("object %s: %w", o.id, err))
			continue
		}
		srcs := make([]shareSrc, 0, len(o.shares))
		for _, s := range o.shares {
			srcs = append(srcs, s)
		}
		info, _, err := a.decodeShares(ctx, srcs, o.k, nil, out)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.fail(fmt.Errorf("object %s: %w", o.id, err))
			continue
		}
		rec, err := a.recordFromCanonical(out, info, o.id)
		if err != nil {
			rep.fail(fmt.Errorf("object %s: %w", o.id, err))
			continue
		}
		for _, s := range srcs {
			rec.Shares = append(rec.Shares, index.ShareRecord{Index: s.idx, Name: s.name, Size: s.size, SHA256: s.sum})
		}
		rec.ReceivedAt = o.modTime
		unlock := a.locks.lock(rec.SOPInstanceUID)
		err = a.db.Insert(ctx, rec)
		if errors.Is(err, index.ErrDuplicate) {
			if mine[rec.SOPInstanceUID] {
				_, err = a.db.Replace(ctx, rec)
			} else {
				err = nil
				rep.Superseded++
				unlock()
				continue
			}
			if err == nil {
				rep.Superseded++
				rep.Indexed--
			}
		}
		unlock()
		if err != nil {
			return rep, err
		}
		mine[rec.SOPInstanceUID] = true
		rep.Indexed++
	}
	return rep, nil
}

// readShare reads one object whole: its parsed header, size and SHA-256.
func (a *Archive) readShare(ctx context.Context, i int, name string) (*pipeline.Header, int64, [32]byte, error) {
	var sum [32]byte
	rc, err := a.opts.Stores[i].Open(ctx, name)
	if err != nil {
		return nil, 0, sum, err
	}
	defer rc.Close()
	hr := &hashingReader{r: rc, h: sha256.New()}
	h, err := pipeline.ParseHeader(hr)
	if err != nil {
		return nil, 0, sum, err
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return nil, 0, sum, err
	}
	copy(sum[:], hr.h.Sum(nil))
	return h, hr.n, sum, nil
}

// recordFromCanonical builds the index record of a decoded instance from
// its canonical bytes: File Meta Information, then dcm.Scan of the data set.
func (a *Archive) recordFromCanonical(out sink, info *pipeline.Info, objectID string) (*index.InstanceRecord, error) {
	size := out.Len()
	meta, off, err := dcm.ReadPart10Header(io.NewSectionReader(out, 0, size), 0)
	if err != nil {
		return nil, err
	}
	sum, err := dcm.Scan(io.NewSectionReader(out, off, size-off), size-off, meta.TransferSyntaxUID, a.opts.ScanLimits)
	if err != nil {
		return nil, err
	}
	if !dcm.ValidUID(sum.SOPInstanceUID) || sum.SOPInstanceUID != meta.MediaStorageSOPInstanceUID {
		return nil, errors.New("decoded instance with an invalid or inconsistent SOP instance UID")
	}
	return &index.InstanceRecord{
		SOPInstanceUID: sum.SOPInstanceUID, SOPClassUID: sum.SOPClassUID,
		SeriesInstanceUID: sum.SeriesInstanceUID, StudyInstanceUID: sum.StudyInstanceUID,
		PatientID: sum.PatientID, Attrs: sum.Attrs, TransferSyntaxUID: meta.TransferSyntaxUID,
		Size: size, SHA256: info.SHA256, Codec: info.Header.Codec.String(), K: info.Header.K,
		KEKVersion: info.Header.KEKVersion, ObjectID: objectID, SourceAE: meta.SourceApplicationEntityTitle,
	}, nil
}
