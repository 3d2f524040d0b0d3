package pdu

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestEncodeRejects: values that cannot go on the wire fail with
// ErrInvalid and leave dst as it was.
func TestEncodeRejects(t *testing.T) {
	long := strings.Repeat("9", 65)
	withUI := func(u UserInfo) *AssociateRQ {
		return &AssociateRQ{ProtocolVersion: 1, ApplicationContext: DICOMApplicationContext, UserInfo: u}
	}
	tests := []struct {
		name string
		pdu  PDU
	}{
		{"nil interface", nil},
		{"nil RQ pointer", (*AssociateRQ)(nil)},
		{"nil P-DATA pointer", (*PDataTF)(nil)},
		{"nil abort pointer", (*Abort)(nil)},
		{"foreign PDU type", fakePDU{}},
		{"P-DATA without PDV", &PDataTF{}},
		{"called AE of 17", &AssociateRQ{ApplicationContext: DICOMApplicationContext, CalledAETitle: strings.Repeat("A", 17)}},
		{"calling AE of 17", &AssociateAC{ApplicationContext: DICOMApplicationContext, CallingAETitle: strings.Repeat("A", 17)}},
		{"application context of 65", &AssociateRQ{ApplicationContext: long}},
		{"even context ID", &AssociateRQ{ApplicationContext: DICOMApplicationContext,
			PresentationContexts: []PresentationContextRQ{{ID: 2, AbstractSyntax: "1.2", TransferSyntaxes: []string{"1.2"}}}}},
		{"context without transfer syntax", &AssociateRQ{ApplicationContext: DICOMApplicationContext,
			PresentationContexts: []PresentationContextRQ{{ID: 1, AbstractSyntax: "1.2"}}}},
		{"abstract syntax of 65", &AssociateRQ{ApplicationContext: DICOMApplicationContext,
			PresentationContexts: []PresentationContextRQ{{ID: 1, AbstractSyntax: long, TransferSyntaxes: []string{"1.2"}}}}},
		{"AC even context ID", &AssociateAC{ApplicationContext: DICOMApplicationContext,
			PresentationContexts: []PresentationContextAC{{ID: 0, TransferSyntax: "1.2"}}}},
		{"AC undefined result", &AssociateAC{ApplicationContext: DICOMApplicationContext,
			PresentationContexts: []PresentationContextAC{{ID: 1, Result: 9}}}},
		{"AC transfer syntax of 65", &AssociateAC{ApplicationContext: DICOMApplicationContext,
			PresentationContexts: []PresentationContextAC{{ID: 1, TransferSyntax: long}}}},
		{"implementation class of 65", withUI(UserInfo{ImplementationClassUID: long})},
		{"role selection UID of 65", withUI(UserInfo{RoleSelections: []RoleSelection{{SOPClassUID: long}}})},
		{"ext neg UID of 65", withUI(UserInfo{SOPClassExtended: []SOPClassExtended{{SOPClassUID: long}}})},
		{"ext neg info over 64 KiB", withUI(UserInfo{SOPClassExtended: []SOPClassExtended{{SOPClassUID: "1.2", Info: make([]byte, 1<<16)}}})},
		{"common ext neg related UID of 65", withUI(UserInfo{SOPClassCommonExtended: []SOPClassCommonExtended{{SOPClassUID: "1.2", RelatedGeneralSOPClasses: []string{long}}}})},
		{"user identity primary over 64 KiB", withUI(UserInfo{UserIdentityRQ: &UserIdentityRQ{Type: 1, Primary: make([]byte, 1<<16)}})},
		{"user identity AC in RQ", withUI(UserInfo{UserIdentityAC: &UserIdentityAC{}})},
		{"user identity RQ in AC", &AssociateAC{ApplicationContext: DICOMApplicationContext,
			UserInfo: UserInfo{UserIdentityRQ: &UserIdentityRQ{Type: 1}}}},
		{"user information over 64 KiB", withUI(UserInfo{RoleSelections: func() []RoleSelection {
			r := make([]RoleSelection, 3000)
			for i := range r {
				r[i].SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
			}
			return r
		}()})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			out, err := AppendEncode(dst, tc.pdu)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("AppendEncode: %v, want ErrInvalid", err)
			}
			if !strings.HasPrefix(err.Error(), "pdu: ") {
				t.Errorf("message %q lacks the package prefix", err)
			}
			if !bytes.Equal(out, []byte{1, 2, 3}) {
				t.Fatalf("dst changed to %x", out)
			}
			if b, err := Encode(tc.pdu); err == nil || b != nil {
				t.Fatalf("Encode = %x, %v", b, err)
			}
		})
	}
}

type fakePDU struct{}

func (fakePDU) PDUType() Type { return 0x42 }

// TestEncodeAETitlePadding: titles are space padded to 16 bytes.
func TestEncodeAETitlePadding(t *testing.T) {
	b, err := Encode(&AssociateRQ{ProtocolVersion: 1, CalledAETitle: "AB", CallingAETitle: strings.Repeat("Z", 16),
		ApplicationContext: DICOMApplicationContext})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b[10:26]); got != "AB              " {
		t.Fatalf("called %q", got)
	}
	if got := string(b[26:42]); got != strings.Repeat("Z", 16) {
		t.Fatalf("calling %q", got)
	}
}
