package dcm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
)

// tnode is one element of a test data set: a value given in little and in
// big endian (be nil: the same bytes), or a sequence of items.
type tnode struct {
	tag       Tag
	vr        string // the VR an explicit encoding carries
	le, be    []byte
	items     [][]tnode
	undefined bool // sequence and items of undefined length
}

// encodeTree encodes nodes in enc, computing defined lengths itself.
func encodeTree(nodes []tnode, enc dsEncoding) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if enc.bigEndian {
		bo = binary.BigEndian
	}
	var out []byte
	hdr := func(tag Tag) {
		out = bo.AppendUint16(out, tag.Group())
		out = bo.AppendUint16(out, tag.Element())
	}
	for _, n := range nodes {
		v := n.le
		if enc.bigEndian && n.be != nil {
			v = n.be
		}
		length := uint32(len(v))
		if n.vr == "SQ" {
			v = nil
			for _, it := range n.items {
				body := encodeTree(it, enc)
				l := uint32(len(body))
				if n.undefined {
					l = undefinedLength
				}
				v = bo.AppendUint16(v, 0xFFFE)
				v = bo.AppendUint16(v, 0xE000)
				v = bo.AppendUint32(v, l)
				v = append(v, body...)
				if n.undefined {
					v = bo.AppendUint16(v, 0xFFFE)
					v = bo.AppendUint16(v, 0xE00D)
					v = bo.AppendUint32(v, 0)
				}
			}
			length = uint32(len(v))
			if n.undefined {
				length = undefinedLength
				v = bo.AppendUint16(v, 0xFFFE)
				v = bo.AppendUint16(v, 0xE0DD)
				v = bo.AppendUint32(v, 0)
			}
		}
		hdr(n.tag)
		switch {
		case !enc.explicit:
			out = bo.AppendUint32(out, length)
		case longVR(n.vr):
			out = append(out, n.vr[0], n.vr[1], 0, 0)
			out = bo.AppendUint32(out, length)
		default:
			out = append(out, n.vr[0], n.vr[1])
			out = bo.AppendUint16(out, uint16(length))
		}
		out = append(out, v...)
	}
	return out
}

var (
	encImplicit = dsEncoding{}
	encExplLE   = dsEncoding{explicit: true}
	encExplBE   = dsEncoding{explicit: true, bigEndian: true}
)

// transcodeFixture exercises every rule of Transcode's contract; its
// group lengths are filled in by withGroupLength.
func transcodeFixture() []tnode {
	uiVal := []byte("1.2.3\x00")
	return []tnode{
		{tag: TagSOPClassUID, vr: "UI", le: uiVal},
		{tag: 0x00081140, vr: "SQ", items: [][]tnode{ // defined lengths
			{{tag: 0x00081150, vr: "UI", le: uiVal}, {tag: 0x00081155, vr: "UI", le: uiVal}},
			{{tag: 0x00081150, vr: "UI", le: uiVal}},
		}},
		{tag: 0x00089215, vr: "SQ", undefined: true, items: [][]tnode{
			{{tag: 0x00080100, vr: "SH", le: []byte("T1")}},
		}},
		{tag: 0x00090010, vr: "LO", le: []byte("ACME")},                             // private creator
		{tag: 0x00091001, vr: "UN", le: []byte{1, 2, 3, 4}},                         // private: never swapped
		{tag: 0x00186020, vr: "SL", le: []byte{1, 2, 3, 4}, be: []byte{4, 3, 2, 1}}, // 4-byte swap
		{tag: 0x00189087, vr: "FD", le: []byte{1, 2, 3, 4, 5, 6, 7, 8}, be: []byte{8, 7, 6, 5, 4, 3, 2, 1}},
		{tag: 0x00200032, vr: "DS", le: []byte("1\\2\\3 ")},                                           // text: as is
		{tag: 0x00280009, vr: "AT", le: []byte{0x18, 0, 0x63, 0x10}, be: []byte{0, 0x18, 0x10, 0x63}}, // two halves
		{tag: TagRows, vr: "US", le: []byte{0, 2}, be: []byte{2, 0}},
		{tag: tagPixelRepresentation, vr: "US", le: []byte{1, 0}, be: []byte{0, 1}},
		{tag: 0x00280106, vr: "SS", le: []byte{0xFE, 0xFF}, be: []byte{0xFF, 0xFE}}, // "US or SS", signed
		{tag: TagPixelData, vr: "OW", le: []byte{1, 2, 3, 4, 5, 6}, be: []byte{2, 1, 4, 3, 6, 5}},
	}
}

