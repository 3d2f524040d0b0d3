package fsstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/store"
	"github.com/shardpacs/shardpacs/archive/store/storetest"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.ShareStore { return newStore(t) })
}

// The Faulty wrapper with nothing armed is itself a conforming store.
func TestFaultyConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.ShareStore { return storetest.NewFaulty(newStore(t)) })
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("store dir mode %v, %v", st.Mode(), err)
	}
	if s.String() != "fs:"+dir {
		t.Fatalf("String() = %q", s.String())
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(f); err == nil {
		t.Fatal("Open of a file: want error")
	}
}

const objName = "0123456789abcdef0123456789abcdef"

func TestLayoutAndNoTempLeft(t *testing.T) {
	s := newStore(t)
	if _, _, err := s.Put(context.Background(), objName, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(), "01", objName))
	if err != nil || string(b) != "hello" {
		t.Fatalf("object not at <dir>/01/<name>: %q %v", b, err)
	}
	// A failed put leaves no file at all.
	_, _, err = s.Put(context.Background(), strings.Replace(objName, "0", "1", 1),
		io.MultiReader(strings.NewReader("part"), errReader{}))
	if err == nil {
		t.Fatal("want error")
	}
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), "11"))
	if len(ents) != 0 {
		t.Fatalf("failed put left %d files", len(ents))
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestCleanTempCrashedWrite(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, _, err := s.Put(ctx, objName, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(s.Dir(), "01")
	old := filepath.Join(sub, ".tmp-"+objName+"-1")
	young := filepath.Join(sub, ".tmp-"+objName+"-2")
	for _, p := range []string{old, young} {
		os.WriteFile(p, []byte("partial"), 0o600)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	// Stray files that are neither objects nor temp files are left alone and unlisted.
	stray := filepath.Join(sub, "README")
	os.WriteFile(stray, nil, 0o600)

	var names []string
	s.List(ctx, func(n string, _ int64, _ time.Time) error { names = append(names, n); return nil })
	if len(names) != 1 || names[0] != objName {
		t.Fatalf("List = %v", names)
	}
	n, err := s.CleanTemp(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("CleanTemp = %d, %v; want 1", n, err)
	}
	for p, want := range map[string]bool{old: false, young: true, stray: true, filepath.Join(sub, objName): true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

func TestFaulty(t *testing.T) {
	ctx := context.Background()
	f := storetest.NewFaulty(newStore(t))
	if _, _, err := f.Put(ctx, objName, bytes.NewReader(make([]byte, 100))); err != nil {
		t.Fatal(err)
	}
	f.CorruptOnOpen(objName, 42)
	rc, _ := f.Open(ctx, objName)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if b[42] != 0xff || bytes.Count(b, []byte{0}) != 99 {
		t.Fatal("CorruptOnOpen did not flip byte 42 only")
	}
	f.CorruptOnOpen(objName, -1)

	f.SetDown(true)
	if _, err := f.Open(ctx, objName); !errors.Is(err, storetest.ErrDown) {
		t.Fatalf("down Open: %v", err)
	}
	f.SetDown(false)

	other := strings.Repeat("a", 32)
	boom := errors.New("disk full")
	f.FailPutAfter(10, boom)
	if _, _, err := f.Put(ctx, other, bytes.NewReader(make([]byte, 100))); !errors.Is(err, boom) {
		t.Fatalf("FailPutAfter: %v", err)
	}
	if _, err := f.Open(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("object visible after mid-stream failure: %v", err)
	}
	f.FailPutAfter(-1, nil)
	f.FailOp("delete", boom)
	if err := f.Delete(ctx, objName); !errors.Is(err, boom) {
		t.Fatalf("FailOp(delete): %v", err)
	}
	f.FailOp("delete", nil)
	calls := 0
	f.Before(func(op, name string) error { calls++; return nil })
	if err := f.Delete(ctx, objName); err != nil || calls != 1 {
		t.Fatalf("Before hook: %v, %d calls", err, calls)
	}
}

// A fan-out folder removed while the store is open is made again.
func TestPutRemadeSubFolder(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, _, err := s.Put(ctx, "ab"+strings.Repeat("0", 30), strings.NewReader("one")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(s.Dir(), "ab")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(ctx, "ab"+strings.Repeat("1", 30), strings.NewReader("two")); err != nil {
		t.Fatalf("Put after the folder was removed: %v", err)
	}
}

// MakeFolders creates the 256 fan-out folders once (idempotent), keeps
// what a folder already holds, and Put then creates no folder.
func TestMakeFolders(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("ab", 16)
	if _, _, err := s.Put(context.Background(), name, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.MakeFolders(context.Background()); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 256 {
			t.Fatalf("%d entries in the store folder, want 256", len(ents))
		}
	}
	if rc, err := s.Open(context.Background(), name); err != nil {
		t.Fatalf("object put before MakeFolders: %v", err)
	} else {
		rc.Close()
	}
	// A new Store on the same folder learns the folders: a Put into one
	// removed behind its back still works (it makes it again).
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.MakeFolders(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "cd")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s2.Put(context.Background(), strings.Repeat("cd", 16), strings.NewReader("y")); err != nil {
		t.Fatalf("Put into a folder removed after MakeFolders: %v", err)
	}
}
