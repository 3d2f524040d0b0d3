package archive

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/crypto"
)

// Integrity events (adversarial row 34): an observe-only hook that sees
// every bad share the archive finds, so that a node can write a Security
// Alert to its audit trail (PS3.15 A.5.3.11) while the archive itself
// only logs (without patient data) and repairs.

// IntegrityProblem says what was wrong with one share.
type IntegrityProblem int

const (
	// ProblemMissing: the index has no row for the share (a store failed
	// during a write that still met its quorum), or its store does not
	// have the object or cannot read it (a store down).
	ProblemMissing IntegrityProblem = iota + 1
	// ProblemSize: the share object's length differs from the index's.
	ProblemSize
	// ProblemHash: the share object's SHA-256 differs from the index's.
	ProblemHash
	// ProblemAuth: the share failed authentication: AES-GCM of a record
	// (crypto.ErrAuth) or the unwrapping of its key share
	// (crypto.ErrUnwrap).
	ProblemAuth
	// ProblemHeader: the share object is malformed or does not belong with
	// the others (pipeline.ErrFormat, pipeline.ErrMismatch).
	ProblemHeader
)

func (p IntegrityProblem) String() string {
	switch p {
	case ProblemMissing:
		return "missing"
	case ProblemSize:
		return "size"
	case ProblemHash:
		return "hash"
	case ProblemAuth:
		return "auth"
	case ProblemHeader:
		return "header"
	}
	return "IntegrityProblem(?)"
}

// Describe is a short human description of the problem, for audit
// messages.
func (p IntegrityProblem) Describe() string {
	switch p {
	case ProblemMissing:
		return "share missing or unreadable"
	case ProblemSize:
		return "share size differs from the index"
	case ProblemHash:
		return "share SHA-256 differs from the index"
	case ProblemAuth:
		return "share failed authentication"
	case ProblemHeader:
		return "share malformed or mismatched"
	}
	return p.String()
}

// IntegrityCheck names the operation that found a bad share.
type IntegrityCheck int

const (
	// FoundByRead: Open, serving the instance from the other shares (a
	// degraded read) or failing closed.
	FoundByRead IntegrityCheck = iota + 1
	// FoundByRepairer: the background repairer, after a degraded read or a
	// write that missed a store.
	FoundByRepairer
	// FoundByVerify: Verify.
	FoundByVerify
)

func (c IntegrityCheck) String() string {
	switch c {
	case FoundByRead:
		return "read"
	case FoundByRepairer:
		return "repairer"
	case FoundByVerify:
		return "verify"
	}
	return "IntegrityCheck(?)"
}

// IntegrityEvent reports one bad share. Objects are named by random IDs
// (ObjectID, Share) and store numbers; SOPInstanceUID is for the audit
// trail and the operator, never for the operational log. The event holds
// no patient data.
type IntegrityEvent struct {
	SOPInstanceUID string
	ObjectID       string // the instance's object ID (index.InstanceRecord.ObjectID)
	Store          int    // 0..3: the share's number, which is its store's
	Share          string // the share object's name in its store; "" when the index has no row
	Problem        IntegrityProblem
	Found          IntegrityCheck
	// Repaired: the share was rebuilt from the others, written under a new
	// name and recorded (the repairer, Verify with repair). Open never
	// repairs: it queues the instance for the repairer, which then reports
	// the same share again with Repaired set.
	Repaired bool
	When     time.Time // Options.Now when found
	Err      error     // the cause as found (a store error, crypto.ErrAuth…); may be nil
}

// integrityObservers are the hooks added by ObserveIntegrity.
type integrityObservers struct {
	mu   sync.Mutex
	next uint64
	list []integrityObserver
}

type integrityObserver struct {
	id uint64
	fn func(IntegrityEvent)
}

// ObserveIntegrity adds fn to the observers of integrity events (see
// Options.OnIntegrity for the contract: called synchronously, without any
// archive lock held, by the goroutine that found the share; it must be
// cheap and must not panic). Any number of observers may be added, at any
// time; each sees the events found after it was added, after
// Options.OnIntegrity and in the order they were added. It returns a
// function that removes fn (idempotent). A nil fn is ignored.
func (a *Archive) ObserveIntegrity(fn func(IntegrityEvent)) (remove func()) {
	if fn == nil {
		return func() {}
	}
	o := &a.integrity
	o.mu.Lock()
	defer o.mu.Unlock()
	id := o.next
	o.next++
	o.list = append(o.list, integrityObserver{id: id, fn: fn})
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.list = slices.DeleteFunc(o.list, func(x integrityObserver) bool { return x.id == id })
	}
}

// emitIntegrity calls Options.OnIntegrity and every observer with each
// event, in order. Callers hold no archive lock.
func (a *Archive) emitIntegrity(evs []IntegrityEvent) {
	if len(evs) == 0 {
		return
	}
	o := &a.integrity
	o.mu.Lock()
	fns := make([]func(IntegrityEvent), 0, len(o.list)+1)
	if a.opts.OnIntegrity != nil {
		fns = append(fns, a.opts.OnIntegrity)
	}
	for _, x := range o.list {
		fns = append(fns, x.fn)
	}
	o.mu.Unlock()
	for _, ev := range evs {
		for _, fn := range fns {
			fn(ev)
		}
	}
}

// shareProblem classifies an error attributed to one share by the
// pipeline (*pipeline.ShareError's cause).
func shareProblem(err error) IntegrityProblem {
	switch {
	case errors.Is(err, errShareSize):
		return ProblemSize
	case errors.Is(err, errShareHash):
		return ProblemHash
	case errors.Is(err, crypto.ErrAuth), errors.Is(err, crypto.ErrUnwrap):
		return ProblemAuth
	case errors.Is(err, pipeline.ErrFormat), errors.Is(err, pipeline.ErrMismatch):
		return ProblemHeader
	}
	return ProblemHeader
}
