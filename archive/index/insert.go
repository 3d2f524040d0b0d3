package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shardpacs/shardpacs/dcm"
)

// keyColumn reports whether t identifies its entity (never filled in later).
func keyColumn(t dcm.Tag) bool {
	switch t {
	case dcm.TagPatientID, dcm.TagIssuerOfPatientID, dcm.TagStudyInstanceUID,
		dcm.TagSeriesInstanceUID, dcm.TagSOPInstanceUID:
		return true
	}
	return false
}

// insertSQL returns "INSERT INTO table (parent, cols...) VALUES (...)" over
// every stored column of level l, and the values in order.
func insertSQL(l Level, parent string, parentPK int64, vals map[dcm.Tag]string) (string, []any) {
	var names []string
	var args []any
	if parent != "" {
		names = append(names, parent)
		args = append(args, parentPK)
	}
	for _, c := range storedColumns[l] {
		n, v := physical(c, vals[c.tag])
		names = append(names, n...)
		args = append(args, v...)
	}
	return "INSERT INTO " + levelTable(l) + " (" + strings.Join(names, ", ") + ") VALUES (?" +
		strings.Repeat(", ?", len(names)-1) + ")", args
}

// fillSQL returns an UPDATE of one entity row that adds to its counters and
// fills each empty attribute with the new instance's value when fill is
// true ("first arrival wins, later instances fill the gaps"). counters are
// "name = name + ?" terms whose arguments come first.
func fillSQL(l Level, counters []string, counterArgs []any, fill bool, vals map[dcm.Tag]string, pk int64) (string, []any) {
	sets := append([]string(nil), counters...)
	args := append([]any(nil), counterArgs...)
	args = append(args, fill) // ?N below
	fillArg := "?" + strconv.Itoa(len(args))
	for _, c := range storedColumns[l] {
		if keyColumn(c.tag) {
			continue
		}
		names, v := physical(c, vals[c.tag])
		for i, n := range names {
			args = append(args, v[i])
			sets = append(sets, fmt.Sprintf("%s = CASE WHEN %s AND %s = '' THEN ?%d ELSE %s END",
				n, fillArg, c.name, len(args), n))
		}
	}
	args = append(args, pk)
	return "UPDATE " + levelTable(l) + " SET " + strings.Join(sets, ", ") +
		" WHERE pk = ?" + strconv.Itoa(len(args)), args
}

// Insert adds one instance in one transaction: it creates or updates the
// patient (keyed by PatientID + IssuerOfPatientID; an empty PatientID is a
// key like any other), study and series rows, inserts the instance and its
// share rows, and maintains the counts, ModalitiesInStudy and
// SOPClassesInStudy. An entity found by its UID keeps its place in the
// hierarchy even when the new record names another parent (inconsistent
// data is filed under the first arrival's parent, whose attributes are then
// not filled from the record). The first arrival's attributes win; later
// instances fill attributes that were empty.
//
// Group commit: Inserts that arrive while another write is committing are
// committed together in the next transaction (up to maxGroup), each inside
// its own savepoint, so one fsync serves several callers and one failure
// does not affect the others. Insert returns nil only once its row is
// durable. A cancelled ctx abandons the insert only while it is still
// queued.
//
// A SOP Instance UID already present → ErrDuplicate, nothing changed.
// Missing UIDs or bad share indexes → ErrInvalidRecord.
func (db *DB) Insert(ctx context.Context, rec *InstanceRecord) error {
	p, err := prepare(rec)
	if err != nil {
		return err
	}
	if err := db.readable(); err != nil {
		return err
	}
	req := &insertReq{ctx: ctx, p: p, done: make(chan error, 1)}
	db.qmu.Lock()
	db.queue = append(db.queue, req)
	db.qmu.Unlock()
	for {
		select {
		case err := <-req.done:
			return err
		case db.wsem <- struct{}{}:
			db.commitQueued()
			db.unlockWriter()
		case <-ctx.Done():
			if db.dequeue(req) {
				return ctx.Err()
			}
			return <-req.done
		case <-db.close:
			if db.dequeue(req) {
				return ErrClosed
			}
			return <-req.done
		}
	}
}

// maxGroup caps the Inserts committed in one transaction.
const maxGroup = 64

// insertReq is one Insert waiting for a group commit.
type insertReq struct {
	ctx   context.Context
	p     *prepared
	done  chan error // receives the result once (buffered)
	taken bool       // picked by a committer (guarded by DB.qmu)
}

