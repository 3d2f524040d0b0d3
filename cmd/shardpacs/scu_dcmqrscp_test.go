package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/dicomtest"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// qrInstance is a corpus file that dcmqrscp accepted, with its hierarchy.
type qrInstance struct {
	part10
	patientID, study, series string
}

// qrServer is a dcmqrscp (AE DCMQRSCP) filled through "shardpacs store",
// and a bit-preserving storescp (AE MOVEDEST) it knows as a C-MOVE
// destination.
type qrServer struct {
	addr, destDir, dbDir string
	stored               []qrInstance
}

// args prefixes the flags that reach the dcmqrscp as a known caller.
func (s *qrServer) args(cmd string, rest ...string) []string {
	return append([]string{cmd, "--aet", "SHARDSCU", "--aec", "DCMQRSCP", s.addr}, rest...)
}

// native reports whether ts is one of the uncompressed little-endian
// syntaxes every DCMTK server accepts and sends without conversion.
func native(ts string) bool {
	return ts == uid.ExplicitVRLittleEndian || ts == uid.ImplicitVRLittleEndian
}

// startQR writes dcmqrscp's configuration in a temporary folder, starts it
// and the C-MOVE destination, and stores the corpus with "shardpacs store":
// every file in a native syntax must be stored; files in a syntax that
// dcmqrscp does not accept must be reported as such, and only them.
func startQR(t *testing.T) *qrServer {
	t.Helper()
	testutil.RequireTool(t, "dcmqrscp")
	files := dicomtest.CorpusPart10(t)
	destAddr, destDir := startStorescp(t, "MOVEDEST")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	// +xy: accept JPEG Baseline too, so that most of the corpus goes in.
	destPort, err := strconv.Atoi(strings.Split(destAddr, ":")[1])
	if err != nil {
		t.Fatal(err)
	}
	port := dicomtest.StartDcmqrscp(t, db, destPort, "+xy")
	s := &qrServer{addr: "127.0.0.1:" + strconv.Itoa(port), destDir: destDir, dbDir: db}

	r := runCLI(t, s.args("store", testutil.CorpusDir(t))...)
	okLine := regexp.MustCompile(`(?m)^OK   (.*)$`)
	failLine := regexp.MustCompile(`(?m)^FAIL (.*): (.*)$`)
	ok := make(map[string]bool)
	for _, m := range okLine.FindAllStringSubmatch(r.stdout, -1) {
		ok[m[1]] = true
	}
	failed := failLine.FindAllStringSubmatch(r.stdout, -1)
	if wantCode := map[bool]int{true: 1, false: 0}[len(failed) > 0]; r.code != wantCode {
		t.Fatalf("store into dcmqrscp: code %d, want %d\n%s%s", r.code, wantCode, r.stdout, r.stderr)
	}
	for _, m := range failed {
		if !strings.Contains(m[2], "accepted no context") {
			t.Errorf("store of %s failed for another reason than the transfer syntax: %s", m[1], m[2])
		}
	}
	for _, f := range files {
		if !ok[f.Path] {
			if native(f.Meta.TransferSyntaxUID) {
				t.Errorf("%s (%s) not stored into dcmqrscp", f.Path, f.Meta.TransferSyntaxUID)
			}
			continue
		}
		sum, err := dcm.Scan(bytes.NewReader(f.Data), int64(len(f.Data)), f.Meta.TransferSyntaxUID, dcm.Limits{})
		if err != nil {
			t.Fatalf("scanning %s: %v", f.Path, err)
		}
		s.stored = append(s.stored, qrInstance{part10: f, patientID: sum.PatientID, study: sum.StudyInstanceUID, series: sum.SeriesInstanceUID})
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(s.stored) < 3 {
		t.Fatalf("only %d instances stored into dcmqrscp", len(s.stored))
	}
	return s
}

// held returns the data sets dcmqrscp holds (it rewrites what it receives,
// dropping group lengths for example), by SOP Instance UID: what C-MOVE
// and C-GET must deliver byte for byte.
func (s *qrServer) held(t *testing.T) map[string]part10 {
	t.Helper()
	out := make(map[string]part10)
	ents, err := os.ReadDir(s.dbDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".dcm") {
			if p, ok := dicomtest.ReadPart10(t, filepath.Join(s.dbDir, e.Name())); ok {
				out[p.Meta.MediaStorageSOPInstanceUID] = p
			}
		}
	}
	return out
}

