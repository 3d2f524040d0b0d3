package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// SyncInterval is the longest a routine event (not a Security Alert,
// Application Activity or Study Deleted) waits for its fsync.
const SyncInterval = time.Second

// Source is this node's identity, written into every event: the
// AuditSourceIdentification and the participants marked Self.
type Source struct {
	// AETitle is the node's AE title, recorded as "AETITLES=<AE>"
	// (PS3.15 A.5.2.2) and, by default, as the AuditSourceID.
	AETitle string
	// SourceID is the AuditSourceID; "" means AETitle, else the host name.
	SourceID string
	// SiteID is the AuditEnterpriseSiteID (e.g. the hospital); optional.
	SiteID string
}

// Logger appends audit events to a file, one JSON object per line (see the
// package documentation for the format and the fsync policy).
//
// A nil *Logger and the zero Logger discard every event and return nil, so
// that code holding an optional logger needs no checks. A Logger is safe
// for concurrent use; each event is written with a single write call, so
// lines never interleave.
type Logger struct {
	mu     sync.Mutex
	w      io.Writer // where lines go: f, or the writer of NewWriter
	f      *os.File  // nil for NewWriter
	path   string
	closed bool
	dirty  bool        // written since the last fsync
	timer  *time.Timer // pending batched fsync
	sepNL  bool        // the file did not end in '\n': start with one
	err    error       // failure of a background fsync, reported once
	src    Source
	buf    bytes.Buffer

	// now and syncInterval are replaced by tests.
	now          func() time.Time
	syncInterval time.Duration
}

// Open opens (creating it with mode 0600 if needed) the audit log at path
// for appending. It refuses a path that is not a regular file
// (ErrNotRegular) and, on Unix, a file that group or others may access
// (ErrPermissions): it never loosens nor silently fixes permissions. The
// directory must exist; it is fsynced so that a new file's entry is
// durable. If the file does not end in a newline (a line torn by a crash),
// the next event starts on a new line.
func Open(path string) (*Logger, error) {
	l := &Logger{path: path}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// NewWriter returns a Logger that writes lines to w (os.Stderr, a test
// buffer); w's Write must be safe to call from one goroutine at a time.
// Nothing is fsynced; Close does not close w.
func NewWriter(w io.Writer) *Logger { return &Logger{w: w} }

func (l *Logger) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	st, err := f.Stat() // the opened file: no check-then-use race
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: open: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("audit: %s: %w", l.path, ErrNotRegular)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		f.Close()
		return fmt.Errorf("audit: %s has mode %#o, accessible by group or others; run chmod 600 %s: %w", l.path, perm, l.path, ErrPermissions)
	}
	sepNL, err := endsWithoutNewline(l.path, st.Size())
	if err != nil {
		f.Close()
		return err
	}
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		f.Close()
		return err
	}
	l.f, l.w, l.sepNL = f, f, sepNL
	return nil
}

// endsWithoutNewline reports whether the file's last byte is not '\n'.
func endsWithoutNewline(path string, size int64) (bool, error) {
	if size == 0 {
		return false, nil
	}
	r, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("audit: open: %w", err)
	}
	defer r.Close()
	var b [1]byte
	if _, err := r.ReadAt(b[:], size-1); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("audit: reading %s: %w", path, err)
	}
	return b[0] != '\n', nil
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("audit: fsync %s: %w", dir, err)
	}
	return nil
}

// SetSource sets this node's identity for the events logged afterwards.
func (l *Logger) SetSource(src Source) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.src = src
	l.mu.Unlock()
}

