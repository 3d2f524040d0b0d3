package loadgen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// Defaults for zero fields of [StoreLoad].
const (
	DefaultSeriesSize   = 500
	DefaultStoreTimeout = 60 * time.Second
	DefaultRedialPause  = 250 * time.Millisecond
)

// StoreLoad is legitimate C-STORE traffic (PS3.4 B.2): Associations
// workers, worker w calling as CallingAEs[w % len(CallingAEs)], each
// holding one association and storing Synth instances back to back (a new
// series every SeriesSize) until stopped. A worker whose association ends
// dials again after RedialPause.
//
// Every response is recorded: a 0x0000 acknowledges the instance (its
// digest is kept for [Verify]); any other status is counted per status;
// a store with no response (transport lost, abort) is counted as lost:
// its instance may or may not be stored.
type StoreLoad struct {
	Addr, CalledAE string
	CallingAEs     []string
	Associations   int
	Synth          Synth
	// SeriesSize is the instances per series; 0 means DefaultSeriesSize.
	SeriesSize int
	// StoreTimeout bounds one C-STORE; 0 means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// RedialPause is the pause before dialling again; 0 means
	// DefaultRedialPause.
	RedialPause time.Duration
	// Client is the template of every worker's client (timeouts, limits);
	// its AETitle is replaced.
	Client dimse.Client
}

// Acked is an acknowledged instance.
type Acked struct {
	Study, Series string
	SHA256        [32]byte
}

// SeriesRef names one series a worker stored into.
type SeriesRef struct{ Study, Series string }

// StoreReport is what a [StoreLoad] did.
type StoreReport struct {
	// Acked maps the SOP Instance UID of every instance answered 0x0000.
	Acked map[string]Acked
	// Failed counts the other statuses received.
	Failed map[dimse.Status]int
	// Lost counts stores that got no response.
	Lost int
	// Dials and DialFailures count association attempts; DialOutcomes
	// names the failures' outcomes (A-ASSOCIATE-RJ(2,3,2), closed...).
	Dials, DialFailures int
	DialOutcomes        map[string]int
	// Established counts workers whose first association succeeded.
	Established int
	// Series lists every series used.
	Series []SeriesRef
	// Elapsed is from Start to the last worker's end.
	Elapsed time.Duration
	// SampleError is one unexpected error, for diagnosis.
	SampleError string
}

// Rate is acknowledged instances per second.
func (r *StoreReport) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Acked)) / r.Elapsed.Seconds()
}

// String summarises the report on a few lines.
func (r *StoreReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d acknowledged in %v (%.1f inst/s), %d lost (no response), %d series\n",
		len(r.Acked), r.Elapsed.Round(time.Millisecond), r.Rate(), r.Lost, len(r.Series))
	var fails []string
	for s, n := range r.Failed {
		fails = append(fails, fmt.Sprintf("0x%04X ×%d", uint16(s), n))
	}
	sort.Strings(fails)
	fmt.Fprintf(&b, "failures by status: [%s]\n", strings.Join(fails, ", "))
	var dials []string
	for s, n := range r.DialOutcomes {
		dials = append(dials, fmt.Sprintf("%s ×%d", s, n))
	}
	sort.Strings(dials)
	fmt.Fprintf(&b, "associations: %d dialled, %d failed [%s], %d workers established at once\n",
		r.Dials, r.DialFailures, strings.Join(dials, ", "), r.Established)
	if r.SampleError != "" {
		fmt.Fprintf(&b, "sample error: %s\n", r.SampleError)
	}
	return b.String()
}

// StoreRun is a running store load.
type StoreRun struct {
	stop        chan struct{}
	established chan struct{}
	wg          sync.WaitGroup
	start       time.Time
	acked       atomic.Int64
	mu          sync.Mutex
	report      StoreReport
	pending     int // workers whose first dial has not finished
}

// Start launches the workers. ctx's end aborts them at once (a store in
// flight is lost); Stop lets them finish their store and release.
func (l *StoreLoad) Start(ctx context.Context) (*StoreRun, error) {
	if l.Associations <= 0 || len(l.CallingAEs) == 0 || l.Synth.Root == "" {
		return nil, errors.New("loadgen: StoreLoad needs Associations, CallingAEs and Synth.Root")
	}
	r := &StoreRun{
		stop:        make(chan struct{}),
		established: make(chan struct{}),
		start:       time.Now(),
		pending:     l.Associations,
		report: StoreReport{Acked: make(map[string]Acked), Failed: make(map[dimse.Status]int),
			DialOutcomes: make(map[string]int)},
	}
	for w := range l.Associations {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rep := l.worker(ctx, r, w)
			r.merge(rep)
		}()
	}
	return r, nil
}

