package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDebugAddr: the profiler listens on loopback only and serves the
// pprof index and profiles; any other address is refused before listening.
func TestDebugAddr(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:0", ":0", "192.0.2.1:6060", "example.org:6060", "nonsense"} {
		if _, stop, err := startDebug(bad); err == nil {
			stop()
			t.Errorf("startDebug(%q) accepted", bad)
		}
	}
	addr, stop, err := startDebug("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/heap"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %s, %d bytes", path, resp.Status, len(body))
		}
		if strings.HasSuffix(path, "debug=1") && !strings.Contains(string(body), "goroutine") {
			t.Errorf("GET %s: no goroutine listing", path)
		}
	}
	resp, err := http.Get("http://" + addr + "/other")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /other: %s, want 404", resp.Status)
		}
	}
}
