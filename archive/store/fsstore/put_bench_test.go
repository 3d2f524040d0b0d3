package fsstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shardpacs/shardpacs/archive/store"
)

// BenchmarkPut measures durable Puts (temporary file, data sync, link,
// folder sync) of share-sized objects: 135 KB (a share of a compressed CT
// slice) and 1.4 MB (a share of a JPEG multi-frame stored as is). "x1"
// is one Put at a time into one store; "x4" is one instance's four shares
// at once, one goroutine per store, four stores on one file system (as
// archive.Store writes them); an op is then the four Puts. The store
// folders are under $TMPDIR (t.TempDir): point it at the disk to measure.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{135 << 10, 1400 << 10} {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{1}).Read(data) // incompressible, like ciphertext
		for _, par := range []int{1, 4} {
			b.Run(fmt.Sprintf("%dKB/x%d", size>>10, par), func(b *testing.B) {
				dir := b.TempDir()
				stores := make([]*Store, par)
				for i := range stores {
					s, err := Open(filepath.Join(dir, fmt.Sprint("s", i)))
					if err != nil {
						b.Fatal(err)
					}
					stores[i] = s
				}
				names := rand.NewChaCha8([32]byte{2})
				ctx := context.Background()
				b.SetBytes(int64(size * par))
				for b.Loop() {
					var wg sync.WaitGroup
					errs := make([]error, par)
					for i, s := range stores {
						name, err := store.NewName(names)
						if err != nil {
							b.Fatal(err)
						}
						wg.Go(func() {
							_, _, errs[i] = s.Put(ctx, name, bytes.NewReader(data))
						})
					}
					wg.Wait()
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				// Wall time per Put (for x4: a quarter of the four-Put round).
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*par), "ms/put")
			})
		}
	}
}
