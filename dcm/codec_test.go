package dcm

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
)

func TestValidUID(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"1.2.840.10008.1.2", true}, {"0", true}, {"1.0.2", true}, {strings.Repeat("1", 64), true},
		{"", false}, {strings.Repeat("1", 65), false}, {"../../etc/x", false}, {`..\..\x`, false},
		{"1.2;rm -rf", false}, {"01.2", false}, {"1.02", false}, {"1..2", false}, {".1", false}, {"1.", false},
		{"1.2.abc", false}, {"1.2\x00", false}, {"1.2 ", false},
	}
	for _, tc := range tests {
		if got := ValidUID(tc.s); got != tc.want {
			t.Errorf("ValidUID(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestTag(t *testing.T) {
	if s := TagPatientName.String(); s != "(0010,0010)" {
		t.Errorf("String %q", s)
	}
	if TagSeriesDescription.String() != "(0008,103E)" || TagPixelData.Group() != 0x7FE0 || TagPixelData.Element() != 0x0010 {
		t.Error("Group/Element/String")
	}
	if k := TagPatientName.Keyword(); k != "PatientName" {
		t.Errorf("Keyword %q", k)
	}
	for tg, vr := range map[Tag]string{TagPatientName: "PN", TagRows: "US", 0x00280000: "UL", 0x00291010: "UN", 0x00081140: "SQ", TagItem: "", 0x0FFF0010: "UN"} {
		if got := DictionaryVR(tg); got != vr {
			t.Errorf("DictionaryVR(%s) = %q, want %q", tg, got, vr)
		}
	}
	for i := 1; i < len(IndexTags); i++ {
		if IndexTags[i-1] >= IndexTags[i] {
			t.Fatalf("IndexTags not sorted at %d", i)
		}
	}
}

var testMeta = &FileMeta{
	MediaStorageSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", MediaStorageSOPInstanceUID: "1.2.3.4.5.6",
	TransferSyntaxUID: uid.ExplicitVRLittleEndian, ImplementationClassUID: "1.2.3.4",
	ImplementationVersionName: "SHARDPACS_1", SourceApplicationEntityTitle: "STORESCU",
}

func TestPart10RoundTrip(t *testing.T) {
	var buf bytes.Buffer
	n, err := WritePart10Header(&buf, testMeta)
	if err != nil || n != int64(buf.Len()) {
		t.Fatal(n, err)
	}
	if !bytes.Equal(buf.Bytes(), AppendPart10Header(nil, testMeta)) {
		t.Error("Write and Append differ")
	}
	if buf.Len()%2 != 0 || string(buf.Bytes()[128:132]) != "DICM" {
		t.Error("bad layout")
	}
	data := append(buf.Bytes(), el(TagPatientID, "LO", []byte("AB"))...)
	for name, r := range map[string]io.Reader{
		"plain": io.MultiReader(bytes.NewReader(data)), "seeker": bytes.NewReader(data), "bufio": bufio.NewReader(bytes.NewReader(data)),
	} {
		m, off, err := ReadPart10Header(r, 0)
		if err != nil || off != n || !reflect.DeepEqual(m, testMeta) {
			t.Errorf("%s: %+v %d %v", name, m, off, err)
		}
	}
	// Every strict prefix of the header fails (ErrNoPart10Header before "DICM").
	for k := 0; k < int(n); k++ {
		_, _, err := ReadPart10Header(bytes.NewReader(buf.Bytes()[:k]), 0)
		if err == nil {
			t.Fatalf("prefix %d: no error", k)
		}
	}
	if _, err := WritePart10Header(io.Discard, &FileMeta{MediaStorageSOPClassUID: "../x"}); !errors.Is(err, ErrFormat) {
		t.Errorf("invalid UID: %v", err)
	}
}

func TestPart10NoGroupLengthAndNoPreamble(t *testing.T) {
	full := AppendPart10Header(nil, testMeta)
	noGL := append(append([]byte{}, full[:132]...), full[132+12:]...)
	ds := el(TagPatientID, "LO", []byte("AB"))
	m, off, err := ReadPart10Header(bufio.NewReader(bytes.NewReader(append(noGL, ds...))), 0)
	if err != nil || off != int64(len(noGL)) || m.TransferSyntaxUID != testMeta.TransferSyntaxUID {
		t.Errorf("no group length: %+v %d %v", m, off, err)
	}
	noPre := full[132:]
	m, off, err = ReadPart10Header(bytes.NewReader(append(noPre, ds...)), 0)
	if err != nil || off != int64(len(noPre)) || m.MediaStorageSOPInstanceUID != testMeta.MediaStorageSOPInstanceUID {
		t.Errorf("no preamble: %+v %d %v", m, off, err)
	}
	r := bytes.NewReader(ds)
	if _, _, err := ReadPart10Header(r, 0); !errors.Is(err, ErrNoPart10Header) || r.Len() != len(ds) {
		t.Errorf("raw data set: %v, %d bytes left", err, r.Len())
	}
	if ts, ok := SniffTransferSyntax(ds); !ok || ts != uid.ExplicitVRLittleEndian {
		t.Errorf("sniff %q %v", ts, ok)
	}
	if _, _, err := ReadPart10Header(bytes.NewReader(full), 40); !errors.Is(err, ErrLimit) {
		t.Errorf("maxMetaLen: %v", err)
	}
}

func identifierFixture() []Element {
	return []Element{
		{Tag: TagQueryRetrieveLevel, VR: "CS", Value: "STUDY"},
		{Tag: TagPatientName, VR: "PN", Value: "Buc^Jérôme=山田^太郎"},
		{Tag: TagPatientID, VR: "LO", Value: ""},
		{Tag: TagStudyInstanceUID, VR: "UI", Value: "1.2.3"},
		{Tag: TagRows, VR: "US", Value: "512"},
		{Tag: TagNumberOfStudyRelatedInstances, VR: "IS", Value: "3"},
		{Tag: 0x00081140, VR: "SQ", Items: [][]Element{{{Tag: 0x00081150, VR: "UI", Value: "1.2.840.10008.5.1.4.1.1.2"}}, {}}},
		{Tag: 0x00091010, VR: "OB", Bytes: []byte{1, 2, 3, 4}},
		{Tag: 0x00181310, VR: "US", Value: `1\2\3`},
	}
}

func TestIdentifierRoundTrip(t *testing.T) {
	for _, ts := range []string{uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian} {
		in := identifierFixture()
		b, err := EncodeIdentifier(in, ts)
		if err != nil {
			t.Fatalf("%s: %v", ts, err)
		}
		out, err := DecodeIdentifier(b, ts, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", ts, err)
		}
		want := append([]Element{{Tag: TagSpecificCharacterSet, VR: "CS", Value: "ISO_IR 192"}}, in...)
		sort.Slice(want, func(i, j int) bool { return want[i].Tag < want[j].Tag })
		for i := range want {
			if want[i].Tag == 0x00091010 && ts == uid.ImplicitVRLittleEndian {
				want[i].VR = "UN" // private tag: no VR in Implicit VR
			}
			if want[i].VR == "SQ" {
				want[i].Items[1] = []Element{}
			}
		}
		if !reflect.DeepEqual(out, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", ts, out, want)
		}
		// Every strict prefix fails to decode.
		for k := 1; k < len(b); k++ {
			if _, err := DecodeIdentifier(b[:k], ts, Limits{}); err == nil {
				// A prefix ending between top-level elements is a valid identifier.
				if _, err2 := EncodeIdentifier(nil, ts); err2 != nil {
					t.Fatal(err2)
				}
				if !prefixIsElementBoundary(b, k, ts) {
					t.Fatalf("%s: prefix %d/%d decoded", ts, k, len(b))
				}
			}
		}
	}
}

// prefixIsElementBoundary reports whether b[:k] ends on a top-level element.
func prefixIsElementBoundary(b []byte, k int, ts string) bool {
	elems, err := DecodeIdentifier(b, ts, Limits{})
	if err != nil {
		return false
	}
	for i := range elems {
		enc, _ := EncodeIdentifier(elems[:i+1], ts)
		if len(enc) == k {
			return true
		}
	}
	return false
}

func TestDecodeIdentifierCharset(t *testing.T) {
	b := cat(el(TagSpecificCharacterSet, "CS", []byte("ISO_IR 144")), el(TagPatientName, "PN", []byte("\xbb\xee")))
	out, err := DecodeIdentifier(b, uid.ExplicitVRLittleEndian, Limits{})
	if err != nil || len(out) != 2 || out[1].Value != "Лю" {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := DecodeIdentifier(nestedSQ(100, func(t Tag, l uint32) []byte { return longHdr(t, "SQ", l) }), uid.ExplicitVRLittleEndian, Limits{}); !errors.Is(err, ErrLimit) {
		t.Errorf("depth: %v", err)
	}
}