// dequeue removes req from the queue unless a committer already took it.
func (db *DB) dequeue(req *insertReq) bool {
	db.qmu.Lock()
	defer db.qmu.Unlock()
	if req.taken {
		return false
	}
	for i, r := range db.queue {
		if r == req {
			db.queue = append(db.queue[:i], db.queue[i+1:]...)
			break
		}
	}
	return true
}

// commitQueued commits the queued Inserts; the caller holds the writer.
func (db *DB) commitQueued() {
	db.qmu.Lock()
	n := min(len(db.queue), maxGroup)
	batch := db.queue[:n:n]
	db.queue = append([]*insertReq(nil), db.queue[n:]...)
	for _, r := range batch {
		r.taken = true
	}
	db.qmu.Unlock()
	if n == 0 {
		return
	}
	ctx := context.Background() // a caller's cancellation must not abort the others
	results := make([]error, n)
	err := db.writeLocked(ctx, func(tx *wtx) error {
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				results[i] = err
				continue
			}
			if _, err := tx.ExecContext(ctx, "SAVEPOINT ins"); err != nil {
				return fmt.Errorf("index: savepoint: %w", err)
			}
			if err := insertTx(ctx, tx, r.p); err != nil {
				results[i] = err
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO ins"); err != nil {
					return fmt.Errorf("index: rollback to savepoint: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE ins"); err != nil {
				return fmt.Errorf("index: release savepoint: %w", err)
			}
		}
		return nil
	})
	for i, r := range batch {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		r.done <- results[i]
	}
}

