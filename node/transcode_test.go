package node

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

func TestChooseSyntax(t *testing.T) {
	el, il, eb, jpeg := uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, uid.ExplicitVRBigEndian, uid.JPEGBaseline8Bit
	for _, c := range []struct {
		stored   string
		accepted []string
		want     string
		convert  bool
	}{
		{il, []string{el, il}, il, false}, // stored syntax first: byte-exact
		{il, []string{el}, el, true},
		{el, []string{eb, il}, il, true}, // little endian preferred
		{el, []string{eb}, eb, true},
		{eb, []string{il, el}, el, true},
		{jpeg, []string{el, il}, jpeg, false}, // encapsulated: never converted
		{il, []string{jpeg}, il, false},
		{il, nil, il, false},
	} {
		ts, convert := chooseSyntax(c.stored, c.accepted)
		if ts != c.want || convert != c.convert {
			t.Errorf("chooseSyntax(%s, %v) = %s, %v; want %s, %v", c.stored, c.accepted, ts, convert, c.want, c.convert)
		}
	}
}

// conversionFiles are an Implicit VR LE and an Explicit VR LE corpus file.
func conversionFiles(t *testing.T) (implicit, explicit string) {
	dir := testutil.CorpusDir(t)
	implicit = filepath.Join(dir, "grailbio-examples", "CT-MONO2-16-ort.dcm")
	explicit = filepath.Join(dir, "suyashkumar-testdata", "3.dcm")
	for _, p := range []string{implicit, explicit} {
		if _, err := os.Stat(p); err != nil {
			testutil.SkipOrFail(t, "corpus file missing: %v", err)
		}
	}
	return implicit, explicit
}

// dcmconvDump is dcmdump's normalised listing of DCMTK's own conversion
// of path with dcmconv flag (+te, +ti, +tb): the reference a converted
// instance must match.
func dcmconvDump(t *testing.T, path, flag string) string {
	t.Helper()
	ref := filepath.Join(t.TempDir(), "ref.dcm")
	if out, err := runTool(t, "", "dcmconv", flag, path, ref); err != nil {
		t.Fatalf("dcmconv: %v\n%s", err, out)
	}
	return dumpDataSet(t, ref)
}

// receivedOne returns the only file in dir.
func receivedOne(t *testing.T, dir string) string {
	t.Helper()
	var files []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) != 1 {
		t.Fatalf("received %d files, want 1", len(files))
	}
	return files[0]
}

// getscu (DCMTK 3.6.7) offers its storage contexts in Explicit VR LE only,
// even with +xi: an instance stored in Implicit VR LE is converted on the
// fly and arrives as dcmconv +te converts it.
func TestGetscuConvertsImplicitToExplicit(t *testing.T) {
	implicit, explicit := conversionFiles(t)
	tn := startNode(t, nil)
	storeCorpus(t, tn, []string{implicit, explicit}, 1)
	metas := validCorpus(t, []string{implicit, explicit})
	for _, c := range []struct {
		name, file string
		getscu     []string
		wantTS     string
		dcmconv    string
	}{
		{"implicit to explicit", implicit, nil, uid.ExplicitVRLittleEndian, "+te"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m fileMeta
			for _, fm := range metas {
				if fm.path == c.file {
					m = fm
				}
			}
			if m.sopInstance == "" {
				t.Fatalf("%s not readable", c.file)
			}
			dir := t.TempDir()
			args := append([]string{"-aec", tn.cfg.AETitle, "-aet", "VIEWER", "-S", "-od", dir}, c.getscu...)
			args = append(args, "-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID="+m.study,
				"-k", "SeriesInstanceUID="+m.series, "-k", "SOPInstanceUID="+m.sopInstance, "127.0.0.1", tn.port)
			if out, err := runTool(t, dir, "getscu", args...); err != nil {
				t.Fatalf("getscu: %v\n%s", err, out)
			}
			got := receivedOne(t, dir)
			if ts := fileTS(t, got); ts != c.wantTS {
				t.Fatalf("received in %s, want %s", ts, c.wantTS)
			}
			if a, b := dcmconvDump(t, c.file, c.dcmconv), dumpDataSet(t, got); a != b {
				t.Errorf("received data set differs from dcmconv %s: %s", c.dcmconv, firstDiff(a, b))
			}
		})
	}
}

