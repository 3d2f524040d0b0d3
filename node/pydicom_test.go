package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// pydicomUnsendable are the pydicom test files (Debian python3-pydicom)
// with a usable File Meta Information that DCMTK's storescu refuses to
// send, because it cannot parse them or finds no SOP Class/Instance UID in
// their data set. Sent as they are with dimse.Client, the archive answers
// with the status given, in this order (rtdose_rle_1frame repeats the SOP
// Instance UID of rtdose_rle with other content: keep-first).
var pydicomUnsendable = []struct {
	name   string
	status dimse.Status
	why    string
}{
	{"MR_truncated.dcm", dimse.StatusDataSetUnparsable, "Pixel Data longer than the file"},
	{"SC_rgb_jpeg.dcm", dimse.StatusDataSetUnparsable, "garbage element length after the meta group"},
	{"rtplan_truncated.dcm", dimse.StatusDataSetUnparsable, "truncated inside a sequence"},
	{"UN_sequence.dcm", dimse.StatusInvalidAttributeValue, "no SOP Instance UID in the data set"},
	{"no_meta_group_length.dcm", dimse.StatusInvalidAttributeValue, "no SOP Instance UID in the data set"},
	{"priv_SQ.dcm", dimse.StatusInvalidAttributeValue, "no SOP Instance UID in the data set"},
	// UIDs encoded as UN (DCMTK does not read them); the archive does, and
	// finds the SOP Instance UID of badVR and rtdose (stored before, by
	// storescu) with other content.
	{"rtdose_rle.dcm", dimse.StatusDuplicateDifferentContent, "SOP Instance UID already stored (badVR, rtdose) with other content"},
	{"rtdose_rle_1frame.dcm", dimse.StatusDuplicateDifferentContent, "SOP Instance UID already stored (badVR, rtdose) with other content"},
}

// pydicomFile is a pydicom test file with a File Meta Information that
// names its SOP class, SOP instance and transfer syntax.
type pydicomFile struct {
	path string
	meta *dcm.FileMeta
	sop  string // SOP Instance UID of the data set, else of the meta
}

// pydicomPart10 lists the top-level pydicom test files whose File Meta
// Information names SOP class, SOP instance and transfer syntax, by name.
func pydicomPart10(t *testing.T) map[string]pydicomFile {
	t.Helper()
	dir := testutil.PydicomTestFiles(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]pydicomFile{}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.EqualFold(filepath.Ext(e.Name()), ".dcm") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		meta, data, ok := readPart10(t, p)
		if !ok || meta.MediaStorageSOPClassUID == "" || meta.MediaStorageSOPInstanceUID == "" || meta.TransferSyntaxUID == "" {
			continue
		}
		f := pydicomFile{path: p, meta: meta, sop: meta.MediaStorageSOPInstanceUID}
		if sum, err := dcm.Scan(bytes.NewReader(data), int64(len(data)), meta.TransferSyntaxUID, dcm.Limits{}); err == nil && sum.SOPInstanceUID != "" {
			f.sop = sum.SOPInstanceUID
		}
		out[e.Name()] = f
	}
	if len(out) < 40 {
		t.Fatalf("only %d Part-10 files in %s: not the pydicom test files this test knows", len(out), dir)
	}
	return out
}

// readPart10 returns a file's File Meta Information and its data set bytes.
func readPart10(t *testing.T, path string) (*dcm.FileMeta, []byte, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, off, err := dcm.ReadPart10Header(bytes.NewReader(b), 1<<20)
	if err != nil {
		return nil, nil, false
	}
	return meta, b[off:], true
}

