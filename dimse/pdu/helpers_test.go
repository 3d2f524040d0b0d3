package pdu

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// loadHex reads a testdata/*.hex fixture: '#' lines are comments, the rest
// hex bytes separated by white space.
func loadHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var sb strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// fullRQ is an A-ASSOCIATE-RQ that uses every item and sub-item.
func fullRQ() *AssociateRQ {
	return &AssociateRQ{
		ProtocolVersion:    ProtocolVersion1,
		CalledAETitle:      "SHARDPACS",
		CallingAETitle:     "MODALITY_01",
		ApplicationContext: DICOMApplicationContext,
		PresentationContexts: []PresentationContextRQ{
			{ID: 1, AbstractSyntax: "1.2.840.10008.1.1", TransferSyntaxes: []string{"1.2.840.10008.1.2"}},
			{ID: 3, AbstractSyntax: "1.2.840.10008.5.1.4.1.1.2", TransferSyntaxes: []string{
				"1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.90"}},
			{ID: 255, AbstractSyntax: "1.2.840.10008.5.1.4.1.2.2.3", TransferSyntaxes: []string{"1.2.840.10008.1.2.1"}},
		},
		UserInfo: UserInfo{
			MaxLength:                 16384,
			ImplementationClassUID:    "1.2.826.0.1.3680043.10.1234",
			ImplementationVersionName: "SHARDPACS_01",
			AsyncOps:                  &AsyncOpsWindow{MaxInvoked: 5, MaxPerformed: 7},
			RoleSelections: []RoleSelection{
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SCU: true, SCP: false},
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.4", SCU: false, SCP: true},
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.7", SCU: true, SCP: true},
			},
			SOPClassExtended: []SOPClassExtended{
				{SOPClassUID: "1.2.840.10008.5.1.4.1.2.2.1", Info: []byte{1, 1, 0}},
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2"},
			},
			SOPClassCommonExtended: []SOPClassCommonExtended{
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.88.22", ServiceClassUID: "1.2.840.10008.4.2",
					RelatedGeneralSOPClasses: []string{"1.2.840.10008.5.1.4.1.1.88.11", "1.2.840.10008.5.1.4.1.1.88.33"}},
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", ServiceClassUID: "1.2.840.10008.4.2"},
			},
			UserIdentityRQ: &UserIdentityRQ{Type: UserIdentityUsernamePasscode, PositiveResponseRequested: true,
				Primary: []byte("alice"), Secondary: []byte("s3cret")},
		},
	}
}

// fullAC is an A-ASSOCIATE-AC answering fullRQ.
func fullAC() *AssociateAC {
	return &AssociateAC{
		ProtocolVersion:    ProtocolVersion1,
		CalledAETitle:      "SHARDPACS",
		CallingAETitle:     "MODALITY_01",
		ApplicationContext: DICOMApplicationContext,
		PresentationContexts: []PresentationContextAC{
			{ID: 1, Result: ContextAccepted, TransferSyntax: "1.2.840.10008.1.2"},
			{ID: 3, Result: ContextAccepted, TransferSyntax: "1.2.840.10008.1.2.1"},
			{ID: 255, Result: ContextAbstractSyntaxNotSupported},
		},
		UserInfo: UserInfo{
			MaxLength:                 1 << 20,
			ImplementationClassUID:    "1.2.826.0.1.3680043.10.1234",
			ImplementationVersionName: "SHARDPACS_01",
			AsyncOps:                  &AsyncOpsWindow{MaxInvoked: 1, MaxPerformed: 1},
			RoleSelections: []RoleSelection{
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SCU: true},
				{SOPClassUID: "1.2.840.10008.5.1.4.1.1.4", SCP: true},
			},
			SOPClassExtended: []SOPClassExtended{{SOPClassUID: "1.2.840.10008.5.1.4.1.2.2.1", Info: []byte{1}}},
			UserIdentityAC:   &UserIdentityAC{ServerResponse: []byte("token-123")},
		},
	}
}

// samplePDUs returns one value of every PDU type, named.
func samplePDUs() []struct {
	name string
	pdu  PDU
} {
	return []struct {
		name string
		pdu  PDU
	}{
		{"associate-rq-full", fullRQ()},
		{"associate-rq-minimal", &AssociateRQ{ProtocolVersion: 1, ApplicationContext: DICOMApplicationContext}},
		{"associate-ac-full", fullAC()},
		{"associate-ac-minimal", &AssociateAC{ProtocolVersion: 1, CalledAETitle: "A", CallingAETitle: "B",
			ApplicationContext: DICOMApplicationContext}},
		{"associate-rj", &AssociateRJ{Result: RejectTransient, Source: SourceServiceProviderPresentation, Reason: RejectPresentationLocalLimitExceeded}},
		{"pdata-one", &PDataTF{Items: []PDV{{ContextID: 1, Command: true, Last: true, Data: []byte{0, 0, 1, 2}}}}},
		{"pdata-many", &PDataTF{Items: []PDV{
			{ContextID: 1, Command: true, Last: true, Data: []byte("command")},
			{ContextID: 1, Data: []byte("fragment-1")},
			{ContextID: 1, Last: true}, // empty last fragment
		}}},
		{"release-rq", &ReleaseRQ{}},
		{"release-rp", &ReleaseRP{}},
		{"abort-user", &Abort{Source: AbortServiceUser}},
		{"abort-provider", &Abort{Source: AbortServiceProvider, Reason: AbortUnexpectedPDU}},
	}
}

// equalPDU compares decoded PDUs field by field (reflect.DeepEqual on the
// pointed-to values).
func equalPDU(a, b PDU) bool { return reflect.DeepEqual(a, b) }
