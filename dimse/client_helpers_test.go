package dimse

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/dicomtest"
)

// checkGoroutines fails the test when, at its end, more goroutines run
// than at its start (after giving them a few seconds to finish). Call it
// first in tests that are not parallel.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// part10 is a DICOM file split into its File Meta Information and the
// bytes of its data set.
type part10 = dicomtest.Part10

// storageProposals proposes, for each file, its SOP class in its transfer
// syntax (one context per distinct pair).
func storageProposals(files []part10, scpRole bool) []ContextProposal {
	seen := make(map[[2]string]bool)
	var out []ContextProposal
	for _, f := range files {
		k := [2]string{f.Meta.MediaStorageSOPClassUID, f.Meta.TransferSyntaxUID}
		if !seen[k] {
			seen[k] = true
			out = append(out, StorageContexts([]string{k[0]}, []string{k[1]}, scpRole)...)
		}
	}
	return out
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
