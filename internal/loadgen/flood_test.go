package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
)

// TestFloodOutcomes floods a small in-process node below its connection
// cap, so that every attempt meets the protocol answer: each malformed
// case its A-ABORT, idle sockets the ARTIM close, the over-limit AE
// A-ASSOCIATE-RJ (2,3,2) and, once admitted, the idle-timeout abort.
func TestFloodOutcomes(t *testing.T) {
	const artim, idle = 300 * time.Millisecond, 600 * time.Millisecond
	addr := startNode(t, func(c *config.Config) {
		c.Limits.MaxAssociations = 16 // also the per-host cap on pending connections, when there is one
		c.Limits.MaxAssociationsPerAE = 2
		c.Limits.ARTIMTimeout = artim
		c.Limits.IdleTimeout = idle
	})
	f := &Flood{Addr: addr, CalledAE: "SHARDPACS", Silent: 2, Trickle: 1, TrickleEvery: 50 * time.Millisecond,
		Malformed: len(MalformedCases), OverLimit: 3, Probe: 1, Pause: 20 * time.Millisecond, AnswerWait: 5 * time.Second,
		LocalIPs: []string{"127.0.0.1", "127.0.0.2"}}
	run, err := f.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	rep := run.Stop()
	t.Logf("\n%s", rep)

	for _, mc := range MalformedCases {
		k := rep.Kind(mc.Name)
		if k.Outcomes[mc.Want] == 0 {
			t.Errorf("%s: never %s: %v", mc.Name, mc.Want, k.Outcomes)
		}
		for o, n := range k.Outcomes {
			if o != mc.Want && o != "before AC: A-ASSOCIATE-RJ(2,3,2)" {
				t.Errorf("%s: %d × %q", mc.Name, n, o)
			}
		}
	}
	for _, kind := range []string{KindSilent, KindTrickle} {
		k := rep.Kind(kind)
		if k.Attempts == 0 || k.Outcomes[OutcomeClosed]+k.Outcomes[OutcomeReset] != k.Attempts {
			t.Errorf("%s: %v, want every attempt closed without a PDU", kind, k.Outcomes)
		}
		if k.MaxHold < artim*8/10 || k.MaxHold > artim+time.Second || k.Quick == k.Attempts {
			t.Errorf("%s: held up to %v (%d of %d under %v), want about ARTIM %v", kind, k.MaxHold, k.Quick, k.Attempts, QuickClose, artim)
		}
	}
	over := rep.Kind(KindOverLimit)
	if over.Outcomes["A-ASSOCIATE-RJ(2,3,2)"] == 0 || over.Outcomes["AC, then A-ABORT(2,0)"] == 0 {
		t.Errorf("over-limit: %v, want RJ(2,3,2) and idle aborts", over.Outcomes)
	}
	if over.MaxHold < idle*8/10 || over.MaxHold > idle+time.Second {
		t.Errorf("over-limit: admitted associations held up to %v, want about the idle timeout %v", over.MaxHold, idle)
	}
	if probe := rep.Kind(KindProbe); probe.Outcomes[OutcomeEchoOK] == 0 || probe.Outcomes[OutcomeEchoOK] != probe.Attempts {
		t.Errorf("probe: %v, want every C-ECHO to succeed", probe.Outcomes)
	}
	if s := rep.String(); !strings.Contains(s, KindSilent) || !strings.Contains(s, "attempts") {
		t.Errorf("report text %q", s)
	}
}

// TestFloodStopUncounted: attempts cut by Stop are not counted, and Stop
// returns promptly even while sockets are held.
func TestFloodStopUncounted(t *testing.T) {
	addr := startNode(t, func(c *config.Config) { c.Limits.ARTIMTimeout = time.Minute })
	run, err := (&Flood{Addr: addr, Silent: 3}).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	rep := run.Stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if n := rep.Attempts(); n != 0 {
		t.Errorf("%d attempts counted, want 0 (all cut by Stop): %s", n, rep)
	}
}
