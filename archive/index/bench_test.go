package index

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
)

// BenchmarkInsert measures one Insert (one committed, fsynced transaction)
// into an index file on disk.
func BenchmarkInsert(b *testing.B) {
	db := openTest(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		study := fmt.Sprintf("5.%d", i/100)
		rec := spec{pid: fmt.Sprintf("P%d", i/300), name: "Bench^Mark", study: study, sdate: "20240101",
			series: fmt.Sprintf("%s.%d", study, i/25), modality: "CT", sop: fmt.Sprintf("5.%d.%d", i/25, i), class: ctImage,
			inum: strconv.Itoa(i % 25)}.record(i)
		if err := db.Insert(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// benchInstances is the size of the query benchmarks' index: 10^4, or
// SHARDPACS_BENCH_INSTANCES (e.g. 100000) to measure at a larger scale:
//
//	SHARDPACS_BENCH_INSTANCES=100000 go test -run '^$' -bench Query ./archive/index/
func benchInstances() int {
	if n, err := strconv.Atoi(os.Getenv("SHARDPACS_BENCH_INSTANCES")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

var (
	benchOnce sync.Once
	benchDB   *DB
	benchErr  error
	benchDir  string
)

// benchIndex builds (once per process) an index of benchInstances()
// instances: 25 instances per series, 4 series per study, 2 studies per
// patient; patient names "NAME<n>^GIVEN".
func benchIndex(b *testing.B) *DB {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "index-bench")
		if benchErr != nil {
			return
		}
		benchDB, benchErr = Open(context.Background(), benchDir+"/index.db", Options{})
		if benchErr != nil {
			return
		}
		n := benchInstances()
		ctx := context.Background()
		// Bulk load in large transactions through the same code path.
		const perTx = 500
		for start := 0; start < n && benchErr == nil; start += perTx {
			benchErr = benchDB.write(ctx, func(tx *wtx) error {
				for i := start; i < start+perTx && i < n; i++ {
					p, err := prepare(benchRecord(i))
					if err != nil {
						return err
					}
					if err := insertTx(ctx, tx, p); err != nil {
						return err
					}
				}
				return nil
			})
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDB
}

func benchRecord(i int) *InstanceRecord {
	series, study, patient := i/25, i/100, i/200
	return spec{pid: fmt.Sprintf("PID%07d", patient), name: fmt.Sprintf("NAME%d^GIVEN", patient),
		study: fmt.Sprintf("2.%d", study), sdate: fmt.Sprintf("2024%02d%02d", 1+study%12, 1+study%28), acc: fmt.Sprintf("A%d", study),
		series: fmt.Sprintf("2.%d.%d", study, series), modality: []string{"CT", "MR", "CR", "US"}[series%4],
		sop: fmt.Sprintf("2.%d.%d.%d", study, series, i), class: ctImage, inum: strconv.Itoa(i % 25)}.record(i)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDB != nil {
		benchDB.Close()
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchQuery(b *testing.B, q *Query, want int) {
	db := benchIndex(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := db.Query(ctx, q, func(Match) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if want >= 0 && n != want {
			b.Fatalf("%d matches, want %d", n, want)
		}
	}
}

// BenchmarkQueryStudyByPatientID: STUDY level, Patient Root, by PatientID,
// with the usual return keys (2 studies).
func BenchmarkQueryStudyByPatientID(b *testing.B) {
	benchQuery(b, &Query{Level: LevelStudy, Keys: []Key{
		k(dcm.TagPatientID, "PID0000007"), k(dcm.TagPatientName, ""), k(dcm.TagStudyInstanceUID, ""), k(dcm.TagStudyDate, ""),
		k(dcm.TagStudyTime, ""), k(dcm.TagAccessionNumber, ""), k(dcm.TagStudyDescription, ""), k(dcm.TagModalitiesInStudy, ""),
		k(dcm.TagNumberOfStudyRelatedSeries, ""), k(dcm.TagNumberOfStudyRelatedInstances, ""),
	}}, 2)
}

// BenchmarkQueryImageBySeries: IMAGE level, Study Root, one series (25).
func BenchmarkQueryImageBySeries(b *testing.B) {
	benchQuery(b, &Query{Root: StudyRoot, Level: LevelImage, Keys: []Key{
		k(dcm.TagStudyInstanceUID, "2.3"), k(dcm.TagSeriesInstanceUID, "2.3.13"), k(dcm.TagSOPInstanceUID, ""),
		k(dcm.TagSOPClassUID, ""), k(dcm.TagInstanceNumber, ""),
	}}, 25)
}

// BenchmarkQueryPatientNameWildcard: STUDY level by a PatientName prefix
// wildcard (NAME1* matches 11 patients at 10^4 instances).
func BenchmarkQueryPatientNameWildcard(b *testing.B) {
	benchQuery(b, &Query{Level: LevelStudy, Keys: []Key{
		k(dcm.TagPatientName, "name1*"), k(dcm.TagStudyInstanceUID, ""), k(dcm.TagStudyDate, ""), k(dcm.TagModalitiesInStudy, ""),
	}}, -1)
}
