package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// gatedDestination is a C-STORE SCP (our dimse.Server) whose stores wait
// for the test: each C-STORE-RQ is announced on arrived and completes when
// it can take a token from release (all of them once release is closed),
// or fails when its association ends.
type gatedDestination struct {
	port    int
	arrived chan string
	release chan struct{}

	mu       sync.Mutex
	received []string // SOP Instance UIDs of the stores completed, in order
}

func startGatedDestination(t *testing.T, ae string) *gatedDestination {
	t.Helper()
	d := &gatedDestination{arrived: make(chan string, 1000), release: make(chan struct{})}
	srv := &dimse.Server{
		AETitle: ae,
		Store: dimse.StoreHandlerFunc(func(ctx context.Context, req *dimse.StoreRequest) error {
			d.arrived <- req.SOPInstanceUID
			select {
			case <-d.release:
			case <-ctx.Done():
				return ctx.Err()
			}
			d.mu.Lock()
			d.received = append(d.received, req.SOPInstanceUID)
			d.mu.Unlock()
			return nil
		}),
	}
	d.port = serveSCP(t, srv)
	return d
}

func (d *gatedDestination) got() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.received)
}

// openSpoolFiles counts this process's open archive read spool files in
// dir: with archive.Options.MemoryLimit 1 every archive.Object holds one,
// so the count is the number of decoded instances not yet closed.
func openSpoolFiles(t *testing.T, dir string) int {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testutil.SkipOrFail(t, "no /proc/self/fd to count open files: %v", err)
	}
	n := 0
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(l, filepath.Join(dir, ".shardpacs-read-")) {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idleGoroutines waits for the goroutine count to settle and returns it.
func idleGoroutines() int {
	n := runtime.NumGoroutine()
	for range 20 {
		time.Sleep(10 * time.Millisecond)
		n = min(n, runtime.NumGoroutine())
	}
	return n
}

// TestMoveCancelWhileReadingAhead holds a C-MOVE's third C-STORE at the
// destination: the node then holds exactly readAheadDepth+1 decoded
// instances (the one being sent and those read ahead: the memory bound),
// each an open spool file since the archive's MemoryLimit is 1 byte. A
// C-CANCEL then ends the move with 0xFE00 and exact counts, and every
// decoded instance is closed and every goroutine gone (an Object left open
// by the read-ahead stays an open file; a reader left blocked, a
// goroutine). The node then moves everything on the same association.
func TestMoveCancelWhileReadingAhead(t *testing.T) {
	const n = 12
	dest := startGatedDestination(t, "GATE")
	tn := startNodeArchive(t, func(c *config.Config) {
		c.Peers = append(c.Peers, config.Peer{AETitle: "GATE", Host: "127.0.0.1", Port: dest.port})
	}, archive.Options{MemoryLimit: 1})
	sops := storeSynthetic(t, tn, 1, n)
	spool := tn.cfg.SpoolPath()
	base := idleGoroutines()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, tn.addr, tn.cfg.AETitle, dimse.QueryRetrieveContexts())
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := cc.TransferSyntax(uid.StudyRootQRMove)
	ident := studyIdentifier(t, cancelStudy, ts)
	type result struct {
		so  dimse.SubOps
		st  dimse.Status
		err error
	}
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	var pending []dimse.SubOps
	res := make(chan result, 1)
	go func() {
		so, st, err := cc.Move(mctx, uid.StudyRootQRMove, "GATE", ident, func(p dimse.SubOps) { pending = append(pending, p) })
		res <- result{so, st, err}
	}()
	for i := range 3 {
		if got := <-dest.arrived; got != sops[i] {
			t.Fatalf("C-STORE %d is of %s, want %s (the order of the study)", i, got, sops[i])
		}
		if i < 2 {
			dest.release <- struct{}{}
		}
	}
	// The third is held: the read-ahead fills up, and no further.
	waitFor(t, "the read-ahead to fill", func() bool { return openSpoolFiles(t, spool) >= readAheadDepth+1 })
	time.Sleep(50 * time.Millisecond)
	if got := openSpoolFiles(t, spool); got != readAheadDepth+1 {
		t.Errorf("%d decoded instances open while one is sent, want %d", got, readAheadDepth+1)
	}

	mcancel()
	r := <-res
	if r.st != dimse.StatusCancel || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled move: status %v, err %v, %+v; want 0xFE00", r.st, r.err, r.so)
	}
	// The held store failed (its association aborted) or, had it been
	// answered already, completed: either way counted once, nothing else
	// attempted.
	if r.so.Completed < 2 || r.so.Completed+r.so.Failed != 3 || r.so.Warning != 0 || r.so.Remaining != n-3 {
		t.Errorf("counts %+v: want 2 or 3 completed, the third failed or completed, %d remaining", r.so, n-3)
	}
	if got := dest.got(); len(got) > r.so.Completed || !slices.Equal(got, sops[:len(got)]) {
		t.Errorf("destination completed %v, node reports %+v", got, r.so)
	}
	for i, p := range pending {
		if p.Remaining != n-i || p.Completed+p.Failed+p.Warning+p.Remaining != n {
			t.Errorf("pending response %d: %+v, want %d remaining of %d", i, p, n-i, n)
		}
	}
	// The final response comes once the handler has returned.
	if got := openSpoolFiles(t, spool); got != 0 {
		t.Errorf("%d decoded instances still open after the cancelled move", got)
	}

	// Everything, on the same association, once the destination lets
	// every store through.
	close(dest.release)
	so, st, err := cc.Move(ctx, uid.StudyRootQRMove, "GATE", ident, nil)
	if err != nil || st != dimse.StatusSuccess || so.Completed != n {
		t.Fatalf("move after the cancel: status %v, err %v, %+v; want success, %d completed", st, err, so, n)
	}
	if got := openSpoolFiles(t, spool); got != 0 {
		t.Errorf("%d decoded instances still open after the move", got)
	}
	if err := cc.Release(ctx); err != nil {
		t.Errorf("release: %v", err)
	}
	advWaitGoroutines(t, base)
}

