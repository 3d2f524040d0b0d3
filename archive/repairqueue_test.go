package archive

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// logLines are the lines of logs holding substr.
func logLines(logs *testutil.SyncBuffer, substr string) []string {
	var out []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// A full repair queue (a store down: every read queues its instance) is
// warned about once per repairWarnEvery, each warning counting the
// instances not queued since the previous one; not once per read.
func TestRepairQueueFullWarning(t *testing.T) {
	var logs testutil.SyncBuffer
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	e := newEnv(t, func(o *Options) {
		o.Logger = zerolog.New(&logs)
		o.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	})
	s := newSynth("", "", 2000)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	// The repairer takes s and hangs on its stalled shares (until Close),
	// so that nothing drains the queue.
	for i := range 4 {
		e.faulty[i].StallOpen(-1)
	}
	e.a.queueRepair(s.SOP)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.a.repairs) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for range cap(e.a.repairs) {
		e.a.queueRepair(s.SOP)
	}
	const full = "repair queue full"
	if got := logLines(&logs, full); len(got) != 0 {
		t.Fatalf("warned before the queue was full: %q", got)
	}
	for range 5 {
		e.a.queueRepair(s.SOP)
	}
	if got := logLines(&logs, full); len(got) != 1 || !strings.Contains(got[0], `"not_queued":1`) {
		t.Fatalf("after 5 drops: %q, want one warning counting 1", got)
	}
	clock.Lock()
	now = now.Add(repairWarnEvery)
	clock.Unlock()
	e.a.queueRepair(s.SOP)
	if got := logLines(&logs, full); len(got) != 2 || !strings.Contains(got[1], `"not_queued":5`) {
		t.Fatalf("after the interval: %q, want a second warning counting 4 + 1", got)
	}
}
