package dcm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// dcmconvFlag is dcmconv's option writing each native syntax.
var dcmconvFlag = map[string]string{
	uid.ImplicitVRLittleEndian: "+ti",
	uid.ExplicitVRLittleEndian: "+te",
	uid.ExplicitVRBigEndian:    "+tb",
}

// dcmtkSkip lists files whose DCMTK conversion is not a reference, with why.
var dcmtkSkip = map[string]string{}

// Every native file converted to each other native syntax matches DCMTK's
// own conversion (dcmconv), compared as dcmdump renders both data sets
// with every value in full, after normalising what legitimately differs:
// DCMTK writes defined lengths for sequences and items and recomputes
// group lengths, while Transcode keeps undefined lengths as they are.
func TestTranscodeMatchesDCMTK(t *testing.T) {
	dcmconv := testutil.RequireTool(t, "dcmconv")
	dcmdump := testutil.RequireTool(t, "dcmdump")
	var compared atomic.Int32
	t.Cleanup(func() {
		if compared.Load() == 0 && !t.Failed() {
			t.Error("nothing compared")
		}
	})
	for _, f := range nativeFiles(t) {
		if why, ok := dcmtkSkip[f.name]; ok {
			t.Logf("%s: not compared with DCMTK: %s", f.name, why)
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel() // dominated by starting dcmconv and dcmdump
			dir := t.TempDir()
			src := filepath.Join(dir, "src.dcm")
			writePart10(t, src, f.ts, f.ds)
			for _, to := range nativeTS {
				if to == f.ts {
					continue
				}
				ref := filepath.Join(dir, "ref.dcm")
				if out, err := exec.Command(dcmconv, dcmconvFlag[to], src, ref).CombinedOutput(); err != nil {
					t.Logf("dcmconv %s cannot convert %s (%v: %s): not compared", dcmconvFlag[to], f.name, err, out)
					continue
				}
				mine := filepath.Join(dir, "mine.dcm")
				writePart10(t, mine, to, transcodeBytes(t, f.ds, f.ts, to))
				want, got := normDump(t, dcmdump, ref), normDump(t, dcmdump, mine)
				if len(want) == 0 {
					t.Fatalf("empty dump of DCMTK's conversion")
				}
				if d := diffLines(want, got); d != "" {
					t.Errorf("%s → %s differs from dcmconv %s:\n%s", tsName(f.ts), tsName(to), dcmconvFlag[to], d)
				}
				compared.Add(1)
			}
		})
	}
}

func writePart10(t *testing.T, path, ts string, ds []byte) {
	t.Helper()
	s, err := Scan(bytes.NewReader(ds), int64(len(ds)), ts, Limits{})
	if err != nil {
		t.Fatalf("writing %s: %v", filepath.Base(path), err)
	}
	meta := &FileMeta{
		MediaStorageSOPClassUID:    orDefault(s.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7"),
		MediaStorageSOPInstanceUID: orDefault(s.SOPInstanceUID, "1.2.3.4"),
		TransferSyntaxUID:          ts,
		ImplementationClassUID:     "1.2.3.4.5",
	}
	if err := os.WriteFile(path, append(AppendPart10Header(nil, meta), ds...), 0o600); err != nil {
		t.Fatal(err)
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

var (
	dumpComment = regexp.MustCompile(`\s+#\s*(\d+|u/l),\s*\d+\s.*$`)
	dumpBlank   = regexp.MustCompile(`\[ *\]$`)
	dumpItem    = regexp.MustCompile(`\((Item|Sequence) with (explicit|undefined) length #=(\d+)\)`)
)

// normDump is dcmdump's rendering of the data set of a file, each value
// in full, without the length comments, group lengths and delimiters, and
// with sequences and items of either length alike.
func normDump(t *testing.T, dcmdump, path string) []string {
	t.Helper()
	out, err := exec.Command(dcmdump, "-q", "+L", "-dc", path).Output()
	if err != nil {
		t.Fatalf("dcmdump %s: %v", filepath.Base(path), err)
	}
	var lines []string
	inData := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "# Dicom-Data-Set") {
			inData = true
			continue
		}
		s := strings.TrimSpace(l)
		if !inData || s == "" || strings.HasPrefix(s, "#") ||
			strings.HasPrefix(s, "(fffe,e00d)") || strings.HasPrefix(s, "(fffe,e0dd)") {
			continue
		}
		if len(s) > 11 && s[0] == '(' && s[6:11] == ",0000" {
			continue // group length
		}
		s = dumpComment.ReplaceAllString(s, "")
		s = dumpItem.ReplaceAllString(s, "($1 #=$3)")
		s = dumpBlank.ReplaceAllString(s, "(no value available)") // DCMTK drops padding-only values
		lines = append(lines, l[:len(l)-len(strings.TrimLeft(l, " "))]+s)
	}
	return lines
}

// diffLines describes the first few differing lines of two dumps.
func diffLines(want, got []string) string {
	var sb strings.Builder
	n := 0
	for i := 0; i < max(len(want), len(got)) && n < 8; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		// DCMTK pads odd-length values with a NUL; Transcode keeps them.
		if w != g && w != strings.Replace(g, " #", `\00 #`, 1) && !strings.HasSuffix(w, g+`\00`) {
			sb.WriteString("  dcmconv:   " + clip(w) + "\n  Transcode: " + clip(g) + "\n")
			n++
		}
	}
	return sb.String()
}

func clip(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}
