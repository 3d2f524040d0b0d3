package store

import (
	"errors"
	"fmt"
)

// Sentinel causes, tested with errors.Is on the *Error a store returns.
var (
	// ErrNotFound: no object has this name.
	ErrNotFound = errors.New("store: object not found")
	// ErrExists: Put of a name that is already taken (objects are immutable).
	ErrExists = errors.New("store: object already exists")
	// ErrInvalidName: the name is not NameLen lower-case hex digits.
	ErrInvalidName = errors.New("store: invalid object name")
)

// Error is the error every ShareStore method returns: the operation, the
// store (its String()), the object name when there is one, and the cause.
// In the spirit of litestream's typed storage errors: a log line says which
// of the four stores failed on which object without any parsing.
type Error struct {
	Op    string // "put", "open", "delete", "list", "clean"
	Store string // ShareStore.String()
	Name  string // object name, "" for list and clean
	Err   error  // cause: a sentinel above, a context error, an *os.PathError...
}

func (e *Error) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("store: %s %s: %v", e.Op, e.Store, e.Err)
	}
	return fmt.Sprintf("store: %s %s %s: %v", e.Op, e.Store, e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// NewError builds an *Error; back ends use it so every error has the same shape.
func NewError(op string, s fmt.Stringer, name string, err error) *Error {
	str := ""
	if s != nil {
		str = s.String()
	}
	return &Error{Op: op, Store: str, Name: name, Err: err}
}
