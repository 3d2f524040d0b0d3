package audit

import (
	"fmt"
	"net"
	"sort"
	"strings"
)

// Constructors, one per event the node reports. They return a new Event
// (never nil) built after the message tables of PS3.15 A.5.3; this node's
// own participant is marked Self and completed by Logger.Log. Arguments
// that a peer supplied (AE titles, UIDs, IDs, query values, reasons) are
// stored as given; Logger.Log caps and escapes them. A nil addr is
// allowed: the participant then has no network access point.

// ApplicationStart reports that the node started (A.5.3.1). launcher is
// who started it (an OS user such as "pacs@host"), "" when unknown.
func ApplicationStart(launcher string) *Event {
	return applicationActivity(TypeApplicationStart, launcher, nil)
}

// ApplicationStop reports that the node stopped (A.5.3.1); a non-nil err
// (the reason of an abnormal stop) makes the outcome a serious failure.
func ApplicationStop(launcher string, err error) *Event {
	return applicationActivity(TypeApplicationStop, launcher, err)
}

func applicationActivity(typ Code, launcher string, err error) *Event {
	ev := newEvent(EventApplicationActivity, ActionExecute, typ)
	ev.ActiveParticipant = append(ev.ActiveParticipant, self(false, RoleApplication))
	if launcher != "" {
		ev.ActiveParticipant = append(ev.ActiveParticipant, ActiveParticipant{
			UserID: launcher, UserIsRequestor: true, RoleIDCode: []Code{RoleApplicationLauncher},
		})
	}
	if err != nil {
		ev.EventOutcomeIndicator = OutcomeSeriousFailure
		ev.EventOutcomeDescription = err.Error()
	}
	return ev
}

// AssociationRejected reports an A-ASSOCIATE-RQ refused by policy (an
// unknown or unauthorised Calling AE Title, a wrong Called AE Title, a
// caller outside its allowed networks): a Security Alert of type Node
// Authentication (A.5.3.11), outcome minor failure (the rejection is the
// mitigation). reason is the node's explanation, e.g. "calling AE not
// recognized (RJ 1,1,3)".
func AssociationRejected(callingAE, calledAE string, addr net.Addr, reason string) *Event {
	desc := fmt.Sprintf("association from calling AE %q to called AE %q rejected: %s", trimAE(callingAE), trimAE(calledAE), reason)
	return securityAlert(TypeNodeAuthentication, OutcomeMinorFailure, performer(callingAE, addr), nodeSubject(callingAE, addr, desc))
}

// AssociationAborted reports an association that ended in A-ABORT or a
// transport failure the node considers security-relevant (a protocol
// violation, a limit exceeded, a handler panic): a Security Alert of the
// local type "Association Aborted", outcome minor failure.
func AssociationAborted(callingAE, calledAE string, addr net.Addr, reason string) *Event {
	desc := fmt.Sprintf("association from calling AE %q to called AE %q aborted: %s", trimAE(callingAE), trimAE(calledAE), reason)
	return securityAlert(TypeAssociationAborted, OutcomeMinorFailure, performer(callingAE, addr), nodeSubject(callingAE, addr, desc))
}

// NodeAuthFailure reports a failed node authentication (A.5.3.11, type
// Node Authentication): a TLS handshake refused, a client certificate
// missing, untrusted, expired or not bound to the claimed Calling AE
// Title. callingAE is "" when no A-ASSOCIATE-RQ was read.
func NodeAuthFailure(callingAE string, addr net.Addr, reason string) *Event {
	desc := "node authentication failed: " + reason
	return securityAlert(TypeNodeAuthentication, OutcomeMinorFailure, performer(callingAE, addr), nodeSubject(callingAE, addr, desc))
}

// RestrictedFunction reports a refused request for a function the caller
// is not permitted (A.5.3.11, type Use of Restricted Function), e.g.
// function "C-MOVE to destination AE \"X\"", "C-STORE" without the store
// permission. Outcome minor failure: the request was refused.
func RestrictedFunction(callingAE string, addr net.Addr, function string) *Event {
	desc := fmt.Sprintf("calling AE %q requested a function it is not permitted: %s", trimAE(callingAE), function)
	return securityAlert(TypeRestrictedFunction, OutcomeMinorFailure, performer(callingAE, addr), nodeSubject(callingAE, addr, desc))
}

