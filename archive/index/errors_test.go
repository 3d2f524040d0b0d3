package index

import (
	"errors"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
)

// TestQueryErrorKind: only a matching key below the query level wraps
// ErrKeyBelowLevel; every invalid query wraps ErrInvalidQuery.
func TestQueryErrorKind(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	tests := []struct {
		name  string
		q     Query
		below bool
	}{
		{"study key at patient level", Query{Root: PatientRoot, Level: LevelPatient,
			Keys: []Key{{Tag: dcm.TagPatientID}, k(dcm.TagStudyDate, "20200115")}}, true},
		{"image key at series level", Query{Root: StudyRoot, Level: LevelSeries,
			Keys: []Key{{Tag: dcm.TagSeriesInstanceUID}, k(dcm.TagSOPInstanceUID, "1.2.3")}}, true},
		{"unknown level", Query{Root: PatientRoot, Level: "FRAME"}, false},
		{"PN with four groups", Query{Root: PatientRoot, Level: LevelPatient,
			Keys: []Key{{Tag: dcm.TagPatientID}, k(dcm.TagPatientName, "a=b=c=d")}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runQuery(t, db, &tc.q)
			var qe *QueryError
			if !errors.As(err, &qe) || !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("err = %v, want a *QueryError wrapping ErrInvalidQuery", err)
			}
			if got := errors.Is(err, ErrKeyBelowLevel); got != tc.below {
				t.Errorf("errors.Is(%v, ErrKeyBelowLevel) = %t, want %t", err, got, tc.below)
			}
			if tc.below && qe.Tag == 0 {
				t.Errorf("%v does not name the key", err)
			}
		})
	}
}
