package archive

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"

	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/crypto"
)

func waitABit() { time.Sleep(10 * time.Millisecond) }

func decodeSnapshot(kr *crypto.Keyring, shares map[int]io.Reader) ([]byte, *pipeline.Info, error) {
	return pipeline.DecodeBytes(context.Background(), kr, shares, nil, 0)
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corpusSample returns the corpus files plus a few pydicom files.
func corpusSample(t testing.TB) []string {
	files := testutil.CorpusFiles(t)
	py := testutil.DICOMFiles(t, testutil.PydicomTestFiles(t))
	for i, f := range py {
		if i%4 == 0 {
			files = append(files, f)
		}
	}
	return files
}
