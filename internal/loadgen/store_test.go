package loadgen

import (
	"context"
	"maps"
	"testing"
	"time"
)

// TestStoreAndVerify stores for a moment into an in-process node, reads
// everything back, then checks that Verify notices an instance that was
// never stored and one whose content differs.
func TestStoreAndVerify(t *testing.T) {
	addr := startNode(t, nil)
	root, err := NewRoot(nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &StoreLoad{Addr: addr, CalledAE: "SHARDPACS", CallingAEs: []string{"MOD1", "MOD2"}, Associations: 4,
		Synth: Synth{Root: root, Rows: 16, Columns: 16}, SeriesSize: 5}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := l.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-run.Established()
	deadline := time.Now().Add(20 * time.Second)
	for run.Acked() < 24 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	rep := run.Stop()
	t.Logf("%s", rep)
	if rep.Established != 4 || len(rep.Acked) < 24 || len(rep.Failed) > 0 || rep.Lost > 0 || rep.DialFailures > 0 {
		t.Fatalf("store load: %s", rep)
	}
	if len(rep.Series) < 4 || rep.Rate() <= 0 {
		t.Errorf("%d series, rate %v", len(rep.Series), rep.Rate())
	}

	v := &Verify{Addr: addr, CalledAE: "SHARDPACS", CallingAE: "CHECK", Parallel: 2}
	vr, err := v.Run(ctx, rep.Acked, rep.Series)
	if err != nil {
		t.Fatal(err)
	}
	if !vr.OK() || vr.Found != len(rep.Acked) || vr.Identical != len(rep.Acked) || vr.SeriesRetrieved != len(rep.Series) {
		t.Fatalf("verify of an intact archive: %s", vr)
	}

	// A forged acknowledgement and a changed digest must both show.
	bad := maps.Clone(rep.Acked)
	var some Acked
	var someUID string
	for sop, a := range bad {
		someUID, some = sop, a
		break
	}
	bad[some.Series+".9999"] = Acked{Study: some.Study, Series: some.Series}
	some.SHA256[0] ^= 1
	bad[someUID] = some
	vr, err = v.Run(ctx, bad, rep.Series)
	if err != nil {
		t.Fatal(err)
	}
	if vr.OK() || vr.Missing != 1 || vr.Mismatched != 1 || vr.NotRetrieved != 1 || vr.Identical != len(rep.Acked)-1 {
		t.Errorf("verify with a forged and a changed instance: %s", vr)
	}

	// GetEvery 2 retrieves every other series only.
	v.GetEvery = 2
	if vr, err = v.Run(ctx, rep.Acked, rep.Series); err != nil || vr.SeriesRetrieved != (len(rep.Series)+1)/2 || !vr.OK() {
		t.Errorf("GetEvery 2: %v %s", err, vr)
	}
}

func TestStoreLoadNeedsSettings(t *testing.T) {
	if _, err := (&StoreLoad{}).Start(context.Background()); err == nil {
		t.Error("zero StoreLoad started")
	}
}
