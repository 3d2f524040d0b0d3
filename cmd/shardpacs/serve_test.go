package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// buildServeBinary builds cmd/shardpacs into a temporary folder.
func buildServeBinary(t *testing.T) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	bin := filepath.Join(t.TempDir(), "shardpacs")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(testutil.RepoRoot(t), "cmd", "shardpacs")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// servedNode is a running `shardpacs serve` process.
type servedNode struct {
	cmd    *exec.Cmd
	port   string
	stderr *syncBuffer
	done   chan error
}

// startServe starts the real binary with args and waits for its
// "listening on" line.
func startServe(t *testing.T, args ...string) *servedNode {
	t.Helper()
	bin := buildServeBinary(t)
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "SHARDPACS_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sn := &servedNode{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = sn.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if after, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				lines <- after
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { sn.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-sn.done
	})
	select {
	case addr := <-lines:
		_, sn.port, _ = strings.Cut(addr, ":")
	case err := <-sn.done:
		t.Fatalf("serve exited: %v\n%s", err, sn.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("no 'listening on' line\n%s", sn.stderr)
	}
	return sn
}

func runDCMTK(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path := testutil.RequireTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "TCP_NODELAY=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestServeAcceptanceConfig runs the real binary on exactly the documented
// acceptance configuration (ports and data folder overridden by flags, as
// the README says), drives it with DCMTK, and stops it with SIGTERM.
func TestServeAcceptanceConfig(t *testing.T) {
	root := testutil.RepoRoot(t)
	cfgFile := filepath.Join(root, "config", "acceptance.example.toml")
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatalf("documented acceptance config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("documented acceptance config: %v", err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(cfgFile)
	for _, line := range strings.Split(string(raw), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(string(readme), line) {
			t.Errorf("README does not show the config line %q", line)
		}
	}
	files := testutil.CorpusFiles(t)
	testutil.RequireTool(t, "storescp")

	destDir := t.TempDir()
	destPort, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
		return []string{"-aet", "TESTDEST", "-od", destDir, strconv.Itoa(port)}
	})

	data := filepath.Join(t.TempDir(), "data")
	sn := startServe(t, "--config", cfgFile, "--data", data, "--listen", "127.0.0.1:0",
		"--peer", "TESTDEST=127.0.0.1:"+strconv.Itoa(destPort), "--log-format", "json")

	if out, err := runDCMTK(t, "echoscu", "-aet", "TESTER", "-aec", "SHARDPACS", "127.0.0.1", sn.port); err != nil {
		t.Fatalf("echoscu as TESTER: %v\n%s", err, out)
	}
	if out, err := runDCMTK(t, "echoscu", "-aet", "INTRUDER", "-aec", "SHARDPACS", "127.0.0.1", sn.port); err == nil {
		t.Fatalf("echoscu as INTRUDER accepted\n%s", out)
	}
	// Two uncompressed single-frame files of one study from the corpus.
	var study string
	var sent []string
	for _, f := range files {
		if strings.Contains(f, "suyashkumar") && len(sent) < 2 {
			sent = append(sent, f)
		}
	}
	if len(sent) == 0 {
		t.Fatal("no corpus file to send")
	}
	if out, err := runDCMTK(t, "storescu", append([]string{"-aet", "TESTER", "-aec", "SHARDPACS", "127.0.0.1", sn.port}, sent[:1]...)...); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	out, err := runDCMTK(t, "dcmdump", "+P", "StudyInstanceUID", "-q", sent[0])
	if err != nil {
		t.Fatal(err)
	}
	if i, j := strings.Index(out, "["), strings.Index(out, "]"); i >= 0 && j > i {
		study = out[i+1 : j]
	}
	if out, err := runDCMTK(t, "movescu", "-aet", "TESTER", "-aec", "SHARDPACS", "-aem", "TESTDEST", "-S",
		"-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID="+study, "127.0.0.1", sn.port); err != nil {
		t.Fatalf("movescu: %v\n%s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ents, _ := os.ReadDir(destDir)
		if len(ents) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing received by the move destination\n%s", sn.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := sn.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sn.done:
		sn.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, sn.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM\n%s", sn.stderr)
	}
	logs := sn.stderr.String()
	for _, want := range []string{`"calling_ae":"\"TESTER\""`, `"association rejected"`, `"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, `"association ended"`); n < 3 {
		t.Errorf("%d association lines, want one per association (>= 3):\n%s", n, logs)
	}
	if strings.Contains(logs, study) {
		t.Errorf("a Study Instance UID reached the info log")
	}
}

func TestServeBadSetting(t *testing.T) {
	t.Setenv("SHARDPACS_CONFIG", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--k", "7"}, "k"},
		{[]string{"--ae-title", `BAD\AE`}, "ae_title"},
		{[]string{"--log-level", "loud"}, "log"},
	} {
		var stdout, stderr strings.Builder
		args := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, c.args...)
		if code := runMain(context.Background(), args, &stdout, &stderr); code == 0 {
			t.Errorf("serve %v started", c.args)
			continue
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("serve %v: error does not name %s: %s", c.args, c.want, stderr.String())
		}
	}
}