// IntegrityAlert reports stored data that failed an integrity check: a
// share object whose SHA-256 differs from the index, that does not
// authenticate, that is missing, or an instance whose hash does not match
// (adversarial tests 34, 38). store is the share store index (0..3), -1
// when not tied to one; object the share object's name (a random ID, no
// PHI); what says what failed and what was done. Outcome serious failure
// (detected and served from other shares); set OutcomeMajorFailure when
// the data could not be served.
func IntegrityAlert(store int, object, what string) *Event {
	id := "shardpacs:store"
	if store >= 0 {
		id = fmt.Sprintf("shardpacs:store/%d", store)
		if object != "" {
			id += "/" + object
		}
	}
	subj := ParticipantObject{
		ParticipantObjectID:         id,
		ParticipantObjectTypeCode:   ObjectSystem,
		ParticipantObjectIDTypeCode: IDTypeURI,
		ParticipantObjectDetail:     []Detail{{Type: "Alert Description", Value: what}},
	}
	return securityAlert(TypeIntegrityFailure, OutcomeSeriousFailure, nil, subj)
}

// SecurityConfigChange reports a change of the node's security
// configuration (A.5.3.11, type Security Configuration; informative,
// outcome success): user is who made it (an OS user), what describes it.
func SecurityConfigChange(user, what string) *Event {
	var by *ActiveParticipant
	if user != "" {
		by = &ActiveParticipant{UserID: user, UserIsRequestor: true}
	}
	subj := ParticipantObject{
		ParticipantObjectID:         "shardpacs:security-configuration",
		ParticipantObjectTypeCode:   ObjectSystem,
		ParticipantObjectIDTypeCode: IDTypeURI,
		ParticipantObjectDetail:     []Detail{{Type: "Alert Description", Value: what}},
	}
	return securityAlert(TypeSecurityConfiguration, OutcomeSuccess, by, subj)
}

// KeyRotation reports a rotation of the node master key (KEK): version
// newVersion became current, oldVersion stays readable until retired. A
// Security Configuration alert whose subject is "shardpacs:kek/<new>".
func KeyRotation(oldVersion, newVersion uint32) *Event {
	ev := SecurityConfigChange("", fmt.Sprintf("KEK rotated: version %d is current, version %d kept for unwrapping until retired", newVersion, oldVersion))
	ev.ParticipantObjectIdentification[0].ParticipantObjectID = fmt.Sprintf("shardpacs:kek/%d", newVersion)
	return ev
}

// InstancesStored reports n instances of one SOP class of one study
// received by C-STORE from callingAE (A.5.3.7 DICOM Instances Transferred,
// action C: new to this archive). Report per study (and SOP class) per
// association rather than per instance where the caller can; set
// EventActionCode ActionRead for an identical resend that stored nothing
// new, and a failure outcome when some instances were refused.
func InstancesStored(callingAE string, addr net.Addr, studyUID, patientID, sopClass string, n int) *Event {
	ev := newEvent(EventInstancesTransfer, ActionCreate)
	src := peer(callingAE, addr, true)
	src.RoleIDCode = []Code{RoleSource}
	ev.ActiveParticipant = append(ev.ActiveParticipant, src, self(false, RoleDestination))
	ev.ParticipantObjectIdentification = studyAndPatient(studyUID, patientID, sopClass, n)
	return ev
}

// Retrieve names the DIMSE service that sent instances out.
type Retrieve string

// Retrieve services.
const (
	RetrieveMove Retrieve = "C-MOVE"
	RetrieveGet  Retrieve = "C-GET"
)

