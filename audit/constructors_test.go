package audit

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestConstructors(t *testing.T) {
	peerAddr := tcpAddr("10.1.2.3:40000")
	destAddr := tcpAddr("10.9.9.9:104")
	type participant struct {
		userID    string
		requestor bool
		role      string // RoleIDCode[0].csd-code, "" for none
	}
	type object struct {
		id, idType string
		typ, role  float64
	}
	tests := []struct {
		name     string
		ev       *Event
		eventID  string
		action   Action
		outcome  Outcome
		typeCode string // EventTypeCode[0].csd-code, "" for none
		parts    []participant
		objects  []object
	}{
		{"ApplicationStart", ApplicationStart("pacs@host"), "110100", "E", 0, "110120",
			[]participant{{pid, false, "110150"}, {"pacs@host", true, "110151"}}, nil},
		{"ApplicationStop", ApplicationStop("", nil), "110100", "E", 0, "110121",
			[]participant{{pid, false, "110150"}}, nil},
		{"ApplicationStopFailed", ApplicationStop("", errors.New("index corrupt")), "110100", "E", 8, "110121",
			[]participant{{pid, false, "110150"}}, nil},
		{"AssociationRejected", AssociationRejected("EVIL  ", "SHARDPACS", peerAddr, "calling AE not recognized (RJ 1,1,3)"),
			"110113", "E", 4, "110126",
			[]participant{{pid, true, ""}, {"EVIL", false, ""}},
			[]object{{"EVIL@10.1.2.3", "110182", 2, 0}}},
		{"AssociationAborted", AssociationAborted("MOD", "SHARDPACS", peerAddr, "A-ABORT (2,6)"),
			"110113", "E", 4, "ASSOC-ABORT",
			[]participant{{pid, true, ""}, {"MOD", false, ""}},
			[]object{{"MOD@10.1.2.3", "110182", 2, 0}}},
		{"NodeAuthFailureNoAE", NodeAuthFailure("", peerAddr, "tls: unknown certificate authority"),
			"110113", "E", 4, "110126",
			[]participant{{pid, true, ""}, {"10.1.2.3", false, ""}},
			[]object{{"10.1.2.3", "110182", 2, 0}}},
		{"RestrictedFunction", RestrictedFunction("VIEWER", peerAddr, `C-MOVE to destination AE "HACKER"`),
			"110113", "E", 4, "110132",
			[]participant{{pid, true, ""}, {"VIEWER", false, ""}},
			[]object{{"VIEWER@10.1.2.3", "110182", 2, 0}}},
		{"IntegrityAlert", IntegrityAlert(2, "0123abcd", "SHA-256 differs from the index; repaired"),
			"110113", "E", 8, "INTEGRITY",
			[]participant{{pid, true, ""}},
			[]object{{"shardpacs:store/2/0123abcd", "12", 2, 0}}},
		{"KeyRotation", KeyRotation(1, 2), "110113", "E", 0, "110129",
			[]participant{{pid, true, ""}},
			[]object{{"shardpacs:kek/2", "12", 2, 0}}},
		{"SecurityConfigChange", SecurityConfigChange("root", "KEK version 1 retired"), "110113", "E", 0, "110129",
			[]participant{{pid, true, ""}, {"root", false, ""}},
			[]object{{"shardpacs:security-configuration", "12", 2, 0}}},
		{"InstancesStored", InstancesStored("CT1", peerAddr, "1.2.3", "PID42", "1.2.840.10008.5.1.4.1.1.2", 120),
			"110104", "C", 0, "",
			[]participant{{"CT1", true, "110153"}, {pid, false, "110152"}},
			[]object{{"1.2.3", "110180", 2, 3}, {"PID42", "2", 1, 1}}},
		{"InstancesTransferredMove", InstancesTransferred(RetrieveMove, "VIEWER", peerAddr, "WS1", destAddr, "1.2.3", "PID42", "1.2.840.10008.5.1.4.1.1.2", 5),
			"110104", "R", 0, "",
			[]participant{{pid, false, "110153"}, {"WS1", false, "110152"}, {"VIEWER", true, ""}},
			[]object{{"1.2.3", "110180", 2, 3}, {"PID42", "2", 1, 1}}},
		{"InstancesTransferredGet", InstancesTransferred(RetrieveGet, "VIEWER", peerAddr, "VIEWER", peerAddr, "1.2.3", "PID42", "1.2.840.10008.5.1.4.1.1.4", 7),
			"110104", "R", 0, "",
			[]participant{{pid, false, "110153"}, {"VIEWER", true, "110152"}},
			[]object{{"1.2.3", "110180", 2, 3}, {"PID42", "2", 1, 1}}},
		{"InstancesAccessed", InstancesAccessed(ActionRead, "ops@host", "1.2.3", "PID42", 3), "110103", "R", 0, "",
			[]participant{{pid, false, ""}, {"ops@host", true, ""}},
			[]object{{"1.2.3", "110180", 2, 3}, {"PID42", "2", 1, 1}}},
		{"StudyDeleted", StudyDeleted("ops@host", "1.2.3", "PID42", 300), "110105", "D", 0, "",
			[]participant{{pid, false, ""}, {"ops@host", true, ""}},
			[]object{{"1.2.3", "110180", 2, 3}, {"PID42", "2", 1, 1}}},
		{"StudyDeletedBySelf", StudyDeleted("", "1.2.3", "PID42", 1), "110105", "D", 0, "",
			[]participant{{pid, true, ""}},
			[]object{{"1.2.3", "110180", 2, 3}, {"PID42", "2", 1, 1}}},
		{"Query", Query("VIEWER", peerAddr, "1.2.840.10008.5.1.4.1.2.2.1", "STUDY", map[string]string{"PatientName": "DOE^J*", "ModalitiesInStudy": "CT"}),
			"110112", "E", 0, "",
			[]participant{{"VIEWER", true, "110153"}, {pid, false, "110152"}},
			[]object{{"1.2.840.10008.5.1.4.1.2.2.1", "110181", 2, 24}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := logOne(t, tc.ev)
			check := func(what string, v, want any) {
				t.Helper()
				if fmt.Sprint(v) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", what, v, want)
				}
			}
			check("EventID", path(got, "EventID", "csd-code"), tc.eventID)
			check("EventID scheme", path(got, "EventID", "codeSystemName"), "DCM")
			check("EventActionCode", path(got, "EventActionCode"), tc.action)
			check("EventOutcomeIndicator", path(got, "EventOutcomeIndicator"), int(tc.outcome))
			check("EventDateTime", path(got, "EventDateTime"), "2026-03-04T05:06:07Z")
			if tc.typeCode == "" {
				check("EventTypeCode", path(got, "EventTypeCode"), nil)
			} else {
				check("EventTypeCode", path(got, "EventTypeCode", 0, "csd-code"), tc.typeCode)
			}
			check("AuditSourceID", path(got, "AuditSourceIdentification", "AuditSourceID"), "SHARDPACS")
			check("AuditEnterpriseSiteID", path(got, "AuditSourceIdentification", "AuditEnterpriseSiteID"), "HOSP")
			aps, _ := path(got, "ActiveParticipant").([]any)
			if len(aps) != len(tc.parts) {
				t.Fatalf("%d active participants, want %d: %v", len(aps), len(tc.parts), aps)
			}
			for i, p := range tc.parts {
				check(fmt.Sprint("participant ", i, " UserID"), path(aps[i], "UserID"), p.userID)
				check(fmt.Sprint("participant ", i, " UserIsRequestor"), path(aps[i], "UserIsRequestor"), p.requestor)
				role := path(aps[i], "RoleIDCode", 0, "csd-code")
				if p.role == "" {
					check(fmt.Sprint("participant ", i, " role"), role, nil)
				} else {
					check(fmt.Sprint("participant ", i, " role"), role, p.role)
				}
				if p.userID == pid {
					check("self AlternativeUserID", path(aps[i], "AlternativeUserID"), "AETITLES=SHARDPACS")
					check("self NetworkAccessPointTypeCode", path(aps[i], "NetworkAccessPointTypeCode"), NAPMachineName)
				} else if path(aps[i], "NetworkAccessPointID") == "10.1.2.3" {
					check("peer NetworkAccessPointTypeCode", path(aps[i], "NetworkAccessPointTypeCode"), NAPIPAddress)
				}
			}
			objs, _ := path(got, "ParticipantObjectIdentification").([]any)
			if len(objs) != len(tc.objects) {
				t.Fatalf("%d participant objects, want %d: %v", len(objs), len(tc.objects), objs)
			}
			for i, o := range tc.objects {
				check(fmt.Sprint("object ", i, " ID"), path(objs[i], "ParticipantObjectID"), o.id)
				check(fmt.Sprint("object ", i, " IDTypeCode"), path(objs[i], "ParticipantObjectIDTypeCode", "csd-code"), o.idType)
				check(fmt.Sprint("object ", i, " TypeCode"), path(objs[i], "ParticipantObjectTypeCode"), o.typ)
				r := path(objs[i], "ParticipantObjectTypeCodeRole")
				if o.role == 0 {
					check(fmt.Sprint("object ", i, " role"), r, nil)
				} else {
					check(fmt.Sprint("object ", i, " role"), r, o.role)
				}
			}
		})
	}
}