// withGroupLength prepends a (0008,0000) group length computed for enc.
func withGroupLength(nodes []tnode, enc dsEncoding) []tnode {
	var g8 []tnode
	for _, n := range nodes {
		if n.tag.Group() == 0x0008 {
			g8 = append(g8, n)
		}
	}
	l := uint32(len(encodeTree(g8, enc)))
	gl := tnode{tag: 0x00080000, vr: "UL", le: binary.LittleEndian.AppendUint32(nil, l), be: binary.BigEndian.AppendUint32(nil, l)}
	return append([]tnode{gl}, nodes...)
}

func TestTranscodeFixture(t *testing.T) {
	encs := map[string]dsEncoding{uid.ImplicitVRLittleEndian: encImplicit, uid.ExplicitVRLittleEndian: encExplLE, uid.ExplicitVRBigEndian: encExplBE}
	for _, from := range nativeTS {
		for _, to := range nativeTS {
			t.Run(tsName(from)+"→"+tsName(to), func(t *testing.T) {
				in := encodeTree(withGroupLength(transcodeFixture(), encs[from]), encs[from])
				want := encodeTree(withGroupLength(transcodeFixture(), encs[to]), encs[to])
				if got := transcodeBytes(t, in, from, to); !bytes.Equal(got, want) {
					i := firstDiff(got, want)
					t.Fatalf("differs at %d:\n got %x\nwant %x", i, got[max(0, i-8):min(len(got), i+16)], want[max(0, i-8):min(len(want), i+16)])
				}
				// Streamed, without random access: group lengths dropped
				// and defined lengths made undefined when headers resize.
				var buf bytes.Buffer
				if _, err := Transcode(&buf, io.MultiReader(bytes.NewReader(in)), -1, from, to, Limits{}); err != nil {
					t.Fatal(err)
				}
				if encs[from].explicit == encs[to].explicit {
					if !bytes.Equal(buf.Bytes(), want) {
						t.Fatalf("streamed: differs at %d", firstDiff(buf.Bytes(), want))
					}
					return
				}
				fx := transcodeFixture()
				fx[1].undefined = true
				if want := encodeTree(fx, encs[to]); !bytes.Equal(buf.Bytes(), want) {
					t.Fatalf("streamed: differs at %d", firstDiff(buf.Bytes(), want))
				}
			})
		}
	}
}

// Implicit → explicit: a value too long for a 16-bit length becomes UN
// (PS3.5 §6.2.2), or OW when it must be swapped for big endian.
func TestTranscodeOversizedValue(t *testing.T) {
	long := bytes.Repeat([]byte{1, 2}, 40000)
	swapped := bytes.Repeat([]byte{2, 1}, 40000)
	in := encodeTree([]tnode{{tag: 0x00281101, vr: "US", le: long}, {tag: 0x00100010, vr: "PN", le: long}}, encImplicit)
	for _, c := range []struct {
		to   string
		want []tnode
	}{
		{uid.ExplicitVRLittleEndian, []tnode{{tag: 0x00281101, vr: "UN", le: long}, {tag: 0x00100010, vr: "UN", le: long}}},
		{uid.ExplicitVRBigEndian, []tnode{{tag: 0x00281101, vr: "OW", le: swapped}, {tag: 0x00100010, vr: "UN", le: long}}},
	} {
		want := encodeTree(c.want, encExplLE)
		if c.to == uid.ExplicitVRBigEndian {
			want = encodeTree(c.want, encExplBE)
		}
		got := transcodeBytes(t, in, uid.ImplicitVRLittleEndian, c.to)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: differs at %d", tsName(c.to), firstDiff(got, want))
		}
		if back := transcodeBytes(t, got, c.to, uid.ImplicitVRLittleEndian); !bytes.Equal(back, in) {
			t.Errorf("%s: round trip differs at %d", tsName(c.to), firstDiff(back, in))
		}
	}
}