// distinct returns the sorted distinct values of key over the stored
// instances that pass keep (nil: all).
func (s *qrServer) distinct(key func(qrInstance) string, keep func(qrInstance) bool) []string {
	return dicomtest.Distinct(s.stored, key, keep)
}

// nativeStudy returns an instance of the study with the most stored
// instances, all in Explicit VR Little Endian and with a Patient ID:
// dcmqrscp sends that syntax as it is (it converts Implicit VR to
// Explicit VR and cannot convert compressed syntaxes), so the data sets
// moved or got can be compared byte for byte.
func (s *qrServer) nativeStudy(t *testing.T) qrInstance {
	t.Helper()
	count := make(map[string]int)
	for _, in := range s.stored {
		if in.Meta.TransferSyntaxUID == uid.ExplicitVRLittleEndian && in.patientID != "" && count[in.study] >= 0 {
			count[in.study]++
		} else {
			count[in.study] = -1 << 30
		}
	}
	var best qrInstance
	for _, in := range s.stored {
		if count[in.study] > 0 && (best.study == "" || count[in.study] > count[best.study]) {
			best = in
		}
	}
	if best.study == "" {
		t.Fatal("no study in dcmqrscp with only Explicit VR Little Endian instances")
	}
	return best
}

// textMatches splits find's text output into matches: one map per block
// of keyword=value lines.
func textMatches(out string) []map[string]string {
	var res []map[string]string
	for _, block := range strings.Split(strings.TrimSpace(out), "\n\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		m := make(map[string]string)
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, "=")
			m[k] = v
		}
		res = append(res, m)
	}
	return res
}

