package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dimse"
)

// TestIntegrityAlertDegradedRead (adversarial row 34, through the node):
// one byte flipped in the share file of store 0 (a data share, read first
// with k = 2) → C-GET still returns the data set byte for byte, served
// from the other shares, and the audit trail holds a Stored Data
// Integrity Failure alert naming store 0, that share object and the SOP
// Instance UID, never the patient's name or ID; no other store is
// accused. Verify(repair) then adds an alert saying the share was
// repaired.
func TestIntegrityAlertDegradedRead(t *testing.T) {
	// Reads use the data shares 0 and 1 first (read_hedge), so the
	// damaged share 0 is read and found.
	an := startAdvNode(t, func(c *config.Config) { c.ReadHedge = time.Hour })
	ctx := context.Background()
	study := advUID("34", "9")
	sop := advUID("34", "9", "1")
	ds := advInstance(t, sop, study, study+".1", advPixels(8192, 0x5A))
	cc := an.dial(t, "MOD", advSCProps()...)
	if st, c := advStoreSt(t, cc, sop, ds); st != dimse.StatusSuccess {
		t.Fatalf("store: %v %q", st, c)
	}
	cc.Release(ctx)
	if evs := an.advAlertsNow(t, audit.TypeIntegrityFailure); len(evs) != 0 {
		t.Fatalf("integrity alerts before any damage: %+v", evs)
	}

	rec, err := an.arch.Lookup(ctx, sop)
	if err != nil {
		t.Fatal(err)
	}
	var share string
	for _, s := range rec.Shares {
		if s.Index == 0 {
			share = s.Name
		}
	}
	if share == "" {
		t.Fatal("share 0 not indexed")
	}
	path := filepath.Join(an.cfg.StorePaths()[0], share[:2], share)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x04
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	if got, st := advGet(t, an, study, sop); st != dimse.StatusSuccess || !bytes.Equal(got, ds) {
		t.Fatalf("C-GET with a flipped byte in store 0: %v, %d bytes (byte-exact %v)", st, len(got), bytes.Equal(got, ds))
	}
	evs := an.advAlerts(t, audit.TypeIntegrityFailure, "store 0", sop, "found by read")
	if len(evs) != 1 {
		t.Fatalf("integrity alerts for the degraded read: %d, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.EventOutcomeIndicator != audit.OutcomeSeriousFailure {
		t.Errorf("outcome %v, want serious failure (detected, served from the others)", ev.EventOutcomeIndicator)
	}
	if len(ev.ParticipantObjectIdentification) != 1 || ev.ParticipantObjectIdentification[0].ParticipantObjectID != "shardpacs:store/0/"+share {
		t.Errorf("participant objects %+v, want shardpacs:store/0/%s", ev.ParticipantObjectIdentification, share)
	}
	for _, other := range []string{"store 1", "store 2", "store 3"} {
		if n := len(an.advAlertsNow(t, audit.TypeIntegrityFailure, other)); n != 0 {
			t.Errorf("%d alerts accuse %s", n, other)
		}
	}

	rep, err := an.arch.Verify(ctx, true, nil)
	if err != nil || rep.Stores[0].Repaired != 1 {
		t.Fatalf("Verify(repair): %v, %v", rep, err)
	}
	if evs := an.advAlerts(t, audit.TypeIntegrityFailure, "store 0", sop, "found by verify", "repaired from the other shares"); len(evs) != 1 {
		t.Errorf("alerts for the repair: %+v", evs)
	}
	if got, st := advGet(t, an, study, sop); st != dimse.StatusSuccess || !bytes.Equal(got, ds) {
		t.Fatalf("C-GET after repair: %v", st)
	}
	if n := len(an.advAlertsNow(t, audit.TypeIntegrityFailure)); n != 2 {
		t.Errorf("%d integrity alerts in all, want 2 (the read's, the repair's)", n)
	}
	raw, err := os.ReadFile(an.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Contains(line, "INTEGRITY") && (strings.Contains(line, "Adversarial^Test") || strings.Contains(line, "ADV-1")) {
			t.Errorf("an integrity alert carries patient data: %s", line)
		}
	}
}
