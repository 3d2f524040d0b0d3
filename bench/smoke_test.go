package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// One real measurement end to end, small: generate 6 CT instances, start
// storescp the way the benchmark does, send them on 4 associations, and
// check what the harness reads back (stored count, peak RSS, disk use).
func TestStorescpIngestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts external processes")
	}
	testutil.RequireTool(t, "storescp")
	testutil.RequireTool(t, "storescu")
	ct := corpusFile(t, "CT-MONO2-16-ort.dcm")
	root := t.TempDir()
	set, err := loadOrGenerate(filepath.Join(root, "sets"), setSpec{Name: "ct", Sources: []string{ct}, N: 6,
		PerSeries: 3, SeriesPerStudy: 1, PatientPrefix: "CT"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := newStorescp()
	if err := srv.Start(ctx, filepath.Join(root, "run"), 0); err != nil {
		t.Fatal(err)
	}
	r, err := storescuIngest(ctx, srv, nonEmpty(set.chunkDirs(0)))
	stored := srv.Stored()
	peak := srv.Stop()
	if err != nil || r.errors > 0 {
		t.Fatalf("ingest: %v, %d errors (%s)", err, r.errors, r.first)
	}
	if stored != 6 {
		t.Errorf("storescp stored %d of 6", stored)
	}
	if peak < 1<<20 || peak > 1<<30 {
		t.Errorf("peak RSS %d bytes", peak)
	}
	du, err := diskUsage(srv.DataDirs()...)
	if err != nil || du < set.ChunkBytes[0] {
		t.Errorf("disk use %d (%v), input %d", du, err, set.ChunkBytes[0])
	}
}
