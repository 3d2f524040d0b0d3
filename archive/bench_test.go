package archive

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// benchFiles: a CT 512×512 slice and the multi-frame CT 5.dcm.
var benchFiles = map[string]string{
	"CT512": "grailbio-examples/CT-MONO2-16-ort.dcm",
	"MF5":   "suyashkumar-testdata/5.dcm",
	"MR64":  "suyashkumar-testdata/1.dcm", // 64 KB MR slice: TestIngestRateFlat at 10^5 in ~6 GB
}

// benchInstance returns the instance of a corpus file and a function that
// gives it a fresh SOP Instance UID (so every iteration stores anew): the
// UID is rewritten in place, same length (see uidFactory).
func benchInstance(b *testing.B, rel string) (*Instance, func()) {
	in, setUID := newUIDFactory(b, rel).clone()
	n := 0
	return in, func() {
		n++
		setUID(n)
	}
}

// benchModes: the default, and shred mode (one durable key-store insert
// per Store, k key lookups per Open, four 32-byte AES-GCM seals or opens).
var benchModes = []string{"plain", "shred"}

// benchEnv is a benchmark's archive in mode (benchModes).
func benchEnv(b *testing.B, mode string) *env {
	e := newEnv(b, func(o *Options) { o.NoRepairer = true })
	if mode == "shred" {
		e.shredOn(b)
	}
	return e
}

func BenchmarkStore(b *testing.B) {
	for name, rel := range benchFiles {
		for _, mode := range benchModes {
			b.Run(name+"/"+mode, func(b *testing.B) {
				e := benchEnv(b, mode)
				in, next := benchInstance(b, rel)
				b.SetBytes(in.Size)
				b.ResetTimer()
				for range b.N {
					next()
					if out, err := e.a.Store(ctxb, in); err != nil || out != Stored {
						b.Fatal(out, err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inst/s")
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for name, rel := range benchFiles {
		for _, mode := range benchModes {
			b.Run(name+"/"+mode, func(b *testing.B) {
				e := benchEnv(b, mode)
				if _, err := e.a.StoreFile(ctxb, filepath.Join(testutil.CorpusDir(b), rel), ""); err != nil {
					b.Fatal(err)
				}
				in, _ := benchInstance(b, rel)
				sum, _ := dcm.Scan(io.NewSectionReader(in.DataSet, 0, in.Size), in.Size, in.TransferSyntaxUID, dcm.Limits{})
				b.SetBytes(in.Size)
				b.ResetTimer()
				for range b.N {
					obj, err := e.a.Open(ctxb, sum.SOPInstanceUID)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, obj)
					obj.Close()
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inst/s")
			})
		}
	}
}
