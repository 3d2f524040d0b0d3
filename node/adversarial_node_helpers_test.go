package node

// Helpers of the node-level adversarial tests (adversarial_node_*_test.go):
// a node with an audit trail and captured logs, a bare requestor built on
// dimse/ul (to send what dimse.Client refuses to), and the on-disk checks.
// They are self-contained so that these tests do not depend on the other
// test files' helpers.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
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
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// advTO bounds every network wait of these tests.
const advTO = 10 * time.Second

// advBuf is a goroutine-safe buffer (log capture).
type advBuf = testutil.SyncBuffer

// advNode is a node served in-process on loopback with an audit trail, its
// operational log and the archive's log captured.
type advNode struct {
	n         *Node
	arch      *archive.Archive
	cfg       *config.Config
	addr      string
	auditPath string
	logs      *advBuf // node log (JSON unless advOpts.console)
	archLogs  *advBuf // archive log (JSON)

	once sync.Once
	stop func() // shuts the node down, closes archive and audit trail; idempotent, also at cleanup
}

// advOpts are startAdvNode's options.
type advOpts struct {
	console bool // node log through zerolog.ConsoleWriter, as `serve` with log.format = console
}

// startAdvNode starts a node over a fresh archive in t.TempDir() (unless
// mutate sets DataDir) with the repairer off; mutate edits the
// configuration first.
func startAdvNode(t *testing.T, mutate func(*config.Config), o ...advOpts) *advNode {
	t.Helper()
	var opt advOpts
	if len(o) > 0 {
		opt = o[0]
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Limits.ShutdownTimeout = 5 * time.Second
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("configuration: %v", err)
	}
	archLogs := &advBuf{}
	arch, err := archive.OpenDir(context.Background(), cfg, archive.Options{NoRepairer: true,
		Logger: zerolog.New(archLogs).Level(zerolog.InfoLevel)})
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	al, err := audit.Open(cfg.AuditPath())
	if err != nil {
		arch.Close()
		t.Fatalf("audit.Open: %v", err)
	}
	al.SetSource(audit.Source{AETitle: cfg.AETitle})
	logs := &advBuf{}
	var w io.Writer = logs
	if opt.console {
		w = zerolog.ConsoleWriter{Out: logs, NoColor: true, TimeFormat: time.RFC3339}
	}
	n, err := NewWithOptions(cfg, arch, Options{Log: zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Logger(), Audit: al})
	if err != nil {
		arch.Close()
		al.Close()
		t.Fatalf("NewWithOptions: %v", err)
	}
	l := testutil.Listen(t)
	served := make(chan error, 1)
	go func() { served <- n.Serve(l) }()
	an := &advNode{n: n, arch: arch, cfg: cfg, addr: l.Addr().String(), auditPath: cfg.AuditPath(), logs: logs, archLogs: archLogs}
	an.stop = func() {
		an.once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), advTO)
			defer cancel()
			if err := n.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-served; !errors.Is(err, dimse.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
			if err := arch.Close(); err != nil {
				t.Errorf("archive Close: %v", err)
			}
			if err := al.Close(); err != nil {
				t.Errorf("audit Close: %v", err)
			}
		})
	}
	t.Cleanup(an.stop)
	return an
}

// dial opens an association as calling with the given proposals.
func (an *advNode) dial(t *testing.T, calling string, props ...dimse.ContextProposal) *dimse.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), advTO)
	defer cancel()
	cc, err := (&dimse.Client{AETitle: calling}).Dial(ctx, an.addr, an.cfg.AETitle, props)
	if err != nil {
		t.Fatalf("association from %s: %v", calling, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// advSCProps proposes Secondary Capture in Explicit VR Little Endian.
func advSCProps() []dimse.ContextProposal {
	return dimse.StorageContexts([]string{uid.SecondaryCaptureImageStorage}, []string{uid.ExplicitVRLittleEndian}, false)
}

// advStore sends one C-STORE and returns the status and error.
func advStore(t *testing.T, cc *dimse.ClientConn, sop string, ds []byte) (dimse.Status, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), advTO)
	defer cancel()
	return cc.Store(ctx, uid.SecondaryCaptureImageStorage, sop, uid.ExplicitVRLittleEndian, bytes.NewReader(ds))
}

// advStoreSt sends one C-STORE and returns the response's status and
// Error Comment; no response fails the test.
func advStoreSt(t *testing.T, cc *dimse.ClientConn, sop string, ds []byte) (dimse.Status, string) {
	t.Helper()
	st, err := advStore(t, cc, sop, ds)
	var se *dimse.StatusError
	switch {
	case err == nil:
		return st, ""
	case errors.As(err, &se):
		return se.Status, se.Comment
	}
	t.Fatalf("C-STORE: no response: %v", err)
	return 0, ""
}

// advUID returns a UID under our test root.
func advUID(parts ...string) string {
	return "1.2.826.0.1.3680043.10.1397.88." + strings.Join(parts, ".")
}