// Replace swaps the index rows of rec.SOPInstanceUID for rec in one
// transaction and returns the previous record (its Shares are the objects
// the archive must now delete), or nil when the instance was not indexed
// (rec is then simply inserted). For the "replace" duplicates policy.
func (db *DB) Replace(ctx context.Context, rec *InstanceRecord) (old *InstanceRecord, err error) {
	p, err := prepare(rec)
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, func(tx *wtx) error {
		removed, err := deleteTx(ctx, tx, []string{p.vals[dcm.TagSOPInstanceUID]})
		if err != nil {
			return err
		}
		if len(removed) == 1 {
			old = removed[0]
		}
		return insertTx(ctx, tx, p)
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}

func insertTx(ctx context.Context, tx *wtx, p *prepared) error {
	v := p.vals
	rec := p.rec
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM instance WHERE sop_uid = ?", v[dcm.TagSOPInstanceUID]).Scan(&one)
	if err == nil {
		return ErrDuplicate
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("index: insert: %w", err)
	}

	var patientPK, studyPK, seriesPK int64
	var newStudy, newSeries bool
	var patientMatches, studyMatches bool
	err = tx.QueryRowContext(ctx, "SELECT se.pk, s.pk, s.patient_pk, s.study_uid = ? FROM series se JOIN study s ON s.pk = se.study_pk WHERE se.series_uid = ?",
		v[dcm.TagStudyInstanceUID], v[dcm.TagSeriesInstanceUID]).Scan(&seriesPK, &studyPK, &patientPK, &studyMatches)
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		newSeries = true
		studyMatches = true
		err = tx.QueryRowContext(ctx, "SELECT pk, patient_pk FROM study WHERE study_uid = ?", v[dcm.TagStudyInstanceUID]).Scan(&studyPK, &patientPK)
		switch {
		case err == nil:
		case errors.Is(err, sql.ErrNoRows):
			newStudy = true
			err = tx.QueryRowContext(ctx, "SELECT pk FROM patient WHERE patient_id = ? AND issuer = ?",
				v[dcm.TagPatientID], v[dcm.TagIssuerOfPatientID]).Scan(&patientPK)
			if errors.Is(err, sql.ErrNoRows) {
				q, args := insertSQL(LevelPatient, "", 0, v)
				if patientPK, err = insertRow(ctx, tx, q, args); err != nil {
					return err
				}
			} else if err != nil {
				return fmt.Errorf("index: insert: %w", err)
			}
			q, args := insertSQL(LevelStudy, "patient_pk", patientPK, v)
			if studyPK, err = insertRow(ctx, tx, q, args); err != nil {
				return err
			}
		default:
			return fmt.Errorf("index: insert: %w", err)
		}
		q, args := insertSQL(LevelSeries, "study_pk", studyPK, v)
		if seriesPK, err = insertRow(ctx, tx, q, args); err != nil {
			return err
		}
	default:
		return fmt.Errorf("index: insert: %w", err)
	}
	if !newStudy {
		err = tx.QueryRowContext(ctx, "SELECT patient_id = ? AND issuer = ? FROM patient WHERE pk = ?",
			v[dcm.TagPatientID], v[dcm.TagIssuerOfPatientID], patientPK).Scan(&patientMatches)
		if err != nil {
			return fmt.Errorf("index: insert: %w", err)
		}
	}

	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	q, args := fillSQL(LevelPatient,
		[]string{"num_studies = num_studies + ?1", "num_series = num_series + ?2", "num_instances = num_instances + 1"},
		[]any{b2i(newStudy), b2i(newSeries)}, !newStudy && patientMatches, v, patientPK)
	if err := execOne(ctx, tx, q, args); err != nil {
		return err
	}
	q, args = fillSQL(LevelStudy,
		[]string{"num_series = num_series + ?1", "num_instances = num_instances + 1"},
		[]any{b2i(newSeries)}, !newStudy && studyMatches, v, studyPK)
	if err := execOne(ctx, tx, q, args); err != nil {
		return err
	}
	q, args = fillSQL(LevelSeries, []string{"num_instances = num_instances + 1"}, nil, !newSeries, v, seriesPK)
	if err := execOne(ctx, tx, q, args); err != nil {
		return err
	}

	q, args = insertSQL(LevelImage, "series_pk", seriesPK, v)
	q = strings.Replace(q, ") VALUES (", ", extra, transfer_syntax_uid, size, sha256, codec, k, kek_version, object_id, received_at, source_ae) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ", 1)
	var received int64
	if !rec.ReceivedAt.IsZero() {
		received = rec.ReceivedAt.UnixNano()
	}
	// Column order: series_pk, the attribute columns, then these.
	args = append(args, p.extra, cleanValue(rec.TransferSyntaxUID), rec.Size, rec.SHA256[:], rec.Codec, rec.K,
		int64(rec.KEKVersion), rec.ObjectID, received, rec.SourceAE)
	instancePK, err := insertRow(ctx, tx, q, args)
	if err != nil {
		return err
	}
	for _, s := range rec.Shares {
		if _, err := tx.ExecContext(ctx, "INSERT INTO share (instance_pk, idx, name, size, sha256) VALUES (?, ?, ?, ?, ?)",
			instancePK, s.Index, s.Name, s.Size, s.SHA256[:]); err != nil {
			return fmt.Errorf("index: insert share: %w", err)
		}
	}

	// Computed study keys, read back from the series (its modality may
	// have been there before) and the instance.
	var modality string
	if err := tx.QueryRowContext(ctx, "SELECT modality FROM series WHERE pk = ?", seriesPK).Scan(&modality); err != nil {
		return fmt.Errorf("index: insert: %w", err)
	}
	if modality != "" {
		if err := addStudyValue(ctx, tx, "study_modality", "modality", "modalities", studyPK, modality); err != nil {
			return err
		}
	}
	if sc := v[dcm.TagSOPClassUID]; sc != "" {
		if err := addStudyValue(ctx, tx, "study_sop_class", "sop_class_uid", "sop_classes", studyPK, sc); err != nil {
			return err
		}
	}
	return nil
}

// addStudyValue adds a value to a study's helper table and, when it is new,
// rewrites the study's backslash-joined summary column.
func addStudyValue(ctx context.Context, tx *wtx, table, col, summary string, studyPK int64, val string) error {
	res, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO "+table+" (study_pk, "+col+") VALUES (?, ?)", studyPK, val)
	if err != nil {
		return fmt.Errorf("index: insert %s: %w", table, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return refreshSummary(ctx, tx, table, col, summary, studyPK)
}

// refreshSummary rewrites a study's summary column from its helper table.
func refreshSummary(ctx context.Context, tx *wtx, table, col, summary string, studyPK int64) error {
	_, err := tx.ExecContext(ctx, "UPDATE study SET "+summary+" = coalesce((SELECT group_concat("+col+", '\\' ORDER BY "+col+") FROM "+table+" WHERE study_pk = ?1), '') WHERE pk = ?1", studyPK)
	if err != nil {
		return fmt.Errorf("index: update %s: %w", summary, err)
	}
	return nil
}

func insertRow(ctx context.Context, tx *wtx, q string, args []any) (int64, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("index: insert: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("index: insert: %w", err)
	}
	return id, nil
}

func execOne(ctx context.Context, tx *wtx, q string, args []any) error {
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("index: update: %w", err)
	}
	return nil
}
