package dimse

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// discardStore is a StoreHandler that drops everything.
type discardStore struct{}

func (discardStore) ServeStore(context.Context, *StoreRequest) error { return nil }

// BenchmarkServerStore measures the network layer alone: C-STORE of a
// 512 KiB data set over loopback to a Server whose handler discards it.
func BenchmarkServerStore(b *testing.B) {
	addr := srvStartB(b, &Server{Store: discardStore{}})
	c, err := srvDialErr(b, addr, "BENCH", []pduPC{srvStorePC(1, srvCTImage)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 512<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c.send(1, NewCStoreRQ(c.nextID(), srvCTImage, "1.2.3", PriorityMedium), data)
		m := c.mustRecv()
		if m.Command.Status != StatusSuccess {
			b.Fatal(m.Command.Status)
		}
	}
	c.release()
}

// TestCompareStorescp (SHARDPACS_BENCH=1) sends the same CT file N times
// with DCMTK storescu to our Server (discarding handler) and to
// storescp --ignore, and prints instances per second for both.
//
//	SHARDPACS_BENCH=1 go test ./dimse -run TestCompareStorescp -v
func TestCompareStorescp(t *testing.T) {
	if os.Getenv("SHARDPACS_BENCH") != "1" {
		t.Skip("set SHARDPACS_BENCH=1 to compare with storescp")
	}
	testutil.RequireTool(t, "storescu")
	testutil.RequireTool(t, "storescp")
	ct := filepath.Join(testutil.CorpusDir(t), "grailbio-examples", "CT-MONO2-16-ort.dcm")
	const n = 500
	run := func(host, port string) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		if out, err := runDCMTK(ctx, t, "storescu", "--repeat", strconv.Itoa(n), "-aec", "SHARDPACS", host, port, ct); err != nil {
			t.Fatalf("storescu: %v\n%s", err, out)
		}
		return n / time.Since(start).Seconds()
	}
	h, p := hostPort(srvStart(t, &Server{Store: discardStore{}}))
	ours := run(h, p)

	port, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
		return []string{"--ignore", strconv.Itoa(port)}
	})
	theirs := run("127.0.0.1", strconv.Itoa(port))
	t.Logf("%d x CT-MONO2-16-ort.dcm: shardpacs %.0f inst/s, storescp --ignore %.0f inst/s, ratio %.2f", n, ours, theirs, ours/theirs)
}
