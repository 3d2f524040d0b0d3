package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
)

// elem encodes one Explicit VR Little Endian element (PS3.5 §7.1.2).
func elem(tag uint32, vr string, val []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(tag>>16))
	b = binary.LittleEndian.AppendUint16(b, uint16(tag))
	b = append(b, vr...)
	if longLengthVR(vr) {
		b = append(b, 0, 0)
		return append(binary.LittleEndian.AppendUint32(b, uint32(len(val))), val...)
	}
	return append(binary.LittleEndian.AppendUint16(b, uint16(len(val))), val...)
}

// tagLen encodes an item/delimiter header or an undefined-length header.
func tagLen(tag uint32, vr string, length uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(tag>>16))
	b = binary.LittleEndian.AppendUint16(b, uint16(tag))
	if vr != "" {
		b = append(b, vr...)
		b = append(b, 0, 0)
	}
	return binary.LittleEndian.AppendUint32(b, length)
}

// testFile builds a small Explicit VR Little Endian Part-10 file with a
// group length, a nested undefined-length sequence and encapsulated pixel
// data: everything the walker must step over.
func testFile(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	meta := &dcm.FileMeta{MediaStorageSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", MediaStorageSOPInstanceUID: "1.2.3",
		TransferSyntaxUID: "1.2.840.10008.1.2.4.50", ImplementationClassUID: "1.2.3.4"}
	if _, err := dcm.WritePart10Header(&b, meta); err != nil {
		t.Fatal(err)
	}
	b.Write(elem(0x00080000, "UL", []byte{0, 0, 0, 0}))
	b.Write(elem(0x00080016, "UI", []byte("1.2.840.10008.5.1.4.1.1.2\x00")))
	b.Write(elem(tagSOPInstanceUID, "UI", []byte("1.2.3\x00")))
	// (0008,1140) SQ, undefined length: one undefined-length item holding an
	// undefined-length SQ with an empty defined-length item.
	b.Write(tagLen(0x00081140, "SQ", undefinedLength))
	b.Write(tagLen(tagItem, "", undefinedLength))
	b.Write(elem(0x00081150, "UI", []byte("1.2\x00")))
	b.Write(tagLen(0x00089215, "SQ", undefinedLength))
	b.Write(tagLen(tagItem, "", 0))
	b.Write(tagLen(tagSequenceDelim, "", 0))
	b.Write(tagLen(tagItemDelim, "", 0))
	b.Write(tagLen(tagSequenceDelim, "", 0))
	b.Write(elem(tagPatientName, "PN", []byte("OLD^NAME")))
	b.Write(elem(tagStudyInstanceUID, "UI", []byte("1.2.4\x00")))
	b.Write(elem(tagNumberOfFrames, "IS", []byte("12")))
	b.Write(tagLen(tagPixelData, "OB", undefinedLength))
	b.Write(tagLen(tagItem, "", 0))
	b.Write(tagLen(tagItem, "", 4))
	b.Write([]byte{0xFF, 0xD8, 0xFF, 0xD9})
	b.Write(tagLen(tagSequenceDelim, "", 0))
	return b.Bytes()
}

