package dimse

import (
	"bytes"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/dicomtest"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// BenchmarkClientStoreStorescp stores the corpus CT image (512x512, 16-bit,
// Implicit VR Little Endian) b.N times over one association to a storescp
// that receives and discards (--ignore): the client's C-STORE throughput
// (compare with DCMTK storescu on the same set, performance-notes.md).
func BenchmarkClientStoreStorescp(b *testing.B) {
	f, ok := dicomtest.ReadPart10(b, filepath.Join(testutil.CorpusDir(b), "grailbio-examples", "CT-MONO2-16-ort.dcm"))
	if !ok {
		b.Fatal("CT-MONO2-16-ort.dcm is not a Part-10 file")
	}
	port, _ := testutil.StartServer(b, "storescp", nil, func(port int) []string {
		return []string{"-aet", "STORESCP", "--ignore", "-pdu", "131072", "-dhl", strconv.Itoa(port)}
	})
	ctx := testCtx(b, 10*time.Minute)
	cc, err := (&Client{}).Dial(ctx, "127.0.0.1:"+strconv.Itoa(port), "STORESCP", storageProposals([]part10{f}, false))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	b.SetBytes(int64(len(f.Data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if st, err := cc.Store(ctx, f.Meta.MediaStorageSOPClassUID, f.Meta.MediaStorageSOPInstanceUID, f.Meta.TransferSyntaxUID, bytes.NewReader(f.Data)); err != nil {
			b.Fatalf("Store: %v, %v", st, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inst/s")
}