// TestPydicomFiles stores pydicom's test files: every Part-10 file that
// storescu can send, one per SOP Instance UID, in one association, then
// again over four parallel associations (duplicates: success); then the
// other files of a SOP Instance UID already stored (keep-first: 0xC010
// unless storescu delivered the very same data set, and in both cases the
// archive keeps the first); the files storescu refuses are sent as they are
// with our client and get the statuses of pydicomUnsendable.
//
// Files are grouped by the SOP Instance UID of their data set, which is
// what storescu sends (badVR, rtdose* and rtplan have another one in their
// File Meta Information). Finally the
// instances come back with movescu and getscu (bit-preserving receivers)
// and are compared byte for byte with the files.
func TestPydicomFiles(t *testing.T) {
	files := pydicomPart10(t)
	port, destDir := startStorescpArgs(t, "DEST", "+xa", "+B")
	tn := startNode(t, func(c *config.Config) {
		c.Peers = append(c.Peers, config.Peer{AETitle: "DEST", Host: "127.0.0.1", Port: port})
	})

	unsendable := map[string]bool{}
	for _, u := range pydicomUnsendable {
		unsendable[u.name] = true
		if _, ok := files[u.name]; !ok {
			t.Errorf("%s is not among the Part-10 pydicom test files", u.name)
		}
	}
	// The first file (by name) of each SOP Instance UID, and the others.
	var names []string
	for n := range files {
		if !unsendable[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	first := map[string]string{} // SOP Instance UID -> name
	var firsts, variants []string
	for _, n := range names {
		u := files[n].sop
		if _, ok := first[u]; ok {
			variants = append(variants, files[n].path)
			continue
		}
		first[u] = n
		firsts = append(firsts, files[n].path)
	}

	for _, assocs := range []int{1, 4} {
		st := storescuStatuses(t, tn, firsts, assocs)
		for _, p := range firsts {
			if s, ok := st[p]; !ok || s != 0 {
				t.Errorf("storescu (%d associations) %s: status %#x (present %v), want success", assocs, filepath.Base(p), s, ok)
			}
		}
	}
	st := storescuStatuses(t, tn, variants, 1)
	rejected := 0
	for _, p := range variants {
		switch s := st[p]; s {
		case int(dimse.StatusDuplicateDifferentContent):
			rejected++
		case 0:
		default:
			t.Errorf("storescu %s (a SOP Instance UID already stored): status %#x, want 0xC010 or success", filepath.Base(p), s)
		}
	}
	if rejected < len(variants)/2 {
		t.Errorf("only %d of %d other versions of stored instances rejected (0xC010)", rejected, len(variants))
	}
	t.Logf("%d files stored, %d other versions: %d rejected with 0xC010", len(firsts), len(variants), rejected)

	for _, u := range pydicomUnsendable {
		f, ok := files[u.name]
		if !ok {
			continue
		}
		if s := storeWithClient(t, tn, f); s != u.status {
			t.Errorf("%s (%s): status %v, want %v", u.name, u.why, s, u.status)
		}
	}

	// Everything comes back as the first file of its UID sent it. storescu
	// re-encodes what it sends (the same syntax, but DCMTK writes the data
	// set anew): where its bytes differ from the file's, dcmdump's listings
	// are compared instead, and such files must stay a minority.
	var want []pydicomFile
	for _, n := range first {
		want = append(want, files[n])
	}
	sort.Slice(want, func(i, j int) bool { return want[i].path < want[j].path })
	var sops []string
	for _, f := range want {
		sops = append(sops, f.sop)
	}
	out, err := runTool(t, "", "movescu", "-aec", tn.cfg.AETitle, "-aet", "VIEWER", "-aem", "DEST", "-S",
		"-k", "QueryRetrieveLevel=IMAGE", "-k", "SOPInstanceUID="+strings.Join(sops, `\`), "127.0.0.1", tn.port)
	if err != nil {
		t.Fatalf("movescu: %v\n%s", err, out)
	}
	waitFiles(destDir, len(want))
	moved := compareRetrieved(t, "movescu", destDir, want)

	// getscu proposes each storage SOP class once with the uncompressed
	// syntaxes, and the node accepts Explicit VR Little Endian there: with
	// no transcoding, only instances stored in it can come back (others
	// count as failed sub-operations, see the package documentation).
	var native []pydicomFile
	var nativeSOPs []string
	for _, f := range want {
		if f.meta.TransferSyntaxUID == uid.ExplicitVRLittleEndian {
			native = append(native, f)
			nativeSOPs = append(nativeSOPs, f.sop)
		}
	}
	getDir := t.TempDir()
	out, err = runTool(t, getDir, "getscu", "+B", "-aec", tn.cfg.AETitle, "-aet", "VIEWER", "-S", "-od", getDir,
		"-k", "QueryRetrieveLevel=IMAGE", "-k", "SOPInstanceUID="+strings.Join(nativeSOPs, `\`), "127.0.0.1", tn.port)
	if err != nil {
		t.Fatalf("getscu: %v\n%s", err, out)
	}
	for sop, data := range compareRetrieved(t, "getscu", getDir, native) {
		if m, ok := moved[sop]; ok && !bytes.Equal(m, data) {
			t.Errorf("%s: C-GET and C-MOVE delivered different bytes", sop)
		}
	}
}

// storeWithClient sends a file as it is with dimse.Client and returns the
// C-STORE status.
func storeWithClient(t *testing.T, tn *testNode, f pydicomFile) dimse.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := &dimse.Client{AETitle: "MODALITY"}
	cc, err := c.Dial(ctx, tn.addr, tn.cfg.AETitle,
		dimse.StorageContexts([]string{f.meta.MediaStorageSOPClassUID}, []string{f.meta.TransferSyntaxUID}, false))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer cc.Release(ctx)
	st, err := cc.StoreFile(ctx, f.path)
	if _, isStatus := err.(*dimse.StatusError); err != nil && !isStatus {
		t.Fatalf("store %s: no response: %v", filepath.Base(f.path), err)
	}
	return st
}

// withoutStorescuRewrites drops from a dcmdump listing what storescu
// changes when it re-encodes a file to send it: group lengths (gggg,0000),
// which it recomputes, and Data Set Trailing Padding (FFFC,FFFC), which it
// leaves out.
func withoutStorescuRewrites(dump string) string {
	var b strings.Builder
	for _, line := range strings.Split(dump, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "(fffc,fffc)") || (len(l) > 11 && l[0] == '(' && l[5:10] == ",0000") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// compareRetrieved checks that dir holds exactly one file per instance of
// want, whose data set is the file's byte for byte, or (for the minority
// that storescu re-encoded when it sent them) the same dcmdump listing but for
// withoutStorescuRewrites. It returns the received data sets by SOP
// Instance UID.
func compareRetrieved(t *testing.T, tool, dir string, want []pydicomFile) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		meta, _, ok := readPart10(t, p)
		if !ok {
			t.Errorf("%s: received file %s unreadable", tool, e.Name())
			continue
		}
		got[meta.MediaStorageSOPInstanceUID] = p
	}
	if len(got) != len(want) {
		t.Errorf("%s: received %d instances, want %d", tool, len(got), len(want))
	}
	same, listed := 0, 0
	datasets := map[string][]byte{}
	for _, w := range want {
		p, ok := got[w.sop]
		if !ok {
			t.Errorf("%s: %s not received", tool, filepath.Base(w.path))
			continue
		}
		meta, data, _ := readPart10(t, p)
		_, orig, _ := readPart10(t, w.path)
		datasets[w.sop] = data
		if meta.TransferSyntaxUID != w.meta.TransferSyntaxUID {
			t.Errorf("%s: %s came back in %s, sent in %s", tool, filepath.Base(w.path), meta.TransferSyntaxUID, w.meta.TransferSyntaxUID)
			continue
		}
		if bytes.Equal(data, orig) || (len(orig)%2 == 1 && bytes.Equal(data, append(orig[:len(orig):len(orig)], 0))) {
			same++
			continue
		}
		listed++
		if a, b := withoutStorescuRewrites(dumpDataSet(t, w.path)), withoutStorescuRewrites(dumpDataSet(t, p)); a != b {
			t.Errorf("%s: %s came back with another data set: %s", tool, filepath.Base(w.path), firstDiff(a, b))
		}
	}
	if same == 0 && len(want) > 0 {
		t.Errorf("%s: no instance byte-identical to its file (%d compared by listing)", tool, listed)
	}
	t.Logf("%s: %d instances byte-identical to their files, %d identical by dcmdump listing", tool, same, listed)
	return datasets
}