// InstancesTransferred reports n instances of one SOP class of one study
// sent by a C-MOVE or C-GET sub-operation (A.5.3.7, action R). requestorAE
// and requestorAddr made the request; destAE and destAddr received the
// instances (for C-GET the requestor itself: pass the same values).
func InstancesTransferred(op Retrieve, requestorAE string, requestorAddr net.Addr, destAE string, destAddr net.Addr,
	studyUID, patientID, sopClass string, n int) *Event {
	ev := newEvent(EventInstancesTransfer, ActionRead)
	sameAsRequestor := op == RetrieveGet || trimAE(destAE) == trimAE(requestorAE)
	dst := peer(destAE, destAddr, sameAsRequestor)
	dst.RoleIDCode = []Code{RoleDestination}
	ev.ActiveParticipant = append(ev.ActiveParticipant, self(false, RoleSource), dst)
	if !sameAsRequestor {
		ev.ActiveParticipant = append(ev.ActiveParticipant, peer(requestorAE, requestorAddr, true))
	}
	ev.ParticipantObjectIdentification = studyAndPatient(studyUID, patientID, sopClass, n)
	ev.ParticipantObjectIdentification[0].ParticipantObjectDetail = []Detail{{Type: "Service", Value: string(op)}}
	return ev
}

// InstancesAccessed reports n instances of one study read, updated or
// deleted other than by a network transfer and other than deleting the
// whole study (A.5.3.6): a CLI export or verify (ActionRead), a repair or
// re-wrap of their shares (ActionUpdate), a series- or instance-level
// delete (ActionDelete). user is the OS user or process that acted.
func InstancesAccessed(action Action, user, studyUID, patientID string, n int) *Event {
	ev := newEvent(EventInstancesAccessed, action)
	ev.ActiveParticipant = append(ev.ActiveParticipant, self(user == ""))
	if user != "" {
		ev.ActiveParticipant = append(ev.ActiveParticipant, ActiveParticipant{UserID: user, UserIsRequestor: true})
	}
	ev.ParticipantObjectIdentification = studyAndPatient(studyUID, patientID, "", n)
	return ev
}

// StudyDeleted reports that every instance of a study was deleted
// (A.5.3.8, action D); n is how many instances. user is who deleted it
// (an OS user, or the calling AE of a network request).
func StudyDeleted(user, studyUID, patientID string, n int) *Event {
	ev := newEvent(EventStudyDeleted, ActionDelete)
	ev.ActiveParticipant = append(ev.ActiveParticipant, self(user == ""))
	if user != "" {
		ev.ActiveParticipant = append(ev.ActiveParticipant, ActiveParticipant{UserID: user, UserIsRequestor: true})
	}
	ev.ParticipantObjectIdentification = studyAndPatient(studyUID, patientID, "", n)
	return ev
}

// Query reports a C-FIND request received (A.5.3.10). model is the
// Affected SOP Class UID (the information model), level the Query/
// Retrieve Level, keys the non-empty query keys by keyword (values may be
// patient data: this is where they belong, never in the operational log).
// The keys are recorded as ParticipantObjectDetail entries, sorted by
// keyword, rather than as the base64 data set of the XML schema: an
// auditor can read and search them.
func Query(callingAE string, addr net.Addr, model, level string, keys map[string]string) *Event {
	ev := newEvent(EventQuery, ActionExecute)
	src := peer(callingAE, addr, true)
	src.RoleIDCode = []Code{RoleSource}
	ev.ActiveParticipant = append(ev.ActiveParticipant, src, self(false, RoleDestination))
	details := []Detail{{Type: "QueryRetrieveLevel", Value: level}}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		details = append(details, Detail{Type: k, Value: keys[k]})
	}
	ev.ParticipantObjectIdentification = []ParticipantObject{{
		ParticipantObjectID:           model,
		ParticipantObjectTypeCode:     ObjectSystem,
		ParticipantObjectTypeCodeRole: RoleQuery,
		ParticipantObjectIDTypeCode:   IDTypeSOPClassUID,
		ParticipantObjectDetail:       details,
	}}
	return ev
}

// ---- helpers ----

func newEvent(id Code, action Action, types ...Code) *Event {
	return &Event{EventID: id, EventActionCode: action, EventTypeCode: types}
}

