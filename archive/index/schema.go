package index

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] brings the schema from version i to version i+1; the
// version is kept in PRAGMA user_version. Never edit a released migration:
// append a new one.
//
// Conventions: every attribute column is TEXT NOT NULL DEFAULT ” holding
// the UTF-8 value with leading and trailing spaces removed (multi-values
// joined by '\'); a PN column has upper-cased companions per component group
// (_a alphabetic, _i ideographic, _p phonetic) for case-insensitive
// matching; a TM column has a companion _n normalised to HHMMSS.FFFFFF for
// range matching ("" when unparsable). Counts and the ModalitiesInStudy /
// SOPClassesInStudy strings are maintained by Insert and Delete.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE patient (
	pk              INTEGER PRIMARY KEY,
	patient_id      TEXT NOT NULL,
	issuer          TEXT NOT NULL,
	patient_name    TEXT NOT NULL DEFAULT '',
	patient_name_a  TEXT NOT NULL DEFAULT '',
	patient_name_i  TEXT NOT NULL DEFAULT '',
	patient_name_p  TEXT NOT NULL DEFAULT '',
	birth_date      TEXT NOT NULL DEFAULT '',
	birth_time      TEXT NOT NULL DEFAULT '',
	birth_time_n    TEXT NOT NULL DEFAULT '',
	sex             TEXT NOT NULL DEFAULT '',
	other_ids       TEXT NOT NULL DEFAULT '',
	num_studies     INTEGER NOT NULL DEFAULT 0,
	num_series      INTEGER NOT NULL DEFAULT 0,
	num_instances   INTEGER NOT NULL DEFAULT 0,
	UNIQUE (patient_id, issuer)
);
CREATE INDEX patient_name_a_idx ON patient (patient_name_a);
CREATE INDEX patient_name_i_idx ON patient (patient_name_i);

CREATE TABLE study (
	pk              INTEGER PRIMARY KEY,
	patient_pk      INTEGER NOT NULL REFERENCES patient (pk),
	study_uid       TEXT NOT NULL UNIQUE,
	study_date      TEXT NOT NULL DEFAULT '',
	study_time      TEXT NOT NULL DEFAULT '',
	study_time_n    TEXT NOT NULL DEFAULT '',
	accession       TEXT NOT NULL DEFAULT '',
	study_id        TEXT NOT NULL DEFAULT '',
	description     TEXT NOT NULL DEFAULT '',
	referring       TEXT NOT NULL DEFAULT '',
	referring_a     TEXT NOT NULL DEFAULT '',
	referring_i     TEXT NOT NULL DEFAULT '',
	referring_p     TEXT NOT NULL DEFAULT '',
	reading         TEXT NOT NULL DEFAULT '',
	reading_a       TEXT NOT NULL DEFAULT '',
	reading_i       TEXT NOT NULL DEFAULT '',
	reading_p       TEXT NOT NULL DEFAULT '',
	patient_age     TEXT NOT NULL DEFAULT '',
	patient_size    TEXT NOT NULL DEFAULT '',
	patient_weight  TEXT NOT NULL DEFAULT '',
	modalities      TEXT NOT NULL DEFAULT '',
	sop_classes     TEXT NOT NULL DEFAULT '',
	num_series      INTEGER NOT NULL DEFAULT 0,
	num_instances   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX study_patient_idx ON study (patient_pk);
CREATE INDEX study_date_idx ON study (study_date);
CREATE INDEX study_accession_idx ON study (accession);

CREATE TABLE study_modality (
	study_pk INTEGER NOT NULL REFERENCES study (pk) ON DELETE CASCADE,
	modality TEXT NOT NULL,
	PRIMARY KEY (study_pk, modality)
) WITHOUT ROWID;
CREATE INDEX study_modality_idx ON study_modality (modality);

CREATE TABLE study_sop_class (
	study_pk      INTEGER NOT NULL REFERENCES study (pk) ON DELETE CASCADE,
	sop_class_uid TEXT NOT NULL,
	PRIMARY KEY (study_pk, sop_class_uid)
) WITHOUT ROWID;

CREATE TABLE series (
	pk              INTEGER PRIMARY KEY,
	study_pk        INTEGER NOT NULL REFERENCES study (pk),
	series_uid      TEXT NOT NULL UNIQUE,
	modality        TEXT NOT NULL DEFAULT '',
	series_number   TEXT NOT NULL DEFAULT '',
	description     TEXT NOT NULL DEFAULT '',
	body_part       TEXT NOT NULL DEFAULT '',
	series_date     TEXT NOT NULL DEFAULT '',
	series_time     TEXT NOT NULL DEFAULT '',
	series_time_n   TEXT NOT NULL DEFAULT '',
	protocol        TEXT NOT NULL DEFAULT '',
	institution     TEXT NOT NULL DEFAULT '',
	station         TEXT NOT NULL DEFAULT '',
	manufacturer    TEXT NOT NULL DEFAULT '',
	pps_start_date  TEXT NOT NULL DEFAULT '',
	num_instances   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX series_study_idx ON series (study_pk);

CREATE TABLE instance (
	pk                  INTEGER PRIMARY KEY,
	series_pk           INTEGER NOT NULL REFERENCES series (pk),
	sop_uid             TEXT NOT NULL UNIQUE,
	sop_class_uid       TEXT NOT NULL DEFAULT '',
	instance_number     TEXT NOT NULL DEFAULT '',
	content_date        TEXT NOT NULL DEFAULT '',
	content_time        TEXT NOT NULL DEFAULT '',
	content_time_n      TEXT NOT NULL DEFAULT '',
	number_of_frames    TEXT NOT NULL DEFAULT '',
	n_rows              TEXT NOT NULL DEFAULT '',
	n_columns           TEXT NOT NULL DEFAULT '',
	extra               TEXT NOT NULL DEFAULT '',
	transfer_syntax_uid TEXT NOT NULL DEFAULT '',
	size                INTEGER NOT NULL DEFAULT 0,
	sha256              BLOB NOT NULL,
	codec               TEXT NOT NULL DEFAULT '',
	k                   INTEGER NOT NULL DEFAULT 0,
	kek_version         INTEGER NOT NULL DEFAULT 0,
	object_id           TEXT NOT NULL DEFAULT '',
	received_at         INTEGER NOT NULL DEFAULT 0,
	source_ae           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX instance_series_idx ON instance (series_pk);

CREATE TABLE share (
	instance_pk INTEGER NOT NULL REFERENCES instance (pk) ON DELETE CASCADE,
	idx         INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 3),
	name        TEXT NOT NULL,
	size        INTEGER NOT NULL,
	sha256      BLOB NOT NULL,
	PRIMARY KEY (instance_pk, idx)
) WITHOUT ROWID;
CREATE INDEX share_name_idx ON share (idx, name);
`,
}

// schemaVersion is the version this program writes.
var schemaVersion = len(migrations)

// migrate brings the database to schemaVersion, one transaction per step.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("index: read schema version: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("%w: file has %d, program knows %d", ErrSchemaTooNew, v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("index: migrate to %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("index: migrate to %d: %w", v+1, err)
		}
		// user_version cannot take a bound parameter; v is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("index: migrate to %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("index: migrate to %d: %w", v+1, err)
		}
	}
	return nil
}
