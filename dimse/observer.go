package dimse

import (
	"fmt"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// Observer receives observe-only events from a [Server]: logging, metrics
// and audit subscribe here; nothing in package dimse logs. Hooks never
// change what the server does.
//
// Hooks are called synchronously from the goroutine serving the
// association (several associations call concurrently): they must be safe
// for concurrent use and return quickly. Peer-controlled strings (AE
// titles, UIDs) arrive unescaped. No hook receives data set contents, so
// no patient data passes through an Observer except what a Command holds
// (UIDs).
//
// Embed [NopObserver] to implement only some hooks; combine several with
// [MultiObserver].
type Observer interface {
	// AssociationRequested: an A-ASSOCIATE-RQ arrived (PS3.8 Evt6), before
	// the AE title check, the limits and the decision hook ran.
	AssociationRequested(info *AssociationInfo, rq *pdu.AssociateRQ)
	// AssociationAccepted: the A-ASSOCIATE-AC was sent; contexts are the
	// accepted presentation contexts.
	AssociationAccepted(info *AssociationInfo, contexts []ul.Context)
	// AssociationRejected: an A-ASSOCIATE-RJ was sent; why says which check
	// failed (called AE, a limit, the decision hook, the upper layer).
	AssociationRejected(info *AssociationInfo, rj *pdu.AssociateRJ, why error)
	// AssociationReleased: an established association ended with A-RELEASE.
	AssociationReleased(info *AssociationInfo)
	// AssociationAborted: an association ended otherwise, or a connection
	// failed before it was established (then info has no AE titles when no
	// A-ASSOCIATE-RQ was read). abort is the A-ABORT received or sent, nil
	// on a transport failure or timeout; why is the cause (a *PanicError
	// when a handler panicked, ul.ErrIdleTimeout, ...).
	AssociationAborted(info *AssociationInfo, abort *pdu.Abort, why error)
	// RequestDone: the final response to a request was sent (or could not
	// be): cmd is the request, status the final status, bytes the size of
	// the request's data set, dur the time from the end of the request to
	// the final response. err is the handler's error, if any (local only).
	RequestDone(info *AssociationInfo, cmd *Command, status Status, bytes int64, dur time.Duration, err error)
}

// NopObserver implements every Observer hook as a no-op; embed it.
type NopObserver struct{}

func (NopObserver) AssociationRequested(*AssociationInfo, *pdu.AssociateRQ)                     {}
func (NopObserver) AssociationAccepted(*AssociationInfo, []ul.Context)                          {}
func (NopObserver) AssociationRejected(*AssociationInfo, *pdu.AssociateRJ, error)               {}
func (NopObserver) AssociationReleased(*AssociationInfo)                                        {}
func (NopObserver) AssociationAborted(*AssociationInfo, *pdu.Abort, error)                      {}
func (NopObserver) RequestDone(*AssociationInfo, *Command, Status, int64, time.Duration, error) {}

// MultiObserver calls each of its observers in order; nil entries are
// skipped.
type MultiObserver []Observer

func (m MultiObserver) AssociationRequested(i *AssociationInfo, rq *pdu.AssociateRQ) {
	for _, o := range m {
		if o != nil {
			o.AssociationRequested(i, rq)
		}
	}
}

func (m MultiObserver) AssociationAccepted(i *AssociationInfo, c []ul.Context) {
	for _, o := range m {
		if o != nil {
			o.AssociationAccepted(i, c)
		}
	}
}

func (m MultiObserver) AssociationRejected(i *AssociationInfo, rj *pdu.AssociateRJ, why error) {
	for _, o := range m {
		if o != nil {
			o.AssociationRejected(i, rj, why)
		}
	}
}

func (m MultiObserver) AssociationReleased(i *AssociationInfo) {
	for _, o := range m {
		if o != nil {
			o.AssociationReleased(i)
		}
	}
}

func (m MultiObserver) AssociationAborted(i *AssociationInfo, ab *pdu.Abort, why error) {
	for _, o := range m {
		if o != nil {
			o.AssociationAborted(i, ab, why)
		}
	}
}

func (m MultiObserver) RequestDone(i *AssociationInfo, cmd *Command, s Status, n int64, d time.Duration, err error) {
	for _, o := range m {
		if o != nil {
			o.RequestDone(i, cmd, s, n, d, err)
		}
	}
}

// PanicError is the cause reported to AssociationAborted when a service
// handler panicked: the association was aborted with A-ABORT (2,0) and the
// server kept serving the others.
type PanicError struct {
	Value any    // what the handler panicked with
	Stack []byte // the goroutine's stack at the panic
}

// Error returns "dimse: handler panic: <value>".
func (e *PanicError) Error() string { return fmt.Sprintf("dimse: handler panic: %v", e.Value) }
