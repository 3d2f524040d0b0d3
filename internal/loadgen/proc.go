package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProcStatus is what /proc/PID/status and /proc/PID/fd say about a
// process (Linux proc(5)).
type ProcStatus struct {
	// RSS is VmRSS, the resident set now; HWM is VmHWM, its peak over the
	// process's life (bytes).
	RSS, HWM int64
	// Threads is the number of OS threads.
	Threads int
	// FDs is the number of open file descriptors (-1 when unreadable),
	// Sockets those of them that are sockets.
	FDs, Sockets int
}

// ErrNoProc: /proc/PID/status could not be read (not Linux, or the
// process is gone).
var ErrNoProc = errors.New("loadgen: no /proc status for the process")

// ReadProc reads pid's status and descriptor count.
func ReadProc(pid int) (ProcStatus, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ProcStatus{}, fmt.Errorf("%w: %w", ErrNoProc, err)
	}
	st := ProcStatus{FDs: -1}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "VmRSS":
			st.RSS = n << 10 // kB
		case "VmHWM":
			st.HWM = n << 10
		case "Threads":
			st.Threads = int(n)
		}
	}
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	if ents, err := os.ReadDir(fdDir); err == nil {
		st.FDs = len(ents)
		for _, e := range ents {
			// A descriptor closed meanwhile is simply not counted.
			if l, err := os.Readlink(fdDir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
				st.Sockets++
			}
		}
	}
	return st, nil
}

// Sampler reads a process's status every Interval until stopped, keeping
// the peaks.
type Sampler struct {
	PID int
	// Interval between samples; 0 means 100 ms.
	Interval time.Duration

	stop  chan struct{}
	done  chan struct{}
	start time.Time
	mu    sync.Mutex
	peak  SamplerReport
}

// SamplerReport holds the peaks seen and the last sample.
type SamplerReport struct {
	Samples                           int
	PeakRSS                           int64
	PeakAt                            time.Duration // since Start
	PeakFDs, PeakSockets, PeakThreads int
	Last                              ProcStatus
	// RSS holds one VmRSS sample per second since Start (at most
	// MaxRSSSeries), to tell a plateau from a leak.
	RSS []int64
}

// MaxRSSSeries bounds SamplerReport.RSS (one hour).
const MaxRSSSeries = 3600

// Start begins sampling; the first sample is taken at once, and its
// error (ErrNoProc) returned.
func (s *Sampler) Start() error {
	if _, err := ReadProc(s.PID); err != nil {
		return err
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.start = time.Now()
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(orDur(s.Interval, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return nil
}

func (s *Sampler) sample() {
	st, err := ReadProc(s.PID)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.peak
	p.Samples++
	since := time.Since(s.start)
	if st.RSS > p.PeakRSS {
		p.PeakRSS, p.PeakAt = st.RSS, since
	}
	if n := int(since / time.Second); n >= len(p.RSS) && len(p.RSS) < MaxRSSSeries {
		p.RSS = append(p.RSS, st.RSS)
	}
	p.PeakFDs = max(p.PeakFDs, st.FDs)
	p.PeakThreads = max(p.PeakThreads, st.Threads)
	p.PeakSockets = max(p.PeakSockets, st.Sockets)
	p.Last = st
}

// Report returns the peaks so far (sampling goes on).
func (s *Sampler) Report() SamplerReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.peak
	r.RSS = slices.Clone(r.RSS)
	return r
}

// Stop ends sampling and returns the peaks.
func (s *Sampler) Stop() SamplerReport {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	return s.Report()
}