func TestRewriteRoundTrip(t *testing.T) {
	p, err := parsePart10(testFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.elems) != 8 || p.frames() != 12 {
		t.Fatalf("%d elements, %d frames", len(p.elems), p.frames())
	}
	out, err := p.encode(map[uint32]newValue{
		tagSOPInstanceUID: str("UI", "2.25.7"),
		tagPatientName:    str("PN", "BENCH^X"),  // odd length: padded
		tagPatientID:      str("LO", "Q0000001"), // absent: inserted in order
		tagInstanceNumber: str("IS", "3"),        // absent: inserted after the study UID
	})
	if err != nil {
		t.Fatal(err)
	}
	q, err := parsePart10(out)
	if err != nil {
		t.Fatal(err)
	}
	if q.meta.MediaStorageSOPInstanceUID != "2.25.7" {
		t.Errorf("meta SOP Instance UID %q", q.meta.MediaStorageSOPInstanceUID)
	}
	var tags []uint32
	for _, e := range q.elems {
		tags = append(tags, e.tag)
	}
	want := []uint32{0x00080016, tagSOPInstanceUID, 0x00081140, tagPatientName, tagPatientID, tagStudyInstanceUID, tagInstanceNumber, tagNumberOfFrames, tagPixelData}
	if len(tags) != len(want) {
		t.Fatalf("tags %08X, want %08X (group length dropped)", tags, want)
	}
	for i := range want {
		if tags[i] != want[i] {
			t.Fatalf("tags %08X, want %08X", tags, want)
		}
	}
	for tag, v := range map[uint32]string{tagSOPInstanceUID: "2.25.7", tagPatientName: "BENCH^X ", tagPatientID: "Q0000001", tagInstanceNumber: "3 "} {
		if got, _ := q.value(tag); string(got) != v {
			t.Errorf("(%08X) = %q, want %q", tag, got, v)
		}
	}
	// Nested sequence and fragments are copied byte for byte.
	if !bytes.Equal(p.elems[3].raw, q.elems[2].raw) || !bytes.Equal(p.elems[7].raw, q.elems[8].raw) {
		t.Error("sequence or pixel data changed")
	}
	// The project's validating scanner agrees.
	meta, off, err := dcm.ReadPart10Header(bytes.NewReader(out), 0)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := dcm.Scan(bytes.NewReader(out[off:]), int64(len(out))-off, meta.TransferSyntaxUID, dcm.Limits{})
	if err != nil {
		t.Fatalf("dcm.Scan: %v", err)
	}
	if sum.SOPInstanceUID != "2.25.7" || sum.PatientID != "Q0000001" {
		t.Errorf("scan: %+v", sum)
	}
}

// Cutting the file inside an element, or giving a length that overruns it,
// is an error wrapping errRewrite, never a panic.
func TestParseTruncatedAndHostile(t *testing.T) {
	b := testFile(t)
	meta, off, _ := dcm.ReadPart10Header(bytes.NewReader(b), 0)
	_ = meta
	// Element boundaries of the data set: cutting there is a valid shorter file.
	p, _ := parsePart10(b)
	bounds := map[int]bool{int(off): true}
	pos := int(off)
	for _, e := range p.elems {
		pos += len(e.raw)
		bounds[pos] = true
	}
	for n := int(off); n < len(b); n++ {
		_, err := parsePart10(b[:n])
		if bounds[n] {
			if err != nil {
				t.Errorf("prefix %d (element boundary): %v", n, err)
			}
			continue
		}
		if !errors.Is(err, errRewrite) {
			t.Errorf("prefix %d of %d: err %v, want errRewrite", n, len(b), err)
		}
	}
	hostile := map[string][]byte{
		"length past end": elem(tagPatientName, "OB", nil)[:8],
		"bad VR":          []byte{0x10, 0x00, 0x10, 0x00, 'p', 'n', 0, 0},
		"item at top":     tagLen(tagItem, "", 0),
		"non-item in sequence": append(tagLen(0x00081140, "SQ", undefinedLength),
			elem(tagPatientName, "PN", []byte("AB"))...),
	}
	hostile["length past end"] = append(hostile["length past end"], 0xFF, 0xFF, 0xFF, 0x7F)
	deep := []byte{}
	for range maxNesting + 2 {
		deep = append(deep, tagLen(0x00081140, "SQ", undefinedLength)...)
		deep = append(deep, tagLen(tagItem, "", undefinedLength)...)
	}
	hostile["too deep"] = deep
	head := b[:off]
	for name, ds := range hostile {
		if _, err := parsePart10(append(append([]byte(nil), head...), ds...)); !errors.Is(err, errRewrite) {
			t.Errorf("%s: err %v, want errRewrite", name, err)
		}
	}
}

func TestParseRefusesBigEndian(t *testing.T) {
	var b bytes.Buffer
	meta := &dcm.FileMeta{MediaStorageSOPClassUID: "1.2.3", MediaStorageSOPInstanceUID: "1.2.3",
		TransferSyntaxUID: tsExplicitBE, ImplementationClassUID: "1.2.3"}
	if _, err := dcm.WritePart10Header(&b, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := parsePart10(b.Bytes()); !errors.Is(err, errRewrite) {
		t.Errorf("big endian: %v", err)
	}
}

func FuzzParsePart10(f *testing.F) {
	f.Add(testFile(f))
	f.Add(testFile(f)[:200])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePart10(b)
		if err != nil {
			return
		}
		out, err := p.encode(map[uint32]newValue{tagSOPInstanceUID: str("UI", "2.25.1")})
		if err != nil {
			return
		}
		if _, err := parsePart10(out); err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
	})
}
