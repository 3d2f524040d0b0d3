package dimse

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// TestAdversarialResetMidStore is row 16 at the Server level: the peer
// sends a C-STORE command and half of a data set large enough to be
// spooled to disk, then resets the TCP connection (no A-RELEASE, no
// A-ABORT). The Store handler never runs, the spool folder is empty
// afterwards, the Observer reports the association aborted, and no
// goroutine is left. (Index rows and share objects are the archive's and
// node's part of the row.)
func TestAdversarialResetMidStore(t *testing.T) {
	advGoroutines(t)
	spool := t.TempDir()
	var called atomic.Bool
	rec := &advAERecorder{ended: make(chan struct{}, 1)}
	addr := advServe(t, &Server{ARTIMTimeout: advShort, Observer: rec,
		Limits: Limits{SpoolThreshold: 64 << 10, SpoolDir: spool},
		Store:  StoreHandlerFunc(func(context.Context, *StoreRequest) error { called.Store(true); return nil })})
	p := advDialRaw(t, addr)
	p.associate(advRQ(t, "RESET", 16384, advPC(1, uid.CTImageStorage)))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Command, then 1 MiB of a 2 MiB data set, in non-last fragments.
	cmd := NewCStoreRQ(1, uid.CTImageStorage, "1.2.3.16", PriorityMedium)
	cmd.HasDataSet = true
	if err := p.SendPData(ctx, []pdu.PDV{{ContextID: 1, Command: true, Last: true, Data: cmd.Encode()}}); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0x5A}, pdu.MaxPDVData(16384))
	for sent := 0; sent < 1<<20; sent += len(chunk) {
		if err := p.SendPData(ctx, []pdu.PDV{{ContextID: 1, Data: chunk}}); err != nil {
			t.Fatal(err)
		}
	}
	if advSpoolFDs(spool) < 0 {
		t.Skip("no /proc/self/fd: cannot see spool files")
	}
	// Wait until the Server has spooled part of it: the spool file is
	// unlinked at once on Linux, so look for an open descriptor on it.
	deadline := time.Now().Add(5 * time.Second)
	for advSpoolFDs(spool) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if advSpoolFDs(spool) <= 0 {
		t.Fatal("the data set was never spooled: the test would prove nothing")
	}
	p.c.(*net.TCPConn).SetLinger(0) // close sends RST
	p.c.Close()

	select {
	case <-rec.ended:
	case <-time.After(advDialTO):
		t.Fatal("Observer not told the association ended")
	}
	rec.mu.Lock()
	aborted := len(rec.aborted)
	rec.mu.Unlock()
	if aborted != 1 {
		t.Errorf("Observer saw %d aborted associations, want 1", aborted)
	}
	if called.Load() {
		t.Fatal("the Store handler ran for a partial data set")
	}
	deadline = time.Now().Add(5 * time.Second)
	for advSpoolFDs(spool) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := advSpoolFDs(spool); n != 0 {
		t.Fatalf("%d spool files still open after the reset", n)
	}
	if n := advDirLen(t, spool); n != 0 {
		t.Fatalf("%d files left in the spool folder", n)
	}
}

// advSpoolFDs counts this process's open descriptors on files in dir
// (deleted or not), or -1 without /proc.
func advSpoolFDs(dir string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

func advDirLen(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