// TestRetrieveFailuresInOrder makes three instances of ten unreadable
// (three of their four shares deleted, k = 2) — the third, the seventh and
// the last — and retrieves the study with C-MOVE and with C-GET: every
// other instance arrives, in the order of the study; the final status is
// 0xB000 with exactly 7 completed, 3 failed, and the Failed SOP Instance
// UID List names the three in order; each pending response counts one
// more sub-operation done.
func TestRetrieveFailuresInOrder(t *testing.T) {
	const n = 10
	broken := []int{2, 6, 9}
	dest := startGatedDestination(t, "GATE")
	close(dest.release)
	tn := startNode(t, func(c *config.Config) {
		c.Peers = append(c.Peers, config.Peer{AETitle: "GATE", Host: "127.0.0.1", Port: dest.port})
	})
	sops := storeSynthetic(t, tn, 1, n)
	stores := tn.cfg.StorePaths()
	var wantFailed, wantGot []string
	for i, sop := range sops {
		if !slices.Contains(broken, i) {
			wantGot = append(wantGot, sop)
			continue
		}
		wantFailed = append(wantFailed, sop)
		rec, err := tn.arch.Lookup(context.Background(), sop)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rec.Shares {
			if s.Index == 0 {
				continue
			}
			if err := os.Remove(filepath.Join(stores[s.Index], s.Name[:2], s.Name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// failedBefore[i] is how many of the first i instances are broken.
	failedBefore := make([]int, n+1)
	for i := range n {
		failedBefore[i+1] = failedBefore[i]
		if slices.Contains(broken, i) {
			failedBefore[i+1]++
		}
	}
	check := func(t *testing.T, so dimse.SubOps, st dimse.Status, pending []dimse.SubOps, got []string) {
		t.Helper()
		if st != dimse.StatusSubopsCompleteWithFailures || so.Completed != n-len(broken) || so.Failed != len(broken) || so.Warning != 0 {
			t.Errorf("final: status %v, %+v; want 0xB000, %d completed, %d failed", st, so, n-len(broken), len(broken))
		}
		if !slices.Equal(so.FailedSOPInstanceUIDs, wantFailed) {
			t.Errorf("Failed SOP Instance UID List %v, want %v", so.FailedSOPInstanceUIDs, wantFailed)
		}
		if !slices.Equal(got, wantGot) {
			t.Errorf("received %v, want %v", got, wantGot)
		}
		// The first pending response is sent before any sub-operation,
		// then one after each but the last.
		if len(pending) != n {
			t.Errorf("%d pending responses, want %d", len(pending), n)
		}
		for i, p := range pending {
			want := dimse.SubOps{Remaining: n - i, Failed: failedBefore[i], Completed: i - failedBefore[i]}
			if p.Remaining != want.Remaining || p.Failed != want.Failed || p.Completed != want.Completed || p.Warning != 0 {
				t.Errorf("pending response %d: %+v, want %+v", i, p, want)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("move", func(t *testing.T) {
		cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, tn.addr, tn.cfg.AETitle, dimse.QueryRetrieveContexts())
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Release(ctx)
		ts, _ := cc.TransferSyntax(uid.StudyRootQRMove)
		ident := studyIdentifier(t, cancelStudy, ts)
		var pending []dimse.SubOps
		so, st, _ := cc.Move(ctx, uid.StudyRootQRMove, "GATE", ident, func(p dimse.SubOps) { pending = append(pending, p) })
		check(t, so, st, pending, dest.got())
	})
	t.Run("get", func(t *testing.T) {
		props := append(dimse.QueryRetrieveContexts(),
			dimse.StorageContexts([]string{secondaryCaptureStorage}, []string{uid.ExplicitVRLittleEndian}, true)...)
		cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, tn.addr, tn.cfg.AETitle, props)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Release(ctx)
		ts, _ := cc.TransferSyntax(uid.StudyRootQRGet)
		ident := studyIdentifier(t, cancelStudy, ts)
		var got []string
		h := dimse.StoreHandlerFunc(func(ctx context.Context, req *dimse.StoreRequest) error {
			got = append(got, req.SOPInstanceUID)
			return nil
		})
		var pending []dimse.SubOps
		so, st, _ := cc.Get(ctx, uid.StudyRootQRGet, ident, h, func(p dimse.SubOps) { pending = append(pending, p) })
		check(t, so, st, pending, got)
	})
}
