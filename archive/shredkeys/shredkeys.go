// Package shredkeys is the key store of the opt-in crypto-shredding mode
// (docs/security.md §7): one random 256-bit shred key per stored object,
// keyed by the object's random 16-byte ID (never a UID), in a small SQLite
// file (modernc.org/sqlite) kept beside the KEK file and backed up with it.
//
// The store is trusted like the KEK: whoever holds it and the KEK and k
// share stores reads every instance whose key is in it. Destroying a key
// is what makes every copy of that instance's shares undecryptable, so
// deletion is made as final as SQLite allows:
//
//   - the file is created with mode 0600 (SQLite gives its -wal and -shm
//     files the same mode) and Open refuses one that group or others may
//     access;
//   - synchronous=FULL in WAL mode: Put returns only once the key is
//     durable, Destroy only once the deletion is;
//   - secure_delete=ON: SQLite overwrites deleted content with zeros in
//     the database pages;
//   - after every Destroy, a TRUNCATE checkpoint copies the zeroed pages
//     into the database file and empties the WAL, so the deleted key does
//     not linger in the WAL's older frames.
//
// What a file system or an SSD keeps of overwritten or truncated blocks is
// out of reach of any program; that matters only together with a copy of
// the KEK and of k share stores (docs/security.md §7).
//
// A Store is safe for concurrent use: it holds one connection, and calls
// are serialised on it. The package logs nothing.
package shredkeys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shardpacs/shardpacs/crypto"
)

// Sentinel errors, tested with errors.Is.
var (
	// ErrNotFound: no key for this object ID (destroyed, or never stored).
	ErrNotFound = errors.New("shredkeys: no shred key for this object")
	// ErrExists: Put of an object ID that already has a key.
	ErrExists = errors.New("shredkeys: object already has a shred key")
	// ErrMissing: Open without Create found no file.
	ErrMissing = errors.New("shredkeys: key store file does not exist")
	// ErrPermissions: the file is accessible to group or others.
	ErrPermissions = errors.New("shredkeys: key store file permissions too open")
	// ErrNotKeyStore: the file is a SQLite database of something else
	// (the index, say), or of a newer schema.
	ErrNotKeyStore = errors.New("shredkeys: not a shred key store")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("shredkeys: closed")
)

// applicationID marks the SQLite file as ours (PRAGMA application_id):
// "SPSK".
const applicationID = 0x5350534b

const schemaVersion = 1

const schema = `
CREATE TABLE shred_key (
	object_id BLOB PRIMARY KEY CHECK (length(object_id) = 16),
	key       BLOB NOT NULL CHECK (length(key) = 32),
	created   INTEGER NOT NULL
) WITHOUT ROWID;
`

// Options tunes Open. The zero value works.
type Options struct {
	// Create makes a new, empty store when the file does not exist.
	// Default false: a missing file is ErrMissing (a lost key store must
	// be restored from its backup, never silently replaced).
	Create bool
	// Now is the clock of the created times. Default time.Now.
	Now func() time.Time
	// BusyTimeout is how long a call waits for a lock held by another
	// process. Default 30 s.
	BusyTimeout time.Duration
}

func (o *Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// Store is an open key store. Close it when done.
type Store struct {
	db     *sql.DB
	path   string
	opts   Options
	closed atomic.Bool
}

// Open opens the key store at path (creating it, mode 0600, when
// opt.Create is set and the file does not exist). The path must not
// contain '?'.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("shredkeys: unusable path %q", path)
	}
	created := false
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && opt.Create:
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("shredkeys: create: %w", err)
		}
		if err == nil {
			f.Close()
			created = true
		}
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s", ErrMissing, path)
	case err != nil:
		return nil, fmt.Errorf("shredkeys: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotKeyStore, path)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrPermissions, path, fi.Mode().Perm(), path)
	}
	busy := opt.BusyTimeout
	if busy <= 0 {
		busy = 30 * time.Second
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "secure_delete(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("shredkeys: open: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, path: path, opts: opt}
	if err := s.init(ctx, created); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init checks the pragmas took and creates or checks the schema.
