package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// item builds a UL item: type, reserved, 2-byte length, body.
func item(typ byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := []byte{typ, 0, 0, 0}
	binary.BigEndian.PutUint16(out[2:], uint16(len(b)))
	return append(out, b...)
}

// pdu builds a PDU: type, reserved, 4-byte length, body.
func rawPDU(typ byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := []byte{typ, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[2:], uint32(len(b)))
	return append(out, b...)
}

// assoc builds an A-ASSOCIATE-RQ (typ 1) or -AC (typ 2) with the given
// variable items after a valid fixed part.
func assoc(typ byte, items ...[]byte) []byte {
	fixed := make([]byte, associateFixedLen)
	fixed[1] = 1
	copy(fixed[4:20], "CALLED          ")
	copy(fixed[20:36], "CALLING         ")
	return rawPDU(typ, append([][]byte{fixed}, items...)...)
}

var (
	appCtx = item(0x10, []byte(DICOMApplicationContext))
	ts     = item(0x40, []byte("1.2.840.10008.1.2"))
	as     = item(0x30, []byte("1.2.840.10008.1.1"))
)

func pcRQ(id byte, sub ...[]byte) []byte {
	return item(0x20, append([][]byte{{id, 0, 0, 0}}, sub...)...)
}

func pcAC(id, result byte, sub ...[]byte) []byte {
	return item(0x21, append([][]byte{{id, 0, result, 0}}, sub...)...)
}

func userInfo(sub ...[]byte) []byte { return item(0x50, sub...) }

