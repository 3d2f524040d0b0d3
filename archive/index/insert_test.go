package index

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
)

// studyRow reads a study's counters and computed keys through Query.
func studyRow(t *testing.T, db *DB, uid string) Match {
	t.Helper()
	ms, err := runQuery(t, db, &Query{Root: StudyRoot, Level: LevelStudy, Keys: []Key{
		k(dcm.TagStudyInstanceUID, uid), k(dcm.TagModalitiesInStudy, ""), k(dcm.TagSOPClassesInStudy, ""),
		k(dcm.TagNumberOfStudyRelatedSeries, ""), k(dcm.TagNumberOfStudyRelatedInstances, ""),
		k(dcm.TagNumberOfPatientRelatedStudies, ""), k(dcm.TagNumberOfPatientRelatedSeries, ""), k(dcm.TagNumberOfPatientRelatedInstances, ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("study %s: %d matches", uid, len(ms))
	}
	return ms[0]
}

func counts(m Match) string {
	return fmt.Sprintf("mods=%s series=%s inst=%s | pstudies=%s pseries=%s pinst=%s",
		m[dcm.TagModalitiesInStudy], m[dcm.TagNumberOfStudyRelatedSeries], m[dcm.TagNumberOfStudyRelatedInstances],
		m[dcm.TagNumberOfPatientRelatedStudies], m[dcm.TagNumberOfPatientRelatedSeries], m[dcm.TagNumberOfPatientRelatedInstances])
}

func count(t *testing.T, db *DB, l Level) int {
	t.Helper()
	ms, err := runQuery(t, db, &Query{Level: l})
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func TestCountsAfterInsertAndDelete(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	loadDataset(t, db)
	steps := []struct {
		del   []string
		study string
		want  string
	}{
		{nil, "1.2.3.1", `mods=CT\SR series=2 inst=3 | pstudies=2 pseries=4 pinst=5`},
		{nil, "1.2.3.2", `mods=MR\PT series=2 inst=2 | pstudies=2 pseries=4 pinst=5`},
		{[]string{"1.2.3.1.2.1"}, "1.2.3.1", `mods=CT series=1 inst=2 | pstudies=2 pseries=3 pinst=4`},
		{[]string{"1.2.3.1.1.1"}, "1.2.3.1", `mods=CT series=1 inst=1 | pstudies=2 pseries=3 pinst=3`},
		{[]string{"1.2.3.2.2.1"}, "1.2.3.2", `mods=MR series=1 inst=1 | pstudies=2 pseries=2 pinst=2`},
	}
	for i, s := range steps {
		if len(s.del) > 0 {
			removed, err := db.Delete(ctx, s.del...)
			if err != nil || len(removed) != len(s.del) {
				t.Fatalf("step %d: Delete: %d removed, %v", i, len(removed), err)
			}
			if len(removed[0].Shares) != 4 {
				t.Fatalf("step %d: removed record has %d shares", i, len(removed[0].Shares))
			}
		}
		if got := counts(studyRow(t, db, s.study)); got != s.want {
			t.Errorf("step %d: %s\nwant %s", i, got, s.want)
		}
	}
	if got := studyRow(t, db, "1.2.3.2")[dcm.TagSOPClassesInStudy]; got != mrImage {
		t.Errorf("SOPClassesInStudy after delete = %q", got)
	}
	// Deleting the last instance of a study removes the study; of a patient,
	// the patient.
	if _, err := db.Delete(ctx, "1.2.3.1.1.2"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, LevelStudy); n != 5 {
		t.Errorf("studies = %d, want 5", n)
	}
	if got := counts(studyRow(t, db, "1.2.3.2")); got != `mods=MR series=1 inst=1 | pstudies=1 pseries=1 pinst=1` {
		t.Errorf("patient counts after study removal: %s", got)
	}
	if _, err := db.Delete(ctx, "1.2.3.2.1.1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, LevelPatient); n != 4 {
		t.Errorf("patients = %d, want 4", n)
	}
	// Unknown UIDs.
	if _, err := db.Delete(ctx, "9.9.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete unknown: %v", err)
	}
	if removed, err := db.Delete(ctx, "9.9.9", "1.2.3.4.1.1", "1.2.3.4.1.2"); err != nil || len(removed) != 2 {
		t.Errorf("Delete mixed: %d, %v", len(removed), err)
	}
	if n := count(t, db, LevelImage); n != len(dataset)-7 {
		t.Errorf("instances = %d, want %d", n, len(dataset)-7)
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	// Everything deleted: the index is empty again.
	var all []string
	if err := db.Each(ctx, func(r *InstanceRecord) error { all = append(all, r.SOPInstanceUID); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Delete(ctx, all...); err != nil {
		t.Fatal(err)
	}
	for _, l := range []Level{LevelPatient, LevelStudy, LevelSeries, LevelImage} {
		if n := count(t, db, l); n != 0 {
			t.Errorf("%s: %d left", l, n)
		}
	}
	for _, s := range []int{0, 1, 2, 3} {
		if names, err := db.ObjectNames(ctx, s); err != nil || len(names) != 0 {
			t.Errorf("store %d: %d names left, %v", s, len(names), err)
		}
	}
}

func TestDuplicateAndReplace(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	recs := loadDataset(t, db)
	before := studyRow(t, db, "1.2.3.1")
	dup := dataset[0].record(99)
	if err := db.Insert(ctx, dup); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate Insert: %v", err)
	}
	if got, _ := db.Lookup(ctx, dup.SOPInstanceUID); got.ObjectID != recs[0].ObjectID {
		t.Fatalf("duplicate changed the record: %s", got.ObjectID)
	}
	if after := studyRow(t, db, "1.2.3.1"); !reflect.DeepEqual(before, after) {
		t.Fatalf("duplicate changed counts: %v -> %v", before, after)
	}

	old, err := db.Replace(ctx, dup)
	if err != nil || old == nil || old.ObjectID != recs[0].ObjectID {
		t.Fatalf("Replace: old=%v err=%v", old, err)
	}
	if got, _ := db.Lookup(ctx, dup.SOPInstanceUID); got.ObjectID != dup.ObjectID {
		t.Fatalf("after Replace: %s", got.ObjectID)
	}
	if after := studyRow(t, db, "1.2.3.1"); !reflect.DeepEqual(before, after) {
		t.Fatalf("Replace changed counts: %v -> %v", before, after)
	}
	fresh := spec{pid: "NEW", study: "7.1", series: "7.1.1", sop: "7.1.1.1", modality: "US"}.record(100)
	if old, err := db.Replace(ctx, fresh); err != nil || old != nil {
		t.Fatalf("Replace of a new instance: %v %v", old, err)
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestInsertInvalid(t *testing.T) {
	db := openTest(t)
	for _, rec := range []*InstanceRecord{
		nil,
		{SeriesInstanceUID: "1", StudyInstanceUID: "1"},
		{SOPInstanceUID: "1", StudyInstanceUID: "1"},
		{SOPInstanceUID: "1", SeriesInstanceUID: "1"},
		{SOPInstanceUID: "1", SeriesInstanceUID: "1", StudyInstanceUID: "1", Shares: []ShareRecord{{Index: 4}}},
		{SOPInstanceUID: "1", SeriesInstanceUID: "1", StudyInstanceUID: "1", Shares: []ShareRecord{{Index: 1}, {Index: 1}}},
		{SOPInstanceUID: " \x00", SeriesInstanceUID: "1", StudyInstanceUID: "1"},
	} {
		if err := db.Insert(context.Background(), rec); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%+v: %v", rec, err)
		}
	}
}

func TestLookupRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	recs := loadDataset(t, db)
	got, err := db.Lookup(ctx, recs[0].SOPInstanceUID)
	if err != nil {
		t.Fatal(err)
	}
	want := *recs[0]
	want.Attrs = map[dcm.Tag]string{}
	for t, v := range recs[0].Attrs {
		if v != "" {
			want.Attrs[t] = v
		}
	}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("Lookup:\n got %+v\nwant %+v", got, &want)
	}
	// The index's view: the patient's first-arrival name, not this record's.
	got, _ = db.Lookup(ctx, "1.2.3.2.2.1")
	if got.Attrs[dcm.TagPatientName] != "Doe^John" || got.Attrs[dcm.TagModality] != "PT" {
		t.Errorf("late arrival: %v", got.Attrs)
	}
	if _, err := db.Lookup(ctx, "9.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup unknown: %v", err)
	}

	for _, tc := range []struct {
		level Level
		uid   string
		n     int
	}{{LevelPatient, "PID001", 6}, {LevelPatient, "", 2}, {LevelStudy, "1.2.3.1", 3}, {LevelSeries, "1.2.3.1.1", 2}, {LevelImage, "1.2.3.5.1.1", 1}, {LevelStudy, "9.9", 0}} {
		rs, err := db.Instances(ctx, tc.level, tc.uid)
		if err != nil || len(rs) != tc.n {
			t.Errorf("Instances(%s, %q) = %d, %v; want %d", tc.level, tc.uid, len(rs), err, tc.n)
		}
	}
	if _, err := db.Instances(ctx, "FRAME", "x"); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("Instances bad level: %v", err)
	}

	// UpdateShare, ObjectNames, HasObject.
	s := ShareRecord{Index: 2, Name: "repaired", Size: 7, SHA256: [32]byte{1}}
	if err := db.UpdateShare(ctx, recs[0].SOPInstanceUID, s); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Lookup(ctx, recs[0].SOPInstanceUID)
	if !reflect.DeepEqual(got.Shares[2], s) || len(got.Shares) != 4 {
		t.Errorf("after UpdateShare: %+v", got.Shares)
	}
	if err := db.UpdateShare(ctx, "9.9", s); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateShare unknown: %v", err)
	}
	if err := db.UpdateShare(ctx, recs[0].SOPInstanceUID, ShareRecord{Index: 5}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("UpdateShare bad index: %v", err)
	}
	names, err := db.ObjectNames(ctx, 2)
	if err != nil || len(names) != len(dataset) || !names["repaired"] || names["s2-0000"] {
		t.Errorf("ObjectNames: %d %v", len(names), err)
	}
	if ok, err := db.HasObject(ctx, 2, "repaired"); !ok || err != nil {
		t.Errorf("HasObject: %v %v", ok, err)
	}
	if ok, _ := db.HasObject(ctx, 1, "repaired"); ok {
		t.Errorf("HasObject in the wrong store")
	}
}

func TestEachVisitsAllAndMayWrite(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "i.db"), Options{ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.write(ctx, func(tx *wtx) error { // one transaction: fast setup
		for i := 0; i < eachBatch+10; i++ {
			p, err := prepare(spec{pid: "P", study: "1", series: "1.1", sop: fmt.Sprintf("1.1.%d", i)}.record(i))
			if err != nil {
				return err
			}
			if err := insertTx(ctx, tx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = db.Each(ctx, func(r *InstanceRecord) error {
		n++
		// With a single read connection this would deadlock if Each held it.
		if _, err := db.Lookup(ctx, r.SOPInstanceUID); err != nil {
			return err
		}
		if n%50 == 1 {
			return db.UpdateShare(ctx, r.SOPInstanceUID, ShareRecord{Index: 0, Name: "x" + r.SOPInstanceUID})
		}
		return nil
	})
	if err != nil || n != eachBatch+10 {
		t.Fatalf("Each: %d visited, %v", n, err)
	}
	stop := errors.New("stop")
	n = 0
	if err := db.Each(ctx, func(*InstanceRecord) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Each stop: %v after %d", err, n)
	}
}

// TestConcurrentInserts: 8 goroutines × 200 inserts into shared studies,
// with queries running meanwhile (run under -race).
func TestConcurrentInserts(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	const workers, per = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers+2)
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				study := fmt.Sprintf("9.%d", i%10) // studies shared by all workers
				rec := spec{pid: fmt.Sprintf("P%d", i%10), name: "Conc^Urrent", study: study,
					series: fmt.Sprintf("%s.%d", study, w), modality: []string{"CT", "MR"}[w%2],
					sop: fmt.Sprintf("%s.%d.%d", study, w, i), class: ctImage}.record(i)
				if err := db.Insert(ctx, rec); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	var qwg sync.WaitGroup
	qwg.Add(1)
	go func() {
		defer qwg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := runQuery(t, db, &Query{Level: LevelStudy, Keys: []Key{k(dcm.TagPatientName, "conc*")}}); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	qwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := count(t, db, LevelImage); n != workers*per {
		t.Fatalf("%d instances, want %d", n, workers*per)
	}
	for i := 0; i < 10; i++ {
		want := fmt.Sprintf(`mods=CT\MR series=8 inst=%d | pstudies=1 pseries=8 pinst=%d`, workers*per/10, workers*per/10)
		if got := counts(studyRow(t, db, fmt.Sprintf("9.%d", i))); got != want {
			t.Errorf("study %d: %s\nwant %s", i, got, want)
		}
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentDuplicates: the same instance from 8 goroutines is
// committed exactly once (adversarial test 27, index part).
func TestConcurrentDuplicates(t *testing.T) {
	db := openTest(t)
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			results <- db.Insert(context.Background(), dataset[0].record(w))
		}(w)
	}
	wg.Wait()
	close(results)
	ok, dup := 0, 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrDuplicate):
			dup++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || dup != 7 {
		t.Fatalf("%d committed, %d duplicates", ok, dup)
	}
	if got := counts(studyRow(t, db, "1.2.3.1")); got != `mods=CT series=1 inst=1 | pstudies=1 pseries=1 pinst=1` {
		t.Fatal(got)
	}
}
