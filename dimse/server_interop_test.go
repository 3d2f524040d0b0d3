package dimse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// runDCMTK runs a DCMTK tool with TCP_NODELAY=1 (without it DCMTK's small
// writes meet delayed ACKs: 40 ms stalls) and returns its combined output.
func runDCMTK(ctx context.Context, t testing.TB, tool string, args ...string) (string, error) {
	t.Helper()
	path := testutil.RequireTool(t, tool)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "TCP_NODELAY=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

func TestServerEchoscu(t *testing.T) {
	srvLeakCheck(t)
	testutil.RequireTool(t, "echoscu")
	addr := srvStart(t, &Server{AETitle: "SHARDPACS"})
	h, p := hostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := runDCMTK(ctx, t, "echoscu", "-aec", "SHARDPACS", h, p); err != nil {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}
	// Wrong called AE: echoscu must fail (RJ 1,1,7).
	if out, err := runDCMTK(ctx, t, "echoscu", "-aec", "NOTUS", h, p); err == nil {
		t.Fatalf("echoscu to a wrong AE title succeeded:\n%s", out)
	}
}

// spoolStore is a StoreHandler that writes every data set to a file in dir
// and records its SHA-256 and transfer syntax.
type spoolStore struct {
	dir   string
	mu    sync.Mutex
	got   map[[32]byte]string // hash → transfer syntax
	n     int
	sent  int64
	sizes []int64
}

func newSpoolStore(dir string) *spoolStore {
	return &spoolStore{dir: dir, got: make(map[[32]byte]string)}
}

func (s *spoolStore) ServeStore(_ context.Context, req *StoreRequest) error {
	s.mu.Lock()
	s.n++
	name := filepath.Join(s.dir, fmt.Sprintf("%06d.ds", s.n))
	s.mu.Unlock()
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	r := req.DataSet.NewReader()
	for {
		n, rerr := r.Read(buf)
		f.Write(buf[:n])
		h.Write(buf[:n])
		if rerr != nil {
			break
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	s.mu.Lock()
	s.got[sum] = req.TransferSyntaxUID
	s.sizes = append(s.sizes, req.DataSet.Size())
	s.sent += req.DataSet.Size()
	s.mu.Unlock()
	return nil
}

// interopFiles returns the corpus files and the pydicom test files that
// are Part-10 files, with their transfer syntax and data set bytes.
type p10 struct {
	path, ts, class string
	sum             [32]byte
	size            int
}

func interopFiles(t *testing.T, withPydicom bool) []p10 {
	files := testutil.CorpusFiles(t)
	if withPydicom {
		files = append(files, testutil.DICOMFiles(t, testutil.PydicomTestFiles(t))...)
	}
	var out []p10
	for _, f := range files {
		ts, class, ds, ok := srvPart10(f)
		if !ok {
			continue
		}
		out = append(out, p10{path: f, ts: ts, class: class, sum: sha256.Sum256(ds)})
	}
	return out
}

// TestServerStorescu sends every corpus file and every Part-10 pydicom
// test file with DCMTK storescu, each in its own transfer syntax (-R:
// propose only the file's), and checks that the server received each
// data set byte for byte: one association, four parallel associations,
// and small (4 KiB) PDUs.
func TestServerStorescu(t *testing.T) {
	testutil.RequireTool(t, "storescu")
	files := interopFiles(t, true)
	if len(files) == 0 {
		testutil.SkipOrFail(t, "no DICOM files")
	}
	ref := storescpReference(t, files)
	corpus := 0
	for _, r := range ref {
		if !strings.Contains(r.path, "pydicom") {
			corpus++
		}
	}
	if n := len(testutil.CorpusFiles(t)); corpus < n-1 { // OF_DICOM.dcm is broken
		t.Fatalf("storescp reference received only %d of %d corpus files", corpus, n)
	}
	for _, tc := range []struct {
		name     string
		procs    int
		pdu      string
		serverML uint32
	}{
		{"one-association", 1, "131072", 1 << 20},
		{"four-parallel", 4, "131072", 1 << 20},
		{"pdu-4096", 1, "4096", 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvLeakCheck(t)
			store := newSpoolStore(t.TempDir())
			addr := srvStart(t, &Server{Store: store, MaxPDULength: tc.serverML})
			h, p := hostPort(addr)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			outs := make([]string, tc.procs)
			for i := range tc.procs {
				var mine []p10
				for j := i; j < len(files); j += tc.procs {
					mine = append(mine, files[j])
				}
				cfg, profile := storescuConfig(t, mine)
				args := []string{"-aec", "SHARDPACS", "-xf", cfg, profile, "-nh", "-pdu", tc.pdu, h, p}
				for _, f := range mine {
					args = append(args, f.path)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := runDCMTK(ctx, t, "storescu", args...)
					if err != nil {
						out += "\nexit: " + err.Error()
					}
					outs[i] = out
				}()
			}
			wg.Wait()
			store.mu.Lock()
			defer store.mu.Unlock()
			var missing []string
			for sum, r := range ref {
				ts, ok := store.got[sum]
				switch {
				case !ok:
					missing = append(missing, fmt.Sprintf("%s (%d bytes)", r.path, r.size))
				case ts != r.ts:
					t.Errorf("%s: stored in %s, storescp got %s", r.path, ts, r.ts)
				}
			}
			if len(missing) > 0 || len(store.got) != len(ref) {
				t.Errorf("%d distinct data sets received, storescp received %d; not received byte-exact: %v\nstorescu output:\n%s",
					len(store.got), len(ref), missing, strings.Join(outs, "\n----\n"))
				t.Logf("sizes received: %v", store.sizes)
			}
			same := 0
			for _, f := range files {
				if _, ok := store.got[f.sum]; ok {
					same++
				}
			}
			t.Logf("%d data sets (%d bytes) identical to storescp's; %d of %d files byte-identical to the file itself (storescu re-encodes the others)",
				store.n, store.sent, same, len(files))
		})
	}
}

// storescuConfig writes a storescu --config-file that proposes, for each
// file, one presentation context with the file's SOP class and its own
// transfer syntax alone, so that every file is sent as it is stored
// (encapsulated data unchanged). It returns the file and profile name.
func storescuConfig(t *testing.T, files []p10) (string, string) {
	var b strings.Builder
	b.WriteString("[[TransferSyntaxes]]\n")
	tss := map[string]string{}
	for _, f := range files {
		if _, ok := tss[f.ts]; !ok {
			name := "TS" + strconv.Itoa(len(tss)+1)
			tss[f.ts] = name
			fmt.Fprintf(&b, "[%s]\nTransferSyntax1 = %s\n", name, f.ts)
		}
	}
	b.WriteString("[[PresentationContexts]]\n[Contexts]\n")
	seen := map[string]bool{}
	for _, f := range files {
		k := f.class + "\\" + tss[f.ts]
		if !seen[k] {
			seen[k] = true
			fmt.Fprintf(&b, "PresentationContext%d = %s\n", len(seen), k)
		}
	}
	if len(seen) > 128 {
		t.Fatalf("%d presentation contexts, storescu allows 128", len(seen))
	}
	b.WriteString("[[Profiles]]\n[Test]\nPresentationContexts = Contexts\n")
	name := filepath.Join(t.TempDir(), "storescu.cfg")
	if err := os.WriteFile(name, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return name, "Test"
}

// storescpReference sends files with storescu to DCMTK's storescp in
// bit-preserving mode (-B) and returns the data sets it received, keyed by
// SHA-256, naming the file sent. storescu re-encodes some data sets (group
// lengths recomputed, value padding trimmed), so what a correct SCP must
// receive is what storescp receives, not the file's bytes.
func storescpReference(t *testing.T, files []p10) map[[32]byte]p10 {
	t.Helper()
	dir := t.TempDir()
	scpPort, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
		return []string{"-B", "+xa", "+uf", "-od", dir, "-aet", "SHARDPACS", strconv.Itoa(port)}
	})
	port := strconv.Itoa(scpPort)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cfg, profile := storescuConfig(t, files)
	args := []string{"-aec", "SHARDPACS", "-xf", cfg, profile, "-nh", "127.0.0.1", port}
	for _, f := range files {
		args = append(args, f.path)
	}
	// storescp writes each file before it answers the C-STORE-RQ, so all
	// are in dir once storescu has exited.
	out, _ := runDCMTK(ctx, t, "storescu", args...)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	bySOPFile := map[[32]byte]p10{}
	for _, f := range files {
		bySOPFile[f.sum] = f
	}
	ref := map[[32]byte]p10{}
	for _, e := range entries {
		ts, _, ds, ok := srvPart10(filepath.Join(dir, e.Name()))
		if !ok {
			t.Fatalf("storescp wrote %s, not Part-10", e.Name())
		}
		if ts == uid.DeflatedExplicitVRLittleEndian && len(ds)%2 == 1 {
			// On the wire the deflated stream is padded to even length
			// (PS3.5 A.5); storescp -B writes it without the pad.
			ds = append(ds[:len(ds):len(ds)], 0)
		}
		sum := sha256.Sum256(ds)
		name := e.Name()
		if f, ok := bySOPFile[sum]; ok {
			name = f.path
		}
		ref[sum] = p10{path: name, ts: ts, sum: sum, size: len(ds)}
	}
	if len(ref) == 0 {
		t.Fatalf("storescp received nothing:\n%s", out)
	}
	return ref
}
