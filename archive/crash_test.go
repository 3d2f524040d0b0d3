package archive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/store/fsstore"
	"github.com/shardpacs/shardpacs/archive/store/storetest"
	"github.com/shardpacs/shardpacs/crypto"
)

// Hook points of the store, replace, delete and repair paths (Options.testHook).
var hookPoints = []string{
	"scanned", "put:0", "put:1", "put:2", "put:3", "shares-written", "committed",
	"old-deleted", "delete:indexed", "delete-share", "repair:put", "repair:updated",
}

const (
	envCrashDir   = "SHARDPACS_TEST_CRASH_DIR"
	envCrashPoint = "SHARDPACS_TEST_CRASH_POINT" // "point:n": SIGKILL at the n-th hit of point
)

// crashOptions opens the crash test's archive in dir.
func crashOptions(t testing.TB, dir string) (Options, [4]*storetest.Faulty) {
	kr, err := crypto.LoadKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{IndexPath: filepath.Join(dir, "index.db"), Keyring: kr, Duplicates: Replace, SpoolDir: filepath.Join(dir, "tmp")}
	var fs [4]*storetest.Faulty
	for i := range 4 {
		s, err := fsstore.Open(filepath.Join(dir, "stores", fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		fs[i] = storetest.NewFaulty(s)
		opts.Stores[i] = fs[i]
	}
	return opts, fs
}

// TestCrashChild is the child process of TestCrashSafety: it runs store,
// replace, delete and repair operations on the archive in $SHARDPACS_TEST_CRASH_DIR,
// logging acknowledged operations to acks.log, and kills itself with
// SIGKILL at the hook point named in $SHARDPACS_TEST_CRASH_POINT (or is killed
// by the parent at a random time).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("child process of TestCrashSafety")
	}
	opts, faulty := crashOptions(t, dir)
	opts.NoRepairer = true
	if p := os.Getenv(envCrashPoint); p != "" {
		point, nth, _ := strings.Cut(p, "@")
		var want int64
		fmt.Sscan(nth, &want)
		var hits atomic.Int64
		opts.testHook = func(got string) {
			if got == point && hits.Add(1) == want {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Hour)
			}
		}
	}
	a, err := Open(ctxb, opts)
	if err != nil {
		t.Fatal(err)
	}
	acks, err := os.OpenFile(filepath.Join(dir, "acks.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	logAck := func(format string, args ...any) {
		fmt.Fprintf(acks, format+"\n", args...)
		acks.Sync()
	}
	prev := readAcks(t, dir)

	// 1. One store fails: stored with 3 shares (the missing one is repaired in 4).
	faulty[1].FailOp("put", syscall.EIO)
	for n, size := range []int{200, 150000} {
		s := newSynth("", "", size)
		if _, err := a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		logAck("ACK %s", s.SOP)
		if n == 0 {
			faulty[1].FailOp("put", nil)
		}
	}
	// 2. Replace and delete earlier instances.
	if len(prev) >= 2 {
		s := newSynth("", "", 500)
		s.SOP = prev[len(prev)-1]
		if _, err := a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		logAck("DELETING %s", prev[0])
		if _, err := a.Delete(ctxb, index.LevelImage, prev[0]); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	// 3. Repair.
	if _, err := a.Verify(ctxb, true, nil); err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// readAcks returns the acknowledged SOP Instance UIDs still expected
// present (acked, not being deleted), in order.
func readAcks(t testing.TB, dir string) []string {
	f, err := os.Open(filepath.Join(dir, "acks.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var order []string
	gone := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		op, uid, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue // a torn last line
		}
		switch op {
		case "ACK":
			order = append(order, uid)
		case "DELETING":
			gone[uid] = true
		}
	}
	var out []string
	for _, u := range order {
		if !gone[u] {
			out = append(out, u)
		}
	}
	return out
}

// TestCrashSafety kills a child process running the archive at every hook
// point and at random times, at least 100 times, and checks after each
// restart (adversarial row 36): every acknowledged instance is readable;
// every indexed instance is readable and no row points at a missing or
// different object; Verify(repair) then leaves it clean; CollectGarbage
// removes exactly the orphans; PRAGMA integrity_check is ok.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(envCrashDir) != "" {
		t.Skip("in the child")
	}
	iterations := 104
	if n := os.Getenv("SHARDPACS_TEST_CRASH_ITER"); n != "" {
		fmt.Sscan(n, &iterations)
	}
	if testing.Short() || raceBuild {
		// The race detector finds nothing in a child that is killed (crash
		// safety is about what reached the disk, in which order), and its
		// instrumented children are many times slower: `make test` runs the
		// full count in a second, race-free pass (Makefile, test-crash).
		iterations = 26
	}
	dir := t.TempDir()
	if _, err := crypto.CreateKeyring(filepath.Join(dir, "master.key"), nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	killed := 0
	for it := range iterations {
		point := ""
		var delay time.Duration
		if it%4 == 3 {
			delay = time.Duration(20+rng.IntN(300)) * time.Millisecond
		} else {
			point = fmt.Sprintf("%s@%d", hookPoints[(it/4*3+it%4)%len(hookPoints)], 1+rng.IntN(2))
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashPoint+"="+point)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if delay > 0 {
			timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
			defer timer.Stop()
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
			killed++
		default:
			t.Fatalf("iteration %d (%q): child failed: %v\n%s", it, point, err, out)
		}
		checkAfterCrash(t, dir, it, point)
	}
	t.Logf("%d iterations, %d killed", iterations, killed)
	if killed < iterations/2 {
		t.Fatalf("only %d of %d children were killed", killed, iterations)
	}
}

func checkAfterCrash(t *testing.T, dir string, it int, point string) {
	t.Helper()
	opts, _ := crashOptions(t, dir)
	opts.NoRepairer = true
	a, err := Open(ctxb, opts)
	if err != nil {
		t.Fatalf("iteration %d (%s): reopen: %v", it, point, err)
	}
	defer a.Close()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("iteration %d (%s): "+format, append([]any{it, point}, args...)...)
	}
	if err := a.Index().IntegrityCheck(ctxb); err != nil {
		fail("%v", err)
	}
	for _, uid := range readAcks(t, dir) {
		obj, err := a.Open(ctxb, uid)
		if err != nil {
			fail("acknowledged instance: %v", err)
		}
		obj.Close()
	}
	rows, referenced := 0, 0
	err = a.Index().Each(ctxb, func(rec *index.InstanceRecord) error {
		rows++
		for _, s := range rec.Shares {
			referenced++
			if st, err := a.checkShare(ctxb, s.Index, s); st != ShareOK {
				fail("row points at a %v share: %v", st, err)
			}
		}
		obj, err := a.Open(ctxb, rec.SOPInstanceUID)
		if err != nil {
			fail("indexed instance unreadable: %v", err)
		}
		obj.Close()
		return nil
	})
	if err != nil {
		fail("%v", err)
	}
	if _, err := a.Verify(ctxb, true, nil); err != nil {
		fail("%v", err)
	}
	mustVerifyClean(t, a)
	if _, err := a.CollectGarbage(context.Background(), 0); err != nil && !errors.Is(err, ErrIndexEmpty) {
		fail("GC: %v", err)
	}
	total := 0
	for _, s := range opts.Stores {
		s.List(ctxb, func(string, int64, time.Time) error { total++; return nil })
	}
	if rows > 0 && total != 4*rows {
		fail("%d objects for %d instances after GC and repair", total, rows)
	}
	for i := range 4 {
		for _, f := range walkFiles(t, filepath.Join(dir, "stores", fmt.Sprint(i))) {
			if strings.Contains(filepath.Base(f), ".tmp-") {
				fail("temporary file %s left after CollectGarbage", f)
			}
		}
	}
}
