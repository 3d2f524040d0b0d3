package archive

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The node maps each to exactly one DIMSE status at its
// boundary (PS3.4 B.2.3 for C-STORE, C.4.2.1.5 / C.4.3.1.4 for retrieval);
// test them with errors.Is:
//
//	ErrInvalidUID, ErrSOPMismatch      → 0xA900 (data set does not match SOP class / identifiers)
//	*InvalidDataSetError (others)      → 0xC000 range (cannot understand)
//	ErrDuplicateDifferent              → our 0xC2xx code (duplicate UID, different content)
//	ErrOutOfResources                  → 0xA700 (write quorum not met, disk full, limits)
//	ErrNotFound, ErrUnavailable        → retrieval sub-operation failures (0xA702 / 0xB000 overall)
//
// Check ErrInvalidUID before *InvalidDataSetError: an invalid UID is both.
var (
	// ErrDuplicateDifferent: keep-first policy, and the SOP Instance UID is
	// already stored with different content. Nothing was written.
	ErrDuplicateDifferent = errors.New("archive: duplicate SOP instance UID with different content")
	// ErrInvalidUID: a UID of the instance (command or data set, SOP class,
	// SOP instance, study, series, transfer syntax) fails dcm.ValidUID
	// (PS3.5 §9.1). Always wrapped in an *InvalidDataSetError. Nothing was
	// written anywhere (adversarial test row 18).
	ErrInvalidUID = errors.New("archive: invalid UID")
	// ErrSOPMismatch: the SOP Class or Instance UID of the command differs
	// from the one in the data set (PS3.4 B.2.3 status 0xA900).
	ErrSOPMismatch = errors.New("archive: command and data set SOP UIDs differ")
	// ErrOutOfResources: the instance could not be made durable — fewer
	// than the write quorum of share stores accepted it, a disk is full,
	// or the data set exceeds a configured limit. Nothing is visible.
	ErrOutOfResources = errors.New("archive: out of resources")
	// ErrNotFound: no instance with this UID is indexed.
	ErrNotFound = errors.New("archive: instance not found")
	// ErrUnavailable: the instance is indexed but fewer than k good shares
	// could be read (or none decoded with the keyring). Wrapped in an
	// *UnavailableError that names the missing and bad shares.
	ErrUnavailable = errors.New("archive: instance unavailable")
	// ErrNotDICOM: StoreFile found neither a Part-10 header nor a data set
	// whose transfer syntax could be recognised. Wrapped in an
	// *InvalidDataSetError.
	ErrNotDICOM = errors.New("archive: not a DICOM file (no Part-10 header, unrecognised data set)")
	// ErrClosed: the archive was closed.
	ErrClosed = errors.New("archive: closed")
	// ErrKEKMissing: the data directory holds shares but the KEK file is
	// missing: the node refuses to start rather than create a new key over
	// existing data (design brief §3 step 6, adversarial row 38).
	ErrKEKMissing = errors.New("archive: KEK missing")
)

// InvalidDataSetError reports a data set that cannot be accepted as
// received: malformed (it wraps a *dcm.FormatError), or carrying invalid
// UIDs (it wraps ErrInvalidUID). Nothing was written.
type InvalidDataSetError struct {
	Err error
}

func (e *InvalidDataSetError) Error() string { return "archive: invalid data set: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *InvalidDataSetError) Unwrap() error { return e.Err }

func invalidUID(what string) error {
	return &InvalidDataSetError{Err: fmt.Errorf("%w: %s", ErrInvalidUID, what)}
}

// UnavailableError says why an instance could not be read: which shares
// (by store number 0..3) were missing and which were bad (hash mismatch,
// malformed, failed authentication). It wraps ErrUnavailable and the last
// underlying error.
type UnavailableError struct {
	Missing []int
	Bad     []int
	Err     error // last cause, may be nil
}

func (e *UnavailableError) Error() string {
	var b strings.Builder
	b.WriteString("archive: instance unavailable: fewer than k good shares")
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; missing shares %v", e.Missing)
	}
	if len(e.Bad) > 0 {
		fmt.Fprintf(&b, "; bad shares %v", e.Bad)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

// ShareFailure is one store's failure in a write that did not reach its
// quorum.
type ShareFailure struct {
	Store int
	Err   error
}

// QuorumError reports a Store that fewer than the write quorum of share
// stores accepted. It wraps ErrOutOfResources and every store error, so
// errors.Is(err, syscall.ENOSPC) works.
type QuorumError struct {
	Durable, Quorum int
	Failures        []ShareFailure
}

func (e *QuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "archive: out of resources: %d of 4 shares durable, quorum %d", e.Durable, e.Quorum)
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "; store %d: %v", f.Store, f.Err)
	}
	return b.String()
}

// Unwrap returns ErrOutOfResources and the store errors.
func (e *QuorumError) Unwrap() []error {
	out := []error{ErrOutOfResources}
	for _, f := range e.Failures {
		out = append(out, f.Err)
	}
	return out
}
