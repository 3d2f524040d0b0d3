package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// Instance is one received SOP instance: the UIDs of the C-STORE command
// (or of the file's meta information) and the data set bytes exactly as
// received, without File Meta Information.
type Instance struct {
	// SOPClassUID and SOPInstanceUID are the command's Affected SOP Class
	// and Instance UIDs (PS3.7 9.1.1). Empty means "take them from the
	// data set"; otherwise they must equal the data set's.
	SOPClassUID, SOPInstanceUID string
	// TransferSyntaxUID is the negotiated transfer syntax of DataSet.
	TransferSyntaxUID string
	// DataSet supplies Size bytes; it is read several times (scan, hash,
	// encode) and never modified.
	DataSet io.ReaderAt
	Size    int64
	// SourceAE is the calling AE title; it goes into the File Meta
	// Information (0002,0016) and the index. Optional.
	SourceAE string
}

// StoreOutcome is the result of a successful Store.
type StoreOutcome int

const (
	// Stored: the instance is new and now durable and indexed.
	Stored StoreOutcome = iota + 1
	// Duplicate: the same instance (same canonical bytes, or the same data
	// set and transfer syntax) was already stored; nothing was written.
	Duplicate
	// Replaced: Replace policy; the instance replaced a different one.
	Replaced
)

func (o StoreOutcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	case Replaced:
		return "replaced"
	}
	return "StoreOutcome(?)"
}

