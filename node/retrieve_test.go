package node

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// startStorescp starts DCMTK storescp as AE title ae on a free port,
// accepting every transfer syntax (+xa) and writing what it receives into
// a new folder; it returns the port and the folder.
func startStorescp(t testing.TB, ae string) (int, string) {
	t.Helper()
	return startStorescpArgs(t, ae, "+xa")
}

// startStorescpArgs is startStorescp with other storescp options than +xa
// (+xi: Implicit VR LE only; +B: write data sets as received; the TLS
// options...).
func startStorescpArgs(t testing.TB, ae string, opts ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	port, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
		return append(append([]string{"-aet", ae, "-od", dir}, opts...), strconv.Itoa(port))
	})
	return port, dir
}

// dumpDataSet is dcmdump's full listing of a file's data set (File Meta
// Information left out): an independent view to compare instances with.
func dumpDataSet(t *testing.T, path string) string {
	t.Helper()
	testutil.RequireTool(t, "dcmdump")
	ds, err := dcmdumpDataSet(path)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// dcmdumpDataSet is dumpDataSet for any goroutine (dcmdump must be on
// PATH).
func dcmdumpDataSet(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "dcmdump", "+L", "-q", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("dcmdump %s: %v\n%s", path, err, out)
	}
	_, ds, ok := strings.Cut(string(out), "# Dicom-Data-Set")
	if !ok {
		return "", fmt.Errorf("dcmdump %s: no data set", path)
	}
	return normalizeDump(ds), nil
}

// dumpDigests maps the SHA-256 of a file's bytes to the SHA-256 of its
// dumpDataSet: a dcmdump +L of a large image costs ~0.1 s, and the same
// corpus files (and the same received files) are compared again and again.
var dumpDigests sync.Map

// dumpDigest is the SHA-256 of dcmdumpDataSet(path), cached by content.
func dumpDigest(path string) ([32]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, err
	}
	key := sha256.Sum256(b)
	if d, ok := dumpDigests.Load(key); ok {
		return d.([32]byte), nil
	}
	ds, err := dcmdumpDataSet(path)
	if err != nil {
		return [32]byte{}, err
	}
	d := sha256.Sum256([]byte(ds))
	dumpDigests.Store(key, d)
	return d, nil
}

// sameDump reports whether the files sent and received have the same
// dumpDataSet; when not, diff says where they differ.
func sameDump(sent, received string) (same bool, diff string, err error) {
	a, err := dumpDigest(sent)
	if err != nil {
		return false, "", err
	}
	b, err := dumpDigest(received)
	if err != nil || a == b {
		return err == nil, "", err
	}
	da, err := dcmdumpDataSet(sent)
	if err != nil {
		return false, "", err
	}
	db, err := dcmdumpDataSet(received)
	if err != nil {
		return false, "", err
	}
	return false, firstDiff(da, db), nil
}

