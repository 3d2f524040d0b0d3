// Package store defines ShareStore, the interface every share store back end
// implements (a local folder now, an S3-compatible bucket later), the errors
// they return, and the rules for object names.
//
// A share store is UNTRUSTED: it only ever holds share objects written by
// package pipeline (ciphertext shards plus a header without PHI), under names
// the archive picks at random. Integrity is checked above this layer (SHA-256
// recorded in the index, AES-GCM authentication in the pipeline); a store
// only has to be atomic and durable.
//
// Conformance: every back end runs storetest.Run, the one suite that pins the
// contract written on ShareStore.
package store

import (
	"context"
	"io"
	"time"
)

// ShareStore is one independent, untrusted share store.
//
// Every method validates its object name with ValidName first and returns an
// *Error wrapping ErrInvalidName for a bad one, before touching storage.
// Errors are *Error values (Op, Store, Name, cause); test the cause with
// errors.Is (ErrNotFound, ErrExists, ErrInvalidName, context.Canceled...).
//
// Implementations are safe for concurrent use by multiple goroutines on
// different names. Concurrent Put of the same name: exactly one wins, the
// others get ErrExists.
type ShareStore interface {
	// Put stores the bytes of r under name and returns their size and
	// SHA-256, computed while writing (the caller records them in the index).
	//
	// Put is atomic and durable: when it returns nil the complete object is
	// visible and survives a crash (a local store writes a temporary file in
	// the destination folder, fsyncs it, renames or links it into place, and
	// fsyncs the folder); when it returns an error — r failed, ctx was
	// cancelled, storage failed — no object of that name became visible and
	// the name can be used again. An existing name is never overwritten:
	// Put returns ErrExists (objects are immutable). Put reads r to EOF
	// with bounded memory, whatever the object size.
	Put(ctx context.Context, name string, r io.Reader) (size int64, sha256 [32]byte, err error)

	// Open returns a reader of the whole object, or ErrNotFound. The
	// caller closes it. The bytes are untrusted: check them. Open returns
	// promptly once ctx is cancelled: the archive opens every share of an
	// instance at once and cancels the slower ones (Options.ReadHedge).
	Open(ctx context.Context, name string) (io.ReadCloser, error)

	// Delete removes the object durably. Deleting a missing object is not
	// an error (Delete is idempotent).
	Delete(ctx context.Context, name string) error

	// List calls fn once for every complete object (never for temporary
	// files of writes in progress or crashed), in an unspecified order.
	// An error from fn stops the listing and is returned as is. Objects
	// put or deleted during the listing may or may not be reported.
	List(ctx context.Context, fn func(name string, size int64, modTime time.Time) error) error

	// CleanTemp removes the temporary files that crashed writes left
	// behind, when they are older than olderThan (so writes in progress are
	// spared), and returns how many it removed.
	CleanTemp(ctx context.Context, olderThan time.Duration) (int, error)

	// String names the store for logs and errors ("fs:/srv/store1"). It
	// never includes anything derived from stored data.
	String() string
}
