package node

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// Patient data of the audit test: must be in the audit trail, never in the
// operational log.
const (
	auditPatientID   = "PHI-7731-X"
	auditPatientName = "Secretname^Audita"
	auditStudyA      = "1.2.826.0.1.3680043.10.1397.77.1"
	auditStudyB      = "1.2.826.0.1.3680043.10.1397.77.2"
)

// startStoreSCP serves a bare C-STORE SCP (a C-MOVE destination) and
// returns its port and the SOP Instance UIDs it received.
func startStoreSCP(t *testing.T, ae string) (int, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	s := &dimse.Server{AETitle: ae, Store: dimse.StoreHandlerFunc(func(_ context.Context, req *dimse.StoreRequest) error {
		mu.Lock()
		got = append(got, req.SOPInstanceUID)
		mu.Unlock()
		return nil
	})}
	l := testutil.Listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-served
	})
	port := l.Addr().(*net.TCPAddr).Port
	return port, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// TestAuditTrail drives a node through echo, store (new and identical
// resend), find, move, get, a rejected association, refused requests
// (store and echo without permission, C-MOVE to a forbidden and to an
// unknown destination) and an abort, then checks the audit trail: every
// line parses, the file is 0600, each expected event is there with its
// EventID, type and outcome, and the operational log holds no patient data.
func TestAuditTrail(t *testing.T) {
	destPort, destGot := startStoreSCP(t, "DEST")
	otherPort, _ := startStoreSCP(t, "OTHER")
	sn := startSecureNode(t, func(c *config.Config) {
		c.UnknownCallingAE = config.UnknownCallingReject
		c.Peers = []config.Peer{
			{AETitle: "MOD1", MoveDestinations: []string{"DEST"}},
			{AETitle: "VIEWER", Permissions: []string{config.PermFind}},
			{AETitle: "DEST", Host: "127.0.0.1", Port: destPort, Permissions: []string{}},
			{AETitle: "OTHER", Host: "127.0.0.1", Port: otherPort, Permissions: []string{}},
		}
	})
	ae := sn.cfg.AETitle
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	insts := []testInstance{
		{"1.2.826.0.1.3680043.10.1397.77.1.1.1", auditStudyA, auditStudyA + ".1", auditPatientID, auditPatientName},
		{"1.2.826.0.1.3680043.10.1397.77.1.1.2", auditStudyA, auditStudyA + ".1", auditPatientID, auditPatientName},
		{"1.2.826.0.1.3680043.10.1397.77.2.1.1", auditStudyB, auditStudyB + ".1", auditPatientID, auditPatientName},
	}
	mod1 := &dimse.Client{AETitle: "MOD1"}
	props := append([]dimse.ContextProposal{dimse.EchoContext()}, dimse.QueryRetrieveContexts()...)
	props = append(props, dimse.StorageContexts([]string{uid.SecondaryCaptureImageStorage}, []string{uid.ExplicitVRLittleEndian}, false)...)

	// Echo, three stores and one identical resend, a find.
	cc := dial(t, mod1, sn.addr, ae, props)
	if err := cc.Echo(ctx); err != nil {
		t.Fatalf("C-ECHO: %v", err)
	}
	for _, in := range append(slices.Clone(insts), insts[0]) {
		if _, err := cc.Store(ctx, uid.SecondaryCaptureImageStorage, in.sop, uid.ExplicitVRLittleEndian, bytes.NewReader(in.dataSet(t))); err != nil {
			t.Fatalf("C-STORE %s: %v", in.sop, err)
		}
	}
	nFound := 0
	if _, err := cc.Find(ctx, uid.StudyRootQRFind, studyIdent(t, cc, uid.StudyRootQRFind,
		dcm.Element{Tag: dcm.TagPatientID, VR: "LO", Value: auditPatientID},
		dcm.Element{Tag: dcm.TagPatientName, VR: "PN"},
		dcm.Element{Tag: dcm.TagStudyInstanceUID, VR: "UI"}), func([]byte) error { nFound++; return nil }); err != nil {
		t.Fatalf("C-FIND: %v", err)
	}
	if nFound != 2 {
		t.Errorf("C-FIND found %d studies, want 2", nFound)
	}

	// C-MOVE study A to DEST; to OTHER (not among MOD1's destinations) and
	// to NOBODY: 0xA801.
	ident := studyIdent(t, cc, uid.StudyRootQRMove, dcm.Element{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: auditStudyA})
	if ops, _, err := cc.Move(ctx, uid.StudyRootQRMove, "DEST", ident, nil); err != nil || ops.Completed != 2 {
		t.Fatalf("C-MOVE to DEST: %+v, %v", ops, err)
	}
	if got := destGot(); len(got) != 2 {
		t.Errorf("DEST received %v", got)
	}
	for _, dest := range []string{"OTHER", "NOBODY"} {
		if _, _, err := cc.Move(ctx, uid.StudyRootQRMove, dest, ident, nil); !errors.Is(err, dimse.StatusMoveDestinationUnknown) {
			t.Errorf("C-MOVE to %s: %v, want 0xA801", dest, err)
		}
	}
	release(t, cc)

	// C-GET study B.
	getProps := append(dimse.QueryRetrieveContexts(), dimse.StorageContexts([]string{uid.SecondaryCaptureImageStorage}, []string{uid.ExplicitVRLittleEndian}, true)...)
	cc = dial(t, mod1, sn.addr, ae, getProps)
	nGot := 0
	h := dimse.StoreHandlerFunc(func(context.Context, *dimse.StoreRequest) error { nGot++; return nil })
	if ops, _, err := cc.Get(ctx, uid.StudyRootQRGet, studyIdent(t, cc, uid.StudyRootQRGet,
		dcm.Element{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: auditStudyB}), h, nil); err != nil || ops.Completed != 1 || nGot != 1 {
		t.Fatalf("C-GET: %+v, %d received, %v", ops, nGot, err)
	}
	// An association that ends in A-ABORT.
	if err := cc.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}

	// VIEWER may only find: store and echo are refused with 0x0124.
	viewer := &dimse.Client{AETitle: "VIEWER"}
	vprops := append([]dimse.ContextProposal{dimse.EchoContext()}, dimse.QueryRetrieveContexts()...)
	vprops = append(vprops, dimse.StorageContexts([]string{uid.SecondaryCaptureImageStorage}, []string{uid.ExplicitVRLittleEndian}, false)...)
	cc = dial(t, viewer, sn.addr, ae, vprops)
	if err := cc.Echo(ctx); !errors.Is(err, dimse.StatusNotAuthorized) {
		t.Errorf("C-ECHO without the echo permission: %v, want 0x0124", err)
	}
	if _, err := cc.Store(ctx, uid.SecondaryCaptureImageStorage, insts[0].sop, uid.ExplicitVRLittleEndian,
		bytes.NewReader(insts[0].dataSet(t))); !errors.Is(err, dimse.StatusNotAuthorized) {
		t.Errorf("C-STORE without the store permission: %v, want 0x0124", err)
	}
	release(t, cc)

	// An unknown calling AE is rejected (RJ 1,1,3).
	if _, err := (&dimse.Client{AETitle: "EVIL"}).Dial(ctx, sn.addr, ae, []dimse.ContextProposal{dimse.EchoContext()}); err == nil {
		t.Error("association from the unknown EVIL accepted")
	}

	sn.stop()
	st, err := os.Stat(sn.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit trail mode %#o, want 0600", st.Mode().Perm())
	}
	evs := readAudit(t, sn.auditPath)

	has := func(what string, cond func(audit.Event) bool) *audit.Event {
		t.Helper()
		for i := range evs {
			if cond(evs[i]) {
				return &evs[i]
			}
		}
		t.Errorf("no audit event: %s", what)
		return nil
	}
	count := func(cond func(audit.Event) bool) int {
		n := 0
		for _, ev := range evs {
			if cond(ev) {
				n++
			}
		}
		return n
	}
	studyObj := func(ev audit.Event, study string) *audit.ParticipantObject {
		for i, po := range ev.ParticipantObjectIdentification {
			if po.ParticipantObjectIDTypeCode == audit.IDTypeStudyUID && po.ParticipantObjectID == study {
				return &ev.ParticipantObjectIdentification[i]
			}
		}
		return nil
	}
	patientIs := func(ev audit.Event, id string) bool {
		return slices.ContainsFunc(ev.ParticipantObjectIdentification, func(po audit.ParticipantObject) bool {
			return po.ParticipantObjectIDTypeCode == audit.IDTypePatient && po.ParticipantObjectID == id
		})
	}
	instances := func(po *audit.ParticipantObject) int {
		n := 0
		for _, c := range po.SOPClass {
			n += c.NumberOfInstances
		}
		return n
	}
	transfer := func(action audit.Action, study string, n int, service string) func(audit.Event) bool {
		return func(ev audit.Event) bool {
			po := studyObj(ev, study)
			if ev.EventID != audit.EventInstancesTransfer || ev.EventActionCode != action || po == nil ||
				ev.EventOutcomeIndicator != audit.OutcomeSuccess || instances(po) != n || !patientIs(ev, auditPatientID) {
				return false
			}
			return service == "" || slices.ContainsFunc(po.ParticipantObjectDetail, func(d audit.Detail) bool { return d.Value == service })
		}
	}

	// C-STORE: per association and study; the resend is action R.
	has("2 instances of study A stored (C)", transfer(audit.ActionCreate, auditStudyA, 2, ""))
	has("1 instance of study B stored (C)", transfer(audit.ActionCreate, auditStudyB, 1, ""))
	has("identical resend of study A (R)", func(ev audit.Event) bool {
		return transfer(audit.ActionRead, auditStudyA, 1, "")(ev) && slices.ContainsFunc(ev.ActiveParticipant, func(p audit.ActiveParticipant) bool {
			return p.UserID == "MOD1" && p.UserIsRequestor && slices.Contains(p.RoleIDCode, audit.RoleSource)
		})
	})
	// C-MOVE and C-GET.
	if ev := has("C-MOVE of study A to DEST", transfer(audit.ActionRead, auditStudyA, 2, "C-MOVE")); ev != nil {
		if !slices.ContainsFunc(ev.ActiveParticipant, func(p audit.ActiveParticipant) bool {
			return p.UserID == "DEST" && slices.Contains(p.RoleIDCode, audit.RoleDestination) && p.NetworkAccessPointID == "127.0.0.1"
		}) {
			t.Errorf("C-MOVE event without DEST as destination: %+v", ev.ActiveParticipant)
		}
	}
	has("C-GET of study B", transfer(audit.ActionRead, auditStudyB, 1, "C-GET"))
	// C-FIND: the keys, patient data included.
	has("Query with the PatientID key", func(ev audit.Event) bool {
		if ev.EventID != audit.EventQuery || ev.EventOutcomeIndicator != audit.OutcomeSuccess || len(ev.ParticipantObjectIdentification) != 1 {
			return false
		}
		po := ev.ParticipantObjectIdentification[0]
		return po.ParticipantObjectID == uid.StudyRootQRFind &&
			slices.Contains(po.ParticipantObjectDetail, audit.Detail{Type: "PatientID", Value: auditPatientID}) &&
			slices.Contains(po.ParticipantObjectDetail, audit.Detail{Type: "QueryRetrieveLevel", Value: "STUDY"})
	})
	// Security Alerts.
	restricted := func(substr string) func(audit.Event) bool {
		return func(ev audit.Event) bool {
			return isAlert(audit.TypeRestrictedFunction)(ev) && ev.EventOutcomeIndicator == audit.OutcomeMinorFailure &&
				strings.Contains(alertText(ev), substr)
		}
	}
	has("C-MOVE to OTHER refused", restricted(`destination AE "OTHER"`))
	has("C-MOVE to NOBODY refused", restricted(`unknown destination AE "NOBODY"`))
	has("VIEWER's C-ECHO refused", restricted("C-ECHO without the echo permission"))
	has("VIEWER's C-STORE refused", restricted("C-STORE without the store permission"))
	has("EVIL rejected", func(ev audit.Event) bool {
		return isAlert(audit.TypeNodeAuthentication)(ev) && strings.Contains(alertText(ev), `"EVIL"`) &&
			strings.Contains(alertText(ev), "RJ 1,1,3") && strings.Contains(alertText(ev), "unknown_calling_ae")
	})
	has("the C-GET association aborted", func(ev audit.Event) bool {
		return isAlert(audit.TypeAssociationAborted)(ev) && strings.Contains(alertText(ev), `"MOD1"`)
	})
	if n := count(isAlert(audit.TypeAssociationAborted)); n != 1 {
		t.Errorf("%d Association Aborted alerts, want 1 (released associations are not alerts)", n)
	}
	if n := count(func(ev audit.Event) bool { return ev.EventID == audit.EventInstancesTransfer }); n != 5 {
		t.Errorf("%d Instances Transferred events, want 5 (stored A, B, resent A, moved A, got B)", n)
	}

	// No patient data in the operational log.
	logs := sn.logs.String()
	for _, phi := range []string{auditPatientID, "Secretname", "Audita"} {
		if strings.Contains(logs, phi) {
			t.Errorf("operational log contains patient data %q:\n%s", phi, logs)
		}
	}
	if t.Failed() {
		for i, ev := range evs {
			t.Logf("audit %d: %s %s %v outcome %d: %s", i, ev.EventID.Meaning, ev.EventActionCode, ev.EventTypeCode, ev.EventOutcomeIndicator, alertText(ev))
		}
	}
}