// securityAlert builds a Security Alert (A.5.3.11): this node reports
// (UserIsRequestor true), the performing peer, if any, is not the
// requestor (A.5.3.11 requires false), subj is the alert subject.
func securityAlert(typ Code, outcome Outcome, performer *ActiveParticipant, subj ParticipantObject) *Event {
	ev := newEvent(EventSecurityAlert, ActionExecute, typ)
	ev.EventOutcomeIndicator = outcome
	ev.ActiveParticipant = append(ev.ActiveParticipant, self(true))
	if performer != nil {
		p := *performer
		p.UserIsRequestor = false
		ev.ActiveParticipant = append(ev.ActiveParticipant, p)
	}
	ev.ParticipantObjectIdentification = []ParticipantObject{subj}
	return ev
}

func self(requestor bool, roles ...Code) ActiveParticipant {
	return ActiveParticipant{Self: true, UserIsRequestor: requestor, RoleIDCode: roles}
}

// peer describes a remote DICOM application: UserID its AE title (its
// address when it has none), AlternativeUserID "AETITLES=<AE>", and its
// IP address as network access point.
func peer(ae string, addr net.Addr, requestor bool) ActiveParticipant {
	ae = trimAE(ae)
	p := ActiveParticipant{UserID: ae, UserIsRequestor: requestor}
	if ae != "" {
		p.AlternativeUserID = "AETITLES=" + ae
	}
	if host := addrHost(addr); host != "" {
		p.NetworkAccessPointID = host
		p.NetworkAccessPointTypeCode = NAPMachineName
		if net.ParseIP(host) != nil {
			p.NetworkAccessPointTypeCode = NAPIPAddress
		}
	}
	if p.UserID == "" {
		p.UserID = p.NetworkAccessPointID
	}
	if p.UserID == "" {
		p.UserID = "unknown"
	}
	return p
}

// performer returns the peer as a Security Alert's performing process.
func performer(ae string, addr net.Addr) *ActiveParticipant {
	p := peer(ae, addr, false)
	return &p
}

// nodeSubject is a Security Alert's subject: the peer node, as
// "AE@host", with the alert description.
func nodeSubject(ae string, addr net.Addr, desc string) ParticipantObject {
	id := trimAE(ae)
	if host := addrHost(addr); host != "" {
		if id != "" {
			id += "@"
		}
		id += host
	}
	if id == "" {
		id = "unknown"
	}
	return ParticipantObject{
		ParticipantObjectID:         id,
		ParticipantObjectTypeCode:   ObjectSystem,
		ParticipantObjectIDTypeCode: IDTypeNodeID,
		ParticipantObjectDetail:     []Detail{{Type: "Alert Description", Value: desc}},
	}
}

func studyAndPatient(studyUID, patientID, sopClass string, n int) []ParticipantObject {
	study := ParticipantObject{
		ParticipantObjectID:           studyUID,
		ParticipantObjectTypeCode:     ObjectSystem,
		ParticipantObjectTypeCodeRole: RoleReport,
		ParticipantObjectIDTypeCode:   IDTypeStudyUID,
	}
	if sopClass != "" {
		study.SOPClass = []SOPClass{{UID: sopClass, NumberOfInstances: n}}
	} else if n > 0 {
		study.ParticipantObjectDetail = []Detail{{Type: "NumberOfInstances", Value: fmt.Sprint(n)}}
	}
	return []ParticipantObject{study, {
		ParticipantObjectID:           patientID,
		ParticipantObjectTypeCode:     ObjectPerson,
		ParticipantObjectTypeCodeRole: RolePatient,
		ParticipantObjectIDTypeCode:   IDTypePatient,
	}}
}

// trimAE drops the insignificant trailing spaces of an AE title (PS3.5
// AE VR).
func trimAE(ae string) string { return strings.TrimRight(ae, " ") }

// addrHost returns the host part of addr (an IP address for TCP), "" for
// nil.
func addrHost(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	switch a := addr.(type) {
	case *net.TCPAddr:
		if a == nil {
			return ""
		}
		return a.IP.String()
	}
	s := addr.String()
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	return s
}
