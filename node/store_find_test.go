package node

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// storescuOption is the storescu flag that proposes a transfer syntax
// (storescu proposes uncompressed syntaxes plus at most one other family).
var storescuOption = map[string]string{
	"1.2.840.10008.1.2.2":    "-xb",
	"1.2.840.10008.1.2.1.99": "-xd",
	"1.2.840.10008.1.2.4.50": "-xy",
	"1.2.840.10008.1.2.4.51": "-xx",
	"1.2.840.10008.1.2.4.57": "-xs",
	"1.2.840.10008.1.2.4.70": "-xs",
	"1.2.840.10008.1.2.4.80": "-xt",
	"1.2.840.10008.1.2.4.81": "-xu",
	"1.2.840.10008.1.2.4.90": "-xv",
	"1.2.840.10008.1.2.4.91": "-xw",
	"1.2.840.10008.1.2.5":    "-xr",
}

// storeCorpus stores files with storescu, one run per transfer syntax
// family, each split over assocs parallel associations. Failures are
// logged, not fatal: the callers check what the archive holds.
func storeCorpus(t *testing.T, tn *testNode, files []string, assocs int) {
	t.Helper()
	groups := map[string][]string{}
	for _, f := range files {
		if _, ok := readMeta(t, f); !ok {
			// storescu gives up the rest of its run at an unreadable file.
			continue
		}
		opt := ""
		if ds, err := dicom.ParseFile(f, nil, dicom.SkipPixelData()); err == nil {
			if e, err := ds.FindElementByTag(tag.TransferSyntaxUID); err == nil {
				if v, ok := e.Value.GetValue().([]string); ok && len(v) > 0 {
					opt = storescuOption[strings.Trim(v[0], " \x00")]
				}
			}
		}
		groups[opt] = append(groups[opt], f)
	}
	var wg sync.WaitGroup
	for opt, group := range groups {
		for i := range assocs {
			var part []string
			for j := i; j < len(group); j += assocs {
				part = append(part, group[j])
			}
			if len(part) == 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				args := []string{"-aec", tn.cfg.AETitle, "-aet", "MODALITY"}
				if opt != "" {
					args = append(args, opt)
				}
				args = append(append(args, "127.0.0.1", tn.port), part...)
				out, err := runTool(t, "", "storescu", args...)
				if err != nil {
					t.Logf("storescu %s: %v\n%s", opt, err, out)
				}
			}()
		}
	}
	wg.Wait()
}

// validCorpus returns the metadata of the corpus files an independent
// reader accepts, keyed by SOP Instance UID (first file wins).
func validCorpus(t *testing.T, files []string) map[string]fileMeta {
	t.Helper()
	out := map[string]fileMeta{}
	for _, f := range files {
		if m, ok := readMeta(t, f); ok {
			if _, dup := out[m.sopInstance]; !dup {
				out[m.sopInstance] = m
			}
		}
	}
	return out
}

