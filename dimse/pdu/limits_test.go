package pdu

import (
	"errors"
	"testing"
	"time"
)

func TestMaxPDVData(t *testing.T) {
	tests := []struct {
		max  uint32
		want int
	}{
		{0, 1<<20 - 6},
		{16384, 16378},
		{16385, 16378}, // rounded down to even
		{1 << 20, 1<<20 - 6},
		{8, 2},
		{7, 0},
		{6, 0},
		{1, 0},
		{0xFFFFFFFF, 0xFFFFFFFF - 7},
	}
	for _, tc := range tests {
		if got := MaxPDVData(tc.max); got != tc.want {
			t.Errorf("MaxPDVData(%d) = %d, want %d", tc.max, got, tc.want)
		}
		// A PDV of that size fits a P-DATA-TF the peer accepts.
		if n := MaxPDVData(tc.max); n > 0 {
			lim := tc.max
			if lim == 0 {
				lim = DefaultMaxPDataLength
			}
			if uint64(n+PDVHeaderLen) > uint64(lim) {
				t.Errorf("MaxPDVData(%d) = %d overflows the maximum length", tc.max, n)
			}
		}
	}
}

// TestLimitsDefaults: the zero Limits accept exactly up to the documented
// defaults.
func TestLimitsDefaults(t *testing.T) {
	var l Limits
	if l.maxPDataLength() != 1<<20 || l.maxAssociateLength() != 64<<10 || l.maxContexts() != 128 ||
		l.maxTransferSyntaxes() != 64 || l.maxPDVs() != 1024 {
		t.Fatalf("defaults: %d %d %d %d %d", l.maxPDataLength(), l.maxAssociateLength(), l.maxContexts(),
			l.maxTransferSyntaxes(), l.maxPDVs())
	}
	neg := Limits{MaxContexts: -1, MaxTransferSyntaxesPerContext: -5, MaxPDVsPerPDU: -9}
	if neg.maxContexts() != 128 || neg.maxTransferSyntaxes() != 64 || neg.maxPDVs() != 1024 {
		t.Fatal("negative limits must mean the defaults")
	}
	// 128 contexts with 64 transfer syntaxes each would exceed 64 KiB, so
	// check the counts with a large length limit.
	rq := &AssociateRQ{ProtocolVersion: 1, ApplicationContext: DICOMApplicationContext}
	for i := range 128 {
		pc := PresentationContextRQ{ID: uint8(2*i + 1), AbstractSyntax: "1.2.3"}
		for range 64 {
			pc.TransferSyntaxes = append(pc.TransferSyntaxes, "1.2.840.10008.1.2")
		}
		rq.PresentationContexts = append(rq.PresentationContexts, pc)
	}
	b, err := Encode(rq)
	if err != nil {
		t.Fatal(err)
	}
	big := Limits{MaxAssociateLength: 1 << 24}
	if _, err := Decode(b, big); err != nil {
		t.Fatalf("128 contexts x 64 transfer syntaxes: %v", err)
	}
	if _, err := Decode(b, Limits{}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("%d-byte RQ under the 64 KiB default: %v", len(b), err)
	}
	rq.PresentationContexts[5].TransferSyntaxes = append(rq.PresentationContexts[5].TransferSyntaxes, "1.2")
	b, _ = Encode(rq)
	if _, err := Decode(b, big); !errors.Is(err, ErrTooLong) {
		t.Fatalf("65 transfer syntaxes: %v", err)
	}
}

// TestContextFlood is adversarial test 12: 200 presentation contexts of
// 1000 transfer syntaxes each is refused quickly whichever limit trips.
func TestContextFlood(t *testing.T) {
	var items [][]byte
	items = append(items, appCtx)
	for i := range 200 {
		sub := [][]byte{as}
		for range 1000 {
			sub = append(sub, ts)
		}
		items = append(items, pcRQ(byte(2*i+1), sub...))
	}
	b := assoc(0x01, items...)
	start := time.Now()
	for _, lim := range []Limits{
		{},                            // the PDU length trips (about 4.6 MB)
		{MaxAssociateLength: 1 << 30}, // 1000 > 64 transfer syntaxes
		{MaxAssociateLength: 1 << 30, MaxTransferSyntaxesPerContext: 1000}, // 200 > 128 contexts
	} {
		_, err := Decode(b, lim)
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason != AbortInvalidParameterValue || !errors.Is(err, ErrTooLong) {
			t.Fatalf("limits %+v: %v", lim, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}
