package dimse

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
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
type part10 struct {
	path string
	meta *dcm.FileMeta
	data []byte
}

// readPart10 reads a DICOM file; ok is false when it has no usable File
// Meta Information (such files are refused by StoreFile).
func readPart10(t testing.TB, path string) (part10, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, off, err := dcm.ReadPart10Header(bufio.NewReader(bytes.NewReader(b)), 0)
	if err != nil || meta.TransferSyntaxUID == "" || meta.MediaStorageSOPClassUID == "" || meta.MediaStorageSOPInstanceUID == "" {
		return part10{path: path}, false
	}
	return part10{path: path, meta: meta, data: b[off:]}, true
}

// receivedFiles reads every file a storescp wrote into dir, by SOP
// Instance UID.
func receivedFiles(t *testing.T, dir string) map[string]part10 {
	t.Helper()
	out := make(map[string]part10)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p, ok := readPart10(t, filepath.Join(dir, e.Name()))
		if !ok {
			t.Errorf("storescp wrote %s without a readable File Meta Information", e.Name())
			continue
		}
		if _, dup := out[p.meta.MediaStorageSOPInstanceUID]; dup {
			t.Errorf("two received files for instance %s", p.meta.MediaStorageSOPInstanceUID)
		}
		out[p.meta.MediaStorageSOPInstanceUID] = p
	}
	return out
}

// storageProposals proposes, for each file, its SOP class in its transfer
// syntax (one context per distinct pair).
func storageProposals(files []part10, scpRole bool) []ContextProposal {
	seen := make(map[[2]string]bool)
	var out []ContextProposal
	for _, f := range files {
		k := [2]string{f.meta.MediaStorageSOPClassUID, f.meta.TransferSyntaxUID}
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