func TestConstructorDetails(t *testing.T) {
	_, got := logOne(t, InstancesStored("CT1", nil, "1.2.3", "PID42", "1.2.840.10008.5.1.4.1.1.2", 120))
	if v := path(got, "ParticipantObjectIdentification", 0, "SOPClass", 0, "NumberOfInstances"); v != float64(120) {
		t.Errorf("NumberOfInstances = %v, want 120", v)
	}
	if v := path(got, "ActiveParticipant", 0, "NetworkAccessPointID"); v != nil {
		t.Errorf("nil addr gave a network access point %v", v)
	}
	_, got = logOne(t, Query("V", nil, "1.2.840.10008.5.1.4.1.2.1.1", "PATIENT", map[string]string{"PatientName": "DOE*", "PatientID": "1"}))
	details := path(got, "ParticipantObjectIdentification", 0, "ParticipantObjectDetail")
	want := "[map[type:QueryRetrieveLevel value:PATIENT] map[type:PatientID value:1] map[type:PatientName value:DOE*]]"
	if fmt.Sprint(details) != want {
		t.Errorf("query details = %v\nwant %s", details, want)
	}
	_, got = logOne(t, InstancesTransferred(RetrieveMove, "V", nil, "W", nil, "1.2", "P", "1.2.840.10008.5.1.4.1.1.7", 1))
	if v := path(got, "ParticipantObjectIdentification", 0, "ParticipantObjectDetail", 0, "value"); v != "C-MOVE" {
		t.Errorf("service detail = %v", v)
	}
	_, got = logOne(t, ApplicationStop("", errors.New("disk full")))
	if v := path(got, "EventOutcomeDescription"); v != "disk full" {
		t.Errorf("EventOutcomeDescription = %v", v)
	}
	_, got = logOne(t, IntegrityAlert(-1, "", "instance hash mismatch"))
	if v := path(got, "ParticipantObjectIdentification", 0, "ParticipantObjectID"); v != "shardpacs:store" {
		t.Errorf("subject = %v", v)
	}
}

