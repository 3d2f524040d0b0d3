package dcm

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	kflate "github.com/klauspost/compress/flate"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// el encodes one Explicit VR Little Endian element.
func el(tag Tag, vr string, v []byte) []byte { return appendExplicitLE(nil, tag, vr, v) }

// hdr encodes an item or delimiter header (LE) or an explicit long-VR
// header with the given length.
func itemHdr(tag Tag, length uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag.Group())
	b = binary.LittleEndian.AppendUint16(b, tag.Element())
	return binary.LittleEndian.AppendUint32(b, length)
}

func longHdr(tag Tag, vr string, length uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag.Group())
	b = binary.LittleEndian.AppendUint16(b, tag.Element())
	b = append(b, vr[0], vr[1], 0, 0)
	return binary.LittleEndian.AppendUint32(b, length)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// smallDataSet is a valid Explicit VR LE data set with a nested sequence.
func smallDataSet() []byte {
	return cat(
		el(TagSpecificCharacterSet, "CS", []byte("ISO_IR 100")),
		el(TagSOPClassUID, "UI", padValue([]byte("1.2.840.10008.5.1.4.1.1.7"), "UI")),
		el(TagSOPInstanceUID, "UI", padValue([]byte("1.2.3.4.5"), "UI")),
		longHdr(0x00081140, "SQ", undefinedLength),
		itemHdr(TagItem, undefinedLength),
		el(0x00081150, "UI", padValue([]byte("1.2.3"), "UI")),
		itemHdr(TagItemDelimitationItem, 0),
		itemHdr(TagSequenceDelimitationItem, 0),
		el(TagPatientName, "PN", padValue([]byte("Buc^J\xe9r\xf4me"), "PN")),
		el(TagPatientID, "LO", []byte(" ID42 ")),
		el(TagRows, "US", []byte{0x00, 0x02}),
		el(TagStudyInstanceUID, "UI", padValue([]byte("1.2.3.4"), "UI")),
		longHdr(TagPixelData, "OB", undefinedLength),
		itemHdr(TagItem, 0),
		itemHdr(TagItem, 4), []byte{1, 2, 3, 4},
		itemHdr(TagSequenceDelimitationItem, 0),
	)
}

func TestScanSmall(t *testing.T) {
	ds := smallDataSet()
	for _, size := range []int64{int64(len(ds)), -1} {
		for _, r := range []io.Reader{bytes.NewReader(ds), io.MultiReader(bytes.NewReader(ds))} {
			s, err := Scan(r, size, uid.ExplicitVRLittleEndian, Limits{})
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			want := map[Tag]string{
				TagSpecificCharacterSet: "ISO_IR 100", TagSOPClassUID: "1.2.840.10008.5.1.4.1.1.7",
				TagSOPInstanceUID: "1.2.3.4.5", TagPatientName: "Buc^Jérôme", TagPatientID: "ID42",
				TagRows: "512", TagStudyInstanceUID: "1.2.3.4",
			}
			if len(s.Attrs) != len(want) {
				t.Errorf("Attrs = %q, want %q", s.Attrs, want)
			}
			for k, v := range want {
				if s.Attrs[k] != v {
					t.Errorf("%s = %q, want %q", k, s.Attrs[k], v)
				}
			}
			if s.SOPInstanceUID != "1.2.3.4.5" || s.PatientID != "ID42" || s.StudyInstanceUID != "1.2.3.4" {
				t.Errorf("summary fields %+v", s)
			}
		}
	}
}

// Every strict prefix of a valid data set must fail with a FormatError,
// from a reader of known size and from a plain stream.
func TestScanTruncatedEveryOffset(t *testing.T) {
	ds := smallDataSet()
	for n := 0; n < len(ds); n++ {
		prefix := ds[:n]
		_, err1 := Scan(bytes.NewReader(prefix), int64(n), uid.ExplicitVRLittleEndian, Limits{})
		_, err2 := Scan(io.MultiReader(bytes.NewReader(prefix)), -1, uid.ExplicitVRLittleEndian, Limits{})
		for _, err := range []error{err1, err2} {
			if n == 0 {
				if err != nil {
					t.Fatalf("empty data set: %v", err)
				}
				continue
			}
			// Prefixes ending on a top-level element boundary are valid
			// data sets themselves.
			if err == nil && !topLevelBoundary(ds, n) {
				t.Fatalf("prefix %d/%d: no error", n, len(ds))
			}
			if err != nil && !errors.Is(err, ErrFormat) {
				t.Fatalf("prefix %d: %v, want FormatError", n, err)
			}
		}
	}
}

