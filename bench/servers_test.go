package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/config"
)

// The configuration the harness gives `shardpacs serve` must pass the
// node's own loader and validation.
func TestShardpacsConfigLoads(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "shardpacs.toml")
	if err := os.WriteFile(p, []byte(shardpacsConfig(40001, "SHARDPACS", filepath.Join(dir, "data"), 40002)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadAll(p, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatalf("config.LoadAll: %v", err)
	}
	if c.Listen != "127.0.0.1:40001" || c.AETitle != "SHARDPACS" || c.UnknownCallingAE != "accept" {
		t.Errorf("loaded %+v", c)
	}
	if len(c.Peers) != 1 || c.Peers[0].AETitle != destAE || c.Peers[0].Port != 40002 {
		t.Errorf("peers %+v", c.Peers)
	}
	// Without a move destination there is no peer.
	if strings.Contains(shardpacsConfig(1, "SHARDPACS", dir, 0), "[[peers]]") {
		t.Error("peer without destination")
	}
}

func TestDcmqrscpConfig(t *testing.T) {
	got := dcmqrscpConfig(40001, "DCMQRSCP", "/data/area", 40002)
	for _, want := range []string{
		"NetworkTCPPort = 40001\n",
		"benchdest = (BENCHDEST, 127.0.0.1, 40002)\n",
		"DCMQRSCP /data/area RW (1000000, 100000mb) ANY\n",
		"HostTable END", "VendorTable END", "AETable END",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dcmqrscp.cfg lacks %q:\n%s", want, got)
		}
	}
}

func TestOrthancConfig(t *testing.T) {
	b, err := orthancConfig("/x", 40001, 40003, true, 40002)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["DicomPort"] != float64(40001) || m["HttpPort"] != float64(40003) || m["StorageCompression"] != true ||
		m["StorageDirectory"] != "/x/storage" || m["DicomAlwaysAllowStore"] != true {
		t.Errorf("orthanc config %s", b)
	}
	mods := m["DicomModalities"].(map[string]any)
	if d, ok := mods["dest"].([]any); !ok || d[0] != destAE || d[2] != float64(40002) {
		t.Errorf("move destination %v", mods)
	}
}
