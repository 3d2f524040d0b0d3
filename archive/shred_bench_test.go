package archive

import (
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// BenchmarkStoreShred is BenchmarkStore in shred mode: the difference is
// the durable insert of one shred key per instance (a SQLite commit with
// synchronous=FULL) and four AES-GCM seals of 32 bytes.
func BenchmarkStoreShred(b *testing.B) {
	for name, rel := range benchFiles {
		b.Run(name, func(b *testing.B) {
			e := newShredEnv(b, func(o *Options) { o.NoRepairer = true })
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

// BenchmarkOpenShred is BenchmarkOpen in shred mode: k key lookups in the
// key store per read.
func BenchmarkOpenShred(b *testing.B) {
	for name, rel := range benchFiles {
		b.Run(name, func(b *testing.B) {
			e := newShredEnv(b, func(o *Options) { o.NoRepairer = true })
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

// BenchmarkIngestShred is BenchmarkIngest (CT512, zstd) with and without
// shred keys, side by side: concurrent Stores share the key store's one
// connection, each with its own durable commit.
func BenchmarkIngestShred(b *testing.B) {
	for _, shred := range []bool{false, true} {
		for _, g := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("shred=%v/g%d", shred, g), func(b *testing.B) {
				e := newEnv(b, func(o *Options) { o.NoRepairer = true })
				if shred {
					e.shredOn(b)
				}
				f := newUIDFactory(b, benchFiles["CT512"])
				var seq atomic.Int64
				b.SetBytes(f.in.Size)
				b.ResetTimer()
				cpu0 := cpuTime()
				d := ingest(b, e, f, &seq, b.N, g)
				b.ReportMetric(float64(b.N)/d.Seconds(), "inst/s")
				b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(b.N), "cpu-ms/inst")
			})
		}
	}
}
