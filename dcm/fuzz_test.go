package dcm

import (
	"bytes"
	"io"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
)

func FuzzScan(f *testing.F) {
	f.Add(smallDataSet(), uint8(1))
	f.Add(nestedSQ(3, itemHdr), uint8(0))
	f.Add(cat(longHdr(TagPixelData, "OB", undefinedLength), itemHdr(TagItem, 2), []byte{1, 2}, itemHdr(TagSequenceDelimitationItem, 0)), uint8(1))
	f.Add(el(TagPatientName, "PN", []byte("\x1b$B;3ED\x1b(B")), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, tsSel uint8) {
		ts := []string{uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian, uid.DeflatedExplicitVRLittleEndian}[tsSel%4]
		lim := Limits{MaxInflatedSize: 1 << 20}
		s1, err1 := Scan(bytes.NewReader(b), int64(len(b)), ts, lim)
		_, err2 := Scan(struct{ *bytes.Reader }{bytes.NewReader(b)}, -1, ts, lim)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("seekable %v, stream %v", err1, err2)
		}
		if err1 == nil && s1.Attrs == nil {
			t.Fatal("nil Attrs")
		}
	})
}

func FuzzDecodeIdentifier(f *testing.F) {
	for _, ts := range []string{uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian} {
		b, err := EncodeIdentifier(identifierFixture(), ts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(len(ts)))
	}
	f.Fuzz(func(t *testing.T, b []byte, tsSel uint8) {
		ts := []string{uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian}[tsSel%3]
		elems, err := DecodeIdentifier(b, ts, Limits{})
		if err != nil {
			return
		}
		// What decodes re-encodes (unless values do not fit their VR).
		if enc, err := EncodeIdentifier(elems, ts); err == nil {
			if _, err := DecodeIdentifier(enc, ts, Limits{}); err != nil {
				t.Fatalf("re-encoded identifier does not decode: %v", err)
			}
		}
	})
}

// FuzzTranscode: Transcode never panics; what it converts re-scans in the
// target syntax, TranscodedSize agrees with it, and a conversion from
// Implicit VR Little Endian converts back byte for byte.
func FuzzTranscode(f *testing.F) {
	for i, enc := range []dsEncoding{encImplicit, encExplLE, encExplBE} {
		fx := encodeTree(withGroupLength(transcodeFixture(), enc), enc)
		f.Add(fx, uint8(i), uint8(i+1))
		f.Add(fx, uint8(i), uint8(i+2))
	}
	f.Add(nestedSQ(3, itemHdr), uint8(0), uint8(1))
	f.Add(smallDataSet(), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, fromSel, toSel uint8) {
		from, to := nativeTS[fromSel%3], nativeTS[toSel%3]
		var out bytes.Buffer
		n, err := Transcode(&out, bytes.NewReader(b), int64(len(b)), from, to, Limits{})
		size, serr := TranscodedSize(bytes.NewReader(b), int64(len(b)), from, to, Limits{})
		if (err == nil) != (serr == nil) || (err == nil && size != n) {
			t.Fatalf("Transcode %d, %v; TranscodedSize %d, %v", n, err, size, serr)
		}
		_, err2 := Transcode(io.Discard, io.MultiReader(bytes.NewReader(b)), -1, from, to, Limits{})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("random access %v, stream %v", err, err2)
		}
		if err != nil {
			return
		}
		if _, err := Scan(bytes.NewReader(out.Bytes()), int64(out.Len()), to, Limits{}); err != nil {
			t.Fatalf("converted data set does not scan: %v", err)
		}
		if from == uid.ImplicitVRLittleEndian {
			var back bytes.Buffer
			if _, err := Transcode(&back, bytes.NewReader(out.Bytes()), int64(out.Len()), to, from, Limits{}); err != nil {
				t.Fatalf("converting back: %v", err)
			}
			if !bytes.Equal(back.Bytes(), b) {
				t.Fatalf("round trip differs at %d", firstDiff(back.Bytes(), b))
			}
		}
	})
}