func valuesOf(matches []map[string]string, key string) []string {
	var out []string
	for _, m := range matches {
		if v, ok := m[key]; ok {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// TestQueryRetrieveDcmqrscp drives DCMTK's Q/R SCP with "shardpacs find",
// "move" and "get": C-FIND at every level of both models (text and JSON
// output), C-MOVE of a study to a storescp and C-GET of a series into a
// folder, with the data sets compared byte for byte.
func TestQueryRetrieveDcmqrscp(t *testing.T) {
	cleanEnv(t)
	s := startQR(t)
	ref := s.nativeStudy(t)
	sopUID := func(in qrInstance) string { return in.Meta.MediaStorageSOPInstanceUID }
	inStudy := func(in qrInstance) bool { return in.study == ref.study }
	inSeries := func(in qrInstance) bool { return in.series == ref.series }

	t.Run("Find", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			key  string
			want []string
		}{
			{"PatientRoot/PATIENT", []string{"--root", "patient", "--level", "PATIENT"}, "PatientID",
				s.distinct(func(in qrInstance) string { return in.patientID }, nil)},
			{"PatientRoot/STUDY", []string{"--root", "patient", "--level", "STUDY", "-k", "PatientID=" + ref.patientID}, "StudyInstanceUID",
				s.distinct(func(in qrInstance) string { return in.study }, func(in qrInstance) bool { return in.patientID == ref.patientID })},
			{"PatientRoot/IMAGE", []string{"--root", "patient", "--level", "IMAGE", "-k", "PatientID=" + ref.patientID,
				"-k", "StudyInstanceUID=" + ref.study, "-k", "(0020,000E)=" + ref.series}, "SOPInstanceUID",
				s.distinct(sopUID, inSeries)},
			{"StudyRoot/STUDY", []string{"--level", "study"}, "StudyInstanceUID",
				s.distinct(func(in qrInstance) string { return in.study }, nil)},
			{"StudyRoot/SERIES", []string{"--level", "SERIES", "-k", "StudyInstanceUID=" + ref.study}, "SeriesInstanceUID",
				s.distinct(func(in qrInstance) string { return in.series }, inStudy)},
			{"StudyRoot/IMAGE", []string{"--level", "IMAGE", "-k", "StudyInstanceUID=" + ref.study, "-k", "0020000E=" + ref.series,
				"--no-defaults", "-k", "SOPInstanceUID"}, "SOPInstanceUID",
				s.distinct(sopUID, inSeries)},
			{"StudyRoot/no match", []string{"--level", "STUDY", "-k", "StudyInstanceUID=1.2.3.4.5.6.7.8.9"}, "StudyInstanceUID", nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := runCLI(t, s.args("find", tc.args...)...)
				if r.code != 0 {
					t.Fatalf("code %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				got := valuesOf(textMatches(r.stdout), tc.key)
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: got %q, want %q", tc.key, got, tc.want)
				}
				if want := fmt.Sprintf("%s (C-FIND status 0x0000", plural(len(tc.want), "match")); !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			})
		}
		t.Run("JSON", func(t *testing.T) {
			r := runCLI(t, s.args("find", "--level", "SERIES", "-k", "StudyInstanceUID="+ref.study, "--json")...)
			if r.code != 0 {
				t.Fatalf("code %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			var matches []map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &matches); err != nil {
				t.Fatalf("stdout is not a JSON array: %v\n%s", err, r.stdout)
			}
			var got []string
			for _, m := range matches {
				if m["QueryRetrieveLevel"] != "SERIES" || m["StudyInstanceUID"] != ref.study {
					t.Errorf("match %v: wrong level or study", m)
				}
				v, _ := m["SeriesInstanceUID"].(string)
				got = append(got, v)
			}
			sort.Strings(got)
			if want := s.distinct(func(in qrInstance) string { return in.series }, inStudy); !slices.Equal(got, want) {
				t.Errorf("series %q, want %q", got, want)
			}
		})
	})

	t.Run("Move", func(t *testing.T) {
		held := s.held(t)
		want := make(map[string][]byte)
		for _, in := range s.stored {
			if inStudy(in) {
				want[sopUID(in)] = held[sopUID(in)].Data
			}
		}
		r := runCLI(t, s.args("move", "--dest", "MOVEDEST", "--level", "STUDY", "-k", "StudyInstanceUID="+ref.study)...)
		if r.code != 0 {
			t.Fatalf("move: code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		final := fmt.Sprintf("C-MOVE to MOVEDEST: remaining 0, completed %d, failed 0, warning 0; status 0x0000 (Success)", len(want))
		if !strings.Contains(r.stdout, final) || !strings.Contains(r.stdout, "pending: ") {
			t.Errorf("move output lacks %q or a pending line:\n%s", final, r.stdout)
		}
		got := dicomtest.FilesByInstance(t, s.destDir)
		if len(got) != len(want) {
			t.Errorf("destination got %d instances, want %d", len(got), len(want))
		}
		for u, data := range want {
			if g, ok := got[u]; !ok {
				t.Errorf("instance %s not moved", u)
			} else if len(data) == 0 || g.Meta.TransferSyntaxUID != uid.ExplicitVRLittleEndian || !sameDataSet(g.Data, data) {
				t.Errorf("instance %s: moved data set (%d bytes) differs from the stored one (%d bytes)", u, len(g.Data), len(data))
			}
		}
		// An AE dcmqrscp does not know: 0xA801, exit status 1.
		r = runCLI(t, s.args("move", "--dest", "NOBODY", "-k", "StudyInstanceUID="+ref.study)...)
		if r.code != 1 || !strings.Contains(r.stdout, "status 0xA801") {
			t.Errorf("move to an unknown AE: code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("Get", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "get")
		r := runCLI(t, s.args("get", "--out", out, "--level", "SERIES", "-k", "StudyInstanceUID="+ref.study, "-k", "SeriesInstanceUID="+ref.series)...)
		if r.code != 0 {
			t.Fatalf("get: code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		held := s.held(t)
		var want []qrInstance
		for _, in := range s.stored {
			if inSeries(in) {
				in.part10 = held[sopUID(in)]
				want = append(want, in)
			}
		}
		if line := fmt.Sprintf("%s written to %s", plural(len(want), "file"), out); !strings.Contains(r.stdout, line) {
			t.Errorf("get output lacks %q:\n%s", line, r.stdout)
		}
		got := dicomtest.FilesByInstance(t, out)
		if len(got) != len(want) {
			t.Errorf("got %d files, want %d", len(got), len(want))
		}
		for _, in := range want {
			g, ok := got[sopUID(in)]
			switch {
			case !ok:
				t.Errorf("instance %s not received", sopUID(in))
			case filepath.Base(g.Path) != sopUID(in)+".dcm":
				t.Errorf("instance %s written as %s", sopUID(in), g.Path)
			case in.Meta == nil:
				t.Errorf("instance %s not found in dcmqrscp's folder", sopUID(in))
			case g.Meta.MediaStorageSOPClassUID != in.Meta.MediaStorageSOPClassUID || g.Meta.TransferSyntaxUID != in.Meta.TransferSyntaxUID ||
				g.Meta.SourceApplicationEntityTitle != "DCMQRSCP":
				t.Errorf("instance %s: File Meta Information %+v", sopUID(in), g.Meta)
			case !sameDataSet(g.Data, in.Data):
				t.Errorf("instance %s: received data set (%d bytes) differs from the stored one (%d bytes)", sopUID(in), len(g.Data), len(in.Data))
			}
		}
	})
}
