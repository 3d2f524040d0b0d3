// Package index is the archive's SQLite index (modernc.org/sqlite, pure Go)
// of patients, studies, series and instances, with the SHA-256 and size of
// every share object, and the C-FIND query engine (PS3.4 C.4.1, C.6).
// Queries are answered from the index alone and never touch a share store.
//
// The database runs in WAL mode with synchronous=FULL and foreign keys on.
// One writer connection takes every write, serialised in Go (writers queue
// on a semaphore that honours their context, never on SQLITE_BUSY retries);
// a pool of read-only connections answers reads concurrently with it. The
// schema is versioned with PRAGMA user_version and brought up to date by
// Open.
//
// The index stores no key material (no DEK, no key share) and logs nothing.
package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tunes Open. The zero value works.
type Options struct {
	// ReadConns is the size of the read connection pool, which is also the
	// number of queries that run at once (others wait for a connection or
	// their context). Default 4.
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by
	// another process or by a checkpoint before failing. Default 30 s.
	BusyTimeout time.Duration
}

func (o *Options) readConns() int {
	if o.ReadConns <= 0 {
		return 4
	}
	return o.ReadConns
}

func (o *Options) busyTimeout() time.Duration {
	if o.BusyTimeout <= 0 {
		return 30 * time.Second
	}
	return o.BusyTimeout
}

// DB is an open index. It is safe for concurrent use; Close it when done.
type DB struct {
	w     *sql.DB       // the single writer connection
	r     *sql.DB       // read-only pool
	wsem  chan struct{} // holds the right to write (capacity 1)
	once  sync.Once
	close chan struct{}

	smu   sync.Mutex
	stmts map[string]*sql.Stmt // writer statements, prepared once

	rmu    sync.Mutex
	rstmts map[string]*sql.Stmt // reader statements (lookups), prepared once

	qmu   sync.Mutex
	queue []*insertReq // Inserts waiting for a group commit
}

// Open opens (creating if needed) the index file at path and migrates its
// schema. The path must not contain '?'.
func Open(ctx context.Context, path string, opt Options) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("index: unusable path %q", path)
	}
	busy := opt.busyTimeout().Milliseconds()
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy))
	common.Add("_pragma", "foreign_keys(1)")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous(FULL)")
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("index: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("index: open: %w", err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("index: open: WAL mode not available (journal_mode=%q, err=%v)", mode, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}

	rq := common
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("index: open: %w", err)
	}
	n := opt.readConns()
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("index: open: %w", err)
	}
	return &DB{w: w, r: r, wsem: make(chan struct{}, 1), close: make(chan struct{}), stmts: map[string]*sql.Stmt{}, rstmts: map[string]*sql.Stmt{}}, nil
}

// Close closes every connection. Operations in flight may fail; later calls
// return ErrClosed. Close is idempotent.
func (db *DB) Close() error {
	var err error
	db.once.Do(func() {
		close(db.close)
		// Wait for the writer in flight, if any, so that its commit ends
		// before the connection closes.
		db.wsem <- struct{}{}
		db.smu.Lock()
		for _, s := range db.stmts {
			if s != nil {
				s.Close()
			}
		}
		db.smu.Unlock()
		db.rmu.Lock()
		for _, s := range db.rstmts {
			s.Close()
		}
		db.rmu.Unlock()
		err = errors.Join(db.r.Close(), db.w.Close())
	})
	return err
}

// rstmt returns the read-pool statement for q, prepared on first use.
// database/sql prepares it again on each pooled connection as needed and
// keeps it there: the lookups on the hot paths (the duplicate check of
// every C-STORE, every C-MOVE / C-GET sub-operation) skip SQLite's parser,
// which took ~6 % of the node's CPU during ingest when every call prepared
// its own. q is our own SQL text, never built from input.
func (db *DB) rstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	db.rmu.Lock()
	defer db.rmu.Unlock()
	if s, ok := db.rstmts[q]; ok {
		return s, nil
	}
	select {
	case <-db.close:
		return nil, ErrClosed
	default:
	}
	s, err := db.r.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	db.rstmts[q] = s
	return s, nil
}