// Store makes one instance durable. The steps (design brief §3):
//
//  1. dcm.Scan validates the whole data set and extracts the index
//     attributes (UTF-8). Malformed → *InvalidDataSetError; over a limit
//     → ErrOutOfResources.
//  2. The UIDs are checked: every one must pass dcm.ValidUID (else
//     *InvalidDataSetError wrapping ErrInvalidUID) and the command's must
//     equal the data set's (else ErrSOPMismatch). Nothing has been written.
//  3. Operations on this SOP Instance UID are serialised (keyed mutex). An
//     indexed instance with the same canonical SHA-256 is a Duplicate
//     (nothing written); a different one is ErrDuplicateDifferent under
//     KeepFirst, or goes on under Replace.
//  4. The canonical Part-10 bytes (preamble, our File Meta Information,
//     the data set as received) go through pipeline.Encode into four share
//     objects with random names, put into the four stores in parallel.
//     Fewer than min(k+1, 4) durable shares → everything written is
//     deleted and the error is a *QuorumError (ErrOutOfResources).
//  5. One index transaction (Insert, or Replace) commits the instance with
//     the SHA-256 of every durable share. Only then does Store return
//     success. A share that failed while the quorum was met has no row:
//     it is queued for the background repairer, and Verify(repair) finds
//     every instance with fewer than four share rows after a restart.
//
// A crash before step 5 leaves only orphan objects (CollectGarbage removes
// them); after it, a complete instance. Under Replace the old shares are
// deleted after the commit (orphans if that is interrupted), then the old
// shred key is destroyed. In shred mode (Options.Shred) step 4 starts by
// storing the instance's shred key durably, before any share is written.
func (a *Archive) Store(ctx context.Context, in *Instance) (StoreOutcome, error) {
	if err := a.check(); err != nil {
		return 0, err
	}
	if in == nil || in.DataSet == nil || in.Size < 0 {
		return 0, errors.New("archive: store: no data set")
	}
	ts := strings.TrimRight(in.TransferSyntaxUID, "\x00 ")
	if !dcm.ValidUID(ts) {
		return 0, invalidUID("transfer syntax UID")
	}
	for _, u := range []struct{ name, v string }{{"command SOP class UID", in.SOPClassUID}, {"command SOP instance UID", in.SOPInstanceUID}} {
		if u.v != "" && !dcm.ValidUID(u.v) {
			return 0, invalidUID(u.name)
		}
	}

	// 1. Scan.
	sum, err := dcm.Scan(io.NewSectionReader(in.DataSet, 0, in.Size), in.Size, ts, a.opts.ScanLimits)
	switch {
	case errors.Is(err, dcm.ErrLimit):
		return 0, fmt.Errorf("%w: %w", ErrOutOfResources, err)
	case errors.Is(err, dcm.ErrFormat), errors.Is(err, dcm.ErrTransferSyntax):
		return 0, &InvalidDataSetError{Err: err}
	case err != nil:
		return 0, fmt.Errorf("archive: reading data set: %w", err)
	}
	// 2. UIDs.
	for _, u := range []struct{ name, v string }{
		{"SOP class UID", sum.SOPClassUID}, {"SOP instance UID", sum.SOPInstanceUID},
		{"study instance UID", sum.StudyInstanceUID}, {"series instance UID", sum.SeriesInstanceUID},
	} {
		if !dcm.ValidUID(u.v) {
			return 0, invalidUID("data set " + u.name)
		}
	}
	if (in.SOPClassUID != "" && in.SOPClassUID != sum.SOPClassUID) ||
		(in.SOPInstanceUID != "" && in.SOPInstanceUID != sum.SOPInstanceUID) {
		return 0, ErrSOPMismatch
	}
	a.opts.hook("scanned")

	// 3. Duplicates, under the per-UID lock.
	unlock := a.locks.lock(sum.SOPInstanceUID)
	defer unlock()
	meta := &dcm.FileMeta{
		MediaStorageSOPClassUID:      sum.SOPClassUID,
		MediaStorageSOPInstanceUID:   sum.SOPInstanceUID,
		TransferSyntaxUID:            ts,
		ImplementationClassUID:       a.opts.implClassUID(),
		ImplementationVersionName:    a.opts.implVersionName(),
		SourceApplicationEntityTitle: strings.TrimSpace(in.SourceAE),
	}
	var hdr bytes.Buffer
	if _, err := dcm.WritePart10Header(&hdr, meta); err != nil {
		// Only the free-text source AE can be at fault: leave it out.
		meta.SourceApplicationEntityTitle = ""
		hdr.Reset()
		if _, err := dcm.WritePart10Header(&hdr, meta); err != nil {
			return 0, &InvalidDataSetError{Err: err}
		}
	}
	canonical := func() io.Reader {
		return io.MultiReader(bytes.NewReader(hdr.Bytes()), io.NewSectionReader(in.DataSet, 0, in.Size))
	}
	existing, err := a.db.Lookup(ctx, sum.SOPInstanceUID)
	switch {
	case errors.Is(err, index.ErrNotFound):
		existing = nil
	case err != nil:
		return 0, err
	default:
		same, err := a.sameInstance(ctx, existing, canonical(), ts, in)
		if err != nil {
			return 0, err
		}
		if same {
			a.log.Debug().Str("object", existing.ObjectID).Msg("archive: duplicate instance, nothing written")
			return Duplicate, nil
		}
		if a.opts.Duplicates == KeepFirst {
			a.log.Warn().Str("object", existing.ObjectID).Msg("archive: duplicate SOP instance UID with different content refused")
			return 0, ErrDuplicateDifferent
		}
	}

	// 4. Shares.
	codec := a.codec
	if t, ok := uid.LookupTransferSyntax(ts); ok && t.Encapsulated {
		codec = pipeline.CodecNone
	}
	size := int64(hdr.Len()) + in.Size
	w, err := a.writeShares(ctx, canonical(), size, codec)
	if err != nil {
		return 0, err
	}
	defer a.release(w)

	// 5. Commit.
	rec := &index.InstanceRecord{
		SOPInstanceUID: sum.SOPInstanceUID, SOPClassUID: sum.SOPClassUID,
		SeriesInstanceUID: sum.SeriesInstanceUID, StudyInstanceUID: sum.StudyInstanceUID,
		PatientID: sum.PatientID, Attrs: sum.Attrs, TransferSyntaxUID: ts,
		Size: w.res.PlainSize, SHA256: w.res.PlainSHA256, Codec: w.res.Codec.String(), K: w.res.K,
		KEKVersion: w.res.KEKVersion, ObjectID: hex.EncodeToString(w.res.ObjectID[:]), Shares: w.shares,
		ReceivedAt: a.opts.now(), SourceAE: meta.SourceApplicationEntityTitle,
	}
	outcome := Stored
	if existing == nil {
		err = a.db.Insert(ctx, rec)
		if errors.Is(err, index.ErrDuplicate) {
			// Another process committed this UID meanwhile: it won.
			a.discard(context.WithoutCancel(ctx), w)
			return a.afterLostRace(ctx, sum.SOPInstanceUID, canonical(), ts, in)
		}
	} else {
		var old *index.InstanceRecord
		old, err = a.db.Replace(ctx, rec)
		if err == nil && old != nil {
			outcome = Replaced
			a.opts.hook("committed")
			a.dropObject(context.WithoutCancel(ctx), old.ObjectID, old.Shares)
			a.opts.hook("old-deleted")
		}
	}
	if err != nil {
		a.discard(context.WithoutCancel(ctx), w)
		if index.IsDiskFull(err) {
			return 0, fmt.Errorf("%w: index: %w", ErrOutOfResources, err)
		}
		return 0, err
	}
	if outcome == Stored {
		a.opts.hook("committed")
	}
	if len(w.shares) < 4 {
		a.log.Warn().Str("object", rec.ObjectID).Int("durable", len(w.shares)).Msg("archive: stored with missing shares; repair queued")
		a.queueRepair(rec.SOPInstanceUID)
	}
	return outcome, nil
}