// advInstance is a Secondary Capture data set in Explicit VR Little
// Endian; extra elements go after InstanceNumber (give them in tag order,
// above (0020,0013)).
func advInstance(t *testing.T, sop, study, series string, extra ...dcm.Element) []byte {
	t.Helper()
	elems := []dcm.Element{
		{Tag: dcm.TagSOPClassUID, VR: "UI", Value: uid.SecondaryCaptureImageStorage},
		{Tag: dcm.TagSOPInstanceUID, VR: "UI", Value: sop},
		{Tag: dcm.TagStudyDate, VR: "DA", Value: "20240102"},
		{Tag: dcm.TagModality, VR: "CS", Value: "OT"},
		{Tag: dcm.TagPatientName, VR: "PN", Value: "Adversarial^Test"},
		{Tag: dcm.TagPatientID, VR: "LO", Value: "ADV-1"},
		{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: study},
		{Tag: dcm.TagSeriesInstanceUID, VR: "UI", Value: series},
		{Tag: dcm.TagInstanceNumber, VR: "IS", Value: "1"},
	}
	b, err := dcm.EncodeIdentifier(append(elems, extra...), uid.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// advPixels is a Pixel Data element of n bytes.
func advPixels(n int, fill byte) dcm.Element {
	return dcm.Element{Tag: dcm.Tag(0x7FE00010), VR: "OB", Bytes: bytes.Repeat([]byte{fill}, n)}
}

// advNested is Content Sequence (0040,A730) nested depth levels deep.
func advNested(depth int) dcm.Element {
	e := dcm.Element{Tag: dcm.Tag(0x0040A730), VR: "SQ", Items: [][]dcm.Element{{{Tag: dcm.Tag(0x0040A040), VR: "CS", Value: "TEXT"}}}}
	for range depth - 1 {
		e = dcm.Element{Tag: dcm.Tag(0x0040A730), VR: "SQ", Items: [][]dcm.Element{{e}}}
	}
	return e
}

// ---- raw requestor ----

// advPeer is a bare requestor on dimse/ul and the message layer: it sends
// commands as given (no validation, any context).
type advPeer struct {
	t    *testing.T
	conn net.Conn
	a    *ul.Association
	r    *dimse.MessageReader
}

// advAssociate associates with the node as calling, proposing pcs.
func (an *advNode) advAssociate(t *testing.T, calling string, pcs ...pdu.PresentationContextRQ) *advPeer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", an.addr, advTO)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), advTO)
	defer cancel()
	a, err := ul.Request(ctx, conn, &ul.RequestConfig{CallingAETitle: calling, CalledAETitle: an.cfg.AETitle, Contexts: pcs})
	if err != nil {
		conn.Close()
		t.Fatalf("association from %s: %v", calling, err)
	}
	p := &advPeer{t: t, conn: conn, a: a, r: &dimse.MessageReader{R: a}}
	t.Cleanup(func() { _ = a.Abort(pdu.AbortNotSpecified); conn.Close() })
	return p
}

// advPC is a presentation context proposing Explicit VR Little Endian.
func advPC(id uint8, as string) pdu.PresentationContextRQ {
	return pdu.PresentationContextRQ{ID: id, AbstractSyntax: as, TransferSyntaxes: []string{uid.ExplicitVRLittleEndian}}
}

// send writes one message; data nil means no data set.
func (p *advPeer) send(ctxID uint8, cmd *dimse.Command, data io.Reader) error {
	ctx, cancel := context.WithTimeout(context.Background(), advTO)
	defer cancel()
	return dimse.WriteMessage(ctx, p.a, ctxID, cmd, data, p.a.MaxSendPDULength())
}

// roundTrip sends a request with data and returns the response command.
func (p *advPeer) roundTrip(ctxID uint8, cmd *dimse.Command, data []byte) *dimse.Command {
	p.t.Helper()
	if err := p.send(ctxID, cmd, bytes.NewReader(data)); err != nil {
		p.t.Fatalf("sending %s: %v", cmd.CommandField, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), advTO)
	defer cancel()
	m, err := p.r.ReadMessage(ctx)
	if err != nil {
		p.t.Fatalf("reading the response: %v", err)
	}
	defer m.Close()
	return m.Command
}

func (p *advPeer) release() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), advTO)
	defer cancel()
	if err := p.a.Release(ctx); err != nil {
		p.t.Errorf("release: %v", err)
	}
}

