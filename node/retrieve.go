package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// uniqueKey is the unique key of each level (PS3.4 C.6.1.1, C.6.2.1).
var uniqueKey = map[index.Level]dcm.Tag{
	index.LevelPatient: dcm.TagPatientID,
	index.LevelStudy:   dcm.TagStudyInstanceUID,
	index.LevelSeries:  dcm.TagSeriesInstanceUID,
	index.LevelImage:   dcm.TagSOPInstanceUID,
}

// resolve lists the instances a C-MOVE / C-GET identifier designates
// (PS3.4 C.4.2.2.1): the unique key of the retrieve level, a single value
// or a list of UIDs; unique keys of the levels above, when present and not
// empty, must also match. A missing unique key is 0xA900 with the key as
// Offending Element.
func (n *Node) resolve(ctx context.Context, r *request) ([]*index.InstanceRecord, error) {
	key := uniqueKey[r.level]
	v, _ := r.value(key)
	if v == "" || strings.ContainsAny(v, "*?") {
		return nil, &dimse.StatusError{Status: dimse.StatusIdentifierDoesNotMatchSOPClass,
			Comment: "unique key of the retrieve level missing", Offending: []dimse.Tag{dimse.Tag(key)}}
	}
	vals := strings.Split(v, `\`)
	if len(vals) > index.MaxListValues {
		return nil, &dimse.StatusError{Status: dimse.StatusUnableToProcess,
			Comment: "too many values in the unique key", Offending: []dimse.Tag{dimse.Tag(key)}}
	}
	filters := map[dcm.Tag]string{}
	for _, t := range []dcm.Tag{dcm.TagPatientID, dcm.TagStudyInstanceUID, dcm.TagSeriesInstanceUID} {
		if t == key || (t == dcm.TagPatientID && r.root == index.StudyRoot) {
			continue
		}
		if fv, ok := r.value(t); ok && fv != "" && !strings.ContainsAny(fv, `*?\`) {
			filters[t] = fv
		}
	}
	var out []*index.InstanceRecord
	seen := map[string]bool{}
	for _, val := range vals {
		val = strings.Trim(val, " \x00")
		if val == "" {
			continue
		}
		recs, err := n.arch.Instances(ctx, r.level, val)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if seen[rec.SOPInstanceUID] || !matchesFilters(rec, filters) {
				continue
			}
			seen[rec.SOPInstanceUID] = true
			out = append(out, rec)
		}
	}
	return out, nil
}

func matchesFilters(rec *index.InstanceRecord, f map[dcm.Tag]string) bool {
	for t, v := range f {
		var have string
		switch t {
		case dcm.TagPatientID:
			have = rec.PatientID
		case dcm.TagStudyInstanceUID:
			have = rec.StudyInstanceUID
		case dcm.TagSeriesInstanceUID:
			have = rec.SeriesInstanceUID
		}
		if strings.TrimSpace(have) != v {
			return false
		}
	}
	return true
}

// subStoreFunc runs one C-STORE sub-operation: data is the instance's data
// set in transfer syntax ts (rec.TransferSyntaxUID, or the native syntax it
// is being converted to). It returns the peer's status, or an error (a
// *dimse.StatusError carries the peer's non-success status).
type subStoreFunc func(ctx context.Context, rec *index.InstanceRecord, ts string, data io.Reader) (dimse.Status, error)

// acceptedFunc returns the transfer syntaxes the peer accepted for a SOP
// class on contexts usable for the sub-operations, in context ID order.
type acceptedFunc func(sopClassUID string) []string

// runSubOps sends every instance of recs with store, in order, reporting
// progress after each sub-operation (PS3.4 C.4.2.3.1: pending responses
// while it runs, never an early success). The instances are read from the
// archive ahead of their sub-operation (readAhead: at most
// readAheadDepth+1 decoded at a time), so that decoding the next overlaps
// sending the current one. It stops when ctx ends (C-CANCEL); the counts
// then say what is left, and the instances read but not sent are closed
// before it returns. Failures are logged without patient data.
func (n *Node) runSubOps(ctx context.Context, op string, recs []*index.InstanceRecord,
	progress func(dimse.SubOps) error, accepted acceptedFunc, store subStoreFunc) dimse.SubOps {
	so := dimse.SubOps{Remaining: len(recs)}
	_ = progress(so)
	ahead := n.startReadAhead(ctx, recs)
	defer ahead.stop()
	for range recs {
		in, ok := ahead.next(ctx)
		if !ok || ctx.Err() != nil {
			in.close()
			return so
		}
		rec := in.rec
		st, err := n.subOp(ctx, op, in, accepted, store)
		so.Remaining--
		switch {
		case err != nil || st.Type() == dimse.StatusTypeFailure || st.Type() == dimse.StatusTypeCancel:
			so.Failed++
			so.FailedSOPInstanceUIDs = append(so.FailedSOPInstanceUIDs, rec.SOPInstanceUID)
			n.log.Warn().Str("op", op).Str("status", st.String()).Err(err).Msg("node: sub-operation failed")
			n.log.Debug().Str("op", op).Str("sop_instance_uid", rec.SOPInstanceUID).Msg("node: failed instance")
		case st.Type() == dimse.StatusTypeWarning:
			so.Warning++
		default:
			so.Completed++
		}
		if so.Remaining > 0 && ctx.Err() == nil {
			_ = progress(so)
		}
	}
	return so
}

// errNoTranscoding: the peer accepted no context in the instance's own
// transfer syntax nor, for native data, in another native syntax.
var errNoTranscoding = errors.New("node: peer accepted no context in the instance's transfer syntax (encapsulated data is not converted) nor, for native data, in another native one")

// subOp sends one instance read from the archive (in, which it closes):
// as stored when the peer accepted its transfer syntax, else converted on
// the fly to a native syntax the peer accepted when the stored one is
// native too (chooseSyntax). A data set that cannot be converted fails
// before anything is sent. An instance the archive could not read fails
// (0xC020 for archive.ErrUnavailable, audited); limits.operation_timeout
// bounds the read and the send together, not the wait for the previous
// sub-operation.
func (n *Node) subOp(ctx context.Context, op string, in openedInstance, accepted acceptedFunc, store subStoreFunc) (dimse.Status, error) {
	rec := in.rec
	if in.err != nil {
		if errors.Is(in.err, archive.ErrUnavailable) {
			n.auditUnavailable(rec, in.err)
			return dimse.StatusInstanceUnavailable, in.err
		}
		return dimse.StatusInternalError, in.err
	}
	defer in.close()
	if t := n.cfg.Limits.OperationTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t-in.took)
		defer cancel()
	}
	obj := in.obj
	ts, convert := chooseSyntax(rec.TransferSyntaxUID, accepted(rec.SOPClassUID))
	var st dimse.Status
	var err error
	if convert {
		n.log.Debug().Str("op", op).Str("from", rec.TransferSyntaxUID).Str("to", ts).Msg("node: converting the data set to a native syntax the peer accepted")
		st, err = n.storeConverted(ctx, rec, obj, ts, store)
	} else {
		st, err = store(ctx, rec, ts, obj.DataSet())
	}
	if errors.Is(err, dimse.ErrNoContext) {
		err = errors.Join(errNoTranscoding, err)
	}
	var se *dimse.StatusError
	if errors.As(err, &se) {
		return se.Status, nil
	}
	return st, err
}

// chooseSyntax picks the transfer syntax to send an instance stored in
// stored to a peer that accepted the syntaxes in accepted: stored itself
// when accepted (byte-exact), else, for native data, a native syntax the
// peer accepted — Explicit VR Little Endian, then Implicit, then Explicit
// VR Big Endian (PS3.5 A.1-A.3) — with convert true. With neither it
// returns stored, and the sub-operation fails for want of a context.
func chooseSyntax(stored string, accepted []string) (ts string, convert bool) {
	if slices.Contains(accepted, stored) {
		return stored, false
	}
	if s, ok := uid.LookupTransferSyntax(stored); !ok || !s.Native() {
		return stored, false
	}
	for _, ts := range nativePreference {
		if slices.Contains(accepted, ts) {
			return ts, true
		}
	}
	return stored, false
}

// nativePreference is the order in which chooseSyntax and moveProposals
// offer the native syntaxes.
var nativePreference = []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, uid.ExplicitVRBigEndian}

// errConversionAbandoned ends a conversion whose sub-operation stopped
// reading.
var errConversionAbandoned = errors.New("node: sub-operation ended before the converted data set was sent")

// storeConverted validates the conversion of obj's data set to ts
// (dcm.TranscodedSize: no value copied), then streams dcm.Transcode's
// output into store through a pipe, so memory stays bounded whatever the
// size of the instance.
func (n *Node) storeConverted(ctx context.Context, rec *index.InstanceRecord, obj *archive.Object, ts string, store subStoreFunc) (dimse.Status, error) {
	size := obj.Size() - obj.DataSetOffset
	lim := dcm.Limits{MaxDepth: n.cfg.Limits.MaxSequenceDepth, MaxDataSetSize: -1}
	ds, ok := obj.DataSet().(io.ReadSeeker)
	if !ok {
		return dimse.StatusInternalError, errors.New("node: stored data set is not seekable")
	}
	if _, err := dcm.TranscodedSize(ds, size, rec.TransferSyntaxUID, ts, lim); err != nil {
		return dimse.StatusInternalError, fmt.Errorf("node: cannot convert the data set to %s: %w", ts, err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := dcm.Transcode(pw, obj.DataSet(), size, rec.TransferSyntaxUID, ts, lim)
		_ = pw.CloseWithError(err)
	}()
	st, err := store(ctx, rec, ts, pr)
	_ = pr.CloseWithError(errConversionAbandoned)
	<-done
	return st, err
}
