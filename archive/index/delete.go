package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
)

// Delete removes the instances with the given SOP Instance UIDs in one
// transaction: their rows and share rows, the counts of their series,
// study and patient, the series, studies and patients left empty, and the
// ModalitiesInStudy / SOPClassesInStudy of the studies that remain. It
// returns the removed records so the archive can delete their share
// objects. UIDs not in the index are skipped; when none of the UIDs was
// present the error is ErrNotFound.
func (db *DB) Delete(ctx context.Context, sopInstanceUIDs ...string) ([]*InstanceRecord, error) {
	var removed []*InstanceRecord
	err := db.write(ctx, func(tx *wtx) error {
		var err error
		removed, err = deleteTx(ctx, tx, sopInstanceUIDs)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(removed) == 0 && len(sopInstanceUIDs) > 0 {
		return nil, ErrNotFound
	}
	return removed, nil
}

func deleteTx(ctx context.Context, tx *wtx, uids []string) ([]*InstanceRecord, error) {
	var removed []*InstanceRecord
	touched := map[int64]bool{} // studies to refresh
	for _, uid := range uids {
		uid = cleanValue(uid)
		pk, rec, err := scanRecord(tx.QueryRowContext(ctx, recordSelect+" WHERE i.sop_uid = ?", uid))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("index: delete: %w", err)
		}
		var seriesPK, studyPK, patientPK int64
		if err := tx.QueryRowContext(ctx, "SELECT se.pk, s.pk, s.patient_pk FROM instance i JOIN series se ON se.pk = i.series_pk JOIN study s ON s.pk = se.study_pk WHERE i.pk = ?", pk).
			Scan(&seriesPK, &studyPK, &patientPK); err != nil {
			return nil, fmt.Errorf("index: delete: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM instance WHERE pk = ?", pk); err != nil {
			return nil, fmt.Errorf("index: delete: %w", err)
		}
		var left int64
		if err := tx.QueryRowContext(ctx, "UPDATE series SET num_instances = num_instances - 1 WHERE pk = ? RETURNING num_instances", seriesPK).Scan(&left); err != nil {
			return nil, fmt.Errorf("index: delete: %w", err)
		}
		var seriesGone, studyGone int64
		if left <= 0 {
			seriesGone = 1
			if _, err := tx.ExecContext(ctx, "DELETE FROM series WHERE pk = ?", seriesPK); err != nil {
				return nil, fmt.Errorf("index: delete: %w", err)
			}
		}
		if err := tx.QueryRowContext(ctx, "UPDATE study SET num_instances = num_instances - 1, num_series = num_series - ? WHERE pk = ? RETURNING num_instances", seriesGone, studyPK).Scan(&left); err != nil {
			return nil, fmt.Errorf("index: delete: %w", err)
		}
		if left <= 0 {
			studyGone = 1
			delete(touched, studyPK)
			if _, err := tx.ExecContext(ctx, "DELETE FROM study WHERE pk = ?", studyPK); err != nil {
				return nil, fmt.Errorf("index: delete: %w", err)
			}
		} else {
			touched[studyPK] = true
		}
		if err := tx.QueryRowContext(ctx, "UPDATE patient SET num_instances = num_instances - 1, num_series = num_series - ?, num_studies = num_studies - ? WHERE pk = ? RETURNING num_instances",
			seriesGone, studyGone, patientPK).Scan(&left); err != nil {
			return nil, fmt.Errorf("index: delete: %w", err)
		}
		if left <= 0 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM patient WHERE pk = ?", patientPK); err != nil {
				return nil, fmt.Errorf("index: delete: %w", err)
			}
		}
		removed = append(removed, rec)
	}
	studies := make([]int64, 0, len(touched))
	for pk := range touched {
		studies = append(studies, pk)
	}
	sort.Slice(studies, func(i, j int) bool { return studies[i] < studies[j] })
	for _, pk := range studies {
		if err := rebuildStudySummaries(ctx, tx, pk); err != nil {
			return nil, err
		}
	}
	return removed, nil
}

// rebuildStudySummaries recomputes a study's modality and SOP class sets
// from its remaining series and instances.
func rebuildStudySummaries(ctx context.Context, tx *wtx, studyPK int64) error {
	stmts := []string{
		"DELETE FROM study_modality WHERE study_pk = ?1",
		"INSERT INTO study_modality (study_pk, modality) SELECT DISTINCT ?1, modality FROM series WHERE study_pk = ?1 AND modality <> ''",
		"DELETE FROM study_sop_class WHERE study_pk = ?1",
		"INSERT INTO study_sop_class (study_pk, sop_class_uid) SELECT DISTINCT ?1, i.sop_class_uid FROM instance i JOIN series se ON se.pk = i.series_pk WHERE se.study_pk = ?1 AND i.sop_class_uid <> ''",
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q, studyPK); err != nil {
			return fmt.Errorf("index: delete: rebuild study summaries: %w", err)
		}
	}
	if err := refreshSummary(ctx, tx, "study_modality", "modality", "modalities", studyPK); err != nil {
		return err
	}
	return refreshSummary(ctx, tx, "study_sop_class", "sop_class_uid", "sop_classes", studyPK)
}
