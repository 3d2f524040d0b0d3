package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// toolEnv is the environment of every external program: DCMTK 3.6.7 (and
// Orthanc, which links it) leaves Nagle's algorithm on unless TCP_NODELAY=1,
// and then stalls ~40 ms per message on delayed ACKs.
func toolEnv() []string { return append(os.Environ(), "TCP_NODELAY=1") }

// serverProc is a running server process with a sampler of the resident
// memory of its process tree (forking servers: storescp --fork, dcmqrscp).
type serverProc struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error // Wait's result, valid after done

	mu       sync.Mutex
	peakTree int64 // largest sampled sum of VmRSS over the tree, bytes
	stop     chan struct{}
	sampled  chan struct{}
}

// startProc starts name args with its output in logPath, and waits until
// it accepts TCP connections on port (or exits, or timeout passes).
func startProc(ctx context.Context, logPath string, port int, timeout time.Duration, name string, args ...string) (*serverProc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Env = toolEnv()
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("bench: starting %s: %w", name, err)
	}
	p := &serverProc{cmd: cmd, log: lf, done: make(chan struct{}), stop: make(chan struct{}), sampled: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	go p.sample()
	if err := p.waitListening(ctx, port, time.Now().Add(timeout), name, logPath); err != nil {
		return nil, err
	}
	return p, nil
}

// waitListening waits until something accepts TCP connections on port, or
// the process exits (it is then reaped), ctx ends or deadline passes (it is
// then killed).
func (p *serverProc) waitListening(ctx context.Context, port int, deadline time.Time, name, logPath string) error {
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			// A dial to a free port in the ephemeral range can be given
			// that same port as its source and connect to itself (TCP
			// simultaneous open): that is no server listening.
			self := c.LocalAddr().String() == c.RemoteAddr().String()
			c.Close()
			if !self {
				return nil
			}
		}
		select {
		case <-p.done:
			p.finish()
			return fmt.Errorf("bench: %s exited before listening on port %d (%v); see %s", name, port, p.err, logPath)
		case <-ctx.Done():
			p.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("bench: %s not listening on port %d in time; see %s", name, port, logPath)
		}
	}
}

// sample adds up VmRSS over the process tree every 20 ms until stopped.
// Finding the tree reads every process's stat file in /proc, which cost
// the bench ~20–45 % of a core per server sampled when done at every tick
// (measured in session 4 with top: CPU taken from the servers it measures
// on two cores); the tree is therefore found again only every treeRescan,
// and the ticks in between read the VmRSS of the pids known.
func (p *serverProc) sample() {
	defer close(p.sampled)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var pids []int
	var scanned time.Time
	for {
		if now := time.Now(); now.Sub(scanned) >= treeRescan {
			pids, scanned = treePIDs(p.cmd.Process.Pid), now
		}
		if rss := sumRSS(pids); rss > 0 {
			p.mu.Lock()
			p.peakTree = max(p.peakTree, rss)
			p.mu.Unlock()
		}
		select {
		case <-p.stop:
			return
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

// treeRescan is how often sample looks for new child processes.
const treeRescan = time.Second

// Stop ends the process (SIGTERM, then SIGKILL after grace) and returns
// its peak resident memory: the larger of the main process's VmHWM
// (read just before the signal) and the sampled peak of its tree.
func (p *serverProc) Stop(grace time.Duration) (peak int64) {
	hwm := procStatusKB(p.cmd.Process.Pid, "VmHWM") * 1024
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.finish()
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(hwm, p.peakTree)
}

func (p *serverProc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.finish()
}

func (p *serverProc) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.sampled
	p.log.Close()
}

// procStatusKB reads one "kB" field of /proc/PID/status (0 when unknown).
func procStatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// treePIDs returns pid and its descendants.
func treePIDs(pid int) []int {
	children := map[int][]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	for _, e := range ents {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], id)
	}
	var out []int
	stack := []int{pid}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, id)
		stack = append(stack, children[id]...)
	}
	return out
}

// sumRSS sums VmRSS (bytes) over pids; a pid gone counts 0.
func sumRSS(pids []int) int64 {
	var sum int64
	for _, id := range pids {
		sum += procStatusKB(id, "VmRSS") * 1024
	}
	return sum
}

// diskUsage returns the bytes allocated to the files below dirs (like du).
func diskUsage(dirs ...string) (int64, error) {
	var total int64
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			info, err := e.Info()
			if err != nil {
				return nil
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// countFiles counts the regular files below dir whose name passes keep.
func countFiles(dir string, keep func(name string) bool) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && keep(e.Name()) {
			n++
		}
		return nil
	})
	return n
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// runTool runs a DCMTK client to completion and returns its combined output.
func runTool(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("bench: %s: %w: %s", name, err, lastLines(out, 5))
	}
	return out, nil
}

// lastLines returns the last n lines of b, for error messages.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
