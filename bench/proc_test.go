package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWaitListening: a server counts as ready once something accepts on
// each of its ports; one that exits first (Orthanc when its HTTP port was
// taken since freePort) is an error naming the port, not a ready server.
func TestWaitListening(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	log := filepath.Join(t.TempDir(), "server.log")

	p, err := startProc(ctx, log, port, 5*time.Second, "sleep", "30")
	if err != nil {
		t.Fatalf("a listening port: %v", err)
	}
	p.kill()

	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err = startProc(ctx, log, port, 5*time.Second, "sleep", "0.2")
	if err != nil {
		t.Fatal(err)
	}
	err = p.waitListening(ctx, free, time.Now().Add(10*time.Second), "sleep", log)
	if err == nil || !strings.Contains(err.Error(), "exited before listening") {
		t.Errorf("second port never opened, process exited: %v", err)
	}
}

// treePIDs finds a child process (and its child), and sumRSS adds their
// resident memory; a pid that has exited counts nothing.
func TestTreePIDs(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var pids []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if pids = treePIDs(cmd.Process.Pid); len(pids) >= 2 {
			break
		}
	}
	if len(pids) < 2 || pids[0] != cmd.Process.Pid {
		t.Fatalf("tree of sh: %v, want sh and its sleep", pids)
	}
	if sumRSS(pids) <= sumRSS(pids[:1]) {
		t.Fatalf("RSS of the tree %d not above that of sh alone %d", sumRSS(pids), sumRSS(pids[:1]))
	}
	if n := sumRSS([]int{1 << 30}); n != 0 {
		t.Fatalf("RSS of no process: %d", n)
	}
}
