package pdu

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range samplePDUs() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.pdu)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if Type(b[0]) != tc.pdu.PDUType() {
				t.Fatalf("type byte %#x, want %v", b[0], tc.pdu.PDUType())
			}
			got, err := Decode(b, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.pdu) {
				t.Fatalf("round trip mismatch:\n got %#v\nwant %#v", got, tc.pdu)
			}
			got2, err := ReadPDU(bytes.NewReader(b), Limits{})
			if err != nil {
				t.Fatalf("ReadPDU: %v", err)
			}
			if !reflect.DeepEqual(got2, tc.pdu) {
				t.Fatalf("ReadPDU mismatch:\n got %#v\nwant %#v", got2, tc.pdu)
			}
			// AppendEncode appends after existing bytes.
			prefix := []byte{0xde, 0xad}
			out, err := AppendEncode(prefix, tc.pdu)
			if err != nil || !bytes.Equal(out[:2], prefix) || !bytes.Equal(out[2:], b) {
				t.Fatalf("AppendEncode = %x, %v; want dead%x", out, err, b)
			}
		})
	}
}

// TestStrictPrefixes checks that no strict prefix of a valid encoding
// decodes, through Decode and through ReadPDU.
func TestStrictPrefixes(t *testing.T) {
	for _, tc := range samplePDUs() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.pdu)
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < len(b); n++ {
				if p, err := Decode(b[:n], Limits{}); err == nil {
					t.Fatalf("Decode of %d-byte prefix of %d succeeded: %#v", n, len(b), p)
				} else if de := (*DecodeError)(nil); !errors.As(err, &de) {
					t.Fatalf("Decode of prefix %d: error %T %v is not a *DecodeError", n, err, err)
				}
				_, err := ReadPDU(bytes.NewReader(b[:n]), Limits{})
				want := io.ErrUnexpectedEOF
				if n == 0 {
					want = io.EOF
				}
				if !errors.Is(err, want) {
					t.Fatalf("ReadPDU of %d-byte prefix: %v, want %v", n, err, want)
				}
			}
		})
	}
}

// TestReadPDUSequence reads several PDUs from one stream, as a connection
// delivers them, then a clean EOF.
func TestReadPDUSequence(t *testing.T) {
	var stream bytes.Buffer
	pdus := samplePDUs()
	for _, tc := range pdus {
		if err := WritePDU(&stream, tc.pdu); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range pdus {
		got, err := ReadPDU(&stream, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.pdu) {
			t.Fatalf("%s: got %#v", tc.name, got)
		}
	}
	if _, err := ReadPDU(&stream, Limits{}); err != io.EOF {
		t.Fatalf("after the last PDU: %v, want io.EOF", err)
	}
}
