package pdu

import (
	"bytes"
	"reflect"
	"testing"
)

func TestGoldenFixtures(t *testing.T) {
	dcmtkUserInfo := UserInfo{
		MaxLength:                 16384,
		ImplementationClassUID:    "1.2.276.0.7230010.3.0.3.6.7",
		ImplementationVersionName: "OFFIS_DCMTK_367",
	}
	tests := []struct {
		file string
		want PDU
		// fixReserved zeroes the fixture's non-zero reserved bytes (which
		// PS3.8 says are not tested) so that it equals what Encode writes;
		// nil when Encode reproduces the fixture exactly.
		fixReserved func(t *testing.T, b []byte)
	}{
		{file: "associate_rj_1_1_7.hex", want: &AssociateRJ{Result: RejectPermanent, Source: SourceServiceUser, Reason: RejectUserCalledAENotRecognized}},
		{file: "abort_2_6.hex", want: &Abort{Source: AbortServiceProvider, Reason: AbortInvalidParameterValue}},
		{file: "release_rq.hex", want: &ReleaseRQ{}},
		{file: "release_rp_storescp.hex", want: &ReleaseRP{}},
		{file: "pdata_tf_two_pdvs.hex", want: &PDataTF{Items: []PDV{
			{ContextID: 1, Command: true, Last: true, Data: []byte{1, 2, 3, 4}},
			{ContextID: 3, Data: []byte{0xaa, 0xbb}},
		}}},
		{
			file: "associate_rq_echoscu.hex",
			want: &AssociateRQ{
				ProtocolVersion: 1, CalledAETitle: "ANY-SCP", CallingAETitle: "ECHOSCU",
				ApplicationContext: DICOMApplicationContext,
				PresentationContexts: []PresentationContextRQ{{ID: 1, AbstractSyntax: "1.2.840.10008.1.1",
					TransferSyntaxes: []string{"1.2.840.10008.1.2"}}},
				UserInfo: dcmtkUserInfo,
			},
			// DCMTK sends 0xFF in the presentation context item's second
			// reserved byte (offset 6+68+4+21+4+2).
			fixReserved: func(t *testing.T, b []byte) {
				const off = 6 + 68 + 4 + 21 + 4 + 2
				if b[off] != 0xFF {
					t.Fatalf("fixture changed: byte %d is %#x, not the 0xFF reserved byte", off, b[off])
				}
				b[off] = 0
			},
		},
		{
			file: "associate_ac_storescp.hex",
			want: &AssociateAC{
				ProtocolVersion: 1, CalledAETitle: "ANY-SCP", CallingAETitle: "ECHOSCU",
				ApplicationContext: DICOMApplicationContext,
				PresentationContexts: []PresentationContextAC{{ID: 1, Result: ContextAccepted,
					TransferSyntax: "1.2.840.10008.1.2"}},
				UserInfo: dcmtkUserInfo,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw := loadHex(t, tc.file)
			got, err := Decode(raw, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode:\n got %#v\nwant %#v", got, tc.want)
			}
			enc, err := Encode(tc.want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			want := bytes.Clone(raw)
			if tc.fixReserved != nil {
				tc.fixReserved(t, want)
			}
			if !bytes.Equal(enc, want) {
				t.Fatalf("Encode:\n got %x\nwant %x", enc, want)
			}
		})
	}
}

// TestGoldenBytesInline pins the exact bytes of the small PDUs without
// going through files, as the adversarial test table quotes them.
func TestGoldenBytesInline(t *testing.T) {
	tests := []struct {
		pdu  PDU
		want []byte
	}{
		{&AssociateRJ{Result: 1, Source: 1, Reason: 7}, []byte{0x03, 0, 0, 0, 0, 4, 0, 1, 1, 7}},
		{&AssociateRJ{Result: 1, Source: 1, Reason: 3}, []byte{0x03, 0, 0, 0, 0, 4, 0, 1, 1, 3}},
		{&Abort{Source: 2, Reason: 6}, []byte{0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6}},
		{&Abort{Source: 2, Reason: 1}, []byte{0x07, 0, 0, 0, 0, 4, 0, 0, 2, 1}},
		{&ReleaseRQ{}, []byte{0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0}},
		{&ReleaseRP{}, []byte{0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0}},
		{&PDataTF{Items: []PDV{{ContextID: 5, Command: false, Last: true, Data: []byte{9, 8}}}},
			[]byte{0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 5, 2, 9, 8}},
	}
	for _, tc := range tests {
		got, err := Encode(tc.pdu)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("Encode(%#v) = %x, %v; want %x", tc.pdu, got, err, tc.want)
		}
	}
}
