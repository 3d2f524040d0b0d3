package main

import (
	"context"
	"net"
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
