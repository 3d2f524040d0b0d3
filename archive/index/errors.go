package index

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shardpacs/shardpacs/dcm"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrNotFound: no instance (or no share row) with the given identity.
	ErrNotFound = errors.New("index: not found")
	// ErrDuplicate: Insert was given a SOP Instance UID already indexed;
	// nothing was changed.
	ErrDuplicate = errors.New("index: duplicate SOP instance UID")
	// ErrTooManyMatches: a Query would return more than Query.Limit matches.
	// Nothing was streamed. The C-FIND service maps it to 0xA700 (refused:
	// out of resources), as dcm4chee does.
	ErrTooManyMatches = errors.New("index: too many matches")
	// ErrInvalidQuery is wrapped by every *QueryError. The C-FIND service maps
	// it to a 0xC000-range failure (unable to process), PS3.4 C.4.1.1.4.
	ErrInvalidQuery = errors.New("index: invalid query")
	// ErrKeyBelowLevel is wrapped (with ErrInvalidQuery) by the *QueryError
	// of a matching key whose level is below the query level (PS3.4
	// C.4.1.2.1: keys below the level are not allowed to match; the C-FIND
	// service maps it to 0xA900, identifier does not match SOP class).
	ErrKeyBelowLevel = errors.New("index: matching key below the query level")
	// ErrTooManyKeys is wrapped (with ErrInvalidQuery) by the *QueryError
	// of a query with more than MaxQueryKeys keys.
	ErrTooManyKeys = errors.New("index: too many query keys")
	// ErrInvalidRecord: an InstanceRecord lacks a UID or carries a share
	// index outside 0..3.
	ErrInvalidRecord = errors.New("index: invalid instance record")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("index: closed")
	// ErrSchemaTooNew: the file's schema version (PRAGMA user_version) is
	// newer than this binary knows; the file is left untouched.
	ErrSchemaTooNew = errors.New("index: schema version newer than this program")
)

// QueryError reports why a C-FIND identifier cannot be processed: the key
// at fault (0 when the error is about the query as a whole, for example the
// level) and a message. It wraps ErrInvalidQuery and, when set, Kind.
type QueryError struct {
	Tag dcm.Tag
	Msg string
	// Kind is a more specific sentinel (ErrKeyBelowLevel, ErrTooManyKeys), nil for the
	// other invalid queries. Test it with errors.Is.
	Kind error
}

func (e *QueryError) Error() string {
	if e.Tag == 0 {
		return "index: invalid query: " + e.Msg
	}
	return fmt.Sprintf("index: invalid query: key %v: %s", e.Tag, e.Msg)
}

// Unwrap returns ErrInvalidQuery and Kind when it is set.
func (e *QueryError) Unwrap() []error {
	if e.Kind != nil {
		return []error{ErrInvalidQuery, e.Kind}
	}
	return []error{ErrInvalidQuery}
}

func queryErr(t dcm.Tag, format string, args ...any) error {
	return &QueryError{Tag: t, Msg: fmt.Sprintf(format, args...)}
}

// queryErrKind is queryErr with a Kind sentinel.
func queryErrKind(kind error, t dcm.Tag, format string, args ...any) error {
	return &QueryError{Tag: t, Msg: fmt.Sprintf(format, args...), Kind: kind}
}

// IsDiskFull reports whether err says the index could not be written for
// lack of space: SQLite's SQLITE_FULL (any extended code of it, from the
// driver's typed *sqlite.Error) or ENOSPC from the file system.
func IsDiskFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}
