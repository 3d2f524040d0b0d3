package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/loadgen"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// Load test settings (issue 5): 50 storing associations from 5 calling
// AEs (10 each, under the per-AE cap of 16), a flood of 300 idle sockets,
// malformed PDUs and over-limit associations, ARTIM 2 s and idle timeout
// 5 s so that the flood is shed quickly.
const (
	loadAssociations = 50
	loadCallingAEs   = 5
	loadARTIM        = 2 * time.Second
	loadIdle         = 5 * time.Second
	loadRSSBound     = 1 << 30 // a leak under this load crosses it
	loadFDSlack      = 8       // SQLite connections of the pool, opened lazily
	loadDefaultDur   = 15 * time.Second
	loadMinDur       = 10 * time.Second
)

// loadDuration is $SHARDPACS_LOAD_DURATION (a Go duration), default 15 s,
// at least loadMinDur (the idle timeout must fire within the run); the
// issue's figure is one minute.
func loadDuration(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv("SHARDPACS_LOAD_DURATION")
	if s == "" {
		return loadDefaultDur
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("SHARDPACS_LOAD_DURATION=%q: want a positive Go duration such as 60s", s)
	}
	if d < loadMinDur {
		t.Logf("SHARDPACS_LOAD_DURATION=%v raised to %v", d, loadMinDur)
		d = loadMinDur
	}
	return d
}

