package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	dtag "github.com/suyashkumar/dicom/pkg/tag"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
)

// auditLog writes ev to the audit trail, if there is one. A failed write
// does not stop the node: it is an error in the operational log.
func (n *Node) auditLog(ev *audit.Event) {
	if n.audit == nil {
		return
	}
	if err := n.audit.Log(ev); err != nil {
		n.log.Error().Err(err).Msg("node: audit trail write failed")
	}
}

// ---- C-STORE: aggregated per association and study ----

// storeBatch is the pending DICOM Instances Transferred event (PS3.15
// A.5.3.7) of one association: instances of one study, counted per SOP
// class, all new (action C) or all identical resends (action R).
type storeBatch struct {
	callingAE string
	addr      net.Addr
	study     string
	patient   string
	action    audit.Action
	classes   []audit.SOPClass
}

// storeAggregator holds the open batch of each association.
type storeAggregator struct {
	mu   sync.Mutex
	open map[uint64]*storeBatch
}

// auditStored counts a successful C-STORE in the association's batch. The
// batch is written when the association ends or a store of another study
// (or of the other action) arrives: an association that sends one study
// yields one event per SOP class set, as PS3.15 A.5.3.7 allows.
func (n *Node) auditStored(info *dimse.AssociationInfo, rec *index.InstanceRecord, dup bool) {
	if n.audit == nil || rec == nil {
		return
	}
	action := audit.ActionCreate
	if dup {
		action = audit.ActionRead
	}
	a := &n.stores
	a.mu.Lock()
	if a.open == nil {
		a.open = map[uint64]*storeBatch{}
	}
	var done *storeBatch
	b := a.open[info.ID]
	if b != nil && (b.study != rec.StudyInstanceUID || b.action != action) {
		done, b = b, nil
	}
	if b == nil {
		b = &storeBatch{callingAE: info.CallingAETitle, addr: info.RemoteAddr, study: rec.StudyInstanceUID,
			patient: rec.PatientID, action: action}
		a.open[info.ID] = b
	}
	found := false
	for i := range b.classes {
		if b.classes[i].UID == rec.SOPClassUID {
			b.classes[i].NumberOfInstances++
			found = true
		}
	}
	if !found {
		b.classes = append(b.classes, audit.SOPClass{UID: rec.SOPClassUID, NumberOfInstances: 1})
	}
	a.mu.Unlock()
	n.writeStored(done)
}

// flushStored writes the open batch of association id, if any.
func (n *Node) flushStored(id uint64) {
	a := &n.stores
	a.mu.Lock()
	b := a.open[id]
	delete(a.open, id)
	a.mu.Unlock()
	n.writeStored(b)
}

func (n *Node) writeStored(b *storeBatch) {
	if b == nil || len(b.classes) == 0 {
		return
	}
	ev := audit.InstancesStored(b.callingAE, b.addr, b.study, b.patient, b.classes[0].UID, b.classes[0].NumberOfInstances)
	ev.EventActionCode = b.action
	ev.ParticipantObjectIdentification[0].SOPClass = b.classes
	n.auditLog(ev)
}

// ---- C-MOVE / C-GET: one event per study per operation ----

// auditTransferred writes, for each study of recs, a DICOM Instances
// Transferred event (action R) counting the instances sent per SOP class.
// The first len(recs)-so.Remaining records were attempted (the rest were
// cancelled); those in so.FailedSOPInstanceUIDs failed. A study with
// failures has outcome minor failure, one with nothing sent serious
// failure.
func (n *Node) auditTransferred(op audit.Retrieve, info *dimse.AssociationInfo, destAE string, destAddr net.Addr,
	recs []*index.InstanceRecord, so dimse.SubOps) {
	if n.audit == nil || len(recs) == 0 {
		return
	}
	failed := make(map[string]bool, len(so.FailedSOPInstanceUIDs))
	for _, u := range so.FailedSOPInstanceUIDs {
		failed[u] = true
	}
	type study struct {
		patient string
		classes []audit.SOPClass
		sent    int
		failed  int
	}
	var order []string
	studies := map[string]*study{}
	attempted := recs[:max(0, min(len(recs), len(recs)-so.Remaining))]
	for _, r := range attempted {
		s := studies[r.StudyInstanceUID]
		if s == nil {
			s = &study{patient: r.PatientID}
			studies[r.StudyInstanceUID] = s
			order = append(order, r.StudyInstanceUID)
		}
		if failed[r.SOPInstanceUID] {
			s.failed++
			continue
		}
		s.sent++
		found := false
		for i := range s.classes {
			if s.classes[i].UID == r.SOPClassUID {
				s.classes[i].NumberOfInstances++
				found = true
			}
		}
		if !found {
			s.classes = append(s.classes, audit.SOPClass{UID: r.SOPClassUID, NumberOfInstances: 1})
		}
	}
	for _, uid := range order {
		s := studies[uid]
		var ev *audit.Event
		if len(s.classes) > 0 {
			ev = audit.InstancesTransferred(op, info.CallingAETitle, info.RemoteAddr, destAE, destAddr,
				uid, s.patient, s.classes[0].UID, s.classes[0].NumberOfInstances)
			ev.ParticipantObjectIdentification[0].SOPClass = s.classes
		} else {
			ev = audit.InstancesTransferred(op, info.CallingAETitle, info.RemoteAddr, destAE, destAddr, uid, s.patient, "", 0)
		}
		switch {
		case s.sent == 0:
			ev.EventOutcomeIndicator = audit.OutcomeSeriousFailure
			ev.EventOutcomeDescription = fmt.Sprintf("all %d sub-operations failed", s.failed)
		case s.failed > 0:
			ev.EventOutcomeIndicator = audit.OutcomeMinorFailure
			ev.EventOutcomeDescription = fmt.Sprintf("%d of %d sub-operations failed", s.failed, s.failed+s.sent)
		}
		n.auditLog(ev)
	}
}

