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
	"slices"
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
	"shred-key:put", "shred-key", "delete:shares-deleted",
}

const (
	envCrashDir   = "SHARDPACS_TEST_CRASH_DIR"
	envCrashPoint = "SHARDPACS_TEST_CRASH_POINT" // "point:n": SIGKILL at the n-th hit of point
	envCrashShred = "SHARDPACS_TEST_CRASH_SHRED" // "1": the child stores in shred mode
)

// crashOptions opens the crash test's archive in dir.
func crashOptions(t testing.TB, dir string) (Options, [4]*storetest.Faulty) {
	kr, err := crypto.LoadKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	// The key store is always open (instances of shred-mode runs stay
	// readable); Options.Shred is the child's choice.
	opts := Options{IndexPath: filepath.Join(dir, "index.db"), Keyring: kr, Duplicates: Replace, SpoolDir: filepath.Join(dir, "tmp"),
		ShredKeyPath: filepath.Join(dir, "shred-keys.db")}
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
	opts.Shred = os.Getenv(envCrashShred) == "1"
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
	prev, sealed := readAcks(t, dir)
	ack := "ACK"
	if opts.Shred {
		ack = "ACKS" // acknowledged, stored in shred mode
	}

	// 1. One store fails: stored with 3 shares (the missing one is repaired in 4).
	faulty[1].FailOp("put", syscall.EIO)
	for n, size := range []int{200, 150000} {
		s := newSynth("", "", size)
		if _, err := a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		logAck("%s %s", ack, s.SOP)
		if n == 0 {
			faulty[1].FailOp("put", nil)
		}
	}
	// 2. Replace and delete earlier instances (in shred mode, the oldest
	// one stored in shred mode, so that its key is destroyed).
	if len(prev) >= 2 {
		s := newSynth("", "", 500)
		s.SOP = prev[len(prev)-1]
		if _, err := a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		logAck("%s %s", ack, s.SOP)
		victim := prev[0]
		for _, u := range prev[:len(prev)-1] {
			if opts.Shred && sealed[u] {
				victim = u
				break
			}
		}
		logAck("DELETING %s", victim)
		if _, err := a.Delete(ctxb, index.LevelImage, victim); err != nil && !errors.Is(err, ErrNotFound) {
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
// present (acked, not being deleted), in order, and those last stored in
// shred mode.
func readAcks(t testing.TB, dir string) ([]string, map[string]bool) {
	sealed := map[string]bool{}
	f, err := os.Open(filepath.Join(dir, "acks.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, sealed
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
		case "ACK", "ACKS":
			if !slices.Contains(order, uid) {
				order = append(order, uid)
			}
			sealed[uid] = op == "ACKS"
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
	return out, sealed
}

// TestCrashSafety kills a child process running the archive at every hook
// point and at random times, at least 100 times, and checks after each
// restart (adversarial row 36): every acknowledged instance is readable;
// every indexed instance is readable and no row points at a missing or
// different object; Verify(repair) then leaves it clean; CollectGarbage
// removes exactly the orphans; PRAGMA integrity_check is ok. Every other
// child (and every one killed at "shred-key") stores in shred mode, so the
// archive mixes both kinds; then no share object may exist without its
// shred key, and after CollectGarbage exactly the indexed shred-sealed
// instances have a key.
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
			p := hookPoints[(it/4*3+it%4)%len(hookPoints)]
			nth := 1 + rng.IntN(2)
			if p == "delete-share" {
				nth = 1 + rng.IntN(8) // the replace deletes 4 old shares first, then the delete
			}
			point = fmt.Sprintf("%s@%d", p, nth)
		}
		shred := "0"
		if it%2 == 1 || strings.HasPrefix(point, "shred-key") || strings.HasPrefix(point, "delete-share") && it%4 == 2 {
			shred = "1"
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashPoint+"="+point, envCrashShred+"="+shred)
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
		checkAfterCrash(t, dir, it, point+" shred="+shred)
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
	acked, _ := readAcks(t, dir)
	for _, uid := range acked {
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
	// No share object, indexed or orphan, without its shred key.
	for i, s := range opts.Stores {
		s.List(ctxb, func(name string, _ int64, _ time.Time) error {
			h, err := a.shareHeader(ctxb, index.ShareRecord{Index: i, Name: name})
			if err != nil {
				fail("store %d object %s: %v", i, name, err)
			}
			if h.ShredSealed {
				if ok, err := a.ShredKeys().Has(ctxb, h.ObjectID); err != nil || !ok {
					fail("store %d object %s is shred-sealed and its key is missing (%v)", i, name, err)
				}
			}
			return nil
		})
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
	sealed := 0
	a.Index().Each(ctxb, func(rec *index.InstanceRecord) error {
		if h, err := a.shareHeader(ctxb, rec.Shares[0]); err == nil && h.ShredSealed {
			sealed++
		}
		return nil
	})
	if keys, err := a.ShredKeys().List(ctxb); err != nil || (rows > 0 && len(keys) != sealed) {
		fail("%d shred keys for %d indexed shred-sealed instances after GC (%v)", len(keys), sealed, err)
	}
	for i := range 4 {
		for _, f := range walkFiles(t, filepath.Join(dir, "stores", fmt.Sprint(i))) {
			if strings.Contains(filepath.Base(f), ".tmp-") {
				fail("temporary file %s left after CollectGarbage", f)
			}
		}
	}
}
