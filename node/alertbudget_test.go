package node

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dimse"
)

// spanLog records the summaries of an alertBudget.
type spanLog struct {
	mu    sync.Mutex
	spans []alertSpan
	got   chan struct{}
}

func newSpanLog() *spanLog { return &spanLog{got: make(chan struct{}, 100)} }

func (l *spanLog) add(s *alertSpan) {
	l.mu.Lock()
	l.spans = append(l.spans, *s)
	l.mu.Unlock()
	l.got <- struct{}{}
}

func (l *spanLog) take() []alertSpan {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.spans
	l.spans = nil
	return s
}

// The budget lets the first burst alerts of a window through per store
// and problem, counts the others, and summarises them once: when the next
// alert comes after the window, or at close; after close all pass.
func TestAlertBudget(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	log := newSpanLog()
	b := &alertBudget{burst: 3, window: time.Hour, now: func() time.Time { return now }, summary: log.add}
	a := alertKey{store: 0, problem: archive.ProblemMissing}
	steps := []struct {
		after time.Duration // clock advance before the alert
		key   alertKey
		want  bool
		spans int // summaries written by this alert
	}{
		{0, a, true, 0}, {0, a, true, 0}, {0, a, true, 0},
		{0, a, false, 0}, {0, a, false, 0},
		{0, alertKey{store: 1, problem: archive.ProblemMissing}, true, 0}, // another store
		{0, alertKey{store: 0, problem: archive.ProblemHash}, true, 0},    // another problem
		{30 * time.Minute, a, false, 0},
		{31 * time.Minute, a, true, 1}, // the window ended: its summary, then a new one
		{0, a, true, 0}, {0, a, true, 0}, {0, a, false, 0},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		if got := b.allow(s.key); got != s.want {
			t.Fatalf("step %d: allow %v, want %v", i, got, s.want)
		}
		if got := log.take(); len(got) != s.spans {
			t.Fatalf("step %d: %d summaries, want %d", i, len(got), s.spans)
		} else if len(got) == 1 && (got[0].key != a || got[0].held != 3 || got[0].sent != 3 || !got[0].end.Equal(now)) {
			t.Fatalf("step %d: summary %+v, want store 0 missing, 3 sent, 3 held, ended now", i, got[0])
		}
	}
	b.close()
	if got := log.take(); len(got) != 1 || got[0].held != 1 {
		t.Fatalf("close: summaries %+v, want one holding 1", got)
	}
	for range 10 {
		if !b.allow(a) {
			t.Fatal("an alert held back after close")
		}
	}
	b.close()
	if got := log.take(); len(got) != 0 {
		t.Fatalf("second close: summaries %+v", got)
	}
}

// Without further alerts, the window's timer writes the summary, once.
func TestAlertBudgetTimer(t *testing.T) {
	log := newSpanLog()
	b := &alertBudget{burst: 1, window: 50 * time.Millisecond, summary: log.add}
	k := alertKey{store: 2, problem: archive.ProblemAuth}
	for i, want := range []bool{true, false, false} {
		if got := b.allow(k); got != want {
			t.Fatalf("alert %d: allow %v, want %v", i, got, want)
		}
	}
	select {
	case <-log.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no summary after the window")
	}
	time.Sleep(100 * time.Millisecond)
	b.close()
	if got := log.take(); len(got) != 1 || got[0].held != 2 || got[0].key != k {
		t.Fatalf("summaries %+v, want one of store 2 holding 2", got)
	}
}

// Under concurrent alerts, window ends and a close, every alert is either
// let through or counted in exactly one summary.
func TestAlertBudgetAccounts(t *testing.T) {
	log := newSpanLog()
	log.got = make(chan struct{}, 1<<16)
	b := &alertBudget{burst: 5, window: 2 * time.Millisecond, summary: log.add}
	var mu sync.Mutex
	passed := 0
	var wg sync.WaitGroup
	const workers, each = 8, 2000
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := alertKey{store: w % 4, problem: archive.ProblemMissing}
			n := 0
			for range each {
				if b.allow(k) {
					n++
				}
			}
			mu.Lock()
			passed += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.close()
	// A timer that took its window before close may still be writing
	// its summary: wait for the count to be reached, then for a moment
	// more, to see it is not exceeded.
	held := 0
	for deadline := time.Now().Add(10 * time.Second); passed+held < workers*each && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		for _, s := range log.take() {
			held += s.held
		}
	}
	time.Sleep(20 * time.Millisecond)
	for _, s := range log.take() {
		held += s.held
	}
	if passed+held != workers*each {
		t.Fatalf("%d let through + %d summarised = %d, want %d", passed, held, passed+held, workers*each)
	}
}

// Adversarial row 35 through the node: with one store's folder gone,
// every read finds its share missing. The audit trail gets the first
// alerts of the window one by one and the rest as one summary at
// Shutdown; every read is still served.
func TestIntegrityAlertBudget(t *testing.T) {
	an := startAdvNode(t, func(c *config.Config) { c.ReadHedge = time.Hour })
	an.n.alerts.burst = 3
	ctx := context.Background()
	study := advUID("35", "7")
	cc := an.dial(t, "MOD", advSCProps()...)
	var sops []string
	var sets [][]byte
	for i := range 8 {
		sop := advUID("35", "7", "1", string(rune('1'+i)))
		ds := advInstance(t, sop, study, study+".1", advPixels(4096, byte(i)))
		if st, c := advStoreSt(t, cc, sop, ds); st != dimse.StatusSuccess {
			t.Fatalf("store: %v %q", st, c)
		}
		sops, sets = append(sops, sop), append(sets, ds)
	}
	cc.Release(ctx)
	if err := os.RemoveAll(an.cfg.StorePaths()[0]); err != nil {
		t.Fatal(err)
	}
	for i, sop := range sops {
		if got, st := advGet(t, an, study, sop); st != dimse.StatusSuccess || !bytes.Equal(got, sets[i]) {
			t.Fatalf("C-GET %d with store 0 gone: %v (byte-exact %v)", i, st, bytes.Equal(got, sets[i]))
		}
	}
	if evs := an.advAlertsNow(t, audit.TypeIntegrityFailure, "store 0"); len(evs) != 3 {
		t.Fatalf("%d integrity alerts before Shutdown, want the 3 of the budget", len(evs))
	}
	an.stop()
	if evs := an.advAlertsNow(t, audit.TypeIntegrityFailure, "store 0: 5 more alerts of this kind (share missing or unreadable, missing)"); len(evs) != 1 {
		t.Fatalf("%d summaries after Shutdown, want 1 counting 5: %+v", len(evs), an.advAlertsNow(t, audit.TypeIntegrityFailure))
	}
	if evs := an.advAlertsNow(t, audit.TypeIntegrityFailure); len(evs) != 4 {
		t.Fatalf("%d integrity alerts in all, want 3 + 1 summary", len(evs))
	}
}
