package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/dimse"
)

// Defaults for zero fields of [Flood].
const (
	DefaultFloodAE      = "FLOOD"
	DefaultTrickleEvery = time.Second
	DefaultFloodPause   = 200 * time.Millisecond
	DefaultAnswerWait   = 30 * time.Second
	// QuickClose is the hold under which a connection counts as closed
	// at once (the server's connection cap), not by a timer.
	QuickClose = 250 * time.Millisecond
)

// Flood kinds, the keys of FloodReport.Kinds besides the MalformedCases'
// names.
const (
	KindSilent    = "silent socket"
	KindTrickle   = "trickle 1 byte/interval"
	KindOverLimit = "over-limit associations"
	KindProbe     = "probe (legitimate C-ECHO)"
	// OutcomeEchoOK is a probe's success.
	OutcomeEchoOK = "echo ok"
)

// Flood is hostile traffic towards one node, run by goroutines that each
// repeat one kind of attempt until stopped, pausing Pause (±50%) between
// attempts:
//
//   - Silent goroutines connect and send nothing (PS3.8 9.1.5: the ARTIM
//     timer should close them, with no PDU);
//   - Trickle goroutines send a valid A-ASSOCIATE-RQ one byte every
//     TrickleEvery (ARTIM too, whatever the trickle);
//   - Malformed goroutines cycle through MalformedCases;
//   - OverLimit goroutines open real associations as OverLimitAE and then
//     stay silent, so that the node's per-AE and global caps answer
//     A-ASSOCIATE-RJ (2,3,2) to the surplus and its idle timeout aborts
//     the ones admitted.
//
// The zero value floods nothing; Addr is required.
type Flood struct {
	Addr, CalledAE string
	Silent         int
	Trickle        int
	Malformed      int
	OverLimit      int
	// Probe goroutines play a legitimate newcomer: associate as ProbeAE,
	// C-ECHO, release. They measure whether a new peer still gets in
	// during the flood (adversarial row 5); "echo ok" counts successes.
	Probe int
	// ProbeAE is the probes' calling AE; "" means "PROBE".
	ProbeAE string
	// LocalIPs, when set, are the source addresses of the goroutines of
	// each kind in turn (goroutine i of a kind dials from LocalIPs[i %
	// len]): on Linux every 127.0.0.0/8 address is loopback, so one
	// machine can play several hosts against per-host limits.
	LocalIPs []string
	// OverLimitAE is the over-limit associations' calling AE;
	// "" means DefaultFloodAE.
	OverLimitAE string
	// TrickleEvery is the trickle interval; 0 means DefaultTrickleEvery.
	TrickleEvery time.Duration
	// Pause is the base pause between attempts; 0 means DefaultFloodPause.
	Pause time.Duration
	// AnswerWait bounds every wait for the server; 0 means
	// DefaultAnswerWait. Past it the outcome is OutcomeNoAnswer.
	AnswerWait time.Duration
}

