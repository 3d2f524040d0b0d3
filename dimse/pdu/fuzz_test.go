package pdu

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// addSeeds adds one encoding of every PDU type, every fixture and a few
// hostile inputs. The files in testdata/fuzz/FuzzDecode are added by the
// fuzzing engine itself.
func addSeeds(f *testing.F) {
	for _, tc := range samplePDUs() {
		b, err := Encode(tc.pdu)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		f.Add(loadHex(f, filepath.Base(name)))
	}
	f.Add([]byte{0x01, 0, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
	f.Add(assoc(0x01, appCtx, pcRQ(2, as, ts)))
	f.Add(assoc(0x02, appCtx, pcAC(1, 3), userInfo(item(0x59, u16(2), []byte("ok")))))
	f.Add(rawPDU(0x04, u32(2), []byte{1, 3}))
}

// FuzzDecode: Decode never panics; what it accepts re-encodes to bytes
// that decode to an equal value; ReadPDU agrees with Decode.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	// Small limits make the count checks reachable by small inputs.
	lim := Limits{MaxContexts: 8, MaxTransferSyntaxesPerContext: 4, MaxPDVsPerPDU: 8}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in, lim)
		rp, rerr := ReadPDU(bytes.NewReader(in), lim)
		pp, pbuf, _, perr := (&PooledReader{R: bytes.NewReader(in), Limits: lim}).Next()
		if (perr == nil) != (rerr == nil) || (perr == nil && !reflect.DeepEqual(pp, rp)) {
			t.Fatalf("PooledReader = %#v, %v; ReadPDU = %#v, %v", pp, perr, rp, rerr)
		}
		pbuf.Release()
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode error %T %v is not a *DecodeError", err, err)
			}
			if rerr == nil && len(in) >= PDUHeaderLen {
				// ReadPDU may succeed on input with trailing bytes only.
				if n := PDUHeaderLen + int(uint32(in[2])<<24|uint32(in[3])<<16|uint32(in[4])<<8|uint32(in[5])); n >= len(in) {
					t.Fatalf("ReadPDU accepted what Decode refused (%v)", err)
				}
			}
			return
		}
		if rerr != nil || !reflect.DeepEqual(p, rp) {
			t.Fatalf("ReadPDU = %#v, %v; Decode = %#v", rp, rerr, p)
		}
		enc, err := Encode(p)
		if err != nil {
			// Re-encoding adds the maximum length sub-item (and an empty
			// transfer syntax to rejected AC contexts) when the input
			// lacked them, which can push an item over 65535 bytes.
			if errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "exceeds 65535") {
				return
			}
			t.Fatalf("Encode(%#v): %v", p, err)
		}
		relaxed := lim
		relaxed.MaxAssociateLength, relaxed.MaxPDataLength = 1<<30, 1<<30
		p2, err := Decode(enc, relaxed)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)) = %v; bytes %x", p, err, enc)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("re-decoded value differs:\n first %#v\nsecond %#v", p, p2)
		}
	})
}

// TestFuzzSeedFiles pins what the hand-written seed files exercise, so a
// seed that silently stops reaching the code it was written for is noticed.
func TestFuzzSeedFiles(t *testing.T) {
	want := map[string]bool{ // file -> decodes
		"ac_user_identity_and_rejected_context": true,
		"rq_common_extended_related_classes":    true,
		"pdata_pdv_length_past_end":             false,
	}
	for name, ok := range want {
		raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecode", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		lit := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")")
		s, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p, err := Decode([]byte(s), Limits{})
		if (err == nil) != ok {
			t.Fatalf("%s: Decode = %#v, %v", name, p, err)
		}
		if name == "rq_common_extended_related_classes" {
			got := p.(*AssociateRQ).UserInfo.SOPClassCommonExtended
			if len(got) != 1 || !reflect.DeepEqual(got[0].RelatedGeneralSOPClasses, []string{"6.7", "8"}) {
				t.Fatalf("%s: %#v", name, got)
			}
		}
	}
}
