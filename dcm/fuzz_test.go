package dcm

import (
	"bytes"
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
