package index

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
)

// openTest opens a fresh index in a temporary directory, closed at cleanup.
func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// spec describes one synthetic instance compactly.
type spec struct {
	pid, issuer, name, birth, sex             string
	study, sdate, stime, acc, sdesc, referrer string
	series, modality, sernum, serdesc         string
	sop, class, inum, ctime                   string
}

const (
	ctImage = "1.2.840.10008.5.1.4.1.1.2"
	mrImage = "1.2.840.10008.5.1.4.1.1.4"
	srDoc   = "1.2.840.10008.5.1.4.1.1.88.11"
)

// dataset is the small synthetic set the query tests run on. It has UTF-8
// names, an empty PatientID, two patients sharing a PatientID with
// different issuers, characters special to SQL LIKE/GLOB and quotes.
var dataset = []spec{
	{"PID001", "", "Doe^John", "19700101", "M", "1.2.3.1", "20200115", "103015.25", "ACC1", "CT CHEST", "Welby^Marcus", "1.2.3.1.1", "CT", "1", "Axial", "1.2.3.1.1.1", ctImage, "1", "103016"},
	{"PID001", "", "Doe^John", "19700101", "M", "1.2.3.1", "20200115", "103015.25", "ACC1", "CT CHEST", "Welby^Marcus", "1.2.3.1.1", "CT", "1", "Axial", "1.2.3.1.1.2", ctImage, "2", "103017"},
	{"PID001", "", "Doe^John", "19700101", "M", "1.2.3.1", "20200115", "103015.25", "ACC1", "CT CHEST", "Welby^Marcus", "1.2.3.1.2", "SR", "99", "Report", "1.2.3.1.2.1", srDoc, "1", "120000"},
	{"PID001", "", "Doe^John", "19700101", "M", "1.2.3.2", "20210301", "0800", "ACC%2", "MR_HEAD", "", "1.2.3.2.1", "MR", "1", "T1", "1.2.3.2.1.1", mrImage, "1", "0801"},
	{"PID002", "", "Yamada^Tarou=山田^太郎=やまだ^たろう", "19800202", "M", "1.2.3.3", "20200116", "235959", "ACC[3]", "頭部 MR", "Sato^Ken", "1.2.3.3.1", "MR", "1", "T2", "1.2.3.3.1.1", mrImage, "1", ""},
	{"PID002", "", "Yamada^Tarou=山田^太郎=やまだ^たろう", "19800202", "M", "1.2.3.3", "20200116", "235959", "ACC[3]", "頭部 MR", "Sato^Ken", "1.2.3.3.2", "CT", "2", "Scout", "1.2.3.3.2.1", ctImage, "1", "000000"},
	{"", "", "Anonymous", "", "O", "1.2.3.4", "", "", `ACC\4`, "", "", "1.2.3.4.1", "OT", "", "", "1.2.3.4.1.1", "1.2.840.10008.5.1.4.1.1.7", "", ""},
	{"x'); DROP TABLE instances;--", "", "O'Brien^Mary", "19991231", "F", "1.2.3.5", "19991231", "12", "' OR 1=1 --", "100% _sure_", "smith^anna", "1.2.3.5.1", "CR", "3", "chest [pa]", "1.2.3.5.1.1", "1.2.840.10008.5.1.4.1.1.1", "7", "1200"},
	// Later arrivals: the first arrival's attributes win, empty ones are filled.
	{"PID001", "", "Different^Name", "", "M", "1.2.3.2", "19000101", "", "ACC%2", "other", "Late^Filled", "1.2.3.2.2", "PT", "2", "PET", "1.2.3.2.2.1", "1.2.840.10008.5.1.4.1.1.128", "1", "0802"},
	{"", "", "Anonymous", "20000101", "O", "1.2.3.4", "20220202", "1111", "", "filled", "", "1.2.3.4.1", "OT", "5", "", "1.2.3.4.1.2", "1.2.840.10008.5.1.4.1.1.7", "2", ""},
	{"PID001", "OTHER", "doe^jane", "19700101", "F", "1.2.3.6", "20200115", "1030", "ACC6", "ct chest", "", "1.2.3.6.1", "CT", "1", "axial", "1.2.3.6.1.1", ctImage, "1", "1030"},
}

// record builds the InstanceRecord of a spec; n seeds the fake hashes.
func (s spec) record(n int) *InstanceRecord {
	attrs := map[dcm.Tag]string{
		dcm.TagPatientName: s.name, dcm.TagPatientID: s.pid, dcm.TagPatientBirthDate: s.birth, dcm.TagPatientSex: s.sex,
		dcm.TagStudyInstanceUID: s.study, dcm.TagStudyDate: s.sdate, dcm.TagStudyTime: s.stime, dcm.TagAccessionNumber: s.acc,
		dcm.TagStudyDescription: s.sdesc, dcm.TagReferringPhysicianName: s.referrer,
		dcm.TagSeriesInstanceUID: s.series, dcm.TagModality: s.modality, dcm.TagSeriesNumber: s.sernum, dcm.TagSeriesDescription: s.serdesc,
		dcm.TagSOPInstanceUID: s.sop, dcm.TagSOPClassUID: s.class, dcm.TagInstanceNumber: s.inum, dcm.TagContentTime: s.ctime,
		dcm.TagSpecificCharacterSet: "ISO_IR 192",
	}
	if s.issuer != "" {
		attrs[dcm.TagIssuerOfPatientID] = s.issuer
	}
	rec := &InstanceRecord{
		SOPInstanceUID: s.sop, SOPClassUID: s.class, SeriesInstanceUID: s.series, StudyInstanceUID: s.study, PatientID: s.pid,
		Attrs: attrs, TransferSyntaxUID: "1.2.840.10008.1.2.1", Size: int64(1000 + n), SHA256: sha256.Sum256([]byte(s.sop)),
		Codec: "zstd", K: 2, KEKVersion: 1, ObjectID: fmt.Sprintf("obj%04d", n),
		ReceivedAt: time.Date(2024, 1, 2, 3, 4, 5, n, time.UTC), SourceAE: "MODALITY",
	}
	for i := 0; i < 4; i++ {
		rec.Shares = append(rec.Shares, ShareRecord{Index: i, Name: fmt.Sprintf("s%d-%04d", i, n), Size: int64(500 + i), SHA256: sha256.Sum256([]byte{byte(i), byte(n)})})
	}
	return rec
}

// loadDataset inserts dataset into db and returns the records in order.
func loadDataset(t testing.TB, db *DB) []*InstanceRecord {
	t.Helper()
	var recs []*InstanceRecord
	for i, s := range dataset {
		rec := s.record(i)
		if err := db.Insert(context.Background(), rec); err != nil {
			t.Fatalf("Insert %s: %v", s.sop, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// runQuery collects the matches of q.
func runQuery(t testing.TB, db *DB, q *Query) ([]Match, error) {
	t.Helper()
	var out []Match
	err := db.Query(context.Background(), q, func(m Match) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
