package audit

import "errors"

// Sentinel errors; the package wraps them with context ("audit: ...: %w").
var (
	// ErrPermissions reports an audit log file that group or others may
	// access (on Unix); the message says to chmod 600 it.
	ErrPermissions = errors.New("audit: log file permissions too open")
	// ErrNotRegular reports an audit log path that is not a regular file.
	ErrNotRegular = errors.New("audit: log path is not a regular file")
	// ErrClosed reports a Log or Reopen after Close.
	ErrClosed = errors.New("audit: logger closed")
)
