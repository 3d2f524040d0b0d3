package node

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// auditObserver is the dimse.Observer that writes the association events
// of the audit trail (PS3.15 A.5.3.11):
//
//   - every A-ASSOCIATE-RJ: AssociationRejected with the policy's reason
//     and the RJ fields, except a TLS certificate-binding refusal, already
//     written by the decision hook as NodeAuthFailure;
//   - a failed TLS handshake (refused or missing client certificate,
//     protocol below the profile, plaintext on the TLS port): NodeAuthFailure,
//     except a connection closed before its first byte (a port probe);
//   - an established association that ends in A-ABORT or a transport
//     failure, or a connection that violates the protocol before the
//     association: AssociationAborted with the cause.
//
// Connections that end before any A-ASSOCIATE-RQ was read (silent past
// ARTIM, closed to make room for newer ones, a malformed first PDU) are
// summarised rather than written one by one, since a flood of them would
// otherwise turn into one fsynced audit line each: the first in a
// preAssocWindow is written at once and names how many were summarised
// since the previous one; flushPreAssociation writes the rest at shutdown.
//
// It also writes the pending C-STORE event of an association that ends.
// Safe for concurrent use.
type auditObserver struct {
	dimse.NopObserver
	n *Node

	mu          sync.Mutex
	established map[uint64]bool

	preMu      sync.Mutex
	preLast    time.Time // when the last pre-association event was written
	preCounted int       // pre-association ends since then, not yet written
	preReason  string    // the last counted one's reason
}

// preAssocWindow is the least time between two audit events for
// connections that ended before association.
const preAssocWindow = 10 * time.Second

// AssociationAccepted remembers that the association was established.
func (o *auditObserver) AssociationAccepted(info *dimse.AssociationInfo, _ []ul.Context) {
	o.mu.Lock()
	if o.established == nil {
		o.established = map[uint64]bool{}
	}
	o.established[info.ID] = true
	o.mu.Unlock()
}

// AssociationRejected writes AssociationRejected.
func (o *auditObserver) AssociationRejected(info *dimse.AssociationInfo, rj *pdu.AssociateRJ, why error) {
	var note rejectNote
	if v, ok := o.n.rejects.LoadAndDelete(info.ID); ok {
		note = v.(rejectNote)
	}
	if note.audited {
		return
	}
	reason := note.reason
	if reason == "" {
		reason = rejectReason(why)
	}
	if rj != nil {
		reason += fmt.Sprintf(" (RJ %d,%d,%d)", rj.Result, rj.Source, rj.Reason)
	}
	o.n.auditLog(audit.AssociationRejected(info.CallingAETitle, info.CalledAETitle, info.RemoteAddr, reason))
}

// rejectReason explains a rejection the decision hook did not make.
func rejectReason(why error) string {
	switch {
	case errors.Is(why, dimse.ErrCalledAETitle):
		return "called AE title not recognized"
	case errors.Is(why, dimse.ErrTooManyAssociations):
		return "association limit reached"
	case errors.Is(why, dimse.ErrShuttingDown):
		return "node shutting down"
	case why != nil:
		return why.Error()
	}
	return "rejected"
}

// AssociationReleased writes the association's pending C-STORE event.
func (o *auditObserver) AssociationReleased(info *dimse.AssociationInfo) {
	o.forget(info.ID)
	o.n.flushStored(info.ID)
}

// AssociationAborted writes NodeAuthFailure or AssociationAborted (see
// the type's documentation) and the pending C-STORE event.
func (o *auditObserver) AssociationAborted(info *dimse.AssociationInfo, ab *pdu.Abort, why error) {
	o.n.rejects.Delete(info.ID) // a rejection whose RJ could not be sent
	established := o.forget(info.ID)
	o.n.flushStored(info.ID)
	switch {
	case errors.Is(why, dimse.ErrTLSHandshake):
		if errors.Is(why, io.EOF) {
			return
		}
		o.n.auditLog(audit.NodeAuthFailure(info.CallingAETitle, info.RemoteAddr, why.Error()))
	case established || (why != nil && !errors.Is(why, io.EOF)):
		reason := "transport failure"
		switch {
		case ab != nil && why != nil && why.Error() != ab.Error():
			reason = ab.Error() + ": " + why.Error()
		case ab != nil:
			reason = ab.Error()
		case why != nil:
			reason = why.Error()
		}
		if !established && info.CallingAETitle == "" {
			o.preAssociation(info, reason)
			return
		}
		o.n.auditLog(audit.AssociationAborted(info.CallingAETitle, info.CalledAETitle, info.RemoteAddr, reason))
	}
}

// preAssociation writes or counts a connection that ended before any
// A-ASSOCIATE-RQ was read (see the type's documentation).
func (o *auditObserver) preAssociation(info *dimse.AssociationInfo, reason string) {
	o.preMu.Lock()
	now := time.Now()
	if !o.preLast.IsZero() && now.Sub(o.preLast) < preAssocWindow {
		o.preCounted++
		o.preReason = reason
		o.preMu.Unlock()
		return
	}
	if o.preCounted > 0 {
		reason = fmt.Sprintf("%s (and %d more connections ended before association since %s)",
			reason, o.preCounted, o.preLast.UTC().Format(time.RFC3339))
	}
	o.preLast, o.preCounted, o.preReason = now, 0, ""
	o.preMu.Unlock()
	o.n.auditLog(audit.AssociationAborted("", "", info.RemoteAddr, reason))
}

// flushPreAssociation writes the pre-association ends counted since the
// last event, if any (at shutdown).
func (o *auditObserver) flushPreAssociation() {
	o.preMu.Lock()
	n, last, reason := o.preCounted, o.preLast, o.preReason
	o.preCounted, o.preReason = 0, ""
	o.preMu.Unlock()
	if n > 0 {
		o.n.auditLog(audit.AssociationAborted("", "", nil, fmt.Sprintf(
			"%d connections ended before association since %s (the last: %s)", n, last.UTC().Format(time.RFC3339), reason)))
	}
}

// forget drops the association's state and reports whether it was
// established.
func (o *auditObserver) forget(id uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	est := o.established[id]
	delete(o.established, id)
	return est
}