func u16(v int) []byte    { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestDecodeHostile(t *testing.T) {
	long := strings.Repeat("1", 65)
	tests := []struct {
		name   string
		in     []byte
		lim    Limits
		reason AbortReason
		err    error
	}{
		{"unknown type 0x00", []byte{0x00, 0, 0, 0, 0, 4, 0, 0, 0, 0}, Limits{}, AbortUnrecognizedPDU, ErrUnknownPDUType},
		{"unknown type 0x08", []byte{0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0}, Limits{}, AbortUnrecognizedPDU, ErrUnknownPDUType},
		{"TLS handshake record 0x16", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00}, Limits{}, AbortUnrecognizedPDU, ErrUnknownPDUType},
		{"unknown type 0xFF", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, Limits{}, AbortUnrecognizedPDU, ErrUnknownPDUType},
		{"RQ length 0xFFFFFFFF", []byte{0x01, 0, 0xFF, 0xFF, 0xFF, 0xFF}, Limits{}, AbortInvalidParameterValue, ErrTooLong},
		{"AC length 0xFFFFFFFF", []byte{0x02, 0, 0xFF, 0xFF, 0xFF, 0xFF}, Limits{}, AbortInvalidParameterValue, ErrTooLong},
		{"P-DATA length 0xFFFFFFFF", []byte{0x04, 0, 0xFF, 0xFF, 0xFF, 0xFF}, Limits{}, AbortInvalidParameterValue, ErrTooLong},
		{"RJ length 0xFFFFFFFF", []byte{0x03, 0, 0xFF, 0xFF, 0xFF, 0xFF}, Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"abort length 0xFFFFFFFF", []byte{0x07, 0, 0xFF, 0xFF, 0xFF, 0xFF}, Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"RJ length 5", rawPDU(0x03, []byte{0, 1, 1, 7, 0}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"release length 0", rawPDU(0x05), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"trailing bytes after PDU", append(rawPDU(0x05, []byte{0, 0, 0, 0}), 0), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"RQ fixed part short", rawPDU(0x01, make([]byte, 10)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"RQ over 64 KiB", assoc(0x01, appCtx, make([]byte, 64<<10)), Limits{}, AbortInvalidParameterValue, ErrTooLong},
		{"RQ over custom limit", assoc(0x01, appCtx, pcRQ(1, as, ts)), Limits{MaxAssociateLength: 80}, AbortInvalidParameterValue, ErrTooLong},
		{"item length past PDU end", assoc(0x01, appCtx, []byte{0x20, 0, 0x10, 0x00, 1, 0, 0, 0}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"truncated item header", assoc(0x01, appCtx, []byte{0x50, 0}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"sub-item past context item", assoc(0x01, appCtx, item(0x20, []byte{1, 0, 0, 0}, as, []byte{0x40, 0, 0, 99})), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"even context ID", assoc(0x01, appCtx, pcRQ(2, as, ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"context ID 0", assoc(0x01, appCtx, pcRQ(0, as, ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"even context ID in AC", assoc(0x02, appCtx, pcAC(4, 0, ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"repeated context ID", assoc(0x01, appCtx, pcRQ(1, as, ts), pcRQ(1, as, ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"context item of 3 bytes", assoc(0x01, appCtx, item(0x20, []byte{1, 0, 0})), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"context without abstract syntax", assoc(0x01, appCtx, pcRQ(1, ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"context without transfer syntax", assoc(0x01, appCtx, pcRQ(1, as)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"two abstract syntaxes", assoc(0x01, appCtx, pcRQ(1, as, as, ts)), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"too many transfer syntaxes", assoc(0x01, appCtx, pcRQ(1, as, ts, ts, ts)), Limits{MaxTransferSyntaxesPerContext: 2}, AbortInvalidParameterValue, ErrTooLong},
		{"too many contexts", assoc(0x01, appCtx, pcRQ(1, as, ts), pcRQ(3, as, ts)), Limits{MaxContexts: 1}, AbortInvalidParameterValue, ErrTooLong},
		{"AC context item in RQ", assoc(0x01, appCtx, pcAC(1, 0, ts)), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"RQ context item in AC", assoc(0x02, appCtx, pcRQ(1, as, ts)), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"no application context", assoc(0x01, pcRQ(1, as, ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"two application contexts", assoc(0x01, appCtx, appCtx), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"two user information items", assoc(0x01, appCtx, userInfo(), userInfo()), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"application context UID of 65", assoc(0x01, item(0x10, []byte(long))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"abstract syntax UID of 65", assoc(0x01, appCtx, pcRQ(1, item(0x30, []byte(long)), ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"transfer syntax UID of 65", assoc(0x01, appCtx, pcRQ(1, as, item(0x40, []byte(long)))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"AC accepted without transfer syntax", assoc(0x02, appCtx, pcAC(1, 0)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"AC result 5", assoc(0x02, appCtx, pcAC(1, 5, ts)), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"AC two transfer syntaxes", assoc(0x02, appCtx, pcAC(1, 0, ts, ts)), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"max length sub-item of 3 bytes", assoc(0x01, appCtx, userInfo(item(0x51, []byte{0, 0, 1}))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"max length twice", assoc(0x01, appCtx, userInfo(item(0x51, u32(1)), item(0x51, u32(2)))), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"implementation class UID of 65", assoc(0x01, appCtx, userInfo(item(0x52, []byte(long)))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"async window of 2 bytes", assoc(0x01, appCtx, userInfo(item(0x53, []byte{0, 1}))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"role selection UID length past end", assoc(0x01, appCtx, userInfo(item(0x54, u16(40), []byte("1.2"), []byte{1, 0}))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"role selection without roles", assoc(0x01, appCtx, userInfo(item(0x54, u16(3), []byte("1.2")))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"role selection extra byte", assoc(0x01, appCtx, userInfo(item(0x54, u16(3), []byte("1.2"), []byte{1, 0, 0}))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"ext neg UID length past end", assoc(0x01, appCtx, userInfo(item(0x56, u16(9), []byte("1.2")))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"common ext neg truncated", assoc(0x01, appCtx, userInfo(item(0x57, u16(3), []byte("1.2"), u16(1)))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"common ext neg related UID past end", assoc(0x01, appCtx, userInfo(item(0x57, u16(3), []byte("1.2"), u16(0), u16(4), u16(9), []byte("12")))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"user identity secondary past end", assoc(0x01, appCtx, userInfo(item(0x58, []byte{1, 0}, u16(1), []byte("a"), u16(5)))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"user identity without secondary length", assoc(0x01, appCtx, userInfo(item(0x58, []byte{1, 0}, u16(1), []byte("a")))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"user identity trailing bytes", assoc(0x01, appCtx, userInfo(item(0x58, []byte{1, 0}, u16(1), []byte("a"), u16(0), []byte{7}))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"user identity of 1 byte", assoc(0x01, appCtx, userInfo(item(0x58, []byte{1}))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"user identity AC trailing bytes", assoc(0x02, appCtx, userInfo(item(0x59, u16(1), []byte("ab")))), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"user identity twice", assoc(0x01, appCtx, userInfo(item(0x58, []byte{1, 0}, u16(0), u16(0)), item(0x58, []byte{1, 0}, u16(0), u16(0)))), Limits{}, AbortUnexpectedParameter, ErrUnexpectedItem},
		{"sub-item past user information", assoc(0x01, appCtx, userInfo([]byte{0x51, 0, 0, 8, 0, 0})), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"P-DATA without PDV", rawPDU(0x04), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"P-DATA PDV length 0", rawPDU(0x04, u32(0), []byte{1, 3}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"P-DATA PDV length 1", rawPDU(0x04, u32(1), []byte{1, 3}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"P-DATA PDV length past end", rawPDU(0x04, u32(9), []byte{1, 3, 0, 0}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"P-DATA PDV length 0xFFFFFFFF", rawPDU(0x04, u32(0xFFFFFFFF), []byte{1, 3, 0, 0}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"P-DATA trailing partial PDV header", rawPDU(0x04, u32(2), []byte{1, 3}, []byte{0, 0}), Limits{}, AbortInvalidParameterValue, ErrMalformed},
		{"P-DATA over advertised maximum", rawPDU(0x04, u32(16384+2-6), []byte{1, 3}, make([]byte, 16384-6)), Limits{MaxPDataLength: 16383}, AbortInvalidParameterValue, ErrTooLong},
		{"P-DATA too many PDVs", rawPDU(0x04, bytes.Repeat([]byte{0, 0, 0, 2, 1, 0}, 5)), Limits{MaxPDVsPerPDU: 4}, AbortInvalidParameterValue, ErrTooLong},
		{"P-DATA 2000 PDVs over default", rawPDU(0x04, bytes.Repeat([]byte{0, 0, 0, 2, 1, 0}, 2000)), Limits{}, AbortInvalidParameterValue, ErrTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.in, tc.lim)
			if err == nil {
				t.Fatalf("Decode succeeded: %#v", p)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			if de.Reason != tc.reason {
				t.Errorf("reason %v, want %v (%v)", de.Reason, tc.reason, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap %v", err, tc.err)
			}
			if !strings.HasPrefix(err.Error(), "pdu: ") {
				t.Errorf("message %q lacks the package prefix", err)
			}
			if a := de.Abort(); a.Source != AbortServiceProvider || a.Reason != tc.reason {
				t.Errorf("Abort() = %+v", a)
			}
		})
	}
}

// TestDecodeLenient checks what PS3.8 says must be accepted: reserved
// fields not tested, unrecognized items skipped, padding tolerated.
func TestDecodeLenient(t *testing.T) {
	wantRQ := &AssociateRQ{
		ProtocolVersion: 1, CalledAETitle: "CALLED", CallingAETitle: "CALLING",
		ApplicationContext: DICOMApplicationContext,
		PresentationContexts: []PresentationContextRQ{{ID: 1, AbstractSyntax: "1.2.840.10008.1.1",
			TransferSyntaxes: []string{"1.2.840.10008.1.2"}}},
	}
	tests := []struct {
		name string
		in   []byte
		want PDU
	}{
		{"unknown top-level item skipped", assoc(0x01, item(0x99, []byte{1, 2, 3}), appCtx, pcRQ(1, as, ts), item(0x60)), wantRQ},
		{"unknown context sub-item skipped", assoc(0x01, appCtx, pcRQ(1, item(0x31, []byte{7}), as, ts)), wantRQ},
		{"unknown user sub-item skipped", assoc(0x01, appCtx, pcRQ(1, as, ts), userInfo(item(0x70, []byte("x")))), wantRQ},
		{"AC user identity in RQ skipped", assoc(0x01, appCtx, pcRQ(1, as, ts), userInfo(item(0x59, u16(0)), item(0x59, u16(0)))), wantRQ},
		{"items out of order", assoc(0x01, userInfo(), pcRQ(1, as, ts), appCtx), wantRQ},
		{"UIDs with NUL padding", assoc(0x01, item(0x10, []byte(DICOMApplicationContext+"\x00")), pcRQ(1,
			item(0x30, []byte("1.2.840.10008.1.1\x00")), item(0x40, []byte("1.2.840.10008.1.2\x00")))), wantRQ},
		{"reserved bytes set", func() []byte {
			b := assoc(0x01, appCtx, item(0x20, []byte{1, 0xFF, 0xFF, 0xFF}, as, ts))
			b[1] = 0xFF
			b[8], b[9] = 0xAA, 0xBB // reserved after protocol version
			b[6+36+5] = 0xCC        // inside the 32 reserved bytes
			return b
		}(), wantRQ},
		{"AE titles with leading spaces", func() []byte {
			b := assoc(0x01, appCtx, pcRQ(1, as, ts))
			copy(b[10:26], "  CALLED        ")
			return b
		}(), wantRQ},
		{"AC rejected without transfer syntax", assoc(0x02, appCtx, pcAC(3, 4)), &AssociateAC{
			ProtocolVersion: 1, CalledAETitle: "CALLED", CallingAETitle: "CALLING",
			ApplicationContext:   DICOMApplicationContext,
			PresentationContexts: []PresentationContextAC{{ID: 3, Result: ContextTransferSyntaxesNotSupported}}}},
		{"protocol version 2 kept for the state machine to reject", func() []byte {
			b := assoc(0x01, appCtx, pcRQ(1, as, ts))
			b[7] = 2
			return b
		}(), func() PDU { r := *wantRQ; r.ProtocolVersion = 2; return &r }()},
		{"role bytes other than 1 read as true", assoc(0x01, appCtx, userInfo(item(0x54, u16(3), []byte("1.2"), []byte{2, 0xFF}))),
			&AssociateRQ{ProtocolVersion: 1, CalledAETitle: "CALLED", CallingAETitle: "CALLING", ApplicationContext: DICOMApplicationContext,
				UserInfo: UserInfo{RoleSelections: []RoleSelection{{SOPClassUID: "1.2", SCU: true, SCP: true}}}}},
		{"reserved control bits ignored", rawPDU(0x04, u32(3), []byte{7, 0xFC, 0x55}),
			&PDataTF{Items: []PDV{{ContextID: 7, Data: []byte{0x55}}}}},
		{"RJ and abort reserved bytes", []byte{0x03, 0xEE, 0, 0, 0, 4, 0xEE, 2, 3, 1}, &AssociateRJ{Result: 2, Source: 3, Reason: 1}},
		{"abort reserved bytes", []byte{0x07, 0xEE, 0, 0, 0, 4, 0xEE, 0xEE, 0, 0}, &Abort{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.in, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !equalPDU(got, tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}
