package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// lookupByUID is Lookup's statement.
var lookupByUID = recordSelect + " WHERE i.sop_uid = ?"

// Lookup returns the record of one instance, or ErrNotFound.
func (db *DB) Lookup(ctx context.Context, sopInstanceUID string) (*InstanceRecord, error) {
	if err := db.readable(); err != nil {
		return nil, err
	}
	st, err := db.rstmt(ctx, lookupByUID)
	if err != nil {
		return nil, db.queryErr(ctx, err)
	}
	_, rec, err := scanRecord(st.QueryRowContext(ctx, cleanValue(sopInstanceUID)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, db.queryErr(ctx, err)
	}
	return rec, nil
}

// Instances returns every instance under one entity, in insertion order:
// uid is a PatientID at LevelPatient (all patients with that ID, whatever
// their IssuerOfPatientID), a Study, Series or SOP Instance UID at the other
// levels. For C-MOVE, C-GET, export and delete. An entity that is not
// indexed gives an empty result, not an error; an unknown level is a
// *QueryError.
func (db *DB) Instances(ctx context.Context, level Level, uid string) ([]*InstanceRecord, error) {
	if err := db.readable(); err != nil {
		return nil, err
	}
	var where string
	switch level {
	case LevelPatient:
		where = " WHERE p.patient_id = ?"
	case LevelStudy:
		where = " WHERE s.study_uid = ?"
	case LevelSeries:
		where = " WHERE se.series_uid = ?"
	case LevelImage:
		where = " WHERE i.sop_uid = ?"
	default:
		return nil, queryErr(0, "unknown level %q", truncate(string(level)))
	}
	st, err := db.rstmt(ctx, recordSelect+where+" ORDER BY i.pk")
	if err != nil {
		return nil, db.queryErr(ctx, err)
	}
	rows, err := st.QueryContext(ctx, cleanValue(uid))
	if err != nil {
		return nil, db.queryErr(ctx, err)
	}
	defer rows.Close()
	var out []*InstanceRecord
	for rows.Next() {
		_, rec, err := scanRecord(rows)
		if err != nil {
			return nil, db.queryErr(ctx, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, db.queryErr(ctx, err)
	}
	return out, nil
}

// eachBatch is how many records Each reads per query.
const eachBatch = 256

// Each calls fn for every instance in insertion order, stopping at fn's
// first error (returned as is) or when ctx is done. Records are read in
// batches and fn runs with no connection held, so it may call any method
// of db (UpdateShare during repair, say); instances inserted meanwhile may
// or may not be visited, deleted ones may still be.
func (db *DB) Each(ctx context.Context, fn func(*InstanceRecord) error) error {
	var after int64
	for {
		if err := db.readable(); err != nil {
			return err
		}
		rows, err := db.r.QueryContext(ctx, recordSelect+" WHERE i.pk > ? ORDER BY i.pk LIMIT ?", after, eachBatch)
		if err != nil {
			return db.queryErr(ctx, err)
		}
		var batch []*InstanceRecord
		for rows.Next() {
			pk, rec, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return db.queryErr(ctx, err)
			}
			after = pk
			batch = append(batch, rec)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return db.queryErr(ctx, err)
		}
		for _, rec := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(batch) < eachBatch {
			return nil
		}
	}
}

// UpdateShare records (or replaces) share s of an instance, after a repair
// rewrote it. ErrNotFound when the instance is not indexed;
// ErrInvalidRecord when s.Index is not 0..3.
func (db *DB) UpdateShare(ctx context.Context, sopInstanceUID string, s ShareRecord) error {
	if s.Index < 0 || s.Index > 3 {
		return fmt.Errorf("%w: share index %d", ErrInvalidRecord, s.Index)
	}
	return db.write(ctx, func(tx *wtx) error {
		var pk int64
		err := tx.QueryRowContext(ctx, "SELECT pk FROM instance WHERE sop_uid = ?", cleanValue(sopInstanceUID)).Scan(&pk)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("index: update share: %w", err)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO share (instance_pk, idx, name, size, sha256) VALUES (?, ?, ?, ?, ?)"+
			" ON CONFLICT (instance_pk, idx) DO UPDATE SET name = excluded.name, size = excluded.size, sha256 = excluded.sha256",
			pk, s.Index, s.Name, s.Size, s.SHA256[:])
		if err != nil {
			return fmt.Errorf("index: update share: %w", err)
		}
		return nil
	})
}

// ObjectNames returns the names of every share object the index references
// in one store (0..3), for orphan collection. List the store first, then
// take this set: a listed object missing from it is an orphan, unless it is
// young enough to belong to an Insert still committing (callers keep a
// grace period).
func (db *DB) ObjectNames(ctx context.Context, store int) (map[string]bool, error) {
	if err := db.readable(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, "SELECT name FROM share WHERE idx = ?", store)
	if err != nil {
		return nil, db.queryErr(ctx, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, db.queryErr(ctx, err)
		}
		out[n] = true
	}
	if err := rows.Err(); err != nil {
		return nil, db.queryErr(ctx, err)
	}
	return out, nil
}

// HasObject reports whether a share object name is referenced in a store.
func (db *DB) HasObject(ctx context.Context, store int, name string) (bool, error) {
	if err := db.readable(); err != nil {
		return false, err
	}
	var one int
	err := db.r.QueryRowContext(ctx, "SELECT 1 FROM share WHERE idx = ? AND name = ? LIMIT 1", store, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, db.queryErr(ctx, err)
	}
	return true, nil
}