// wtx is a write transaction whose statements are prepared once per DB
// and reused (SQL text is our own, parameters are always bound).
type wtx struct {
	tx *sql.Tx
	db *DB
}

// stmt returns the cached prepared statement for q bound to this
// transaction, or nil the first time q is seen: the pool's only connection
// is busy with the transaction, so q is prepared after it ends
// (prepareMissing) and plain execution serves meanwhile.
func (w *wtx) stmt(ctx context.Context, q string) *sql.Stmt {
	w.db.smu.Lock()
	s, ok := w.db.stmts[q]
	if !ok {
		w.db.stmts[q] = nil
	}
	w.db.smu.Unlock()
	if s == nil {
		return nil
	}
	return w.tx.StmtContext(ctx, s)
}

// prepareMissing prepares the statements first seen in the last
// transaction; the caller holds the writer and no transaction is open.
func (db *DB) prepareMissing(ctx context.Context) {
	db.smu.Lock()
	defer db.smu.Unlock()
	for q, s := range db.stmts {
		if s != nil {
			continue
		}
		if p, err := db.w.PrepareContext(ctx, q); err == nil {
			db.stmts[q] = p
		}
	}
}

func (w *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s := w.stmt(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return w.tx.ExecContext(ctx, q, args...)
}

func (w *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if s := w.stmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return w.tx.QueryRowContext(ctx, q, args...)
}

// lockWriter waits (as long as ctx allows) for the right to write.
func (db *DB) lockWriter(ctx context.Context) error {
	select {
	case <-db.close:
		return ErrClosed
	default:
	}
	select {
	case db.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-db.close:
		return ErrClosed
	}
}

func (db *DB) unlockWriter() { <-db.wsem }

// write runs fn inside one write transaction on the writer connection,
// after waiting (as long as ctx allows) for any other writer to finish.
// fn's error rolls the transaction back.
func (db *DB) write(ctx context.Context, fn func(tx *wtx) error) error {
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	defer db.unlockWriter()
	return db.writeLocked(ctx, fn)
}

func (db *DB) writeLocked(ctx context.Context, fn func(tx *wtx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.wrapErr("begin", err)
	}
	defer db.prepareMissing(ctx)
	if err := fn(&wtx{tx: tx, db: db}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return db.wrapErr("commit", err)
	}
	return nil
}

// wrapErr adds the operation to a driver error, and turns errors from a
// closed pool into ErrClosed.
func (db *DB) wrapErr(op string, err error) error {
	select {
	case <-db.close:
		return ErrClosed
	default:
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("index: %s: %w", op, err)
}

// readable returns ErrClosed once Close was called.
func (db *DB) readable() error {
	select {
	case <-db.close:
		return ErrClosed
	default:
		return nil
	}
}

// IntegrityCheck runs PRAGMA integrity_check and PRAGMA foreign_key_check
// and returns an error describing the first problems found, or nil when the
// file is sound.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	if err := db.readable(); err != nil {
		return err
	}
	rows, err := db.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return db.wrapErr("integrity_check", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return db.wrapErr("integrity_check", err)
		}
		if s != "ok" && len(problems) < 10 {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return db.wrapErr("integrity_check", err)
	}
	rows.Close()
	frows, err := db.r.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return db.wrapErr("foreign_key_check", err)
	}
	defer frows.Close()
	for frows.Next() && len(problems) < 20 {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int
		if err := frows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return db.wrapErr("foreign_key_check", err)
		}
		problems = append(problems, fmt.Sprintf("foreign key violation: %s row %d -> %s", table, rowid.Int64, parent))
	}
	if err := frows.Err(); err != nil {
		return db.wrapErr("foreign_key_check", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("index: integrity check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}
