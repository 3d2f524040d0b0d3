package node

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// testNode is a node served in-process on a loopback port.
type testNode struct {
	n    *Node
	arch *archive.Archive
	cfg  *config.Config
	addr string
	port string
	logs *lockedWriter
}

// startNode starts a node over a fresh archive in t.TempDir(); mutate
// edits the configuration first. Cleanup shuts it down and closes the
// archive.
func startNode(t testing.TB, mutate func(*config.Config)) *testNode {
	t.Helper()
	return startNodeArchive(t, mutate, archive.Options{})
}

// startNodeArchive is startNode over an archive opened with base (fields
// a configuration does not set, such as MemoryLimit); NoRepairer is always
// set.
func startNodeArchive(t testing.TB, mutate func(*config.Config), base archive.Options) *testNode {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Limits.ShutdownTimeout = 5 * time.Second
	if mutate != nil {
		mutate(cfg)
	}
	ctx := context.Background()
	base.NoRepairer = true
	arch, err := archive.OpenDir(ctx, cfg, base)
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	logs := &lockedWriter{}
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	n, err := New(cfg, arch, log)
	if err != nil {
		arch.Close()
		t.Fatalf("New: %v", err)
	}
	l := testutil.Listen(t)
	served := make(chan error, 1)
	go func() { served <- n.Serve(l) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, dimse.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		if err := arch.Close(); err != nil {
			t.Errorf("archive Close: %v", err)
		}
	})
	addr := l.Addr().String()
	_, port, _ := strings.Cut(addr, ":")
	return &testNode{n: n, arch: arch, cfg: cfg, addr: addr, port: port, logs: logs}
}

// runTool runs an external tool with TCP_NODELAY=1 and a timeout, and
// returns its combined output.
func runTool(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	path := testutil.RequireTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "TCP_NODELAY=1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fileMeta is what an independent reader (suyashkumar/dicom) finds in a file.
type fileMeta struct {
	path                                        string
	sopClass, sopInstance, study, series        string
	patientID, patientName, modality, studyDate string
	accession, studyDescription, seriesNumber   string
}

// readMeta reads the attributes the query tests compare, with
// suyashkumar/dicom (not our dcm package). ok is false when the file cannot
// be read or lacks one of the four UIDs.
func readMeta(t *testing.T, path string) (fileMeta, bool) {
	t.Helper()
	ds, err := dicom.ParseFile(path, nil, dicom.SkipPixelData())
	if err != nil {
		return fileMeta{}, false
	}
	get := func(tg tag.Tag) string {
		e, err := ds.FindElementByTag(tg)
		if err != nil {
			return ""
		}
		switch v := e.Value.GetValue().(type) {
		case []string:
			return strings.Trim(strings.Join(v, `\`), " \x00")
		case []int:
			s := make([]string, len(v))
			for i, x := range v {
				s[i] = strconv.Itoa(x)
			}
			return strings.Join(s, `\`)
		}
		return ""
	}
	m := fileMeta{
		path: path, sopClass: get(tag.SOPClassUID), sopInstance: get(tag.SOPInstanceUID),
		study: get(tag.StudyInstanceUID), series: get(tag.SeriesInstanceUID),
		patientID: get(tag.PatientID), patientName: get(tag.PatientName), modality: get(tag.Modality),
		studyDate: get(tag.StudyDate), accession: get(tag.AccessionNumber),
		studyDescription: get(tag.StudyDescription), seriesNumber: get(tag.SeriesNumber),
	}
	ok := dcm.ValidUID(m.sopClass) && dcm.ValidUID(m.sopInstance) && dcm.ValidUID(m.study) && dcm.ValidUID(m.series)
	return m, ok
}

// lockedWriter serialises writes to a buffer shared with the test.
type lockedWriter = testutil.SyncBuffer

// writeFile writes data under dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func corpusOrSkip(t *testing.T) []string {
	t.Helper()
	return testutil.CorpusFiles(t)
}

// serveSCP serves srv (a C-MOVE destination, say) on a loopback port
// picked at run time until the test ends, and returns the port.
func serveSCP(t testing.TB, srv *dimse.Server) int {
	t.Helper()
	l := testutil.Listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return l.Addr().(*net.TCPAddr).Port
}

// studyIdentifier is a STUDY-level C-MOVE / C-GET identifier for study,
// encoded in ts.
func studyIdentifier(t testing.TB, study, ts string) []byte {
	t.Helper()
	ident, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, Value: "STUDY"}, {Tag: dcm.TagStudyInstanceUID, Value: study},
	}, ts)
	if err != nil {
		t.Fatal(err)
	}
	return ident
}