// advRQBytes encodes an A-ASSOCIATE-RQ to called from calling.
func advRQBytes(t *testing.T, calling, called string, pcs ...pdu.PresentationContextRQ) []byte {
	t.Helper()
	if len(pcs) == 0 {
		pcs = []pdu.PresentationContextRQ{advPC(1, dimse.VerificationSOPClass)}
	}
	b, err := pdu.Encode(&pdu.AssociateRQ{ProtocolVersion: pdu.ProtocolVersion1, CalledAETitle: called,
		CallingAETitle: calling, ApplicationContext: pdu.DICOMApplicationContext, PresentationContexts: pcs,
		UserInfo: pdu.UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.826.0.1.3680043.10.1397.99"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// advRaw writes b on a new connection to addr and returns the
// connection, for advExpect.
func advRaw(t *testing.T, addr string, b []byte) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, advTO)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(b) > 0 {
		c.SetWriteDeadline(time.Now().Add(advTO))
		if _, err := c.Write(b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	return c
}

// advExpect reads len(want) bytes (hex, spaces ignored) from c and fails
// unless they are want.
func advExpect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	w, err := hex.DecodeString(strings.ReplaceAll(want, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(advTO))
	got := make([]byte, len(w))
	if n, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %d of %d bytes (% x): %v; want % x", n, len(w), got[:n], err, w)
	}
	if !bytes.Equal(got, w) {
		t.Fatalf("got % x, want % x", got, w)
	}
}

// advExpectClose fails unless the peer closes c without sending more.
func advExpectClose(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(advTO))
	b, err := io.ReadAll(c)
	if len(b) > 0 || (err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err)) {
		t.Fatalf("after the answer: % x, %v; want a close", b, err)
	}
}

// advReadPDU reads one PDU from c and returns its type and body.
func advReadPDU(t *testing.T, c net.Conn) (byte, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(advTO))
	var h [6]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		t.Fatalf("reading a PDU header: %v", err)
	}
	n := binary.BigEndian.Uint32(h[2:])
	if n > 1<<20 {
		t.Fatalf("PDU of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("reading a PDU body: %v", err)
	}
	return h[0], body
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

// Wire answers (PS3.8 9.3.4, 9.3.8).
const (
	rjCallingAEBytes = "03 00 00 00 00 04 00 01 01 03" // RJ (1,1,3)
	rjLimitBytes     = "03 00 00 00 00 04 00 02 03 02" // RJ (2,3,2)
	abortIdleBytes   = "07 00 00 00 00 04 00 00 02 00" // A-ABORT (2,0)
	abortInvalid     = "07 00 00 00 00 04 00 00 02 06" // A-ABORT (2,6)
)

// ---- audit trail ----

// advAudit parses the audit trail (every line must parse).
func advAudit(t *testing.T, path string) []audit.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []audit.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line does not parse: %v\n%s", err, sc.Text())
		}
		evs = append(evs, ev)
	}
	return evs
}

// advAlerts returns the Security Alerts of type typ whose description
// contains every one of substrs, waiting up to advTO for at least one.
func (an *advNode) advAlerts(t *testing.T, typ audit.Code, substrs ...string) []audit.Event {
	t.Helper()
	deadline := time.Now().Add(advTO)
	for {
		out := an.advAlertsNow(t, typ, substrs...)
		if len(out) > 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// advAlertsNow is advAlerts without waiting (after stop, say).
func (an *advNode) advAlertsNow(t *testing.T, typ audit.Code, substrs ...string) []audit.Event {
	t.Helper()
	var out []audit.Event
	for _, ev := range advAudit(t, an.auditPath) {
		if ev.EventID != audit.EventSecurityAlert || len(ev.EventTypeCode) != 1 || ev.EventTypeCode[0] != typ {
			continue
		}
		d := advDescription(ev)
		ok := true
		for _, s := range substrs {
			ok = ok && strings.Contains(d, s)
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out
}

// advDescription joins an event's participant object details.
func advDescription(ev audit.Event) string {
	var b strings.Builder
	for _, po := range ev.ParticipantObjectIdentification {
		for _, d := range po.ParticipantObjectDetail {
			b.WriteString(d.Value)
			b.WriteString("; ")
		}
	}
	return b.String()
}

// ---- disk ----

var advObjectName = regexp.MustCompile(`^[0-9a-f]{32}$`)

// advObjects lists the files under each share store (names relative to
// the store), failing on any name that is not an object name.
func (an *advNode) advObjects(t *testing.T) [4][]string {
	t.Helper()
	var out [4][]string
	for i, dir := range an.cfg.StorePaths() {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if !advObjectName.MatchString(d.Name()) {
				t.Errorf("store %d holds %q, not a 32-hex object name", i, rel)
			}
			out[i] = append(out[i], rel)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// advObjectCounts is the number of objects per store.
func (an *advNode) advObjectCounts(t *testing.T) [4]int {
	t.Helper()
	var n [4]int
	for i, o := range an.advObjects(t) {
		n[i] = len(o)
	}
	return n
}

// advLookup reports whether the index holds sop.
func (an *advNode) advLookup(t *testing.T, sop string) bool {
	t.Helper()
	_, err := an.arch.Lookup(context.Background(), sop)
	switch {
	case err == nil:
		return true
	case errors.Is(err, archive.ErrNotFound):
		return false
	}
	t.Fatalf("Lookup: %v", err)
	return false
}

// advWaitGoroutines waits until runtime.NumGoroutine() is at most base.
func advWaitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(advTO)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
