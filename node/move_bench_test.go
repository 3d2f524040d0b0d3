package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// benchCT is the corpus CT the retrieve benchmarks clone: 512×512 16-bit,
// Implicit VR Little Endian, 526 KB (the instance of the C-MOVE rows of
// docs/performance.md).
const benchCT = "grailbio-examples/CT-MONO2-16-ort.dcm"

// storeClones stores n copies of the corpus file rel straight into the
// node's archive, each with its own SOP Instance UID (same study and
// series), and returns the Study Instance UID and the SOP Instance UIDs in
// storage order.
func storeClones(tb testing.TB, tn *testNode, rel string, n int) (string, []string) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	meta, off, err := dcm.ReadPart10Header(bytes.NewReader(b), 0)
	if err != nil {
		tb.Fatal(err)
	}
	ds := bytes.Clone(b[off:])
	sum, err := dcm.Scan(bytes.NewReader(ds), int64(len(ds)), meta.TransferSyntaxUID, dcm.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	at := bytes.Index(ds, []byte(sum.SOPInstanceUID))
	if at < 0 || len(sum.SOPInstanceUID) < 16 {
		tb.Fatalf("%s: SOP Instance UID not found or too short", rel)
	}
	sops := make([]string, n)
	for i := range n {
		sops[i] = sameLengthUID(sum.SOPInstanceUID, i)
		copy(ds[at:], sops[i])
		in := &archive.Instance{TransferSyntaxUID: meta.TransferSyntaxUID, DataSet: bytes.NewReader(ds), Size: int64(len(ds))}
		if out, err := tn.arch.Store(context.Background(), in); err != nil || out != archive.Stored {
			tb.Fatalf("store clone %d: %v %v", i, out, err)
		}
	}
	return sum.StudyInstanceUID, sops
}

// processCPU is the user and system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childCPU is the user and system CPU time process pid has used
// (/proc/pid/stat, fields 14 and 15, in clock ticks of 10 ms: Linux's
// USER_HZ is 100 on every architecture Go supports).
func childCPU(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		tb.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// sameLengthUID returns a valid UID as long as orig (at least 12
// characters) whose last component encodes n.
func sameLengthUID(orig string, n int) string {
	u := []byte(orig)
	at := len(u) - 10
	if u[at-1] == '.' {
		u[at-1] = '1'
	}
	copy(u[at:], fmt.Sprintf(".1%08d", n%1e8))
	return string(u)
}

// BenchmarkMoveCT moves one study of 100 copies of the corpus CT to DCMTK
// storescp (+xa, writing files, as in `make bench`) with one C-MOVE per
// iteration, sent by our client, and reports instances per second. The
// "ignore" variant runs storescp --ignore (receives, writes nothing): what
// the node's side alone can reach. cpu-ms/inst is the CPU time of this
// process (the node and our client) per instance, dest-cpu-ms/inst
// storescp's (Linux /proc): they depend less on other load than inst/s.
// Skips loudly without DCMTK.
func BenchmarkMoveCT(b *testing.B) {
	for _, c := range []struct {
		name string
		args []string
	}{{"storescp", []string{"+xa"}}, {"ignore", []string{"+xa", "--ignore"}}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 100
			dir := b.TempDir()
			port, dest := testutil.StartServer(b, "storescp", nil, func(port int) []string {
				return append(append([]string{"-aet", "DEST", "-od", dir}, c.args...), strconv.Itoa(port))
			})
			tn := startNode(b, func(cfg *config.Config) {
				cfg.Peers = append(cfg.Peers, config.Peer{AETitle: "DEST", Host: "127.0.0.1", Port: port})
			})
			study, _ := storeClones(b, tn, benchCT, n)
			keys := []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "STUDY"}, {Tag: dcm.TagStudyInstanceUID, Value: study}}
			cpu0, dest0 := processCPU(b), childCPU(b, dest.Process.Pid)
			for b.Loop() {
				so, st := moveWithClient(b, tn, "DEST", keys)
				if st != dimse.StatusSuccess || so.Completed != n {
					b.Fatalf("move: status %v, %+v", st, so)
				}
				b.StopTimer()
				clearDir(b, dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "inst/s")
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(n*b.N), "cpu-ms/inst")
			b.ReportMetric(float64(childCPU(b, dest.Process.Pid)-dest0)/float64(time.Millisecond)/float64(n*b.N), "dest-cpu-ms/inst")
		})
	}
}

// BenchmarkGetCT retrieves one study of 100 copies of the corpus CT with
// C-GET by our client (which discards what it receives, in this process),
// one C-GET per iteration; inst/s and cpu-ms/inst as for BenchmarkMoveCT
// (the CPU includes our client's).
func BenchmarkGetCT(b *testing.B) {
	const n = 100
	tn := startNode(b, nil)
	study, _ := storeClones(b, tn, benchCT, n)
	ctx := context.Background()
	props := append(dimse.QueryRetrieveContexts(), dimse.StorageContexts([]string{uid.CTImageStorage},
		[]string{uid.ImplicitVRLittleEndian}, true)...)
	cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, tn.addr, tn.cfg.AETitle, props)
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Release(ctx)
	ts, _ := cc.TransferSyntax(uid.StudyRootQRGet)
	ident := studyIdentifier(b, study, ts)
	discard := dimse.StoreHandlerFunc(func(context.Context, *dimse.StoreRequest) error { return nil })
	cpu0 := processCPU(b)
	for b.Loop() {
		so, st, err := cc.Get(ctx, uid.StudyRootQRGet, ident, discard, nil)
		if err != nil || st != dimse.StatusSuccess || so.Completed != n {
			b.Fatalf("get: status %v, err %v, %+v", st, err, so)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "inst/s")
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(n*b.N), "cpu-ms/inst")
}