// A UN element of undefined length holds Implicit VR Little Endian in
// every syntax (PS3.5 §6.2.2): its content is copied as it is.
func TestTranscodeUNSequenceKeptImplicit(t *testing.T) {
	content := encodeTree([]tnode{{tag: 0x00091002, vr: "UN", le: []byte{1, 2}}}, encImplicit)
	item := cat(itemHdr(TagItem, undefinedLength), content, itemHdr(TagItemDelimitationItem, 0), itemHdr(TagSequenceDelimitationItem, 0))
	in := cat(longHdr(0x00091001, "UN", undefinedLength), item)
	got := transcodeBytes(t, in, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian)
	beHdr := []byte{0, 9, 0x10, 1, 'U', 'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}
	if want := cat(beHdr, item); !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
	if got := transcodeBytes(t, in, uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian); !bytes.Equal(got, cat(itemHdr(0x00091001, undefinedLength), item)) {
		t.Fatalf("implicit: got %x", got)
	}
}

func TestTranscodeErrors(t *testing.T) {
	deep := nestedSQ(33, func(t Tag, l uint32) []byte { return longHdr(t, "SQ", l) })
	for _, c := range []struct {
		name     string
		in       []byte
		from, to string
		want     error
	}{
		{"encapsulated pixel data", cat(longHdr(TagPixelData, "OB", undefinedLength), itemHdr(TagItem, 0), itemHdr(TagSequenceDelimitationItem, 0)),
			uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, ErrFormat},
		{"encapsulated pixel data, implicit", cat(itemHdr(TagPixelData, undefinedLength), itemHdr(TagItem, 0), itemHdr(TagSequenceDelimitationItem, 0)),
			uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, ErrFormat},
		{"deflated source", smallDataSet(), uid.DeflatedExplicitVRLittleEndian, uid.ExplicitVRLittleEndian, ErrNotNative},
		{"compressed target", smallDataSet(), uid.ExplicitVRLittleEndian, uid.JPEGBaseline8Bit, ErrNotNative},
		{"invalid UID", smallDataSet(), "1..2", uid.ExplicitVRLittleEndian, ErrTransferSyntax},
		{"depth 33", deep, uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, ErrLimit},
		{"length past the end", cat(el(TagPatientID, "LO", []byte("AB")), longHdr(0x00091010, "OB", 100)), uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian, ErrFormat},
		{"item outside a sequence", itemHdr(TagItem, 0), uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, ErrFormat},
		{"bad VR", []byte{8, 0, 0x20, 0, 'z', 'z', 0, 0}, uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, ErrFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err1 := Transcode(io.Discard, bytes.NewReader(c.in), int64(len(c.in)), c.from, c.to, Limits{})
			_, err2 := Transcode(io.Discard, io.MultiReader(bytes.NewReader(c.in)), -1, c.from, c.to, Limits{})
			_, err3 := TranscodedSize(bytes.NewReader(c.in), int64(len(c.in)), c.from, c.to, Limits{})
			for _, err := range []error{err1, err2, err3} {
				if !errors.Is(err, c.want) {
					t.Errorf("got %v, want %v", err, c.want)
				}
			}
		})
	}
	if uid.JPEGBaseline8Bit == "" {
		t.Fatal("uid constant missing")
	}
}

// Every strict prefix of a data set fails, except those ending on a
// top-level element boundary, which are data sets themselves.
func TestTranscodeTruncatedEveryOffset(t *testing.T) {
	for _, from := range nativeTS {
		enc := map[string]dsEncoding{uid.ImplicitVRLittleEndian: encImplicit, uid.ExplicitVRLittleEndian: encExplLE, uid.ExplicitVRBigEndian: encExplBE}[from]
		fx := transcodeFixture()
		ds := encodeTree(fx, enc)
		bounds := map[int]bool{0: true}
		for i := range fx {
			bounds[len(encodeTree(fx[:i+1], enc))] = true
		}
		for _, to := range nativeTS {
			for n := 0; n < len(ds); n++ {
				p := ds[:n]
				_, err1 := Transcode(io.Discard, bytes.NewReader(p), int64(n), from, to, Limits{})
				_, err2 := Transcode(io.Discard, io.MultiReader(bytes.NewReader(p)), -1, from, to, Limits{})
				for _, err := range []error{err1, err2} {
					if bounds[n] != (err == nil) {
						t.Fatalf("%s→%s prefix %d/%d: %v", tsName(from), tsName(to), n, len(ds), err)
					}
					if err != nil && !errors.Is(err, ErrFormat) {
						t.Fatalf("prefix %d: %v, want ErrFormat", n, err)
					}
				}
			}
		}
	}
}

// Converting 64 MiB of pixel data from a stream keeps memory flat, with
// and without byte swapping.
func TestTranscodeLargeStreamFlatMemory(t *testing.T) {
	const size = 64 << 20
	for _, to := range []string{uid.ImplicitVRLittleEndian, uid.ExplicitVRBigEndian} {
		head := cat(el(TagSOPInstanceUID, "UI", padValue([]byte("1.2.3"), "UI")), longHdr(TagPixelData, "OW", size))
		r := io.MultiReader(bytes.NewReader(head), io.LimitReader(zeroReader{}, size))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, err := Transcode(io.Discard, r, -1, uid.ExplicitVRLittleEndian, to, Limits{})
		runtime.ReadMemStats(&after)
		if err != nil || n < size {
			t.Fatalf("%s: %d, %v", tsName(to), n, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: allocated %d bytes", tsName(to), grew)
		}
	}
}

// A writer failing stops the conversion with its error.
func TestTranscodeWriteError(t *testing.T) {
	boom := errors.New("boom")
	ds := encodeTree(transcodeFixture(), encExplLE)
	_, err := Transcode(failWriter{boom}, bytes.NewReader(ds), int64(len(ds)), uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian, Limits{})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }
