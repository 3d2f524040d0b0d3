package index

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
)

func TestOpenPragmasAndSchema(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	for q, want := range map[string]string{
		"PRAGMA journal_mode": "wal", "PRAGMA synchronous": "2", "PRAGMA foreign_keys": "1",
		"PRAGMA user_version": fmt.Sprint(schemaVersion),
	} {
		var got string
		if err := db.w.QueryRowContext(ctx, q).Scan(&got); err != nil || got != want {
			t.Errorf("writer %s = %q (%v), want %q", q, got, err, want)
		}
	}
	var qo string
	if err := db.r.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader query_only = %q, %v", qo, err)
	}
	if _, err := db.r.ExecContext(ctx, "DELETE FROM patient"); err == nil {
		t.Error("a read connection accepted a write")
	}
	// Every column of the tag→level map exists, with its companions, and
	// its VR is the dictionary's.
	for _, c := range columns {
		names := []string{c.name}
		switch c.kind {
		case kPN:
			names = append(names, c.name+"_a", c.name+"_i", c.name+"_p")
		case kTM:
			names = append(names, c.name+"_n")
		}
		for _, n := range names {
			var cnt int
			if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", levelTable(c.level), n).Scan(&cnt); err != nil || cnt != 1 {
				t.Errorf("%v: column %s.%s missing (%v)", c.tag, levelTable(c.level), n, err)
			}
		}
		if vr := dcm.DictionaryVR(c.tag); vr != c.vr {
			t.Errorf("%v: VR %s, dictionary says %s", c.tag, c.vr, vr)
		}
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs := loadDataset(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := db.Lookup(ctx, recs[0].SOPInstanceUID); !errors.Is(err, ErrClosed) {
		t.Errorf("Lookup after Close: %v", err)
	}
	if err := db.Insert(ctx, recs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Insert after Close: %v", err)
	}
	if err := db.Query(ctx, &Query{Level: LevelStudy}, func(Match) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close: %v", err)
	}

	db, err = Open(ctx, path, Options{ReadConns: 2, BusyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Lookup(ctx, recs[3].SOPInstanceUID)
	if err != nil || got.ObjectID != recs[3].ObjectID || len(got.Shares) != 4 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if got := counts(studyRow(t, db, "1.2.3.1")); got != `mods=CT\SR series=2 inst=3 | pstudies=2 pseries=4 pinst=5` {
		t.Fatalf("after reopen: %s", got)
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	for _, p := range []string{"", "a?b", "file:x.db"} {
		if _, err := Open(ctx, p, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	// A file from a newer program is refused and left alone.
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1))
	db.Close()
	if _, err := Open(ctx, path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open newer schema: %v", err)
	}
}

func TestQueryLimit(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	called := 0
	err := db.Query(context.Background(), &Query{Level: LevelImage, Limit: len(dataset) - 1}, func(Match) error { called++; return nil })
	if !errors.Is(err, ErrTooManyMatches) || called != 0 {
		t.Fatalf("over limit: %v after %d matches", err, called)
	}
	ms, err := runQuery(t, db, &Query{Level: LevelImage, Limit: len(dataset)})
	if err != nil || len(ms) != len(dataset) {
		t.Fatalf("at limit: %d, %v", len(ms), err)
	}
	if _, err := runQuery(t, db, &Query{Level: LevelImage, Limit: -1}); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("negative limit: %v", err)
	}
	stop := errors.New("stop")
	if err := db.Query(context.Background(), &Query{Level: LevelImage, Limit: 100}, func(Match) error { return stop }); err != stop {
		t.Fatalf("fn error: %v", err)
	}
}

func TestQueryCancel(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := db.Query(ctx, &Query{Level: LevelImage}, func(Match) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("after cancel: %v, %d matches", err, n)
	}
	if err := db.Query(ctx, &Query{Level: LevelImage}, func(Match) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before start: %v", err)
	}
	if err := db.Insert(ctx, spec{study: "1", series: "1.1", sop: "1.1.1"}.record(0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Insert with cancelled ctx: %v", err)
	}
	if _, err := db.Delete(ctx, "1.2.3.1.1.1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete with cancelled ctx: %v", err)
	}
}

// TestQueryDoSLimits: oversized identifiers are refused before any SQL
// runs, and a long pathological pattern within the limit stays fast
// (adversarial tests 29 and 30).
func TestQueryDoSLimits(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	many := make([]Key, MaxQueryKeys+1)
	for i := range many {
		many[i] = Key{Tag: dcm.NewTag(0x0009, uint16(i))}
	}
	uids := strings.Repeat(`1.2.3\`, MaxListValues+1)
	for name, q := range map[string]*Query{
		"too many keys":       {Level: LevelStudy, Keys: many},
		"value too long":      {Level: LevelStudy, Keys: []Key{k(dcm.NewTag(0x0009, 0x0001), strings.Repeat("x", MaxValueLen+1))}},
		"pattern too long":    {Level: LevelStudy, Keys: []Key{k(dcm.TagPatientName, strings.Repeat("a*", MaxPatternLen))}},
		"too many UIDs":       {Level: LevelStudy, Keys: []Key{k(dcm.TagStudyInstanceUID, uids)}},
		"too many modalities": {Level: LevelStudy, Keys: []Key{k(dcm.TagModalitiesInStudy, strings.Repeat(`CT\`, MaxListValues+1))}},
	} {
		if _, err := runQuery(t, db, q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// *a*a*a…*b at the length limit against every name, at every level.
	pattern := strings.Repeat("*a", MaxPatternLen/2-1) + "*b"
	start := time.Now()
	for _, l := range []Level{LevelPatient, LevelStudy, LevelSeries, LevelImage} {
		if _, err := runQuery(t, db, &Query{Level: l, Keys: []Key{k(dcm.TagPatientName, pattern)}}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("pathological pattern took %v", d)
	}
}