func (f *Flood) pause() time.Duration { return orDur(f.Pause, DefaultFloodPause) }
func (f *Flood) wait() time.Duration  { return orDur(f.AnswerWait, DefaultAnswerWait) }
func (f *Flood) every() time.Duration { return orDur(f.TrickleEvery, DefaultTrickleEvery) }
func (f *Flood) floodAE() string {
	if f.OverLimitAE == "" {
		return DefaultFloodAE
	}
	return f.OverLimitAE
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// KindReport counts the attempts of one flood kind.
type KindReport struct {
	Attempts int
	// Outcomes counts the outcome labels (Outcome*, "A-ABORT(s,r)",
	// "A-ASSOCIATE-RJ(r,s,n)"...).
	Outcomes map[string]int
	// Hold is how long the server kept connections open: from connect to
	// its answer or close (for admitted over-limit associations, from the
	// A-ASSOCIATE-AC to the server's abort).
	MaxHold, TotalHold time.Duration
	// Quick counts holds under QuickClose.
	Quick int
	// SampleError is one error behind an OutcomeError, for diagnosis.
	SampleError string
}

func (k *KindReport) add(outcome string, hold time.Duration, err error) {
	k.Attempts++
	if k.Outcomes == nil {
		k.Outcomes = make(map[string]int)
	}
	k.Outcomes[outcome]++
	k.MaxHold = max(k.MaxHold, hold)
	k.TotalHold += hold
	if hold < QuickClose {
		k.Quick++
	}
	if err != nil && strings.HasSuffix(outcome, OutcomeError) && k.SampleError == "" {
		k.SampleError = err.Error()
	}
}

func (k *KindReport) merge(o *KindReport) {
	k.Attempts += o.Attempts
	if k.Outcomes == nil {
		k.Outcomes = make(map[string]int)
	}
	for s, n := range o.Outcomes {
		k.Outcomes[s] += n
	}
	k.MaxHold = max(k.MaxHold, o.MaxHold)
	k.TotalHold += o.TotalHold
	k.Quick += o.Quick
	if k.SampleError == "" {
		k.SampleError = o.SampleError
	}
}

// MeanHold is TotalHold / Attempts.
func (k *KindReport) MeanHold() time.Duration {
	if k.Attempts == 0 {
		return 0
	}
	return k.TotalHold / time.Duration(k.Attempts)
}

// FloodReport is what a [Flood] saw, per kind.
type FloodReport struct {
	Kinds map[string]*KindReport
}

// Kind returns the report of kind (an empty one when none ran).
func (r *FloodReport) Kind(kind string) *KindReport {
	if k := r.Kinds[kind]; k != nil {
		return k
	}
	return &KindReport{}
}

// Attempts is the number of attempts of every kind.
func (r *FloodReport) Attempts() int {
	n := 0
	for _, k := range r.Kinds {
		n += k.Attempts
	}
	return n
}

// String is one line per kind: attempts, outcomes, holds.
func (r *FloodReport) String() string {
	var b strings.Builder
	names := make([]string, 0, len(r.Kinds))
	for n := range r.Kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k := r.Kinds[n]
		outs := make([]string, 0, len(k.Outcomes))
		for o, c := range k.Outcomes {
			outs = append(outs, fmt.Sprintf("%s ×%d", o, c))
		}
		sort.Strings(outs)
		fmt.Fprintf(&b, "%-36s %6d attempts: %s; hold max %v mean %v, %d under %v\n", n, k.Attempts,
			strings.Join(outs, ", "), k.MaxHold.Round(time.Millisecond), k.MeanHold().Round(time.Millisecond), k.Quick, QuickClose)
		if k.SampleError != "" {
			fmt.Fprintf(&b, "%-36s sample error: %s\n", "", k.SampleError)
		}
	}
	return b.String()
}

// FloodRun is a running flood.
type FloodRun struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	report FloodReport
}

// Start launches the flood's goroutines; they run until Stop or ctx's end.
func (f *Flood) Start(ctx context.Context) (*FloodRun, error) {
	rq, err := associateRQ(f.CalledAE, "MALFORMED")
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &FloodRun{cancel: cancel, report: FloodReport{Kinds: make(map[string]*KindReport)}}
	spawn := func(n int, loop func(ctx context.Context, i int, rep map[string]*KindReport)) {
		for i := range n {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				rep := make(map[string]*KindReport)
				loop(ctx, i, rep)
				r.mu.Lock()
				defer r.mu.Unlock()
				for kind, k := range rep {
					if r.report.Kinds[kind] == nil {
						r.report.Kinds[kind] = &KindReport{}
					}
					r.report.Kinds[kind].merge(k)
				}
			}()
		}
	}
	spawn(f.Silent, func(ctx context.Context, i int, rep map[string]*KindReport) {
		f.repeat(ctx, f.dialer(i), rep, KindSilent, func(c net.Conn) string { return readAnswer(c) })
	})
	spawn(f.Trickle, func(ctx context.Context, i int, rep map[string]*KindReport) {
		f.repeat(ctx, f.dialer(i), rep, KindTrickle, func(c net.Conn) string { return f.trickle(ctx, c, rq) })
	})
	spawn(f.Malformed, func(ctx context.Context, i int, rep map[string]*KindReport) {
		n := i
		f.repeatKinds(ctx, f.dialer(i), rep, func() (string, func(net.Conn) string) {
			mc := MalformedCases[n%len(MalformedCases)]
			n++
			return mc.Name, func(c net.Conn) string { return mc.Run(c, rq) }
		})
	})
	spawn(f.OverLimit, func(ctx context.Context, i int, rep map[string]*KindReport) {
		f.association(ctx, f.dialer(i), rep, KindOverLimit, f.floodAE(), true)
	})
	spawn(f.Probe, func(ctx context.Context, i int, rep map[string]*KindReport) {
		ae := f.ProbeAE
		if ae == "" {
			ae = "PROBE"
		}
		f.association(ctx, f.dialer(i), rep, KindProbe, ae, false)
	})
	return r, nil
}