// TestFindKeyBelowLevel: a matching key below the query level is 0xA900
// naming the key (index.ErrKeyBelowLevel), and the Query event records the
// failure.
func TestFindKeyBelowLevel(t *testing.T) {
	sn := startSecureNode(t, nil)
	cc := dial(t, &dimse.Client{AETitle: "VIEWER"}, sn.addr, sn.cfg.AETitle, dimse.QueryRetrieveContexts())
	ts, _ := cc.TransferSyntax(uid.PatientRootQRFind)
	ident, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: "PATIENT"},
		{Tag: dcm.TagPatientID, VR: "LO"},
		{Tag: dcm.TagStudyDate, VR: "DA", Value: "20240102"},
	}, ts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cc.Find(t.Context(), uid.PatientRootQRFind, ident, func([]byte) error { return nil })
	var se *dimse.StatusError
	if !errors.As(err, &se) || se.Status != dimse.StatusIdentifierDoesNotMatchSOPClass ||
		len(se.Offending) != 1 || se.Offending[0] != dimse.Tag(dcm.TagStudyDate) {
		t.Fatalf("C-FIND with StudyDate at PATIENT level: %v, want 0xA900 naming (0008,0020)", err)
	}
	release(t, cc)
	sn.stop()
	ev := waitAudit(t, sn.auditPath, "failed Query", func(ev audit.Event) bool { return ev.EventID == audit.EventQuery })
	if ev.EventOutcomeIndicator != audit.OutcomeMinorFailure || !strings.Contains(ev.EventOutcomeDescription, "0xA900") {
		t.Errorf("Query event outcome %d %q, want minor failure with 0xA900", ev.EventOutcomeIndicator, ev.EventOutcomeDescription)
	}
}