// writeLoadConfig writes the node's configuration into dir.
func writeLoadConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := fmt.Sprintf(`ae_title = "SHARDPACS"
listen = "127.0.0.1:0"
data_dir = %q
unknown_calling_ae = "accept"

[limits]
max_associations = 64
max_associations_per_ae = 16
artim_timeout = %q
idle_timeout = %q
shutdown_timeout = "10s"
`, filepath.Join(dir, "data"), loadARTIM.String(), loadIdle.String())
	path := filepath.Join(dir, "load.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadServe is issue 5's load test against the real binary: 50
// concurrent associations store synthetic CT instances for
// $SHARDPACS_LOAD_DURATION while other peers flood the node with idle and
// trickling sockets, malformed PDUs and associations past the limits.
// Afterwards every acknowledged instance must be listed by C-FIND and come
// back byte-identical by C-GET, the flood must have been shed within the
// timers, memory must stay bounded and descriptors return to their
// baseline, and `shardpacs verify` must find the archive clean.
func TestLoadServe(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped under -short")
	}
	dur := loadDuration(t)
	dir := t.TempDir()
	cfgPath := writeLoadConfig(t, dir)
	sn := startServe(t, "--config", cfgPath, "--log-format", "json")
	pid := sn.cmd.Process.Pid
	base, err := loadgen.ReadProc(pid)
	if err != nil {
		testutil.SkipOrFail(t, "load test needs Linux /proc: %v", err)
	}
	sampler := &loadgen.Sampler{PID: pid, Interval: 100 * time.Millisecond}
	if err := sampler.Start(); err != nil {
		t.Fatal(err)
	}
	defer sampler.Stop()
	addr := "127.0.0.1:" + sn.port
	ctx, cancel := context.WithTimeout(context.Background(), dur+5*time.Minute)
	defer cancel()

	// Legitimate load, established before the flood starts.
	root, err := loadgen.NewRoot(nil)
	if err != nil {
		t.Fatal(err)
	}
	aes := make([]string, loadCallingAEs)
	for i := range aes {
		aes[i] = "MODALITY" + strconv.Itoa(i+1)
	}
	load := &loadgen.StoreLoad{Addr: addr, CalledAE: "SHARDPACS", CallingAEs: aes, Associations: loadAssociations,
		Synth: loadgen.Synth{Root: root}, SeriesSize: 500,
		Client: dimse.Client{ARTIMTimeout: 10 * time.Second, ResponseTimeout: time.Minute}}
	run, err := load.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.Established():
	case <-time.After(60 * time.Second):
		t.Fatal("the 50 storing associations were not established within 60 s")
	}
	loaded, _ := loadgen.ReadProc(pid)

	// The flood comes from other hosts than the legitimate load (every
	// 127.0.0.0/8 address is loopback on Linux), in two waves: malformed
	// PDUs and over-limit associations from the start, so that they meet
	// the server's protocol answers; then, from a third of the run, the
	// idle sockets, which fill the connection cap so that most later
	// attempts are shed at accept. A legitimate newcomer probes all along.
	wait := 4 * (loadARTIM + loadIdle)
	protoFlood := &loadgen.Flood{Addr: addr, CalledAE: "SHARDPACS", Malformed: 12, OverLimit: 24, AnswerWait: wait,
		LocalIPs: []string{"127.0.0.2", "127.0.0.3"}}
	probe := &loadgen.Flood{Addr: addr, CalledAE: "SHARDPACS", Probe: 1, Pause: 500 * time.Millisecond, AnswerWait: wait,
		LocalIPs: []string{"127.0.0.9"}}
	idleFlood := &loadgen.Flood{Addr: addr, CalledAE: "SHARDPACS", Silent: 200, Trickle: 100, AnswerWait: wait,
		LocalIPs: []string{"127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"}}
	t.Logf("load: %d associations storing from %d AEs for %v; flood: %d malformed-PDU peers and %d over-limit associations, then from %v %d silent + %d trickling sockets from 5 hosts; 1 probe",
		loadAssociations, loadCallingAEs, dur, protoFlood.Malformed, protoFlood.OverLimit, dur/3, idleFlood.Silent, idleFlood.Trickle)
	protoRun, err := protoFlood.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	probeRun, err := probe.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idleRun *loadgen.FloodRun
	for _, wait := range []time.Duration{dur / 3, dur - dur/3} {
		select {
		case <-time.After(wait):
		case err := <-sn.done:
			sn.done <- err
			t.Fatalf("serve exited under load: %v\n%s", err, tailString(sn.stderr.String(), 4000))
		}
		if idleRun == nil {
			if idleRun, err = idleFlood.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	during := sampler.Report()
	protoRep, idleRep, probeRep := protoRun.Stop(), idleRun.Stop(), probeRun.Stop()
	storeRep := run.Stop()
	t.Logf("stores: %s", storeRep)
	t.Logf("flood, first wave (%d attempts):\n%s", protoRep.Attempts(), protoRep)
	t.Logf("flood, idle sockets (%d attempts):\n%s", idleRep.Attempts(), idleRep)
	t.Logf("probe:\n%s", probeRep)

	// Everything stopped: the server's descriptors go back to their
	// baseline once the timers have shed what is left.
	after := waitSockets(t, pid, base.Sockets, 2*(loadARTIM+loadIdle)+5*time.Second)
	t.Logf("server fds (sockets): %d (%d) at start, %d (%d) with the 50 associations, peak %d (%d) under the flood, %d (%d) after; threads peak %d",
		base.FDs, base.Sockets, loaded.FDs, loaded.Sockets, during.PeakFDs, during.PeakSockets, after.FDs, after.Sockets, during.PeakThreads)

	// And its association slots come back: a new association is accepted.
	// A slot still held with no connection left would be a leak.
	if d, err := waitAssociable(ctx, addr, loadARTIM+loadIdle+5*time.Second); err != nil {
		t.Errorf("no association accepted %v after the load: %v (association slots leaked?)", d, err)
	} else {
		t.Logf("a new association was accepted %v after the load stopped", d.Round(time.Millisecond))
	}

	verify := &loadgen.Verify{Addr: addr, CalledAE: "SHARDPACS", CallingAE: "VERIFIER", Parallel: 4,
		Client: dimse.Client{ResponseTimeout: time.Minute}}
	vrep, err := verify.Run(ctx, storeRep.Acked, storeRep.Series)
	if err != nil {
		t.Errorf("read-back: %v", err)
	}
	t.Logf("read-back: %s", vrep)

	peaks := sampler.Stop()
	final, _ := loadgen.ReadProc(pid)
	t.Logf("server memory: peak VmRSS %.1f MiB at %v (sampled %d times every 100 ms), VmHWM %.1f MiB, VmRSS at the end %.1f MiB; VmRSS by time: %s",
		mib(peaks.PeakRSS), peaks.PeakAt.Round(100*time.Millisecond), peaks.Samples, mib(final.HWM), mib(final.RSS), rssTimeline(peaks.RSS, 12))
	stopServe(t, sn)
	logSummary := summariseServeLog(sn.stderr.String())
	t.Logf("server log: %s", logSummary)
	out, verr := exec.Command(sn.cmd.Path, "verify", "--config", cfgPath).CombinedOutput()
	t.Logf("shardpacs verify: %s", strings.TrimSpace(string(out)))

	// The verdict.
	if verr != nil {
		t.Errorf("shardpacs verify: %v", verr)
	}
	if m := regexp.MustCompile(`(?m)^(\d+) instances$`).FindSubmatch(out); m == nil {
		t.Errorf("shardpacs verify printed no instance count")
	} else if n, _ := strconv.Atoi(string(m[1])); n < len(storeRep.Acked) {
		t.Errorf("shardpacs verify counts %d instances, %d were acknowledged", n, len(storeRep.Acked))
	}
	checkStores(t, storeRep)
	if vrep != nil && (!vrep.OK() || vrep.Found != len(storeRep.Acked) || vrep.Identical != len(storeRep.Acked)) {
		t.Errorf("read-back: %d acknowledged, %d found, %d identical: %s", len(storeRep.Acked), vrep.Found, vrep.Identical, vrep)
	}
	checkProtocolFlood(t, protoRep)
	checkIdleFlood(t, idleRep)
	checkFloodKinds(t, probeRep)
	if hwm := max(final.HWM, peaks.PeakRSS); hwm > loadRSSBound {
		t.Errorf("server peak RSS %.1f MiB > %.0f MiB", mib(hwm), mib(loadRSSBound))
	}
	if after.Sockets > base.Sockets || after.FDs > base.FDs+loadFDSlack {
		t.Errorf("server fds (sockets) %d (%d) after the flood, %d (%d) before: descriptors leak",
			after.FDs, after.Sockets, base.FDs, base.Sockets)
	}
}

// checkStores: every storing association came up, and the flood cost the
// legitimate load nothing: no failure status, no lost store, no redial.
func checkStores(t *testing.T, r *loadgen.StoreReport) {
	t.Helper()
	if r.Established != loadAssociations {
		t.Errorf("%d of %d storing associations established", r.Established, loadAssociations)
	}
	if len(r.Acked) < loadAssociations {
		t.Errorf("only %d instances acknowledged", len(r.Acked))
	}
	if len(r.Failed) > 0 || r.Lost > 0 || r.DialFailures > 0 {
		t.Errorf("legitimate stores disturbed: %s", r)
	}
}

// checkFloodKinds: every attempt got an answer or a close within the
// timers (none held until AnswerWait) and no unexpected error.
func checkFloodKinds(t *testing.T, r *loadgen.FloodReport) {
	t.Helper()
	for name, k := range r.Kinds {
		if n := k.Outcomes[loadgen.OutcomeNoAnswer] + k.Outcomes["AC, then "+loadgen.OutcomeNoAnswer]; n > 0 {
			t.Errorf("%s: %d connections held with no answer for %v", name, n, k.MaxHold)
		}
		if n := k.Outcomes[loadgen.OutcomeError]; n > 0 {
			t.Errorf("%s: %d unexpected errors, e.g. %s", name, n, k.SampleError)
		}
	}
}

// holdSlack is how much later than its timer the server may shed a
// connection (scheduling on a loaded 2-core machine).
const holdSlack = 3 * time.Second

// checkProtocolFlood: each malformed PDU got the A-ABORT PS3.8 asks for
// (rows 8-10 of docs/adversarial-tests.md) at least once, and otherwise
// only a close at accept (connection cap); the over-limit AE met
// A-ASSOCIATE-RJ (2,3,2), and its admitted associations were aborted
// (2,0) by the idle timeout.
func checkProtocolFlood(t *testing.T, r *loadgen.FloodReport) {
	t.Helper()
	checkFloodKinds(t, r)
	// Shed: closed at accept (connection cap), or, for the cases that
	// need an association first, refused by the association cap that the
	// over-limit AE keeps full.
	shed := func(o string) bool {
		o, afterAC := strings.CutPrefix(o, "before AC: ")
		return o == loadgen.OutcomeClosed || o == loadgen.OutcomeReset || afterAC && o == "A-ASSOCIATE-RJ(2,3,2)"
	}
	for _, mc := range loadgen.MalformedCases {
		k := r.Kind(mc.Name)
		if k.Outcomes[mc.Want] == 0 {
			t.Errorf("%s: never answered %s: %v", mc.Name, mc.Want, k.Outcomes)
		}
		for o, n := range k.Outcomes {
			if o != mc.Want && !shed(o) {
				t.Errorf("%s: %d answered %q, want %s (or a close at accept)", mc.Name, n, o, mc.Want)
			}
		}
		if k.MaxHold > loadARTIM+holdSlack {
			t.Errorf("%s: held up to %v", mc.Name, k.MaxHold)
		}
	}
	const rj, idle = "A-ASSOCIATE-RJ(2,3,2)", "AC, then A-ABORT(2,0)"
	over := r.Kind(loadgen.KindOverLimit)
	if over.Outcomes[rj] == 0 || over.Outcomes[idle] == 0 {
		t.Errorf("over-limit associations: want both %s and %s: %v", rj, idle, over.Outcomes)
	}
	for o, n := range over.Outcomes {
		if o != rj && o != idle && !shed(o) {
			t.Errorf("over-limit associations: %d ended %q", n, o)
		}
	}
	if over.MaxHold > loadIdle+holdSlack {
		t.Errorf("over-limit associations held up to %v, want ≤ idle timeout %v + %v", over.MaxHold, loadIdle, holdSlack)
	}
}

// checkIdleFlood: sockets that never complete an A-ASSOCIATE-RQ, silent
// or trickling, are closed without a PDU by ARTIM (PS3.8 9.1.5, AA-2) or
// at accept, never later than ARTIM.
func checkIdleFlood(t *testing.T, r *loadgen.FloodReport) {
	t.Helper()
	checkFloodKinds(t, r)
	for _, name := range []string{loadgen.KindSilent, loadgen.KindTrickle} {
		k := r.Kind(name)
		if k.Attempts == 0 {
			t.Errorf("%s: no attempt completed", name)
		}
		if k.MaxHold > loadARTIM+holdSlack {
			t.Errorf("%s: held up to %v, want ≤ ARTIM %v + %v", name, k.MaxHold, loadARTIM, holdSlack)
		}
		for o, n := range k.Outcomes {
			if o != loadgen.OutcomeClosed && o != loadgen.OutcomeReset {
				t.Errorf("%s: %d answered %q; a connection without A-ASSOCIATE-RQ gets no PDU", name, n, o)
			}
		}
	}
}

// waitSockets polls pid's descriptors until it holds at most want
// sockets or within is over, and returns the last status.
func waitSockets(t *testing.T, pid, want int, within time.Duration) loadgen.ProcStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := loadgen.ReadProc(pid)
		if err != nil {
			t.Fatalf("server gone: %v", err)
		}
		if st.Sockets <= want || time.Now().After(deadline) {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitAssociable retries a C-ECHO association until one succeeds or
// within is over, and returns how long it took and the last error.
func waitAssociable(ctx context.Context, addr string, within time.Duration) (time.Duration, error) {
	start := time.Now()
	cl := &dimse.Client{AETitle: "AFTERLOAD", ARTIMTimeout: 5 * time.Second}
	for {
		cc, err := cl.Dial(ctx, addr, "SHARDPACS", []dimse.ContextProposal{dimse.EchoContext()})
		if err == nil {
			if err = cc.Echo(ctx); err == nil {
				err = cc.Release(ctx)
			}
		}
		if err == nil || time.Since(start) > within {
			return time.Since(start), err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopServe sends SIGTERM and waits for a clean exit.
func stopServe(t *testing.T, sn *servedNode) {
	t.Helper()
	if err := sn.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sn.done:
		sn.done <- err
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, tailString(sn.stderr.String(), 4000))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM")
	}
}

// summariseServeLog counts the JSON log lines by message (and for
// rejections, by RJ fields; for ends, by how).
func summariseServeLog(logs string) string {
	counts := make(map[string]int)
	for _, line := range strings.Split(logs, "\n") {
		var e struct {
			Level, Message, End string
			Result              *int `json:"result"`
			Source              *int `json:"source"`
			Reason              *int `json:"reason"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		key := e.Level + " " + e.Message
		switch {
		case e.Result != nil && e.Source != nil && e.Reason != nil:
			key += fmt.Sprintf(" RJ(%d,%d,%d)", *e.Result, *e.Source, *e.Reason)
		case e.End != "":
			key += " (" + e.End + ")"
		}
		counts[key]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	sort.Strings(keys)
	return strings.Join(keys, "; ")
}

// rssTimeline prints about n points of a per-second RSS series.
func rssTimeline(rss []int64, n int) string {
	var b strings.Builder
	step := max(1, len(rss)/n)
	for i := 0; i < len(rss); i += step {
		fmt.Fprintf(&b, "%ds %.0f, ", i, mib(rss[i]))
	}
	return strings.TrimSuffix(b.String(), ", ") + " MiB"
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
