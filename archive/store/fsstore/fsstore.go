// Package fsstore is the filesystem back end of store.ShareStore: one folder
// per store, objects fanned out into 256 sub-folders by the first two hex
// digits of their name (so no folder holds more than ~1/256 of the objects:
// 10^6 objects → ~4,000 per folder).
//
// Layout of a store folder:
//
//	<dir>/<n[0:2]>/<n>                  a complete object named n
//	<dir>/<n[0:2]>/.tmp-<n>-<random>    a write in progress (or crashed)
//
// Writes are atomic and durable: the object is written to a temporary file
// in its final folder, fsynced, closed, hard-linked to its name (link(2)
// fails if the name exists, so an object is never overwritten, even by a
// concurrent Put), the temporary name is removed, and the folder is fsynced.
// A crash leaves either the complete object or only a ".tmp-" file, which
// CleanTemp removes later.
package fsstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shardpacs/shardpacs/archive/store"
)

const tmpPrefix = ".tmp-"

// copyBufSize is the size of the buffer Put streams through.
const copyBufSize = 256 << 10

// Store is a store.ShareStore over one local folder. Build it with Open.
// Safe for concurrent use.
type Store struct {
	dir string // absolute, cleaned
}

var _ store.ShareStore = (*Store)(nil)

// Open returns the store rooted at dir, creating dir (mode 0700) when
// needed. dir must not be a file.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("fsstore: open %s: not a directory", dir)
	}
	return &Store{dir: abs}, nil
}

// Dir returns the store's folder.
func (s *Store) Dir() string { return s.dir }

// String implements store.ShareStore: "fs:" and the folder.
func (s *Store) String() string { return "fs:" + s.dir }

func (s *Store) path(name string) (sub, full string) {
	sub = filepath.Join(s.dir, name[:2])
	return sub, filepath.Join(sub, name)
}

func (s *Store) fail(op, name string, err error) error { return store.NewError(op, s, name, err) }

// ctxReader fails with the context's error once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements store.ShareStore.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) (size int64, sum [32]byte, err error) {
	if err := store.CheckName(name); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	sub, full := s.path(name)
	if _, err := os.Lstat(full); err == nil {
		return 0, sum, s.fail("put", name, store.ErrExists)
	}
	if err := s.mkSub(sub); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	tmp, err := os.CreateTemp(sub, tmpPrefix+name+"-*")
	if err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	h := sha256.New()
	size, err = io.CopyBuffer(io.MultiWriter(tmp, h), ctxReader{ctx, r}, make([]byte, copyBufSize))
	if err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := os.Link(tmpName, full); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = store.ErrExists
		}
		return 0, sum, s.fail("put", name, err)
	}
	committed = true
	// The object is in place; the temporary name is only a second link.
	if err := os.Remove(tmpName); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := syncDir(sub); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	copy(sum[:], h.Sum(nil))
	return size, sum, nil
}

// mkSub creates a fan-out folder durably (the new entry in the store folder
// is fsynced) if it does not exist yet.
func (s *Store) mkSub(sub string) error {
	if _, err := os.Stat(sub); err == nil {
		return nil
	}
	if err := os.Mkdir(sub, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open implements store.ShareStore. The reader is an *os.File.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := store.CheckName(name); err != nil {
		return nil, s.fail("open", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail("open", name, err)
	}
	_, full := s.path(name)
	f, err := os.Open(full)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = store.ErrNotFound
		}
		return nil, s.fail("open", name, err)
	}
	return f, nil
}

// Delete implements store.ShareStore.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := store.CheckName(name); err != nil {
		return s.fail("delete", name, err)
	}
	if err := ctx.Err(); err != nil {
		return s.fail("delete", name, err)
	}
	sub, full := s.path(name)
	if err := os.Remove(full); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return s.fail("delete", name, err)
	}
	if err := syncDir(sub); err != nil {
		return s.fail("delete", name, err)
	}
	return nil
}

// subdirs returns the fan-out folders (two lower-case hex digits), sorted.
func (s *Store) subdirs() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var subs []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() && len(n) == 2 && store.ValidName(n+strings.Repeat("0", store.NameLen-2)) {
			subs = append(subs, n)
		}
	}
	return subs, nil
}

// List implements store.ShareStore: objects in name order. Files that are
// not objects (temporary files, strays) are skipped.
func (s *Store) List(ctx context.Context, fn func(name string, size int64, modTime time.Time) error) error {
	subs, err := s.subdirs()
	if err != nil {
		return s.fail("list", "", err)
	}
	for _, sub := range subs {
		if err := ctx.Err(); err != nil {
			return s.fail("list", "", err)
		}
		ents, err := os.ReadDir(filepath.Join(s.dir, sub))
		if err != nil {
			return s.fail("list", "", err)
		}
		for _, e := range ents {
			n := e.Name()
			if !e.Type().IsRegular() || !store.ValidName(n) || n[:2] != sub {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return s.fail("list", "", err)
			}
			if err := fn(n, info.Size(), info.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

// CleanTemp implements store.ShareStore: it removes ".tmp-" files whose
// modification time is older than olderThan.
func (s *Store) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	subs, err := s.subdirs()
	if err != nil {
		return 0, s.fail("clean", "", err)
	}
	removed := 0
	cutoff := time.Now().Add(-olderThan)
	for _, sub := range subs {
		if err := ctx.Err(); err != nil {
			return removed, s.fail("clean", "", err)
		}
		dir := filepath.Join(s.dir, sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return removed, s.fail("clean", "", err)
		}
		n := 0
		for _, e := range ents {
			if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), tmpPrefix) {
				continue
			}
			info, err := e.Info()
			if err != nil || !info.ModTime().Before(cutoff) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, s.fail("clean", "", err)
			}
			n++
		}
		if n > 0 {
			if err := syncDir(dir); err != nil {
				return removed, s.fail("clean", "", err)
			}
			removed += n
		}
	}
	return removed, nil
}
