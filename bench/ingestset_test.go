package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// corpusFile returns a corpus file by its base name, skipping when absent.
func corpusFile(t *testing.T, base string) string {
	t.Helper()
	for _, f := range testutil.CorpusFiles(t) {
		if filepath.Base(f) == base {
			return f
		}
	}
	testutil.SkipOrFail(t, "corpus file %s not found", base)
	return ""
}

// scanFile checks a generated file with the project's own validating
// scanner and returns its summary.
func scanFile(t *testing.T, path string) *dcm.Summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, off, err := dcm.ReadPart10Header(f, 0)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	st, _ := f.Stat()
	sum, err := dcm.Scan(f, st.Size()-off, meta.TransferSyntaxUID, dcm.Limits{})
	if err != nil {
		t.Fatalf("%s: scan: %v", path, err)
	}
	if meta.MediaStorageSOPInstanceUID != sum.SOPInstanceUID {
		t.Errorf("%s: meta SOP Instance UID %q != data set %q", path, meta.MediaStorageSOPInstanceUID, sum.SOPInstanceUID)
	}
	return sum
}

func TestGenerateUniqueValidInstances(t *testing.T) {
	ct := corpusFile(t, "CT-MONO2-16-ort.dcm")
	mf := corpusFile(t, "5.dcm")
	jpeg := corpusFile(t, "I_000003.dcm")
	cases := []struct {
		name string
		spec setSpec
	}{
		{"implicit CT", setSpec{Name: "ct", Sources: []string{ct}, N: 13, PerSeries: 3, SeriesPerStudy: 2, PatientPrefix: "CT", Chunks: []int{5, 13}}},
		{"explicit and encapsulated multi-frame", setSpec{Name: "mf", Sources: []string{mf, jpeg}, N: 6, PerSeries: 2, SeriesPerStudy: 1, PatientPrefix: "MF"}},
		{"shrunk fill", setSpec{Name: "fill", Sources: []string{ct}, N: 9, PerSeries: 2, SeriesPerStudy: 2, PatientPrefix: "Q", Shrink: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			set, err := loadOrGenerate(root, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for c := range set.Spec.chunks() {
				n := 0
				for _, d := range set.chunkDirs(c) {
					fs, _ := filepath.Glob(filepath.Join(d, "*.dcm"))
					n += len(fs)
					files = append(files, fs...)
				}
				if n != set.ChunkFiles[c] {
					t.Errorf("chunk %d: %d files on disk, manifest says %d", c, n, set.ChunkFiles[c])
				}
			}
			if len(files) != tc.spec.N {
				t.Fatalf("%d files, want %d", len(files), tc.spec.N)
			}
			seen := map[string]string{}
			studies := map[string]bool{}
			for _, f := range files {
				sum := scanFile(t, f)
				if prev, dup := seen[sum.SOPInstanceUID]; dup {
					t.Errorf("SOP Instance UID of %s repeats %s", f, prev)
				}
				seen[sum.SOPInstanceUID] = f
				studies[sum.StudyInstanceUID] = true
				for _, u := range []string{sum.SOPInstanceUID, sum.StudyInstanceUID, sum.SeriesInstanceUID} {
					if !dcm.ValidUID(u) {
						t.Errorf("%s: invalid UID %q", f, u)
					}
				}
				if !strings.HasPrefix(sum.PatientID, tc.spec.PatientPrefix) {
					t.Errorf("%s: Patient ID %q", f, sum.PatientID)
				}
				if tc.spec.Shrink && sum.Attrs[dcm.NewTag(0x0028, 0x0010)] != "16" {
					t.Errorf("%s: Rows %q after shrinking", f, sum.Attrs[dcm.NewTag(0x0028, 0x0010)])
				}
			}
			if len(studies) != len(set.Studies) {
				t.Errorf("%d studies on disk, manifest lists %d", len(studies), len(set.Studies))
			}
			// Cached: a second call reuses the files.
			before, _ := os.Stat(files[0])
			again, err := loadOrGenerate(root, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.Stat(files[0])
			if !after.ModTime().Equal(before.ModTime()) || len(again.Studies) != len(set.Studies) {
				t.Error("the cached set was regenerated")
			}
			dcmdumpCheck(t, files[0], files[len(files)-1])
		})
	}
}

// dcmdumpCheck has DCMTK's dcmdump read generated files: an independent
// parser must accept them and see the new identifiers.
func dcmdumpCheck(t *testing.T, files ...string) {
	t.Helper()
	dump := testutil.RequireTool(t, "dcmdump")
	for _, f := range files {
		// -E (the default, made explicit): a damaged file is an error.
		out, err := exec.Command(dump, "-E", "+P", "0010,0010", "+P", "0008,0018", f).CombinedOutput()
		if err != nil {
			t.Fatalf("dcmdump %s: %v\n%s", f, err, out)
		}
		if !bytes.Contains(out, []byte("[2.25.")) || !bytes.Contains(out, []byte("[BENCH^")) || bytes.Contains(out, []byte("E: ")) || bytes.Contains(out, []byte("W: ")) {
			t.Errorf("dcmdump %s: new identifiers not seen:\n%s", f, out)
		}
	}
}

func TestStudiesUpTo(t *testing.T) {
	s := &ingestSet{Spec: setSpec{N: 25, PerSeries: 5, SeriesPerStudy: 2, Chunks: []int{10, 25}}}
	for i := 0; i < 3; i++ {
		s.Studies = append(s.Studies, studyInfo{Instances: min(10, 25-10*i)})
	}
	if got := len(s.studiesUpTo(0)); got != 1 {
		t.Errorf("chunk 0: %d studies, want 1", got)
	}
	if got := len(s.studiesUpTo(1)); got != 3 {
		t.Errorf("chunk 1: %d studies, want 3", got)
	}
}

func TestMakeUID(t *testing.T) {
	a, b := makeUID("ct", "instance/1"), makeUID("ct", "instance/2")
	if a == b || !dcm.ValidUID(a) || !dcm.ValidUID(b) || len(a) > 64 {
		t.Fatalf("makeUID: %q %q", a, b)
	}
	if makeUID("ct", "instance/1") != a {
		t.Fatal("makeUID is not deterministic")
	}
}