// findscu runs one C-FIND with findscu and returns the response
// identifiers read back with suyashkumar/dicom, as key=value maps.
func findscu(t *testing.T, tn *testNode, model string, keys ...string) []map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-aec", tn.cfg.AETitle, "-aet", "VIEWER", model, "-X", "-od", dir}
	for _, k := range keys {
		args = append(args, "-k", k)
	}
	args = append(args, "127.0.0.1", tn.port)
	out, err := runTool(t, dir, "findscu", args...)
	if err != nil {
		t.Fatalf("findscu %v: %v\n%s", keys, err, out)
	}
	ents, _ := os.ReadDir(dir)
	var res []map[string]string
	for _, e := range ents {
		ds, err := dicom.ParseFile(filepath.Join(dir, e.Name()), nil)
		if err != nil {
			t.Fatalf("response %s: %v", e.Name(), err)
		}
		m := map[string]string{}
		for _, el := range ds.Elements {
			if el.Tag.Group == 2 {
				continue
			}
			info, err := tag.Find(el.Tag)
			name := el.Tag.String()
			if err == nil {
				name = info.Keyword
			}
			if v, ok := el.Value.GetValue().([]string); ok {
				m[name] = strings.Trim(strings.Join(v, `\`), " \x00")
			} else {
				m[name] = fmt.Sprint(el.Value.GetValue())
			}
		}
		res = append(res, m)
	}
	return res
}

// column returns the sorted values of key in the responses.
func column(res []map[string]string, key string) []string {
	var out []string
	for _, r := range res {
		out = append(out, r[key])
	}
	sort.Strings(out)
	return out
}

// distinct returns the sorted distinct values of f over the files that
// pass keep.
func distinct(files map[string]fileMeta, keep func(fileMeta) bool, f func(fileMeta) string) []string {
	set := map[string]bool{}
	for _, m := range files {
		if keep == nil || keep(m) {
			set[f(m)] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStoreAndFindWithDCMTK(t *testing.T) {
	files := testutil.CorpusFiles(t)
	tn := startNode(t, nil)
	if out, err := runTool(t, "", "echoscu", "-aec", tn.cfg.AETitle, "127.0.0.1", tn.port); err != nil {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}
	storeCorpus(t, tn, files[:len(files)/2], 1)
	storeCorpus(t, tn, files[len(files)/2:], 4)
	storeCorpus(t, tn, files, 4) // again: duplicates succeed, nothing changes
	want := validCorpus(t, files)
	if len(want) == 0 {
		t.Fatal("no valid corpus file")
	}
	all := func(fileMeta) bool { return true }
	sop := func(m fileMeta) string { return m.sopInstance }
	study := func(m fileMeta) string { return m.study }
	series := func(m fileMeta) string { return m.series }
	pid := func(m fileMeta) string { return m.patientID }
	anyStudy := ""
	for _, m := range want {
		if anyStudy == "" || m.study < anyStudy {
			anyStudy = m.study
		}
	}
	var anySeries []string
	for _, m := range want {
		if m.study == anyStudy && len(anySeries) < 2 && (len(anySeries) == 0 || anySeries[0] != m.series) {
			anySeries = append(anySeries, m.series)
		}
	}
	inStudy := func(m fileMeta) bool { return m.study == anyStudy }
	firstName := ""
	for _, m := range want {
		if m.patientName != "" && (firstName == "" || m.patientName < firstName) {
			firstName = m.patientName
		}
	}
	prefix := firstName
	if len(prefix) > 3 {
		prefix = prefix[:3]
	}
	cases := []struct {
		name   string
		model  string
		keys   []string
		column string
		want   []string
	}{
		{"patient root IMAGE universal", "-P", []string{"QueryRetrieveLevel=IMAGE", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"},
			"SOPInstanceUID", distinct(want, all, sop)},
		{"study root IMAGE in one study", "-S", []string{"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + anyStudy, "SeriesInstanceUID", "SOPInstanceUID"},
			"SOPInstanceUID", distinct(want, inStudy, sop)},
		{"study root STUDY universal", "-S", []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientName", "NumberOfStudyRelatedInstances"},
			"StudyInstanceUID", distinct(want, all, study)},
		{"patient root PATIENT universal", "-P", []string{"QueryRetrieveLevel=PATIENT", "PatientID", "PatientName"},
			"PatientID", distinct(want, all, pid)},
		{"patient root STUDY exact UID", "-P", []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + anyStudy},
			"StudyInstanceUID", []string{anyStudy}},
		{"study root SERIES UID list", "-S", []string{"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + anyStudy, "SeriesInstanceUID=" + strings.Join(anySeries, `\`)},
			"SeriesInstanceUID", sortedCopy(anySeries)},
		{"study root SERIES in study", "-S", []string{"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + anyStudy, "SeriesInstanceUID", "Modality"},
			"SeriesInstanceUID", distinct(want, inStudy, series)},
		{"study root STUDY wildcard name", "-S", []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientName=" + prefix + "*"},
			"StudyInstanceUID", distinct(want, func(m fileMeta) bool {
				return strings.HasPrefix(strings.ToUpper(m.patientName), strings.ToUpper(prefix))
			}, study)},
		{"study root STUDY date range", "-S", []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID", "StudyDate=19000101-20991231"},
			"StudyInstanceUID", distinct(want, func(m fileMeta) bool { return m.studyDate != "" }, study)},
		{"patient root SERIES no match", "-P", []string{"QueryRetrieveLevel=SERIES", "PatientID=NO-SUCH-PATIENT-42", "StudyInstanceUID", "SeriesInstanceUID"},
			"SeriesInstanceUID", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := findscu(t, tn, c.model, c.keys...)
			got := column(res, c.column)
			if !equalStrings(got, c.want) {
				t.Fatalf("%s: got %d results %v\nwant %d %v", c.column, len(got), got, len(c.want), c.want)
			}
			for _, r := range res {
				if r["RetrieveAETitle"] != tn.cfg.AETitle {
					t.Errorf("RetrieveAETitle = %q", r["RetrieveAETitle"])
				}
				for _, k := range c.keys {
					name, _, _ := strings.Cut(k, "=")
					if _, ok := r[name]; !ok {
						t.Errorf("requested key %s missing from a response", name)
					}
				}
			}
		})
	}
	if strings.Contains(tn.logs.String(), firstName) && firstName != "" {
		t.Errorf("a patient name reached the log")
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
