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
//
// The two waits for stable storage of a Put (the temporary file before the
// link, the folder after it) are shared with concurrent Puts — of this
// store and of the other stores on the same filesystem — in group-sync
// rounds (see syncer.go): many concurrent Puts cost a few syncfs(2) calls
// instead of two fsyncs each. A Put into a fan-out folder that does not
// exist yet creates it (and syncs the store folder) first; MakeFolders
// creates all 256 at once, off the write path (`shardpacs serve` and
// `import` call it at start).
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardpacs/shardpacs/archive/store"
)

const tmpPrefix = ".tmp-"

// copyBufSize is the size of the buffers Put streams through (pooled).
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// Store is a store.ShareStore over one local folder. Build it with Open.
// Safe for concurrent use.
type Store struct {
	dir  string           // absolute, cleaned
	sync *syncer          // shared by the stores of one filesystem
	subs [256]atomic.Bool // fan-out folders known to exist durably
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
	return &Store{dir: abs, sync: syncerFor(abs)}, nil
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
	if errors.Is(err, fs.ErrNotExist) {
		// The fan-out folder went away behind our back: make it again.
		s.subs[subIndex(name[:2])].Store(false)
		if err = s.mkSub(sub); err == nil {
			tmp, err = os.CreateTemp(sub, tmpPrefix+name+"-*")
		}
	}
	if err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	seq := nextOpenSeq()
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	size, err = io.CopyBuffer(io.MultiWriter(tmp, h), ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	if err := s.syncer().sync(tmp, seq); err != nil {
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
	if err := s.syncDir(sub); err != nil {
		return 0, sum, s.fail("put", name, err)
	}
	copy(sum[:], h.Sum(nil))
	return size, sum, nil
}

// mkSub creates a fan-out folder durably (the new entry in the store folder
// is synced) if it does not exist yet. A folder seen once is remembered.
func (s *Store) mkSub(sub string) error {
	i := subIndex(filepath.Base(sub))
	if i >= 0 && s.subs[i].Load() {
		return nil
	}
	if _, err := os.Stat(sub); err != nil {
		if err := os.Mkdir(sub, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	// Sync the store folder even when the sub-folder existed: it may have
	// been made by a Put that failed before its sync.
	if err := s.syncDir(s.dir); err != nil {
		return err
	}
	if i >= 0 {
		s.subs[i].Store(true)
	}
	return nil
}

// subIndex maps a fan-out folder name ("00".."ff") to 0..255, else -1.
func subIndex(sub string) int {
	if len(sub) != 2 {
		return -1
	}
	v := 0
	for _, c := range []byte(sub) {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		default:
			return -1
		}
	}
	return v
}

// syncDir makes a folder's entries durable (in a group-sync round).
func (s *Store) syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = s.syncer().sync(d, nextOpenSeq())
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncer returns s.sync, or a private one for a Store not built by Open.
func (s *Store) syncer() *syncer {
	if s.sync == nil {
		return &syncer{}
	}
	return s.sync
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
	if err := s.syncDir(sub); err != nil {
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
			if err := s.syncDir(dir); err != nil {
				return removed, s.fail("clean", "", err)
			}
			removed += n
		}
	}
	return removed, nil
}
