package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// secureNode is a node with an audit trail and, when cfg.TLS.CertFile is
// set, a TLS listener besides the plain one, served in-process.
type secureNode struct {
	n         *Node
	cfg       *config.Config
	addr      string // plain listener
	tlsAddr   string // TLS listener, "" without TLS
	auditPath string
	logs      *lockedWriter

	stopOnce sync.Once
	stopFn   func()
}

// startSecureNode starts a secureNode over a fresh archive; mutate edits
// the configuration first. stop (also run by Cleanup) shuts it down and
// closes the archive and the audit trail.
func startSecureNode(t *testing.T, mutate func(*config.Config)) *secureNode {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Limits.ShutdownTimeout = 5 * time.Second
	if mutate != nil {
		mutate(cfg)
	}
	ctx := context.Background()
	arch, err := archive.OpenDir(ctx, cfg, archive.Options{NoRepairer: true})
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	al, err := audit.Open(cfg.AuditPath())
	if err != nil {
		arch.Close()
		t.Fatalf("audit.Open: %v", err)
	}
	al.SetSource(audit.Source{AETitle: cfg.AETitle})
	logs := &lockedWriter{}
	n, err := NewWithOptions(cfg, arch, Options{Log: zerolog.New(logs).Level(zerolog.InfoLevel), Audit: al})
	if err != nil {
		arch.Close()
		al.Close()
		t.Fatalf("NewWithOptions: %v", err)
	}
	sn := &secureNode{n: n, cfg: cfg, auditPath: cfg.AuditPath(), logs: logs}
	served := make(chan error, 2)
	listeners := 1
	l := testutil.Listen(t)
	sn.addr = l.Addr().String()
	go func() { served <- n.Serve(l) }()
	if cfg.TLS.CertFile != "" {
		tl := testutil.Listen(t)
		sn.tlsAddr = tl.Addr().String()
		listeners++
		go func() { served <- n.ServeTLS(tl) }()
	}
	sn.stopFn = func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range listeners {
			if err := <-served; !errors.Is(err, dimse.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}
		if err := arch.Close(); err != nil {
			t.Errorf("archive Close: %v", err)
		}
		if err := al.Close(); err != nil {
			t.Errorf("audit Close: %v", err)
		}
	}
	t.Cleanup(sn.stop)
	return sn
}

func (sn *secureNode) stop() { sn.stopOnce.Do(sn.stopFn) }

func (sn *secureNode) port(tls bool) string {
	a := sn.addr
	if tls {
		a = sn.tlsAddr
	}
	_, p, _ := net.SplitHostPort(a)
	return p
}

// readAudit parses every line of the audit trail; a line that does not
// parse fails the test.
func readAudit(t *testing.T, path string) []audit.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []audit.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for i := 1; sc.Scan(); i++ {
		var ev audit.Event
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("audit line %d does not parse: %v\n%s", i, err, sc.Text())
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return evs
}

// waitAudit polls the audit trail until cond holds for one event.
func waitAudit(t *testing.T, path, what string, cond func(audit.Event) bool) audit.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, ev := range readAudit(t, path) {
			if cond(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit event: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isAlert matches a Security Alert of the given type.
func isAlert(typ audit.Code) func(audit.Event) bool {
	return func(ev audit.Event) bool {
		return ev.EventID == audit.EventSecurityAlert && len(ev.EventTypeCode) == 1 && ev.EventTypeCode[0] == typ
	}
}

// alertText is a Security Alert's description.
func alertText(ev audit.Event) string {
	var b strings.Builder
	for _, po := range ev.ParticipantObjectIdentification {
		for _, d := range po.ParticipantObjectDetail {
			b.WriteString(d.Value)
			b.WriteString("; ")
		}
	}
	return b.String()
}

// testInstance is a small Secondary Capture data set (Explicit VR Little
// Endian) with the given identity and patient.
type testInstance struct {
	sop, study, series, patientID, patientName string
}

func (ti testInstance) dataSet(t *testing.T) []byte {
	t.Helper()
	b, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagSOPClassUID, VR: "UI", Value: uid.SecondaryCaptureImageStorage},
		{Tag: dcm.TagSOPInstanceUID, VR: "UI", Value: ti.sop},
		{Tag: dcm.TagStudyDate, VR: "DA", Value: "20240102"},
		{Tag: dcm.TagModality, VR: "CS", Value: "OT"},
		{Tag: dcm.TagPatientName, VR: "PN", Value: ti.patientName},
		{Tag: dcm.TagPatientID, VR: "LO", Value: ti.patientID},
		{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: ti.study},
		{Tag: dcm.TagSeriesInstanceUID, VR: "UI", Value: ti.series},
		{Tag: dcm.TagInstanceNumber, VR: "IS", Value: "1"},
	}, uid.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes the instance as a Part-10 file in dir and returns its path.
func (ti testInstance) writeFile(t *testing.T, dir string) string {
	t.Helper()
	b := dcm.AppendPart10Header(nil, &dcm.FileMeta{MediaStorageSOPClassUID: uid.SecondaryCaptureImageStorage,
		MediaStorageSOPInstanceUID: ti.sop, TransferSyntaxUID: uid.ExplicitVRLittleEndian,
		ImplementationClassUID: "1.2.826.0.1.3680043.10.1397.99"})
	b = append(b, ti.dataSet(t)...)
	path := filepath.Join(dir, ti.sop+".dcm")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// dial opens an association from calling to the node with proposals.
func dial(t *testing.T, c *dimse.Client, addr, called string, proposals []dimse.ContextProposal) *dimse.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc, err := c.Dial(ctx, addr, called, proposals)
	if err != nil {
		t.Fatalf("association from %s: %v", c.AETitle, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func release(t *testing.T, cc *dimse.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cc.Release(ctx); err != nil {
		t.Errorf("release: %v", err)
	}
}

// studyIdent is a STUDY-level identifier with the given keys, in the
// transfer syntax cc accepted for model.
func studyIdent(t *testing.T, cc *dimse.ClientConn, model string, keys ...dcm.Element) []byte {
	t.Helper()
	ts, ok := cc.TransferSyntax(model)
	if !ok {
		t.Fatalf("no accepted context for %s", model)
	}
	elems := append([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: "STUDY"}}, keys...)
	b, err := dcm.EncodeIdentifier(elems, ts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
