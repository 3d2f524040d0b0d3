package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

func runArchiveCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = runMain(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// dataSets maps the SOP Instance UID of every corpus file to its data set bytes.
func dataSets(t *testing.T, files []string) map[string][]byte {
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		meta, off, err := dcm.ReadPart10Header(bytes.NewReader(b), 0)
		if err != nil {
			continue
		}
		sum, err := dcm.Scan(bytes.NewReader(b[off:]), int64(len(b))-off, meta.TransferSyntaxUID, dcm.Limits{})
		if err != nil {
			continue
		}
		out[sum.SOPInstanceUID] = b[off:]
	}
	return out
}

// TestArchiveCLI: import the corpus, export a study and compare bytes,
// verify, lose index.db, reindex, export again: identical.
func TestArchiveCLI(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	data := t.TempDir()
	t.Setenv("SHARDPACS_CONFIG", "")
	code, out, errs := runArchiveCLI(t, "import", "--data", data, corpus)
	if code != 0 || !strings.Contains(out, "49 stored") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runArchiveCLI(t, "import", "--data", data, filepath.Join(corpus, "grailbio-examples", "I_000000.dcm"))
	if code != 0 || !strings.Contains(out, "1 duplicate") {
		t.Fatalf("re-import: %d %s", code, out)
	}
	if code, _, _ := runArchiveCLI(t, "import", "--data", data, filepath.Join(corpus, "grailbio-examples", "OF_DICOM.dcm")); code != 1 {
		t.Fatalf("importing a non-DICOM file by name: exit %d, want 1", code)
	}

	// The study with the most instances.
	cfg := config.Default()
	cfg.DataDir = data
	a, err := archive.OpenDir(context.Background(), cfg, archive.Options{NoRepairer: true})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	a.Index().Each(context.Background(), func(r *index.InstanceRecord) error { count[r.StudyInstanceUID]++; return nil })
	a.Close()
	study := ""
	for s, n := range count {
		if study == "" || n > count[study] {
			study = s
		}
	}
	want := dataSets(t, testutil.CorpusFiles(t))

	export := func(dir string) map[string][]byte {
		code, out, errs := runArchiveCLI(t, "export", "--data", data, "--study", study, "--out", dir)
		if code != 0 {
			t.Fatalf("export: %d %s %s", code, out, errs)
		}
		got := map[string][]byte{}
		for _, f := range testutil.DICOMFiles(t, dir) {
			b, _ := os.ReadFile(f)
			got[strings.TrimSuffix(filepath.Base(f), ".dcm")] = b
		}
		if len(got) != count[study] {
			t.Fatalf("exported %d files, want %d", len(got), count[study])
		}
		return got
	}
	first := export(filepath.Join(t.TempDir(), "one"))
	for sop, b := range first {
		_, off, err := dcm.ReadPart10Header(bytes.NewReader(b), 0)
		if err != nil || !bytes.Equal(b[off:], want[sop]) {
			t.Fatalf("exported %s differs from the imported data set (%v)", sop, err)
		}
	}
	if code, out, errs := runArchiveCLI(t, "verify", "--data", data); code != 0 || !strings.Contains(out, "store 3: 49 ok, 0 missing") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(data, "index.db"+s))
	}
	if code, out, errs := runArchiveCLI(t, "reindex", "--data", data); code != 0 || !strings.Contains(out, "49 instances indexed") {
		t.Fatalf("reindex: %d %s %s", code, out, errs)
	}
	second := export(filepath.Join(t.TempDir(), "two"))
	for sop, b := range first {
		if !bytes.Equal(b, second[sop]) {
			t.Fatalf("export after reindex differs for %s", sop)
		}
	}

	// Keys: rotate, rewrap, retire the old version; data still reads.
	if code, out, errs := runArchiveCLI(t, "keys", "--data", data, "rotate"); code != 0 {
		t.Fatalf("rotate: %s %s", out, errs)
	}
	if code, _, _ := runArchiveCLI(t, "keys", "--data", data, "retire", "1"); code != 1 {
		t.Fatal("retire of a version in use must fail")
	}
	if code, out, errs := runArchiveCLI(t, "keys", "--data", data, "rewrap"); code != 0 || !strings.Contains(out, "rewrapped 196 shares") {
		t.Fatalf("rewrap: %d %s %s", code, out, errs)
	}
	if code, out, errs := runArchiveCLI(t, "keys", "--data", data, "retire", "1"); code != 0 {
		t.Fatalf("retire: %s %s", out, errs)
	}
	if code, out, _ := runArchiveCLI(t, "keys", "--data", data, "show"); code != 0 || strings.Contains(out, "version 1") || !strings.Contains(out, "version 2") {
		t.Fatalf("show: %s", out)
	}
	third := export(filepath.Join(t.TempDir(), "three"))
	for sop, b := range first {
		if !bytes.Equal(b, third[sop]) {
			t.Fatalf("export after rewrap differs for %s", sop)
		}
	}
	// A missing key file over existing data: refused.
	os.Rename(cfg.KEKPath(), cfg.KEKPath()+".bak")
	if code, _, errs := runArchiveCLI(t, "verify", "--data", data); code != 1 || !strings.Contains(errs, "KEK missing") {
		t.Fatalf("verify without KEK: %d %s", code, errs)
	}
}
