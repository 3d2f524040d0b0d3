package fsstore

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func tempFile(t *testing.T, dir, name string) (*os.File, int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	seq := nextOpenSeq()
	if _, err := f.WriteString("share bytes"); err != nil {
		t.Fatal(err)
	}
	return f, seq
}

// Every concurrent caller gets its own result, in as many rounds as the
// timing allows (at most one per caller).
func TestSyncerConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := &syncer{}
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		f, seq := tempFile(t, dir, fmt.Sprint("f", i))
		defer f.Close()
		wg.Go(func() { errs[i] = s.sync(f, seq) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sync %d: %v", i, err)
		}
	}
	if r := s.rounds.Load(); r < 1 || r > n {
		t.Fatalf("%d rounds for %d requests", r, n)
	}
	t.Logf("%d requests in %d rounds (%d by syncfs)", n, s.rounds.Load(), s.fsyncs.Load())
	if s.leading || len(s.pending) != 0 {
		t.Fatal("syncer not idle after the last round")
	}
}

// A file that cannot be synced fails its own request only, whether it is
// the oldest of the batch (syncfs fails, each file is then fsynced) or not.
func TestSyncerErrorAttribution(t *testing.T) {
	dir := t.TempDir()
	for _, badFirst := range []bool{true, false} {
		good, gseq := tempFile(t, dir, "good")
		bad, bseq := tempFile(t, dir, "bad")
		bad.Close() // Sync and syncfs of a closed file fail
		if badFirst {
			bseq = gseq - 1
		}
		reqs := []*syncReq{{f: good, seq: gseq}, {f: bad, seq: bseq}}
		(&syncer{}).syncBatch(reqs)
		good.Close()
		if reqs[0].err != nil {
			t.Errorf("bad first %v: good file: %v", badFirst, reqs[0].err)
		}
		// With syncfs on the good (oldest) fd the whole batch succeeds: the
		// closed fd has nothing unsynced, so no error is right then.
		if (badFirst || !syncfsWorks) && reqs[1].err == nil {
			t.Errorf("bad first %v: closed file: no error", badFirst)
		}
	}
}

func TestSubIndex(t *testing.T) {
	for in, want := range map[string]int{"00": 0, "0a": 10, "ff": 255, "a0": 160, "g0": -1, "A0": -1, "000": -1, "": -1} {
		if got := subIndex(in); got != want {
			t.Errorf("subIndex(%q) = %d, want %d", in, got, want)
		}
	}
}