// Established is closed once every worker's first association attempt
// has finished (succeeded or not).
func (r *StoreRun) Established() <-chan struct{} { return r.established }

// Acked is the number of instances acknowledged so far.
func (r *StoreRun) Acked() int { return int(r.acked.Load()) }

// Stop asks every worker to finish its current store and release its
// association, waits for them, and returns the report.
func (r *StoreRun) Stop() *StoreReport {
	close(r.stop)
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.Elapsed = time.Since(r.start)
	sort.Slice(r.report.Series, func(i, j int) bool { return r.report.Series[i].Series < r.report.Series[j].Series })
	return &r.report
}

func (r *StoreRun) firstDialDone(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok {
		r.report.Established++
	}
	if r.pending--; r.pending == 0 {
		close(r.established)
	}
}

func (r *StoreRun) merge(w *StoreReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &r.report
	for k, v := range w.Acked {
		rep.Acked[k] = v
	}
	for k, v := range w.Failed {
		rep.Failed[k] += v
	}
	for k, v := range w.DialOutcomes {
		rep.DialOutcomes[k] += v
	}
	rep.Lost += w.Lost
	rep.Dials += w.Dials
	rep.DialFailures += w.DialFailures
	rep.Series = append(rep.Series, w.Series...)
	if rep.SampleError == "" {
		rep.SampleError = w.SampleError
	}
}

func (r *StoreRun) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// worker runs one worker until stopped, and returns its report.
func (l *StoreLoad) worker(ctx context.Context, r *StoreRun, w int) *StoreReport {
	rep := &StoreReport{Acked: make(map[string]Acked), Failed: make(map[dimse.Status]int), DialOutcomes: make(map[string]int)}
	cl := l.Client
	cl.AETitle = l.CallingAEs[w%len(l.CallingAEs)]
	props := dimse.StorageContexts([]string{uid.CTImageStorage}, []string{uid.ExplicitVRLittleEndian}, false)
	seriesSize := l.SeriesSize
	if seriesSize <= 0 {
		seriesSize = DefaultSeriesSize
	}
	first := true
	var cc *dimse.ClientConn
	defer func() {
		if first {
			r.firstDialDone(false)
		}
		if cc != nil {
			rctx, cancel := context.WithTimeout(ctx, l.storeTimeout())
			_ = cc.Release(rctx)
			cancel()
		}
	}()
	for n := 0; ctx.Err() == nil && !r.stopped(); {
		if cc == nil {
			rep.Dials++
			var err error
			cc, err = cl.Dial(ctx, l.Addr, l.CalledAE, props)
			if first {
				first = false
				r.firstDialDone(err == nil)
			}
			if err != nil {
				cc = nil
				rep.DialFailures++
				rep.DialOutcomes[errOutcome(err)]++
				if errOutcome(err) == OutcomeError && rep.SampleError == "" {
					rep.SampleError = err.Error()
				}
				if !sleepOrStop(ctx, r.stop, orDur(l.RedialPause, DefaultRedialPause)) {
					return rep
				}
				continue
			}
		}
		sr, i := n/seriesSize, n%seriesSize
		if i == 0 {
			rep.Series = append(rep.Series, SeriesRef{Study: l.Synth.StudyUID(w), Series: l.Synth.SeriesUID(w, sr)})
		}
		in, err := l.Synth.Instance(w, sr, i)
		if err != nil {
			rep.SampleError = err.Error()
			return rep
		}
		n++
		sctx, cancel := context.WithTimeout(ctx, l.storeTimeout())
		status, err := cc.Store(sctx, in.SOPClassUID, in.SOPInstanceUID, in.TransferSyntaxUID, bytes.NewReader(in.DataSet))
		cancel()
		var se *dimse.StatusError
		switch {
		case err == nil:
			rep.Acked[in.SOPInstanceUID] = Acked{Study: in.StudyInstanceUID, Series: in.SeriesInstanceUID, SHA256: sha256.Sum256(in.DataSet)}
			r.acked.Add(1)
		case errors.As(err, &se):
			rep.Failed[status]++
		default:
			rep.Lost++
			if rep.SampleError == "" {
				rep.SampleError = err.Error()
			}
			_ = cc.Abort()
			cc = nil
		}
	}
	return rep
}

func (l *StoreLoad) storeTimeout() time.Duration { return orDur(l.StoreTimeout, DefaultStoreTimeout) }

// sleepOrStop pauses d, or less when ctx ends or stop closes (false).
func sleepOrStop(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}