// topLevelBoundary reports whether n is the end of a top-level element of
// smallDataSet.
func topLevelBoundary(ds []byte, n int) bool {
	ends := map[int]bool{}
	off := 0
	for _, part := range [][]byte{
		el(TagSpecificCharacterSet, "CS", []byte("ISO_IR 100")),
		el(TagSOPClassUID, "UI", padValue([]byte("1.2.840.10008.5.1.4.1.1.7"), "UI")),
		el(TagSOPInstanceUID, "UI", padValue([]byte("1.2.3.4.5"), "UI")),
	} {
		off += len(part)
		ends[off] = true
	}
	// After the sequence: find each following top-level element end by scanning prefixes.
	seqEnd := off + 12 + 8 + len(el(0x00081150, "UI", padValue([]byte("1.2.3"), "UI"))) + 8 + 8
	ends[seqEnd] = true
	off = seqEnd
	for _, part := range [][]byte{
		el(TagPatientName, "PN", padValue([]byte("Buc^J\xe9r\xf4me"), "PN")),
		el(TagPatientID, "LO", []byte(" ID42 ")),
		el(TagRows, "US", []byte{0x00, 0x02}),
		el(TagStudyInstanceUID, "UI", padValue([]byte("1.2.3.4"), "UI")),
	} {
		off += len(part)
		ends[off] = true
	}
	return ends[n]
}

