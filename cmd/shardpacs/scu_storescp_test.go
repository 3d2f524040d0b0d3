package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/internal/dicomtest"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// deadAddr returns a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
}

// TestEchoStorescp: "shardpacs echo" succeeds against storescp (by address
// and by configured peer name) and fails with exit status 1 on a dead port.
func TestEchoStorescp(t *testing.T) {
	cleanEnv(t)
	addr, _ := startStorescp(t, "ECHOSCP")

	r := runCLI(t, "echo", "--aet", "TESTSCU", addr)
	if r.code != 0 || !strings.Contains(r.stdout, "C-ECHO SHARDPACS at "+addr+": ok") {
		t.Errorf("echo %s: code %d, stdout %q, stderr %q", addr, r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "echo", "--peer", "ECHOSCP="+addr, "ECHOSCP")
	if r.code != 0 || !strings.Contains(r.stdout, "C-ECHO ECHOSCP at "+addr+": ok") {
		t.Errorf("echo by peer name: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// --tls against a plain-TCP peer: the handshake fails, exit status 1.
	r = runCLI(t, "echo", "--tls", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "TLS handshake") {
		t.Errorf("echo --tls to a plain peer: code %d, stderr %q", r.code, r.stderr)
	}
	dead := deadAddr(t)
	r = runCLI(t, "echo", dead)
	if r.code != 1 || !strings.Contains(r.stderr, "connection refused") || r.stdout != "" {
		t.Errorf("echo to a dead port: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestStoreStorescp stores the whole corpus folder into a bit-preserving
// storescp and checks that every instance arrived with its data set
// unchanged, and that the summary counts are right.
func TestStoreStorescp(t *testing.T) {
	cleanEnv(t)
	files := dicomtest.CorpusPart10(t)
	addr, dir := startStorescp(t, "STORESCP")

	r := runCLI(t, "store", "--aec", "STORESCP", addr, testutil.CorpusDir(t))
	if r.code != 0 {
		t.Fatalf("store: code %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	want := strconv.Itoa(len(files)) + " files to STORESCP at " + addr + ": " + strconv.Itoa(len(files)) + " stored, 0 with warnings, 0 failed"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("summary missing %q in:\n%s", want, r.stdout)
	}
	if n := len(regexp.MustCompile(`(?m)^OK   `).FindAllString(r.stdout, -1)); n != len(files) {
		t.Errorf("%d OK lines, want %d", n, len(files))
	}
	got := dicomtest.FilesByInstance(t, dir)
	if len(got) != len(files) {
		t.Errorf("storescp received %d instances, want %d", len(got), len(files))
	}
	for _, f := range files {
		g, ok := got[f.Meta.MediaStorageSOPInstanceUID]
		switch {
		case !ok:
			t.Errorf("%s not received", f.Path)
		case g.Meta.TransferSyntaxUID != f.Meta.TransferSyntaxUID:
			t.Errorf("%s received in %s, sent in %s", f.Path, g.Meta.TransferSyntaxUID, f.Meta.TransferSyntaxUID)
		case !sameDataSet(g.Data, f.Data):
			t.Errorf("%s: received data set (%d bytes) differs from the file's (%d bytes)", f.Path, len(g.Data), len(f.Data))
		}
	}
}

// TestStoreOutcomes: a file named on the command line that is not DICOM
// fails the command; the same file met inside a folder is only skipped; a
// missing argument is a usage error; a dead peer fails every file.
func TestStoreOutcomes(t *testing.T) {
	cleanEnv(t)
	files := dicomtest.CorpusPart10(t)
	addr, dir := startStorescp(t, "STORESCP")
	src := t.TempDir()
	notDICOM := filepath.Join(src, "README.txt")
	if err := os.WriteFile(notDICOM, []byte("not a DICOM file"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "store", addr, src, files[0].Path)
	if r.code != 0 || !strings.Contains(r.stdout, "SKIP "+notDICOM) || !strings.Contains(r.stdout, "1 stored, 0 with warnings, 0 failed, 1 skipped") {
		t.Errorf("folder with a non-DICOM file: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, ok := dicomtest.FilesByInstance(t, dir)[files[0].Meta.MediaStorageSOPInstanceUID]; !ok {
		t.Errorf("%s not received", files[0].Path)
	}
	r = runCLI(t, "store", addr, notDICOM)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL "+notDICOM) {
		t.Errorf("named non-DICOM file: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "store", addr, filepath.Join(src, "missing.dcm"))
	if r.code != 2 {
		t.Errorf("missing file: code %d, want 2\n%s", r.code, r.stderr)
	}
	r = runCLI(t, "store", "-q", deadAddr(t), files[0].Path, files[1].Path)
	if r.code != 1 || strings.Count(r.stdout, "FAIL ") != 2 || !strings.Contains(r.stdout, "0 stored, 0 with warnings, 2 failed") {
		t.Errorf("dead peer: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestPeersEcho: "peers" lists the configured peers; "peers --echo" says ok
// for a live storescp and failed (with the reason) for a dead port, and
// exits 1.
func TestPeersEcho(t *testing.T) {
	cleanEnv(t)
	addr, _ := startStorescp(t, "LIVE")
	dead := deadAddr(t)
	cfg := filepath.Join(t.TempDir(), "shardpacs.toml")
	toml := `[[peers]]
ae_title = "LIVE"
host = "127.0.0.1"
port = ` + strings.Split(addr, ":")[1] + `

[[peers]]
ae_title = "DEAD"
host = "127.0.0.1"
port = ` + strings.Split(dead, ":")[1] + `
permissions = ["echo", "find"]

[[peers]]
ae_title = "CALLER"
permissions = []
`
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, "peers", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("peers: code %d: %s", r.code, r.stderr)
	}
	for _, re := range []string{
		`(?m)^AE\s+ADDRESS\s+TLS\s+PERMISSIONS$`,
		`(?m)^LIVE\s+` + regexp.QuoteMeta(addr) + `\s+no\s+all$`,
		`(?m)^DEAD\s+` + regexp.QuoteMeta(dead) + `\s+no\s+echo,find$`,
		`(?m)^CALLER\s+-\s+no\s+none$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("peers output lacks %s:\n%s", re, r.stdout)
		}
	}

	r = runCLI(t, "peers", "--config", cfg, "--echo")
	if r.code != 1 || !strings.Contains(r.stderr, "1 of 3 peers failed") {
		t.Errorf("peers --echo: code %d, stderr %q", r.code, r.stderr)
	}
	for _, re := range []string{
		`(?m)^LIVE\s.*\sok \(\d+(\.\d+)?m?s\)$`,
		`(?m)^DEAD\s.*\sfailed: .*connection refused$`,
		`(?m)^CALLER\s.*\s- \(no address\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("peers --echo output lacks %s:\n%s", re, r.stdout)
		}
	}

	// No peers at all: a hint, exit 0.
	r = runCLI(t, "peers")
	if r.code != 0 || !strings.Contains(r.stdout, "no peers configured") {
		t.Errorf("peers without configuration: code %d, %q", r.code, r.stdout)
	}
}
