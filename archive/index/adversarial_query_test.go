package index

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
)

// Adversarial rows 29 and 30 (docs/adversarial.md): result-size and
// pattern DoS, and oversized or malformed identifiers, against the index
// directly. Row 28 (injection) is TestQueryInjection and FuzzQuery.

// advSeed inserts n instances (one patient, ten studies, ten series each)
// concurrently, so that group commit batches them.
func advSeed(t testing.TB, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				s := spec{pid: "P1", name: "Flood^Patient", study: fmt.Sprintf("9.9.%d", i%10),
					series: fmt.Sprintf("9.9.%d.%d", i%10, i%100), modality: "CT",
					sop: fmt.Sprintf("9.9.%d.%d.%d", i%10, i%100, i), class: ctImage}
				if err := db.Insert(ctx, s.record(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestAdversarialMatchCap is row 29: `*` at IMAGE level over more
// instances than the configured match cap is refused with
// ErrTooManyMatches (0xA700 at the C-FIND service) before any match is
// streamed, and quickly.
func TestAdversarialMatchCap(t *testing.T) {
	db := openTest(t)
	const n = 2000
	advSeed(t, db, n)
	start := time.Now()
	calls := 0
	for _, l := range []Level{LevelPatient, LevelStudy, LevelSeries, LevelImage} {
		err := db.Query(context.Background(), &Query{Level: l, Limit: 5, Keys: []Key{{Tag: dcm.TagPatientName, Value: "*"}}},
			func(Match) error { calls++; return nil })
		want := l != LevelPatient // 1 patient; 10 studies, 100 series, 2000 instances
		if got := errors.Is(err, ErrTooManyMatches); got != want {
			t.Errorf("level %s: %v, want ErrTooManyMatches=%v", l, err, want)
		}
	}
	if calls != 1 { // the one patient
		t.Errorf("%d matches streamed, want only the patient's", calls)
	}
	ms, err := runQuery(t, db, &Query{Level: LevelImage, Limit: n})
	if err != nil || len(ms) != n {
		t.Fatalf("at the cap: %d matches, %v", len(ms), err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestAdversarialOversizedIdentifiers is row 30 (and 29's pattern cap):
// each oversized or malformed query is a *QueryError naming the key at
// fault, refused before any SQL runs, in well under a second.
func TestAdversarialOversizedIdentifiers(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	thousand := make([]Key, 1000)
	for i := range thousand {
		thousand[i] = Key{Tag: dcm.NewTag(0x0009, uint16(0x1000+i))}
	}
	pattern10K := strings.Repeat("*a", 5*1024-1) + "*b" // 10 KiB
	for _, tc := range []struct {
		name string
		q    *Query
		tag  dcm.Tag // the key the error names; 0 = the query as a whole
	}{
		{"1,000 keys", &Query{Level: LevelStudy, Keys: thousand}, 0},
		{"10 KiB *a*a...*b pattern", &Query{Level: LevelStudy, Keys: []Key{{Tag: dcm.TagStudyDescription, Value: pattern10K}}}, dcm.TagStudyDescription},
		{"10 KiB *a*a...*b pattern on PN", &Query{Level: LevelStudy, Keys: []Key{{Tag: dcm.TagPatientName, Value: pattern10K}}}, dcm.TagPatientName},
		{"10 KiB pattern in ModalitiesInStudy", &Query{Level: LevelStudy, Keys: []Key{{Tag: dcm.TagModalitiesInStudy, Value: pattern10K}}}, dcm.TagModalitiesInStudy},
		{"10 MB value", &Query{Level: LevelStudy, Keys: []Key{{Tag: dcm.TagStudyDescription, Value: strings.Repeat("x", 10<<20)}}}, dcm.TagStudyDescription},
		{"10 MB UID list", &Query{Level: LevelStudy, Keys: []Key{{Tag: dcm.TagStudyInstanceUID, Value: strings.Repeat(`1.2\`, 10<<18)}}}, dcm.TagStudyInstanceUID},
		{"unknown level", &Query{Level: "FRAME", Keys: []Key{{Tag: dcm.TagPatientID}}}, dcm.TagQueryRetrieveLevel},
		{"missing level", &Query{Keys: []Key{{Tag: dcm.TagPatientID}}}, dcm.TagQueryRetrieveLevel},
		{"PATIENT level in Study Root", &Query{Root: StudyRoot, Level: LevelPatient}, dcm.TagQueryRetrieveLevel},
		{"level padded with junk", &Query{Level: "STUDY\x00' OR 1=1"}, dcm.TagQueryRetrieveLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			called := false
			err := db.Query(context.Background(), tc.q, func(Match) error { called = true; return nil })
			var qe *QueryError
			if !errors.As(err, &qe) || !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("got %v, want a *QueryError", err)
			}
			if called {
				t.Error("a match was streamed")
			}
			if len(err.Error()) > 512 {
				t.Errorf("error message of %d bytes echoes the input", len(err.Error()))
			}
			// A hang guard, not a speed measurement: a refusal is decided
			// before any SQL runs, so only a pathological matcher gets near it.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			if qe.Tag != tc.tag {
				t.Errorf("error names key %v, want %v (%v)", qe.Tag, tc.tag, err)
			}
		})
	}
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestAdversarialParallelQueries is row 29's "50 parallel queries": at most
// Options.ReadConns queries hold a connection at once (the query
// concurrency cap), the others wait, and all 50 complete with the right
// answer; a waiter whose context ends gives up with the context's error.
func TestAdversarialParallelQueries(t *testing.T) {
	db := openTest(t)
	advSeed(t, db, 200)
	const parallel, conns = 50, 4 // conns: the default ReadConns
	var inside, most atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]int, parallel)
	errs := make([]error, parallel)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			errs[i] = db.Query(ctx, &Query{Level: LevelImage, Keys: []Key{{Tag: dcm.TagPatientName, Value: "*Flood*"}}}, func(Match) error {
				if first { // streaming (Limit 0): the read connection is held here
					first = false
					n := inside.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					<-release
					inside.Add(-1)
				}
				results[i]++
				return nil
			})
		}()
	}
	// Wait until the cap is reached, then check it holds for a moment.
	deadline := time.Now().Add(10 * time.Second)
	for inside.Load() < conns && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := most.Load(); got != conns {
		t.Errorf("%d queries held a connection at once, want the cap %d", got, conns)
	}
	// A query that cannot get a connection gives up with its context.
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := db.Query(short, &Query{Level: LevelStudy}, func(Match) error { return nil })
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting query: %v, want context.DeadlineExceeded", err)
	}
	close(release)
	wg.Wait()
	for i := range parallel {
		if errs[i] != nil || results[i] != 200 {
			t.Fatalf("query %d: %d matches, %v", i, results[i], errs[i])
		}
	}
	if got := most.Load(); got != conns {
		t.Errorf("%d queries held a connection at once, want %d", got, conns)
	}
}