// peerAddr is a configured peer's address as a net.Addr, for the audit
// trail's network access point.
type peerAddr string

func (peerAddr) Network() string  { return "tcp" }
func (a peerAddr) String() string { return string(a) }

// ---- C-FIND ----

// auditQuery writes the Query event (PS3.15 A.5.3.10) of a C-FIND: the
// non-empty keys by keyword (patient data: the audit trail's business,
// never the operational log's); err is the query's outcome.
func (n *Node) auditQuery(req *dimse.QueryRequest, r *request, err error) {
	if n.audit == nil {
		return
	}
	keys := map[string]string{}
	for _, e := range r.elems {
		v := strings.Trim(e.Value, " \x00")
		if v == "" || e.VR == "SQ" || e.Tag == dcm.TagQueryRetrieveLevel {
			continue
		}
		if len(keys) >= audit.MaxQueryKeys {
			break
		}
		keys[keyword(e.Tag)] = v
	}
	ev := audit.Query(req.Assoc.CallingAETitle, req.Assoc.RemoteAddr, req.SOPClassUID, string(r.level), keys)
	switch {
	case errors.Is(err, context.Canceled):
		ev.EventOutcomeDescription = "C-FIND cancelled"
	case err != nil:
		ev.EventOutcomeIndicator = audit.OutcomeMinorFailure
		ev.EventOutcomeDescription = fmt.Sprintf("C-FIND failed: status 0x%04X", uint16(dimse.StatusOf(err, dimse.StatusUnableToProcess)))
	}
	n.auditLog(ev)
}

// keyword is the data dictionary keyword of t (PS3.6), or "(gggg,eeee)".
func keyword(t dcm.Tag) string {
	if !t.IsPrivate() {
		if info, err := dtag.Find(dtag.Tag{Group: t.Group(), Element: t.Element()}); err == nil && info.Keyword != "" {
			return info.Keyword
		}
	}
	return t.String()
}

// ---- integrity ----

// auditIntegrity is the archive's integrity observer (archive.Archive.
// ObserveIntegrity, installed by NewWithOptions with an audit trail):
// every bad share the archive finds — on a read that was then served from
// the other shares (or not at all), in the background repairer, in
// Verify — becomes a Stored Data Integrity Failure alert (adversarial row
// 34) naming the store, the share object (a random name) and the SOP
// Instance UID, outcome serious failure; never patient data. Past the
// budget of its store and problem (alertbudget.go) the alert is counted
// into a summary instead.
func (n *Node) auditIntegrity(ev archive.IntegrityEvent) {
	if !n.alerts.allow(alertKey{store: ev.Store, problem: ev.Problem}) {
		return
	}
	what := fmt.Sprintf("store %d, share object %q of object %s (SOP Instance UID %s): %s (%s); found by %s; ",
		ev.Store, ev.Share, ev.ObjectID, ev.SOPInstanceUID, ev.Problem.Describe(), ev.Problem, ev.Found)
	switch {
	case ev.Repaired:
		what += "repaired from the other shares"
	case ev.Found == archive.FoundByRead:
		what += "read from the other shares when k remain; queued for repair"
	default:
		what += "not repaired"
	}
	if ev.Err != nil {
		what += "; cause: " + ev.Err.Error()
	}
	n.auditLog(audit.IntegrityAlert(ev.Store, ev.Share, what))
}

// auditHeld writes the summary of the integrity alerts the budget held
// back in one window: an IntegrityAlert naming the store, the problem and
// the count (no object: they were many).
func (n *Node) auditHeld(s *alertSpan) {
	burst, window := n.alerts.limits()
	n.log.Warn().Int("store", s.key.store).Stringer("problem", s.key.problem).Int("held", s.held).
		Msg("node: integrity alerts over budget summarised in the audit trail")
	n.auditLog(audit.IntegrityAlert(s.key.store, "", fmt.Sprintf(
		"store %d: %d more alerts of this kind (%s, %s) from %s to %s, not written one by one "+
			"(at most %d per store and problem every %s, whoever found them, repaired or not); "+
			"`shardpacs verify` lists every damaged share",
		s.key.store, s.held, s.key.problem.Describe(), s.key.problem,
		s.start.UTC().Format(time.RFC3339), s.end.UTC().Format(time.RFC3339), burst, window)))
}

// auditUnavailable reports an instance that could not be read for a
// retrieval (adversarial rows 33, 34, 38): an IntegrityAlert naming the
// object (a random ID, no patient data), outcome major failure (the data
// was not served). The bad shares themselves are reported one by one by
// auditIntegrity.
func (n *Node) auditUnavailable(rec *index.InstanceRecord, err error) {
	if n.audit == nil {
		return
	}
	var ue *archive.UnavailableError
	if !errors.As(err, &ue) {
		return
	}
	ev := audit.IntegrityAlert(-1, "", fmt.Sprintf("object %s: %v; retrieval sub-operation failed", rec.ObjectID, ue))
	ev.EventOutcomeIndicator = audit.OutcomeMajorFailure
	n.auditLog(ev)
}