// Stop ends the flood, closing every connection it holds, and returns
// the report. Attempts cut short by Stop are not counted.
func (r *FloodRun) Stop() *FloodReport {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return &r.report
}

// sleep pauses d ±50%, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	d = d/2 + rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// dialer returns goroutine i's dialer: from LocalIPs[i % len] when set.
func (f *Flood) dialer(i int) *net.Dialer {
	d := &net.Dialer{}
	if len(f.LocalIPs) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(f.LocalIPs[i%len(f.LocalIPs)])}
	}
	return d
}

func (f *Flood) repeat(ctx context.Context, d *net.Dialer, rep map[string]*KindReport, kind string, play func(net.Conn) string) {
	f.repeatKinds(ctx, d, rep, func() (string, func(net.Conn) string) { return kind, play })
}

// repeatKinds connects, plays next's script, records its outcome and
// hold, and pauses, until ctx ends.
func (f *Flood) repeatKinds(ctx context.Context, d *net.Dialer, rep map[string]*KindReport, next func() (string, func(net.Conn) string)) {
	for ctx.Err() == nil {
		kind, play := next()
		k := rep[kind]
		if k == nil {
			k = &KindReport{}
			rep[kind] = k
		}
		c, err := d.DialContext(ctx, "tcp", f.Addr)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			k.add(errOutcome(err), 0, err)
		} else {
			start := time.Now()
			_ = c.SetDeadline(start.Add(f.wait()))
			stop := context.AfterFunc(ctx, func() { _ = c.Close() })
			out := play(c)
			hold := time.Since(start)
			stop()
			_ = c.Close()
			if ctx.Err() != nil {
				return
			}
			k.add(out, hold, nil)
		}
		if !sleep(ctx, f.pause()) {
			return
		}
	}
}

// trickle writes rq one byte every f.every(), watching for the server's
// answer or close in between.
func (f *Flood) trickle(ctx context.Context, c net.Conn, rq []byte) string {
	deadline := time.Now().Add(f.wait())
	one := make([]byte, 1)
	for i := 0; ; i++ {
		if i < len(rq) {
			if _, err := c.Write(rq[i : i+1]); err != nil {
				return errOutcome(err)
			}
		}
		wait := time.Now().Add(f.every())
		if i >= len(rq) || wait.After(deadline) {
			wait = deadline
		}
		_ = c.SetReadDeadline(wait)
		n, err := c.Read(one)
		switch {
		case n > 0:
			return "answered with PDU-type byte " + fmt.Sprintf("0x%02X", one[0])
		case ctx.Err() != nil:
			return OutcomeClosed
		case err != nil && errOutcome(err) == OutcomeNoAnswer && time.Now().Before(deadline):
			continue
		case err != nil:
			return errOutcome(err)
		}
	}
}

// association repeatedly opens an association as ae. An idler (the
// over-limit kind), once admitted, waits silently for the server to end
// it; otherwise (a probe) it runs a C-ECHO and releases.
func (f *Flood) association(ctx context.Context, d *net.Dialer, rep map[string]*KindReport, kind, ae string, idler bool) {
	k := &KindReport{}
	rep[kind] = k
	cl := &dimse.Client{AETitle: ae, ARTIMTimeout: f.wait(), IdleTimeout: -1, ResponseTimeout: f.wait(), Dialer: d.DialContext}
	for ctx.Err() == nil {
		start := time.Now()
		cc, err := cl.Dial(ctx, f.Addr, f.CalledAE, []dimse.ContextProposal{dimse.EchoContext()})
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			k.add(errOutcome(err), time.Since(start), err)
		case !idler:
			err = cc.Echo(ctx)
			if err == nil {
				err = cc.Release(ctx)
			} else {
				_ = cc.Abort()
			}
			if ctx.Err() != nil {
				return
			}
			out := OutcomeEchoOK
			if err != nil {
				out = "AC, then " + errOutcome(err)
			}
			k.add(out, time.Since(start), err)
		default:
			start = time.Now()
			t := time.NewTimer(f.wait())
			select {
			case <-cc.Done():
				t.Stop()
				k.add("AC, then "+errOutcome(cc.Association().Err()), time.Since(start), cc.Association().Err())
			case <-t.C:
				k.add("AC, then "+OutcomeNoAnswer, time.Since(start), nil)
				_ = cc.Abort()
			case <-ctx.Done():
				t.Stop()
				_ = cc.Abort()
				return
			}
		}
		if !sleep(ctx, f.pause()) {
			return
		}
	}
}