func TestSourceDefaults(t *testing.T) {
	l, b := bufLogger()
	l.SetSource(Source{})
	if err := l.Log(ApplicationStart("")); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if host == "" {
		t.Skip("no host name")
	}
	if want := `"AuditSourceID":"` + host + `"`; !strings.Contains(b.String(), want) {
		t.Errorf("no %s in %s", want, b.String())
	}
	if strings.Contains(b.String(), "AETITLES=") {
		t.Errorf("AETITLES without an AE title: %s", b.String())
	}
}

func TestQueryKeysCapped(t *testing.T) {
	keys := map[string]string{}
	for i := range 100 {
		keys[fmt.Sprintf("Key%03d", i)] = strings.Repeat("v", 5000)
	}
	_, got := logOne(t, Query("V", nil, "1.2", "IMAGE", keys))
	details, _ := path(got, "ParticipantObjectIdentification", 0, "ParticipantObjectDetail").([]any)
	if len(details) != MaxQueryKeys {
		t.Fatalf("%d query details recorded, want the cap %d", len(details), MaxQueryKeys)
	}
	if v, _ := path(details[1], "value").(string); len(v) > MaxQueryValue || len(v) < MaxQueryValue-4 {
		t.Errorf("query value of %d bytes, want about the cap %d", len(v), MaxQueryValue)
	}
}
