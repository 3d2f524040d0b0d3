package dcm

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// Expected Patient's Name of pydicom's character-set test files, as pydicom
// 2.3 decodes them (checked by hand against the files' FileInfo.txt).
var charsetFileNames = map[string]string{
	"chrArab.dcm":        "قباني^لنزار",
	"chrFren.dcm":        "Buc^Jérôme",
	"chrGerm.dcm":        "Äneas^Rüdiger",
	"chrGreek.dcm":       "Διονυσιος",
	"chrH31.dcm":         "Yamada^Tarou=山田^太郎=やまだ^たろう",
	"chrH32.dcm":         "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
	"chrHbrw.dcm":        "שרון^דבורה",
	"chrI2.dcm":          "Hong^Gildong=洪^吉洞=홍^길동",
	"chrJapMulti.dcm":    "やまだ^たろう",
	"chrKoreanMulti.dcm": "김희중",
	"chrRuss.dcm":        "Люкceмбypг",
	"chrX1.dcm":          "Wang^XiaoDong=王^小東",
	"chrX2.dcm":          "Wang^XiaoDong=王^小东",
}

func charsetDir(t *testing.T) string {
	dir := filepath.Join(testutil.PydicomTestFiles(t), "..", "charset_files")
	if _, err := os.Stat(dir); err != nil {
		testutil.SkipOrFail(t, "pydicom charset files not found at %s", dir)
	}
	return dir
}

func TestScanCharsetFilesHardCoded(t *testing.T) {
	dir := charsetDir(t)
	for name, want := range charsetFileNames {
		t.Run(name, func(t *testing.T) {
			_, s, err := scanFile(t, filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Attrs[TagPatientName]; got != want {
				t.Errorf("PatientName = %q, want %q", got, want)
			}
		})
	}
}

// pydicomPython returns a Python interpreter that can import pydicom.
func pydicomPython(t *testing.T) string {
	for _, c := range []string{os.Getenv("SHARDPACS_PYTHON"), "python3", "/usr/bin/python3"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil && exec.Command(p, "-c", "import pydicom").Run() == nil {
			return p
		}
	}
	testutil.SkipOrFail(t, "no python3 with pydicom (apt-get install python3-pydicom, or set SHARDPACS_PYTHON)")
	return ""
}

// TestScanCharsetFilesAgainstPydicom uses pydicom as an independent oracle
// for the decoded Patient's Name of every character-set test file.
func TestScanCharsetFilesAgainstPydicom(t *testing.T) {
	dir := charsetDir(t)
	py := pydicomPython(t)
	files := testutil.DICOMFiles(t, dir)
	script := `import sys, pydicom
for f in sys.argv[1:]:
    ds = pydicom.dcmread(f)
    pn = ds.get("PatientName")
    print("" if pn is None else str(pn))
`
	out, err := exec.Command(py, append([]string{"-c", script}, files...)...).Output()
	if err != nil {
		t.Fatalf("pydicom: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(files) {
		t.Fatalf("pydicom printed %d lines for %d files", len(lines), len(files))
	}
	for i, f := range files {
		_, s, err := scanFile(t, f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if got := s.Attrs[TagPatientName]; got != lines[i] {
			t.Errorf("%s: PatientName %q, pydicom %q", filepath.Base(f), got, lines[i])
		}
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name, cs, vr string
		in           []byte
		want         string
		warn         bool
	}{
		{"ascii", "", "PN", []byte("Doe^John"), "Doe^John", false},
		{"latin1", "ISO_IR 100", "PN", []byte("Buc^J\xe9r\xf4me"), "Buc^Jérôme", false},
		{"latin1 misspelt", "ISO-IR 100", "LO", []byte("J\xe9"), "Jé", false},
		{"default repertoire high byte as latin1", "", "LO", []byte("J\xe9"), "Jé", false},
		{"cyrillic", "ISO_IR 144", "PN", []byte("\xbb\xee\xdace\xdc\xd1yp\xd3"), "Люкceмбypг", false},
		{"utf8", "ISO_IR 192", "PN", []byte("王^小東"), "王^小東", false},
		{"utf8 invalid", "ISO_IR 192", "LO", []byte("a\xffb"), "a\uFFFDb", false},
		{"gb18030", "GB18030", "PN", []byte("\xcd\xf5^\xd0\xa1\xb6\xab"), "王^小东", false},
		{"jis x 0201 single", "ISO_IR 13", "PN", []byte("\xd4\xcf\xc0\xde"), "ﾔﾏﾀﾞ", false},
		{"iso2022 jis", `\ISO 2022 IR 87`, "PN", []byte("\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B"), "山田^太郎", false},
		{"iso2022 korean", `\ISO 2022 IR 149`, "PN", []byte("\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7"), "洪^吉洞", false},
		{"iso2022 latin1 via escape", `\ISO 2022 IR 100`, "LO", []byte("a\x1b-A\xe9"), "aé", false},
		{"iso2022 reset at ^ for PN", `ISO 2022 IR 13\ISO 2022 IR 87`, "PN", []byte("\x1b$B;3\x1b(J^\xd4"), "山^ﾔ", false},
		{"non-text VR ignores charset", "ISO_IR 144", "CS", []byte("\xbb"), "»", false},
		{"unknown charset", "KOI8", "PN", []byte("\xe9"), "é", true},
		{"unknown escape", `\ISO 2022 IR 87`, "LO", []byte("a\x1b%Gb"), "a\uFFFD%Gb", false},
		{"truncated jis pair", `\ISO 2022 IR 87`, "LO", []byte("\x1b$B;"), "\uFFFD", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeText(tc.in, tc.cs, tc.vr)
			if got != tc.want {
				t.Errorf("DecodeText = %q, want %q", got, tc.want)
			}
			if tc.warn != errors.Is(err, ErrUnsupportedCharset) {
				t.Errorf("warning = %v, want %v", err, tc.warn)
			}
		})
	}
}
