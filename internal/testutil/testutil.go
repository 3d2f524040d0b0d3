// Package testutil holds the helpers every package's tests share: where the
// real-DICOM corpus is, whether an external peer tool (DCMTK, GDCM, Orthanc)
// is installed, and free loopback ports picked at run time.
//
// Missing tools and a missing corpus make a test skip with a loud message.
// When SHARDPACS_STRICT=1 (set by .ci/run after it installs the tools) the
// same condition fails the test instead, so CI can never pass by skipping.
package testutil

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Strict reports whether skips for missing tools or data are fatal
// (SHARDPACS_STRICT=1).
func Strict() bool { return os.Getenv("SHARDPACS_STRICT") == "1" }

// SkipOrFail skips the test with a loud message, or fails it in strict mode.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("SHARDPACS_STRICT=1 and: "+format, args...)
	}
	t.Logf("!!! SKIPPING (set up the missing piece to run this test): "+format, args...)
	t.SkipNow()
}

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testutil: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CorpusDir returns the real-DICOM corpus folder: $SHARDPACS_CORPUS, or
// ../shared/corpus beside the repository. It skips (or fails, in strict mode)
// when the folder does not exist.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SHARDPACS_CORPUS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "corpus")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		SkipOrFail(t, "DICOM corpus not found at %q (set SHARDPACS_CORPUS)", dir)
	}
	return dir
}

// PydicomTestFiles returns pydicom's test-file folder (Debian package
// python3-pydicom), or skips/fails when it is not installed.
func PydicomTestFiles(t testing.TB) string {
	t.Helper()
	for _, dir := range []string{
		os.Getenv("SHARDPACS_PYDICOM_FILES"),
		"/usr/lib/python3/dist-packages/pydicom/data/test_files",
	} {
		if dir == "" {
			continue
		}
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
	}
	SkipOrFail(t, "pydicom test files not found (apt-get install python3-pydicom, or set SHARDPACS_PYDICOM_FILES)")
	return ""
}

// CorpusFiles lists every regular file below the corpus folder whose name
// ends in .dcm, sorted.
func CorpusFiles(t testing.TB) []string {
	t.Helper()
	return DICOMFiles(t, CorpusDir(t))
}

// DICOMFiles lists the files below dir that end in .dcm (case-insensitive),
// sorted.
func DICOMFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(p), ".dcm") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testutil: walking %s: %v", dir, err)
	}
	sort.Strings(files)
	return files
}

// RequireTool returns the path of an external program, or skips (fails in
// strict mode) when it is not on PATH.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, "external tool %q not found on PATH (make test installs it when run as root)", name)
	}
	return p
}

// Listen opens a TCP listener on a free loopback port.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// FreePort returns a loopback port that was free a moment ago, for external
// servers (storescp, dcmqrscp) that must be told a port number. It is
// picked at random BELOW the kernel's ephemeral range, so that the source
// port of an outgoing connection (which the kernel takes from that range)
// cannot grab it between this call and the server's bind. Prefer
// StartServer, which also retries when the port was taken anyway.
func FreePort(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("testutil: no free loopback port found")
	return 0
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux:
// /proc/sys/net/ipv4/ip_local_port_range; 32768 when unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				return n
			}
		}
	}
	return 32768
}

// StartServer starts an external server program that listens on the port
// it is given (storescp, dcmqrscp, Orthanc …) and waits until that port
// accepts TCP connections. args builds the command line for a port. When
// the program exits before listening (its port was taken after all), it is
// started again on another port, up to five times; a program that neither
// listens nor exits within 30 s fails the test. The process is killed and
// reaped at the end of the test, and its output logged if the test
// failed. env entries are added to the environment
// (DCMTK tools want TCP_NODELAY=1, which is always set).
func StartServer(t testing.TB, tool string, env []string, args func(port int) []string) (int, *exec.Cmd) {
	t.Helper()
	path := RequireTool(t, tool)
	var lastErr error
	for range 5 {
		port := FreePort(t)
		cmd := exec.Command(path, args(port)...)
		cmd.Env = append(append(os.Environ(), "TCP_NODELAY=1"), env...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("testutil: starting %s: %v", tool, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				t.Cleanup(func() {
					_ = cmd.Process.Kill()
					<-exited
					if t.Failed() {
						t.Logf("testutil: output of %s (port %d):\n%s", tool, port, out.String())
					}
				})
				return port, cmd
			}
			select {
			case err := <-exited:
				lastErr = fmt.Errorf("%s exited before listening on port %d: %v\n%s", tool, port, err, out.String())
			case <-time.After(20 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue
				}
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("testutil: %s did not listen on port %d within 30 s\n%s", tool, port, out.String())
			}
			break
		}
	}
	t.Fatalf("testutil: %v", lastErr)
	return 0, nil
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (a process's
// output goroutines, a logger on several goroutines) and a reading test.
// Its zero value is empty and ready.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