// afterLostRace decides the outcome once another writer committed the UID.
func (a *Archive) afterLostRace(ctx context.Context, sopUID string, canonical io.Reader, ts string, in *Instance) (StoreOutcome, error) {
	existing, err := a.db.Lookup(ctx, sopUID)
	if err != nil {
		return 0, err
	}
	same, err := a.sameInstance(ctx, existing, canonical, ts, in)
	if err != nil {
		return 0, err
	}
	if same {
		return Duplicate, nil
	}
	return 0, ErrDuplicateDifferent
}

// sameInstance reports whether the stored instance rec is the one received:
// the same canonical SHA-256 (cheap: one hash of the bytes at hand), or —
// when only the File Meta Information differs (another source AE, another
// version of this program) — the same transfer syntax and the same data set
// bytes, compared against the decoded stored instance.
func (a *Archive) sameInstance(ctx context.Context, rec *index.InstanceRecord, canonical io.Reader, ts string, in *Instance) (bool, error) {
	h := sha256.New()
	if _, err := io.Copy(h, canonical); err != nil {
		return false, fmt.Errorf("archive: reading data set: %w", err)
	}
	if bytes.Equal(h.Sum(nil), rec.SHA256[:]) {
		return true, nil
	}
	if rec.TransferSyntaxUID != ts {
		return false, nil
	}
	obj, err := a.openRecord(ctx, rec, true)
	if err != nil {
		// The stored copy cannot be read: treat as different (keep-first
		// refuses; replace overwrites with a readable one).
		a.log.Warn().Str("object", rec.ObjectID).Err(err).Msg("archive: stored duplicate unreadable during comparison")
		return false, nil
	}
	defer obj.Close()
	if obj.Size()-obj.DataSetOffset != in.Size {
		return false, nil
	}
	return equalReaders(obj.DataSet(), io.NewSectionReader(in.DataSet, 0, in.Size))
}

func equalReaders(x, y io.Reader) (bool, error) {
	bx, by := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		nx, ex := io.ReadFull(x, bx)
		ny, ey := io.ReadFull(y, by)
		if nx != ny || !bytes.Equal(bx[:nx], by[:ny]) {
			return false, nil
		}
		doneX := ex == io.EOF || ex == io.ErrUnexpectedEOF
		doneY := ey == io.EOF || ey == io.ErrUnexpectedEOF
		if ex != nil && !doneX {
			return false, ex
		}
		if ey != nil && !doneY {
			return false, ey
		}
		if doneX || doneY {
			return doneX == doneY, nil
		}
	}
}

// StoreFile stores a DICOM file: a Part-10 file (its File Meta
// Information gives the transfer syntax and is replaced by ours) or a raw
// data set (its transfer syntax is sniffed). The command UIDs are taken
// from the data set.
func (a *Archive) StoreFile(ctx context.Context, path, sourceAE string) (StoreOutcome, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("archive: %w", err)
	}
	br := bufio.NewReader(f)
	meta, off, err := dcm.ReadPart10Header(br, 0)
	var ts string
	switch {
	case errors.Is(err, dcm.ErrNoPart10Header):
		head, _ := br.Peek(16)
		t, ok := dcm.SniffTransferSyntax(head)
		if !ok {
			return 0, &InvalidDataSetError{Err: ErrNotDICOM}
		}
		ts, off = t, 0
	case errors.Is(err, dcm.ErrLimit):
		return 0, fmt.Errorf("%w: %w", ErrOutOfResources, err)
	case err != nil:
		return 0, &InvalidDataSetError{Err: err}
	default:
		ts = meta.TransferSyntaxUID
		if ts == "" {
			head, _ := br.Peek(16)
			t, ok := dcm.SniffTransferSyntax(head)
			if !ok {
				return 0, &InvalidDataSetError{Err: errors.New("file meta information without transfer syntax")}
			}
			ts = t
		}
	}
	size := st.Size() - off
	return a.Store(ctx, &Instance{TransferSyntaxUID: ts, DataSet: io.NewSectionReader(f, off, size), Size: size, SourceAE: sourceAE})
}