// A C-MOVE destination that accepts Implicit VR LE only (storescp +xi)
// receives an Explicit VR LE instance converted.
func TestMoveConvertsForImplicitOnlyDestination(t *testing.T) {
	_, explicit := conversionFiles(t)
	port, destDir := startStorescpArgs(t, "DEST", "+xi")
	tn := startNode(t, func(c *config.Config) {
		c.Peers = append(c.Peers, config.Peer{AETitle: "DEST", Host: "127.0.0.1", Port: port})
	})
	storeCorpus(t, tn, []string{explicit}, 1)
	var m fileMeta
	for _, fm := range validCorpus(t, []string{explicit}) {
		m = fm
	}
	out, err := runTool(t, "", "movescu", "-aec", tn.cfg.AETitle, "-aet", "VIEWER", "-aem", "DEST", "-S",
		"-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID="+m.study, "-k", "SeriesInstanceUID="+m.series,
		"-k", "SOPInstanceUID="+m.sopInstance, "127.0.0.1", tn.port)
	if err != nil {
		t.Fatalf("movescu: %v\n%s", err, out)
	}
	waitFiles(destDir, 1)
	got := receivedOne(t, destDir)
	if ts := fileTS(t, got); ts != uid.ImplicitVRLittleEndian {
		t.Fatalf("received in %s, want Implicit VR LE", ts)
	}
	if a, b := dcmconvDump(t, explicit, "+ti"), dumpDataSet(t, got); a != b {
		t.Errorf("received data set differs from dcmconv +ti: %s", firstDiff(a, b))
	}
}

// C-GET with our own client offering one native syntax per storage
// context: each stored instance comes back converted to it, as dcmconv
// converts it.
func TestGetConvertsToEachNativeSyntax(t *testing.T) {
	implicit, explicit := conversionFiles(t)
	tn := startNode(t, nil)
	storeCorpus(t, tn, []string{implicit, explicit}, 1)
	metas := validCorpus(t, []string{implicit, explicit})
	for _, m := range metas {
		for _, c := range []struct{ ts, flag string }{
			{uid.ImplicitVRLittleEndian, "+ti"}, {uid.ExplicitVRLittleEndian, "+te"}, {uid.ExplicitVRBigEndian, "+tb"},
		} {
			t.Run(filepath.Base(m.path)+"/"+c.flag, func(t *testing.T) {
				ds, ts := getWithClient(t, tn, m, c.ts)
				if ts != c.ts {
					t.Fatalf("received in %s, want %s", ts, c.ts)
				}
				got := filepath.Join(t.TempDir(), "got.dcm")
				meta := &dcm.FileMeta{MediaStorageSOPClassUID: m.sopClass, MediaStorageSOPInstanceUID: m.sopInstance,
					TransferSyntaxUID: ts, ImplementationClassUID: "1.2.3.4"}
				if err := os.WriteFile(got, append(dcm.AppendPart10Header(nil, meta), ds...), 0o600); err != nil {
					t.Fatal(err)
				}
				if a, b := dcmconvDump(t, m.path, c.flag), dumpDataSet(t, got); a != b {
					t.Errorf("received data set differs from dcmconv %s: %s", c.flag, firstDiff(a, b))
				}
			})
		}
	}
}

// getWithClient C-GETs one instance, offering its SOP class in ts only,
// and returns the data set received and its transfer syntax.
func getWithClient(t *testing.T, tn *testNode, m fileMeta, ts string) ([]byte, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &dimse.Client{AETitle: "VIEWER"}
	props := append(dimse.QueryRetrieveContexts(), dimse.StorageContexts([]string{m.sopClass}, []string{ts}, true)...)
	cc, err := c.Dial(ctx, tn.addr, tn.cfg.AETitle, props)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Release(ctx)
	qts, _ := cc.TransferSyntax(uid.StudyRootQRGet)
	ident, err := dcm.EncodeIdentifier([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "IMAGE"},
		{Tag: dcm.TagStudyInstanceUID, Value: m.study}, {Tag: dcm.TagSeriesInstanceUID, Value: m.series},
		{Tag: dcm.TagSOPInstanceUID, Value: m.sopInstance}}, qts)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	var gotTS string
	h := dimse.StoreHandlerFunc(func(ctx context.Context, req *dimse.StoreRequest) error {
		b, err := io.ReadAll(req.DataSet.NewReader())
		got, gotTS = b, req.TransferSyntaxUID
		return err
	})
	so, st, err := cc.Get(ctx, uid.StudyRootQRGet, ident, h, nil)
	if err != nil || so.Completed != 1 {
		t.Fatalf("Get: %+v, %v, %v", so, st, err)
	}
	return got, gotTS
}