func TestScanMalformed(t *testing.T) {
	tests := []struct {
		name string
		ds   []byte
		ts   string
		want error
	}{
		{"huge declared length", cat(longHdr(0x00091010, "OB", 0xFFFFFFF0), []byte{1, 2, 3, 4}), uid.ExplicitVRLittleEndian, ErrFormat},
		{"item outside sequence", cat(itemHdr(TagItem, 0)), uid.ExplicitVRLittleEndian, ErrFormat},
		{"sequence delimiter at top level", itemHdr(TagSequenceDelimitationItem, 0), uid.ExplicitVRLittleEndian, ErrFormat},
		{"item delimiter at top level", itemHdr(TagItemDelimitationItem, 0), uid.ExplicitVRLittleEndian, ErrFormat},
		{"undefined length on LO", cat(el(TagPatientID, "LO", nil)[:6], []byte{0xFF, 0xFF}), uid.ExplicitVRLittleEndian, nil},
		{"undefined length on OB (not pixel data)", longHdr(0x00091010, "OB", undefinedLength), uid.ExplicitVRLittleEndian, ErrFormat},
		{"undefined length on implicit LO", itemHdr(TagPatientID, undefinedLength), uid.ImplicitVRLittleEndian, ErrFormat},
		{"item delimiter closes a sequence", cat(longHdr(0x00081140, "SQ", undefinedLength), itemHdr(TagItemDelimitationItem, 0)), uid.ExplicitVRLittleEndian, ErrFormat},
		{"sequence delimiter closes an item", cat(longHdr(0x00081140, "SQ", undefinedLength), itemHdr(TagItem, undefinedLength), itemHdr(TagSequenceDelimitationItem, 0)), uid.ExplicitVRLittleEndian, ErrFormat},
		{"element in sequence outside item", cat(longHdr(0x00081140, "SQ", undefinedLength), el(TagPatientID, "LO", []byte("AB"))), uid.ExplicitVRLittleEndian, ErrFormat},
		{"item longer than its sequence", cat(longHdr(0x00081140, "SQ", 8), itemHdr(TagItem, 10), make([]byte, 10)), uid.ExplicitVRLittleEndian, ErrFormat},
		{"unterminated sequence", cat(longHdr(0x00081140, "SQ", undefinedLength), itemHdr(TagItem, 0)), uid.ExplicitVRLittleEndian, ErrFormat},
		{"fragment with undefined length", cat(longHdr(TagPixelData, "OB", undefinedLength), itemHdr(TagItem, undefinedLength)), uid.ExplicitVRLittleEndian, ErrFormat},
		{"invalid VR", []byte{0x10, 0, 0x10, 0, 'z', 'z', 0, 0}, uid.ExplicitVRLittleEndian, ErrFormat},
		{"index value over 64 KiB", cat(longHdr(TagPatientName, "UN", 70000), make([]byte, 70000)), uid.ExplicitVRLittleEndian, ErrLimit},
		{"bad transfer syntax", nil, "1.2.x", ErrTransferSyntax},
		{"deflate garbage", []byte{0xFF, 0xFF, 0xFF, 0xFF}, uid.DeflatedExplicitVRLittleEndian, ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil { // LO has a 16-bit length: 0xFFFF is just a long value, truncated here
				tc.want = ErrFormat
			}
			_, err := Scan(bytes.NewReader(tc.ds), int64(len(tc.ds)), tc.ts, Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			_, err = Scan(io.MultiReader(bytes.NewReader(tc.ds)), -1, tc.ts, Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("stream: got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestScanLimits(t *testing.T) {
	big := cat(longHdr(0x00091010, "OB", 1000), make([]byte, 1000))
	if _, err := Scan(bytes.NewReader(big), int64(len(big)), uid.ExplicitVRLittleEndian, Limits{MaxElementLength: 999}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxElementLength: %v", err)
	}
	if _, err := Scan(bytes.NewReader(big), int64(len(big)), uid.ExplicitVRLittleEndian, Limits{MaxDataSetSize: 100}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxDataSetSize: %v", err)
	}
	if _, err := Scan(io.MultiReader(bytes.NewReader(big)), -1, uid.ExplicitVRLittleEndian, Limits{MaxDataSetSize: 100}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxDataSetSize on a stream: %v", err)
	}
}

// nestedSQ builds depth nested sequences of undefined length.
func nestedSQ(depth int, enc func(Tag, uint32) []byte) []byte {
	var b []byte
	for i := 0; i < depth; i++ {
		b = append(b, enc(0x00081140, undefinedLength)...)
		b = append(b, itemHdr(TagItem, undefinedLength)...)
	}
	for i := 0; i < depth; i++ {
		b = append(b, itemHdr(TagItemDelimitationItem, 0)...)
		b = append(b, itemHdr(TagSequenceDelimitationItem, 0)...)
	}
	return b
}

func TestScanDepth(t *testing.T) {
	sq := func(t Tag, l uint32) []byte { return longHdr(t, "SQ", l) }
	ok := nestedSQ(32, sq)
	if _, err := Scan(bytes.NewReader(ok), int64(len(ok)), uid.ExplicitVRLittleEndian, Limits{}); err != nil {
		t.Fatalf("depth 32: %v", err)
	}
	start := time.Now()
	deep := nestedSQ(10000, sq)
	_, err := Scan(bytes.NewReader(deep), int64(len(deep)), uid.ExplicitVRLittleEndian, Limits{})
	var le *LimitError
	if !errors.As(err, &le) || le.What != "sequence depth > 32" {
		t.Fatalf("depth 10000: %v", err)
	}
	implicit := nestedSQ(10000, itemHdr)
	if _, err := Scan(bytes.NewReader(implicit), int64(len(implicit)), uid.ImplicitVRLittleEndian, Limits{}); !errors.Is(err, ErrLimit) {
		t.Fatalf("implicit depth 10000: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("depth checks took %v", d)
	}
}

// A 1 MiB deflate stream inflating to more than 1 GiB must hit the default
// inflate cap with flat memory.
func TestScanDeflateBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates 1 GiB")
	}
	var comp bytes.Buffer
	// klauspost's fastest level makes the bomb in well under a second.
	fw, _ := kflate.NewWriter(&comp, kflate.BestSpeed)
	fw.Write(longHdr(0x00091010, "OB", 0xFFFFFFF0))
	zeros := make([]byte, 1<<20)
	for i := 0; i < 1040; i++ { // 1040 MiB of zeros
		fw.Write(zeros)
	}
	fw.Close()
	if comp.Len() > 2<<20 {
		t.Fatalf("bomb is %d bytes", comp.Len())
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Scan(bytes.NewReader(comp.Bytes()), int64(comp.Len()), uid.DeflatedExplicitVRLittleEndian, Limits{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("got %v, want LimitError", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("Scan allocated %d bytes", grew)
	}
	// A small cap stops it early.
	if _, err := Scan(bytes.NewReader(comp.Bytes()), int64(comp.Len()), uid.DeflatedExplicitVRLittleEndian, Limits{MaxInflatedSize: 1 << 20}); !errors.Is(err, ErrLimit) {
		t.Fatalf("small cap: %v", err)
	}
}

func TestScanDeflated(t *testing.T) {
	ds := smallDataSet()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.DefaultCompression)
	fw.Write(ds)
	fw.Close()
	s, err := Scan(bytes.NewReader(comp.Bytes()), int64(comp.Len()), uid.DeflatedExplicitVRLittleEndian, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Attrs[TagPatientName] != "Buc^Jérôme" {
		t.Errorf("PatientName %q", s.Attrs[TagPatientName])
	}
}

// Scan of a big data set from a non-seekable stream keeps memory flat.
func TestScanLargeStreamFlatMemory(t *testing.T) {
	const size = 256 << 20
	head := cat(el(TagSOPInstanceUID, "UI", padValue([]byte("1.2.3"), "UI")), longHdr(TagPixelData, "OW", size))
	r := io.MultiReader(bytes.NewReader(head), io.LimitReader(zeroReader{}, size))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := Scan(r, -1, uid.ExplicitVRLittleEndian, Limits{})
	runtime.ReadMemStats(&after)
	if err != nil || s.SOPInstanceUID != "1.2.3" {
		t.Fatalf("%v %+v", err, s)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes", grew)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func BenchmarkScan(b *testing.B) {
	path := testutil.CorpusDir(b) + "/grailbio-examples/CT-MONO2-16-ort.dcm"
	data, err := os.ReadFile(path)
	if err != nil {
		testutil.SkipOrFail(b, "corpus file: %v", err)
	}
	meta, off, err := ReadPart10Header(bytes.NewReader(data), 0)
	if err != nil {
		b.Fatal(err)
	}
	ds := data[off:]
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Scan(bytes.NewReader(ds), int64(len(ds)), meta.TransferSyntaxUID, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