// normalizeDump removes from a dcmdump listing what a receiver may
// legitimately change when it writes a file: explicit versus undefined
// lengths of sequences and items, and their delimitation items.
func normalizeDump(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "DelimitationItem") {
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.Replace(line, "undefined length", "length", 1)
		line = strings.Replace(line, "explicit length", "length", 1)
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// checkReceived checks that dir holds exactly the instances of want, each
// with the data set of its original file.
func checkReceived(t *testing.T, dir string, want []fileMeta) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		m, ok := readMeta(t, p)
		if !ok {
			t.Errorf("received file %s unreadable", e.Name())
			continue
		}
		got[m.sopInstance] = p
	}
	if len(got) != len(want) {
		t.Errorf("received %d instances, want %d", len(got), len(want))
	}
	testutil.RequireTool(t, "dcmdump")
	// The dcmdump runs are what this costs: run them on every CPU.
	type pair struct{ sent, received string }
	var pairs []pair
	for _, w := range want {
		p, ok := got[w.sopInstance]
		if !ok {
			t.Errorf("instance from %s not received", filepath.Base(w.path))
			continue
		}
		pairs = append(pairs, pair{w.path, p})
	}
	errs := make([]string, len(pairs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), len(pairs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(pairs); i = int(next.Add(1)) - 1 {
				same, diff, err := sameDump(pairs[i].sent, pairs[i].received)
				switch {
				case err != nil:
					errs[i] = err.Error()
				case !same:
					errs[i] = fmt.Sprintf("instance from %s received with a different data set: %s", filepath.Base(pairs[i].sent), diff)
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
}

// retrieveFixture is a node holding part of the corpus, with storescp
// registered as peer DEST.
type retrieveFixture struct {
	tn      *testNode
	destDir string
	files   map[string]fileMeta
}

func newRetrieveFixture(t *testing.T, mutate func(*config.Config)) *retrieveFixture {
	t.Helper()
	files := lightCorpus(t)
	port, dir := startStorescp(t, "DEST")
	tn := startNode(t, func(c *config.Config) {
		c.Peers = append(c.Peers, config.Peer{AETitle: "DEST", Host: "127.0.0.1", Port: port})
		if mutate != nil {
			mutate(c)
		}
	})
	storeCorpus(t, tn, files, 2)
	return &retrieveFixture{tn: tn, destDir: dir, files: validCorpus(t, files)}
}

// lightCorpus is the corpus without its compressed files over 1 MiB:
// seven JPEG images, 60% of its bytes, that storing costs seconds and that
// the retrieval and query tests gain nothing from (every study but one
// stays, the biggest study and the uncompressed files whole; the full
// corpus goes through the node in TestStoreAndFindWithDCMTK).
func lightCorpus(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range testutil.CorpusFiles(t) {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		ts := fileTS(t, f)
		if st.Size() <= 1<<20 || ts == uid.ExplicitVRLittleEndian || ts == uid.ImplicitVRLittleEndian {
			out = append(out, f)
		}
	}
	return out
}

// biggestStudy returns the study with the most instances and its files.
func (f *retrieveFixture) biggestStudy() (string, []fileMeta) {
	by := map[string][]fileMeta{}
	for _, m := range f.files {
		by[m.study] = append(by[m.study], m)
	}
	best := ""
	for s, ms := range by {
		if best == "" || len(ms) > len(by[best]) || (len(ms) == len(by[best]) && s < best) {
			best = s
		}
	}
	return best, by[best]
}

func clearDir(t testing.TB, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
}

func TestMoveWithDCMTK(t *testing.T) {
	f := newRetrieveFixture(t, nil)
	study, inStudy := f.biggestStudy()
	series := inStudy[0].series
	var inSeries []fileMeta
	for _, m := range inStudy {
		if m.series == series {
			inSeries = append(inSeries, m)
		}
	}
	cases := []struct {
		name string
		keys []string
		want []fileMeta
	}{
		{"study", []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study}, inStudy},
		{"series", []string{"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + study, "SeriesInstanceUID=" + series}, inSeries},
		{"image", []string{"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study, "SeriesInstanceUID=" + series,
			"SOPInstanceUID=" + inSeries[0].sopInstance}, inSeries[:1]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearDir(t, f.destDir)
			args := []string{"-aec", f.tn.cfg.AETitle, "-aet", "VIEWER", "-aem", "DEST", "-S"}
			for _, k := range c.keys {
				args = append(args, "-k", k)
			}
			out, err := runTool(t, "", "movescu", append(args, "127.0.0.1", f.tn.port)...)
			if err != nil {
				t.Fatalf("movescu: %v\n%s", err, out)
			}
			waitFiles(f.destDir, len(c.want))
			checkReceived(t, f.destDir, c.want)
		})
	}
}

// waitFiles waits (briefly) until dir holds n files: storescp may still
// be writing the last one when the C-MOVE-RSP arrives.
func waitFiles(dir string, n int) {
	for range 100 {
		ents, _ := os.ReadDir(dir)
		if len(ents) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGetWithDCMTK(t *testing.T) {
	f := newRetrieveFixture(t, nil)
	// getscu accepts uncompressed transfer syntaxes only by default: get
	// the uncompressed instances of one study.
	byStudy := map[string][]fileMeta{}
	for _, m := range f.files {
		if ts := fileTS(t, m.path); ts == uid.ExplicitVRLittleEndian || ts == uid.ImplicitVRLittleEndian {
			byStudy[m.study] = append(byStudy[m.study], m)
		}
	}
	var studies []string
	for s := range byStudy {
		studies = append(studies, s)
	}
	if len(studies) == 0 {
		t.Fatal("no uncompressed study in the corpus")
	}
	sort.Strings(studies)
	study := studies[0]
	for _, s := range studies {
		if len(byStudy[s]) > len(byStudy[study]) {
			study = s
		}
	}
	want := byStudy[study]
	dir := t.TempDir()
	out, err := runTool(t, dir, "getscu", "-aec", f.tn.cfg.AETitle, "-aet", "VIEWER", "-S", "-od", dir,
		"-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID="+study, "127.0.0.1", f.tn.port)
	if err != nil {
		t.Fatalf("getscu: %v\n%s", err, out)
	}
	checkReceived(t, dir, want)
}

func fileTS(t *testing.T, path string) string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	meta, _, err := dcm.ReadPart10Header(fh, 1<<20)
	if err != nil {
		return ""
	}
	return meta.TransferSyntaxUID
}

// moveWithClient runs one C-MOVE with our own client and returns the final
// status and counts.
func moveWithClient(t testing.TB, tn *testNode, dest string, keys []dcm.Element) (dimse.SubOps, dimse.Status) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &dimse.Client{AETitle: "VIEWER"}
	cc, err := c.Dial(ctx, tn.addr, tn.cfg.AETitle, dimse.QueryRetrieveContexts())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Release(ctx)
	ts, _ := cc.TransferSyntax(uid.StudyRootQRMove)
	ident, err := dcm.EncodeIdentifier(keys, ts)
	if err != nil {
		t.Fatal(err)
	}
	so, st, err := cc.Move(ctx, uid.StudyRootQRMove, dest, ident, nil)
	if err != nil && st == 0 {
		t.Logf("Move: %v", err)
	}
	return so, st
}

func TestMoveUnknownDestination(t *testing.T) {
	files := testutil.CorpusFiles(t)
	// A listener standing for where an unknown AE might be: it must see
	// no connection.
	l := testutil.Listen(t)
	conns := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			conns <- c
		}
	}()
	tn := startNode(t, func(c *config.Config) {
		// A known peer without an address is no destination either, and
		// VIEWER may only move to OTHER: DEST, listening, is refused.
		port := l.Addr().(*net.TCPAddr).Port
		c.Peers = append(c.Peers, config.Peer{AETitle: "NOADDR"},
			config.Peer{AETitle: "DEST", Host: "127.0.0.1", Port: port},
			config.Peer{AETitle: "OTHER", Host: "127.0.0.1", Port: port},
			config.Peer{AETitle: "VIEWER", MoveDestinations: []string{"OTHER"}})
	})
	storeCorpus(t, tn, files[:3], 1)
	study := ""
	for _, m := range validCorpus(t, files[:3]) {
		study = m.study
	}
	keys := []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "STUDY"}, {Tag: dcm.TagStudyInstanceUID, Value: study}}
	for _, dest := range []string{"NOBODY", "NOADDR", "DEST"} {
		if _, st := moveWithClient(t, tn, dest, keys); st != dimse.StatusMoveDestinationUnknown {
			t.Errorf("move to %s: status %v, want 0xA801", dest, st)
		}
	}
	select {
	case c := <-conns:
		c.Close()
		t.Fatal("a connection was attempted")
	case <-time.After(200 * time.Millisecond):
	}
	_ = l.Close()
}

// firstDiff shows the first line where two dumps differ.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "sent " + strconv.Quote(la[i]) + ", received " + strconv.Quote(lb[i])
		}
	}
	return "lengths " + strconv.Itoa(len(la)) + " and " + strconv.Itoa(len(lb)) + " lines"
}