// Log writes ev as one line. It fills a zero EventDateTime (now, UTC), an
// empty AuditSourceIdentification and the Self participants, caps and
// escapes every string (see the package documentation) without modifying
// ev, and fsyncs at once for a Security Alert, Application Activity or
// Study Deleted, within SyncInterval otherwise. It returns the write or
// fsync error, or the error of an earlier background fsync (once);
// ErrClosed after Close. A nil ev, a nil Logger and the zero Logger do
// nothing.
//
// A failed audit write does not stop the node (that is the caller's
// policy); callers should report it in the operational log.
func (l *Logger) Log(ev *Event) error {
	if l == nil || ev == nil {
		return nil
	}
	c := ev.sanitized()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.w == nil {
		return nil
	}
	l.complete(c)
	l.buf.Reset()
	if l.sepNL {
		l.buf.WriteByte('\n')
	}
	enc := json.NewEncoder(&l.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil { // appends '\n'
		return fmt.Errorf("audit: encoding event: %w", err)
	}
	if _, err := l.w.Write(l.buf.Bytes()); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	l.sepNL = false
	if l.f == nil {
		return nil
	}
	if urgent(c) {
		l.stopTimer()
		l.dirty = false
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("audit: fsync: %w", err)
		}
		return l.takeErr()
	}
	l.dirty = true
	if l.timer == nil {
		l.timer = time.AfterFunc(l.interval(), l.backgroundSync)
	}
	return l.takeErr()
}

// urgent reports the events fsynced before Log returns.
func urgent(ev *Event) bool {
	switch ev.EventID.Code {
	case EventSecurityAlert.Code, EventApplicationActivity.Code, EventStudyDeleted.Code:
		return ev.EventID.Scheme == SchemeDCM
	}
	return false
}

// complete fills what the constructors leave to the Logger (l.mu held).
func (l *Logger) complete(ev *Event) {
	if ev.EventDateTime.IsZero() {
		now := time.Now
		if l.now != nil {
			now = l.now
		}
		ev.EventDateTime = now().UTC()
	}
	host := hostname()
	if ev.AuditSourceIdentification.AuditSourceID == "" {
		id := l.src.SourceID
		if id == "" {
			id = clean(l.src.AETitle, MaxField)
		}
		if id == "" {
			id = host
		}
		ev.AuditSourceIdentification = AuditSource{
			AuditSourceID:         id,
			AuditEnterpriseSiteID: clean(l.src.SiteID, MaxField),
			AuditSourceTypeCode:   sourceTypeApplicationServer,
		}
	}
	for i := range ev.ActiveParticipant {
		p := &ev.ActiveParticipant[i]
		if !p.Self {
			continue
		}
		if p.UserID == "" {
			p.UserID = pid
		}
		if p.AlternativeUserID == "" && l.src.AETitle != "" {
			p.AlternativeUserID = clean("AETITLES="+trimAE(l.src.AETitle), MaxField)
		}
		if p.NetworkAccessPointID == "" && host != "" {
			p.NetworkAccessPointTypeCode, p.NetworkAccessPointID = NAPMachineName, host
		}
	}
}

var pid = strconv.Itoa(os.Getpid())

var hostname = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return clean(h, MaxField)
})

func (l *Logger) interval() time.Duration {
	if l.syncInterval > 0 {
		return l.syncInterval
	}
	return SyncInterval
}

func (l *Logger) backgroundSync() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	if l.closed || !l.dirty || l.f == nil {
		return
	}
	l.dirty = false
	if err := l.f.Sync(); err != nil && l.err == nil {
		l.err = fmt.Errorf("audit: background fsync: %w", err)
	}
}

func (l *Logger) stopTimer() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

func (l *Logger) takeErr() error {
	err := l.err
	l.err = nil
	return err
}

// Sync fsyncs the events written so far.
func (l *Logger) Sync() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.syncLocked()
}

func (l *Logger) syncLocked() error {
	l.stopTimer()
	if l.f == nil || !l.dirty {
		return l.takeErr()
	}
	l.dirty = false
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit: fsync: %w", err)
	}
	return l.takeErr()
}

// Reopen fsyncs and closes the file and opens the same path again, for
// log rotation (rename the file, then Reopen: new events go to a new
// file). On error the logger keeps writing to the old file. A Logger from
// NewWriter or the zero Logger has nothing to reopen.
func (l *Logger) Reopen() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.f == nil {
		return nil
	}
	err := l.syncLocked()
	old := l.f
	if oerr := l.open(); oerr != nil {
		return oerr
	}
	if cerr := old.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit: close: %w", cerr)
	}
	return err
}

// Close fsyncs pending events and closes the file; later Log calls return
// ErrClosed. Closing twice, a nil Logger or the zero Logger returns nil.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.syncLocked()
	if l.f != nil {
		if cerr := l.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("audit: close: %w", cerr)
		}
	}
	return err
}
