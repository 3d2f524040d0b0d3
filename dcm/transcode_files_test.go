package dcm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// nativeFile is the data set of a test file in a native transfer syntax.
type nativeFile struct {
	name string
	path string
	ts   string
	ds   []byte
}

// nativeFiles returns the corpus and pydicom test files whose data sets
// are in a native transfer syntax and scan without error. Files without
// File Meta Information are sniffed.
func nativeFiles(t *testing.T) []nativeFile {
	t.Helper()
	files := testutil.CorpusFiles(t)
	files = append(files, testutil.DICOMFiles(t, testutil.PydicomTestFiles(t))...)
	var out []nativeFile
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		meta, off, err := ReadPart10Header(bytes.NewReader(data), 0)
		ts := ""
		switch {
		case errors.Is(err, ErrNoPart10Header):
			off = 0
		case err != nil:
			continue
		default:
			ts = meta.TransferSyntaxUID
		}
		ds := data[off:]
		if ts == "" {
			var ok bool
			if ts, ok = SniffTransferSyntax(ds); !ok {
				continue
			}
		}
		if s, ok := uid.LookupTransferSyntax(ts); !ok || !s.Native() {
			continue
		}
		if _, err := Scan(bytes.NewReader(ds), int64(len(ds)), ts, Limits{}); err != nil {
			continue // deliberately broken files: TestScanPydicomFiles covers them
		}
		out = append(out, nativeFile{name: filepath.Base(path), path: path, ts: ts, ds: ds})
	}
	if len(out) < 10 {
		testutil.SkipOrFail(t, "only %d native test files found", len(out))
	}
	return out
}

var nativeTS = []string{uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian}

func transcodeBytes(t testing.TB, ds []byte, from, to string) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := Transcode(&buf, bytes.NewReader(ds), int64(len(ds)), from, to, Limits{})
	if err != nil {
		t.Fatalf("Transcode %s → %s: %v", tsName(from), tsName(to), err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("Transcode returned %d, wrote %d", n, buf.Len())
	}
	size, err := TranscodedSize(bytes.NewReader(ds), int64(len(ds)), from, to, Limits{})
	if err != nil || size != n {
		t.Fatalf("TranscodedSize = %d, %v; Transcode wrote %d", size, err, n)
	}
	return buf.Bytes()
}

// Every native file survives a round trip through each other native
// syntax byte for byte when the conversion loses nothing: from implicit
// VR (its VRs come back from the dictionary) and between the explicit
// syntaxes. Every conversion re-scans to the same index attributes.
func TestTranscodeRoundTripFiles(t *testing.T) {
	for _, f := range nativeFiles(t) {
		t.Run(f.name, func(t *testing.T) {
			want, err := Scan(bytes.NewReader(f.ds), int64(len(f.ds)), f.ts, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			for _, to := range nativeTS {
				if to == f.ts {
					continue
				}
				mid := transcodeBytes(t, f.ds, f.ts, to)
				got, err := Scan(bytes.NewReader(mid), int64(len(mid)), to, Limits{})
				if err != nil {
					t.Fatalf("%s: converted data set does not scan: %v", tsName(to), err)
				}
				compareSummaries(t, tsName(to), want, got)
				back := transcodeBytes(t, mid, to, f.ts)
				lossless := f.ts == uid.ImplicitVRLittleEndian || to != uid.ImplicitVRLittleEndian
				if lossless && !bytes.Equal(back, f.ds) {
					i := firstDiff(back, f.ds)
					t.Errorf("%s → %s → back: differs at offset %d of %d/%d", tsName(f.ts), tsName(to), i, len(back), len(f.ds))
				}
				// Without random access: lengths become undefined, the
				// attributes stay.
				var buf bytes.Buffer
				if _, err := Transcode(&buf, io.MultiReader(bytes.NewReader(f.ds)), -1, f.ts, to, Limits{}); err != nil {
					t.Fatalf("streamed %s: %v", tsName(to), err)
				}
				got, err = Scan(bytes.NewReader(buf.Bytes()), int64(buf.Len()), to, Limits{})
				if err != nil {
					t.Fatalf("streamed %s: converted data set does not scan: %v", tsName(to), err)
				}
				compareSummaries(t, "streamed "+tsName(to), want, got)
			}
		})
	}
}

func compareSummaries(t *testing.T, what string, want, got *Summary) {
	t.Helper()
	if len(got.Attrs) != len(want.Attrs) {
		t.Errorf("%s: %d index attributes, want %d", what, len(got.Attrs), len(want.Attrs))
	}
	for tag, v := range want.Attrs {
		if got.Attrs[tag] != v {
			t.Errorf("%s: %s = %q, want %q", what, tag, got.Attrs[tag], v)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func tsName(ts string) string {
	if s, ok := uid.LookupTransferSyntax(ts); ok {
		return s.Name
	}
	return ts
}
