package dcm

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/internal/testutil"
	"github.com/suyashkumar/dicom"
	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

// scanFile reads a file's Part 10 header (or sniffs a raw data set) and
// scans its data set.
func scanFile(t testing.TB, path string) (*FileMeta, *Summary, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, _, err := ReadPart10Header(f, 0)
	if errors.Is(err, ErrNoPart10Header) {
		head := make([]byte, 12)
		n, _ := f.ReadAt(head, 0)
		ts, ok := SniffTransferSyntax(head[:n])
		if !ok {
			return nil, nil, &FormatError{Msg: "cannot sniff"}
		}
		meta = &FileMeta{TransferSyntaxUID: ts}
	} else if err != nil {
		return nil, nil, err
	}
	ts := meta.TransferSyntaxUID
	if ts == "" { // no Transfer Syntax UID in the meta: sniff the data set
		pos, _ := f.Seek(0, 1)
		head := make([]byte, 12)
		n, _ := f.ReadAt(head, pos)
		var ok bool
		if ts, ok = SniffTransferSyntax(head[:n]); !ok {
			return meta, nil, &FormatError{Msg: "cannot sniff"}
		}
	}
	s, err := Scan(f, -1, ts, Limits{})
	return meta, s, err
}

// brokenPydicomFiles are pydicom test files that are deliberately malformed
// (or not DICOM data sets at all): Scan must fail with a FormatError.
var brokenPydicomFiles = map[string]bool{
	"no_meta.dcm":          true, // a single element after a stray byte
	"rtplan_truncated.dcm": true, // truncated
	"MR_truncated.dcm":     true, // truncated
	"SC_rgb_jpeg.dcm":      true, // Implicit VR data set under an explicit-VR transfer syntax (dcmdump fails too)
}

// notDICOMCorpusFiles are corpus files that are not DICOM at all.
var notDICOMCorpusFiles = map[string]bool{
	"OF_DICOM.dcm": true, // a git-lfs pointer file in the upstream repository
}

func TestScanCorpusMatchesSuyashkumar(t *testing.T) {
	files := testutil.CorpusFiles(t)
	if len(files) == 0 {
		testutil.SkipOrFail(t, "corpus has no .dcm files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, s, err := scanFile(t, path)
			if notDICOMCorpusFiles[filepath.Base(path)] {
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNoPart10Header) {
					t.Fatalf("not a DICOM file: got %v, want ErrFormat or ErrNoPart10Header", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			compareWithSuyashkumar(t, path, s)
		})
	}
}

func TestScanPydicomFiles(t *testing.T) {
	dir := testutil.PydicomTestFiles(t)
	files := testutil.DICOMFiles(t, dir)
	files = append(files, testutil.DICOMFiles(t, filepath.Join(dir, "..", "charset_files"))...)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			_, s, err := scanFile(t, path)
			if brokenPydicomFiles[name] {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("broken file: got %v, want a FormatError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if s.SOPInstanceUID == "" {
				t.Logf("no SOP Instance UID")
			}
		})
	}
}

// compareWithSuyashkumar checks every index attribute Scan extracted against
// what github.com/suyashkumar/dicom parses from the same file.
func compareWithSuyashkumar(t *testing.T, path string, s *Summary) {
	t.Helper()
	ds, err := dicom.ParseFile(path, nil, dicom.SkipPixelData())
	if err != nil {
		t.Logf("suyashkumar/dicom cannot parse %s (%v): skipping the cross-check", filepath.Base(path), err)
		return
	}
	compared := 0
	defer func() {
		if compared < 3 {
			t.Errorf("only %d index attributes compared with suyashkumar/dicom", compared)
		}
	}()
	for _, tg := range IndexTags {
		e, err := ds.FindElementByTag(dtag.Tag{Group: tg.Group(), Element: tg.Element()})
		got, present := s.Attrs[tg]
		if err != nil {
			if present {
				t.Errorf("%s: Scan found %q, suyashkumar/dicom found nothing", tg, got)
			}
			continue
		}
		if !present {
			t.Errorf("%s: missing from Scan, suyashkumar/dicom has %v", tg, e.Value)
			continue
		}
		var want []string
		switch v := e.Value.GetValue().(type) {
		case []string:
			want = v
		case []int:
			for _, n := range v {
				want = append(want, strconv.Itoa(n))
			}
		default:
			t.Logf("%s: value type %T not compared", tg, v)
			continue
		}
		for i := range want {
			want[i] = strings.Trim(want[i], " \x00")
		}
		compared++
		// Scan's documented normalization: PN drops empty trailing components.
		if w := trimValue(strings.Join(want, `\`), DictionaryVR(tg)); w != got && !(tg == TagSpecificCharacterSet) {
			t.Errorf("%s: Scan %q, suyashkumar/dicom %q", tg, got, w)
		}
	}
}
