package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// TestShredCLI: shred_keys from the environment; the key store is created
// beside master.key on first start (0600); `keys show` counts its keys;
// `delete` removes the study, its shares and its key and audits 110105;
// with the key store gone over existing data every archive command
// refuses (ErrShredKeysMissing); `keys shred-init` turns shred mode on for
// an archive that holds data.
func TestShredCLI(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	t.Setenv("SHARDPACS_CONFIG", "")
	t.Setenv("SHARDPACS_SHRED_KEYS", "true")
	files := []string{
		filepath.Join(corpus, "suyashkumar-testdata", "1.dcm"),
		filepath.Join(corpus, "suyashkumar-testdata", "3.dcm"),
	}
	data := t.TempDir()
	if code, out, errs := runArchiveCLI(t, append([]string{"import", "--data", data}, files...)...); code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	keys := filepath.Join(data, "shred-keys.db")
	fi, err := os.Stat(keys)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key store: %v, %v", fi, err)
	}
	if code, out, _ := runArchiveCLI(t, "keys", "--data", data, "show"); code != 0 || !strings.Contains(out, "2 keys") {
		t.Fatalf("keys show: %d %q", code, out)
	}
	// Delete one study through the CLI; its key goes with it.
	studies := dataSets(t, files)
	if len(studies) != 2 {
		t.Fatalf("%d instances in the files", len(studies))
	}
	var sop string
	for s := range studies {
		sop = s
		break
	}
	if code, out, errs := runArchiveCLI(t, "delete", "--data", data, "--instance", sop, "--yes"); code != 0 || !strings.Contains(out, "deleted 1 instances") {
		t.Fatalf("delete: %d\n%s\n%s", code, out, errs)
	}
	if code, out, _ := runArchiveCLI(t, "keys", "--data", data, "show"); code != 0 || !strings.Contains(out, "1 keys") {
		t.Fatalf("keys show after delete: %d %q", code, out)
	}
	b, _ := os.ReadFile(filepath.Join(data, "audit.log"))
	if !strings.Contains(string(b), `"`+audit.EventStudyDeleted.Code+`"`) {
		t.Errorf("no Study Deleted event in the audit trail:\n%s", b)
	}

	// The key store lost: refused, never silently recreated.
	os.Rename(keys, keys+".backup")
	code, _, errs := runArchiveCLI(t, append([]string{"import", "--data", data}, files[0])...)
	if code != 1 || !strings.Contains(errs, archive.ErrShredKeysMissing.Error()) || !strings.Contains(errs, keys) {
		t.Fatalf("import without the key store: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(keys); !os.IsNotExist(err) {
		t.Fatal("the key store was recreated over existing data")
	}
	os.Rename(keys+".backup", keys)
	if code, _, errs := runArchiveCLI(t, "verify", "--data", data); code != 0 {
		t.Fatalf("verify with the key store restored: %d %s", code, errs)
	}

	// Turning shred mode on for an archive with data.
	plain := t.TempDir()
	t.Setenv("SHARDPACS_SHRED_KEYS", "false")
	if code, _, errs := runArchiveCLI(t, append([]string{"import", "--data", plain}, files[0])...); code != 0 {
		t.Fatalf("plain import: %s", errs)
	}
	t.Setenv("SHARDPACS_SHRED_KEYS", "true")
	if code, _, _ := runArchiveCLI(t, append([]string{"import", "--data", plain}, files[1])...); code != 1 {
		t.Fatalf("shred import over plain data without shred-init: exit %d, want 1", code)
	}
	if code, out, errs := runArchiveCLI(t, "keys", "--data", plain, "shred-init"); code != 0 || !strings.Contains(out, "created") {
		t.Fatalf("keys shred-init: %d %s %s", code, out, errs)
	}
	if code, _, _ := runArchiveCLI(t, "keys", "--data", plain, "shred-init"); code != 1 {
		t.Fatalf("second shred-init: exit %d, want 1", code)
	}
	if code, out, errs := runArchiveCLI(t, append([]string{"import", "--data", plain}, files[1])...); code != 0 {
		t.Fatalf("shred import after shred-init: %d %s %s", code, out, errs)
	}
	if code, out, _ := runArchiveCLI(t, "keys", "--data", plain, "show"); code != 0 || !strings.Contains(out, "1 keys") {
		t.Fatalf("keys show: %d %q", code, out)
	}
}
