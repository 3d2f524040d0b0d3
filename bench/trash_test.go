package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDiscard: discard moves a folder into the trash (no file is deleted
// until emptyTrash), keeps two discarded folders of one name apart, and
// ignores a path that does not exist.
func TestDiscard(t *testing.T) {
	out := t.TempDir()
	b := &bench{o: &options{out: out}, runDir: filepath.Join(out, "run")}
	var dirs []string
	for i := range 2 {
		d := filepath.Join(b.runDir, "ingest", "shardpacs")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		b.discard(d)
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Fatalf("%s still there after discard: %v", d, err)
		}
		dirs = append(dirs, d)
	}
	b.discard(filepath.Join(out, "missing"))
	ents, err := os.ReadDir(b.trashDir())
	if err != nil || len(ents) != 2 {
		t.Fatalf("trash holds %d entries (%v), want 2", len(ents), err)
	}
	for i, e := range ents {
		got, err := os.ReadFile(filepath.Join(b.trashDir(), e.Name(), "f"))
		if err != nil || len(got) != 1 || got[0] != byte(i) {
			t.Errorf("trash %s: %v %v", e.Name(), got, err)
		}
	}
	if err := b.emptyTrash(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.trashDir()); !os.IsNotExist(err) {
		t.Errorf("trash left after emptyTrash: %v", err)
	}
}
