package shredkeys

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/crypto"
)

var ctxb = context.Background()

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shred-keys.db")
	s, err := Open(ctxb, path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func id(b byte) [16]byte { return [16]byte{0: 0xee, 15: b} }

func TestPutGetDestroy(t *testing.T) {
	s, path := newStore(t)
	k1, _ := crypto.NewShredKey(nil)
	k2, _ := crypto.NewShredKey(nil)
	if err := s.Put(ctxb, id(1), k1); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctxb, id(2), k2); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctxb, id(1), k2); !errors.Is(err, ErrExists) {
		t.Fatalf("second Put: %v, want ErrExists", err)
	}
	if err := s.Put(ctxb, id(3), k1[:31]); !errors.Is(err, crypto.ErrKeySize) {
		t.Fatalf("short key: %v", err)
	}
	if got, err := s.Get(ctxb, id(1)); err != nil || !bytes.Equal(got, k1) {
		t.Fatalf("Get = %x, %v", got, err)
	}
	if _, err := s.Get(ctxb, id(9)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get unknown: %v", err)
	}
	l, err := s.List(ctxb)
	if err != nil || len(l) != 2 || time.Since(l[0].Created) > time.Hour {
		t.Fatalf("List = %v, %v", l, err)
	}
	n, err := s.Destroy(ctxb, id(1), id(9))
	if err != nil || n != 1 {
		t.Fatalf("Destroy = %d, %v", n, err)
	}
	if _, err := s.Get(ctxb, id(1)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Destroy: %v", err)
	}
	// Durable across a reopen, without Create.
	s.Close()
	if _, err := s.Get(ctxb, id(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	s2, err := Open(ctxb, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.Get(ctxb, id(2)); err != nil || !bytes.Equal(got, k2) {
		t.Fatalf("after reopen: %x, %v", got, err)
	}
	if ok, _ := s2.Has(ctxb, id(1)); ok {
		t.Fatal("destroyed key back after reopen")
	}
}

// TestDestroyLeavesNoBytes: after Destroy, the key's bytes are in neither
// the database file nor its WAL (secure_delete and the TRUNCATE
// checkpoint); a key that stays is found, so the scan itself works.
func TestDestroyLeavesNoBytes(t *testing.T) {
	s, path := newStore(t)
	var keys [][]byte
	for i := range 50 {
		k, _ := crypto.NewShredKey(nil)
		keys = append(keys, k)
		if err := s.Put(ctxb, id(byte(i)), k); err != nil {
			t.Fatal(err)
		}
	}
	contains := func(k []byte) bool {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			if bytes.Contains(b, k) {
				return true
			}
		}
		return false
	}
	if !contains(keys[7]) {
		t.Fatal("a stored key is not found in the files: the scan proves nothing")
	}
	if _, err := s.Destroy(ctxb, id(7), id(8)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{7, 8} {
		if contains(keys[i]) {
			t.Errorf("destroyed key %d still in the key store files", i)
		}
	}
	if !contains(keys[9]) {
		t.Error("a kept key is gone from the files")
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("WAL holds %d bytes after Destroy, want 0 (TRUNCATE checkpoint)", fi.Size())
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shred-keys.db")
	if _, err := Open(ctxb, path, Options{}); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing file without Create: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Open without Create made a file")
	}
	s, err := Open(ctxb, path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := crypto.NewShredKey(nil)
	s.Put(ctxb, id(1), k)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(path+suffix), fi.Mode().Perm())
		}
	}
	s.Close()
	os.Chmod(path, 0o640)
	if _, err := Open(ctxb, path, Options{Create: true}); !errors.Is(err, ErrPermissions) {
		t.Fatalf("mode 0640: %v", err)
	}
	os.Chmod(path, 0o600)

	// The index (another SQLite file) is not a key store.
	ip := filepath.Join(dir, "index.db")
	db, err := index.Open(ctxb, ip, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.Chmod(ip, 0o600)
	if _, err := Open(ctxb, ip, Options{Create: true}); !errors.Is(err, ErrNotKeyStore) {
		t.Fatalf("index.db as key store: %v", err)
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not sqlite at all, not at all, no"), 0o600)
	if _, err := Open(ctxb, junk, Options{}); err == nil {
		t.Fatal("junk file opened as a key store")
	}
}

// BenchmarkPut: one durable key insert (a WAL commit with
// synchronous=FULL): what shred mode adds to each Store, overlapped with
// the encoding of the shares.
func BenchmarkPut(b *testing.B) {
	s, err := Open(ctxb, filepath.Join(b.TempDir(), "k.db"), Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key, _ := crypto.NewShredKey(nil)
	b.ResetTimer()
	for i := range b.N {
		var id [16]byte
		id[0], id[1], id[2], id[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		if err := s.Put(ctxb, id, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet: one key lookup; a read of a shred-sealed instance does k.
func BenchmarkGet(b *testing.B) {
	s, err := Open(ctxb, filepath.Join(b.TempDir(), "k.db"), Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key, _ := crypto.NewShredKey(nil)
	for i := range 1000 {
		s.Put(ctxb, [16]byte{byte(i >> 8), byte(i)}, key)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Get(ctxb, [16]byte{byte(i % 1000 >> 8), byte(i % 1000)}); err != nil {
			b.Fatal(err)
		}
	}
}
