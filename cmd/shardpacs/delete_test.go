package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// countShareObjects counts the share objects in the four default stores.
func countShareObjects(t *testing.T, data string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(data, "stores"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".tmp-") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeleteCLI: `shardpacs delete --study UID --yes` removes the study's
// rows and its share objects in every store, leaves the other studies, and
// writes DICOM Study Deleted (110105) to the audit trail; without --yes it
// refuses (usage, exit 2) and changes nothing.
func TestDeleteCLI(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	data := t.TempDir()
	t.Setenv("SHARDPACS_CONFIG", "")
	files := []string{
		filepath.Join(corpus, "suyashkumar-testdata", "1.dcm"),
		filepath.Join(corpus, "suyashkumar-testdata", "3.dcm"),
	}
	if code, out, errs := runArchiveCLI(t, append([]string{"import", "--data", data}, files...)...); code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	cfg := config.Default()
	cfg.DataDir = data
	studies := func() map[string]string { // study UID → patient ID
		a, err := archive.OpenDir(context.Background(), cfg, archive.Options{NoRepairer: true})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		m := map[string]string{}
		a.Index().Each(context.Background(), func(r *index.InstanceRecord) error { m[r.StudyInstanceUID] = r.PatientID; return nil })
		return m
	}
	before := studies()
	if len(before) != 2 {
		t.Fatalf("%d studies imported, want 2", len(before))
	}
	var victim string
	for s := range before {
		victim = s
		break
	}
	objects := countShareObjects(t, data)

	if code, _, errs := runArchiveCLI(t, "delete", "--data", data, "--study", victim); code != 2 || !strings.Contains(errs, "--yes") {
		t.Fatalf("delete without --yes: exit %d, %q; want 2 asking for --yes", code, errs)
	}
	if n := countShareObjects(t, data); n != objects {
		t.Fatalf("delete without --yes removed %d share objects", objects-n)
	}
	code, out, errs := runArchiveCLI(t, "delete", "--data", data, "--study", victim, "--yes")
	if code != 0 || !strings.Contains(out, "deleted 1 instances") {
		t.Fatalf("delete: %d\n%s\n%s", code, out, errs)
	}
	after := studies()
	if _, ok := after[victim]; ok || len(after) != 1 {
		t.Errorf("studies after delete: %v, want only the other one", after)
	}
	if n := countShareObjects(t, data); n != objects-4 {
		t.Errorf("%d share objects after delete, want %d (the study's four gone)", n, objects-4)
	}
	if code, _, _ := runArchiveCLI(t, "export", "--data", data, "--study", victim, "--out", t.TempDir()); code != 1 {
		t.Errorf("export of the deleted study: exit %d, want 1", code)
	}
	if code, _, _ := runArchiveCLI(t, "delete", "--data", data, "--study", victim, "--yes"); code != 1 {
		t.Errorf("second delete: exit %d, want 1 (nothing found)", code)
	}

	b, err := os.ReadFile(cfg.AuditPath())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(line, `"`+audit.EventStudyDeleted.Code+`"`) && strings.Contains(line, victim) && strings.Contains(line, before[victim]) {
			found = true
		}
	}
	if !found {
		t.Errorf("no Study Deleted event naming the study and its patient in the audit trail:\n%s", b)
	}
}