func (s *Store) init(ctx context.Context, created bool) error {
	var mode string
	var secure int
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("shredkeys: open %s: WAL mode not available (journal_mode=%q, err=%v)", s.path, mode, err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA secure_delete").Scan(&secure); err != nil || secure != 1 {
		return fmt.Errorf("shredkeys: open %s: secure_delete not available (%d, err=%v)", s.path, secure, err)
	}
	var app, ver int
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return fmt.Errorf("shredkeys: open %s: %w", s.path, err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&ver); err != nil {
		return fmt.Errorf("shredkeys: open %s: %w", s.path, err)
	}
	switch {
	case app == applicationID && ver == schemaVersion:
		return nil
	case app != 0 || ver != 0:
		return fmt.Errorf("%w: %s (application_id %#x, user_version %d)", ErrNotKeyStore, s.path, app, ver)
	}
	var tables int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return fmt.Errorf("shredkeys: open %s: %w", s.path, err)
	}
	if tables != 0 && !created {
		return fmt.Errorf("%w: %s holds other tables", ErrNotKeyStore, s.path)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("shredkeys: create schema: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range []string{schema,
		fmt.Sprintf("PRAGMA application_id = %d", applicationID),
		fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("shredkeys: create schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("shredkeys: create schema: %w", err)
	}
	return nil
}

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close closes the store. Later calls fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

// Put stores key (crypto.DataKeySize bytes) for objectID and returns once
// it is durable. ErrExists when objectID already has a key.
func (s *Store) Put(ctx context.Context, objectID [16]byte, key []byte) error {
	if len(key) != crypto.DataKeySize {
		return fmt.Errorf("shredkeys: put: %w", crypto.ErrKeySize)
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO shred_key (object_id, key, created) VALUES (?, ?, ?)",
		objectID[:], key, s.opts.now().UnixNano())
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return fmt.Errorf("%w: %x", ErrExists, objectID)
	}
	if err != nil {
		return s.wrap("put", err)
	}
	return nil
}

// Get returns the key of objectID, or an error wrapping ErrNotFound. The
// slice is the caller's (clear it after use).
func (s *Store) Get(ctx context.Context, objectID [16]byte) ([]byte, error) {
	var key []byte
	err := s.db.QueryRowContext(ctx, "SELECT key FROM shred_key WHERE object_id = ?", objectID[:]).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %x", ErrNotFound, objectID)
	}
	if err != nil {
		return nil, s.wrap("get", err)
	}
	return key, nil
}

// Has reports whether objectID has a key.
func (s *Store) Has(ctx context.Context, objectID [16]byte) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM shred_key WHERE object_id = ?", objectID[:]).Scan(&n)
	if err != nil {
		return false, s.wrap("has", err)
	}
	return n > 0, nil
}

// Destroy deletes the keys of objectIDs (those that have none are skipped)
// in one transaction, then checkpoints the WAL with TRUNCATE, so the
// deleted keys are left neither in a database page (secure_delete) nor in
// the WAL file. It returns how many keys it deleted. An error after the
// deletion committed (the checkpoint) still reports the count.
func (s *Store) Destroy(ctx context.Context, objectIDs ...[16]byte) (int, error) {
	if len(objectIDs) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.wrap("destroy", err)
	}
	defer tx.Rollback()
	n := 0
	for _, id := range objectIDs {
		res, err := tx.ExecContext(ctx, "DELETE FROM shred_key WHERE object_id = ?", id[:])
		if err != nil {
			return 0, s.wrap("destroy", err)
		}
		c, _ := res.RowsAffected()
		n += int(c)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.wrap("destroy", err)
	}
	return n, s.checkpoint(ctx)
}

// checkpoint runs PRAGMA wal_checkpoint(TRUNCATE) and fails when it could
// not complete (another process reading an old snapshot).
func (s *Store) checkpoint(ctx context.Context) error {
	var busy, logFrames, done int
	err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
	if err != nil {
		return s.wrap("checkpoint", err)
	}
	if busy != 0 {
		return fmt.Errorf("shredkeys: checkpoint: the WAL is in use by another connection; deleted keys may stay in %s-wal until the next checkpoint", s.path)
	}
	return nil
}

// Entry is one key's metadata (never the key).
type Entry struct {
	ObjectID [16]byte
	Created  time.Time
}

// List returns the object IDs that have a key, with their creation times.
func (s *Store) List(ctx context.Context) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT object_id, created FROM shred_key")
	if err != nil {
		return nil, s.wrap("list", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var id []byte
		var created int64
		if err := rows.Scan(&id, &created); err != nil {
			return nil, s.wrap("list", err)
		}
		var e Entry
		copy(e.ObjectID[:], id)
		e.Created = time.Unix(0, created).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list", err)
	}
	return out, nil
}

func (s *Store) wrap(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("shredkeys: %s: %w", op, err)
}
