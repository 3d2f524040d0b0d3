package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// Test instance: a tiny Secondary Capture data set in Explicit VR Little
// Endian, no patient data.
const (
	testSOPInstance = "1.2.826.0.1.3680043.10.1381.42.1"
	testAETitle     = "SHARDPACS"
)

// testDataSet returns the test instance's data set (no File Meta
// Information).
func testDataSet() []byte {
	var b []byte
	b = appendElement(b, 0x0008, 0x0016, "UI", uid.SecondaryCaptureImageStorage)
	b = appendElement(b, 0x0008, 0x0018, "UI", testSOPInstance)
	b = appendElement(b, 0x0008, 0x0052, "CS", "PATIENT")
	b = appendElement(b, 0x0010, 0x0020, "LO", "TLSTEST")
	return b
}

// appendElement appends an explicit VR little endian element with a
// 16-bit length, padding odd values (NUL for UI, space otherwise).
func appendElement(b []byte, group, elem uint16, vr, v string) []byte {
	if len(v)%2 == 1 {
		if vr == "UI" {
			v += "\x00"
		} else {
			v += " "
		}
	}
	b = binary.LittleEndian.AppendUint16(b, group)
	b = binary.LittleEndian.AppendUint16(b, elem)
	b = append(b, vr...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// writeTestFile writes the test instance as a DICOM file (PS3.10).
func writeTestFile(t *testing.T) string {
	t.Helper()
	var meta []byte
	meta = binary.LittleEndian.AppendUint16(meta, 0x0002)
	meta = binary.LittleEndian.AppendUint16(meta, 0x0001)
	meta = append(meta, "OB\x00\x00"...)
	meta = binary.LittleEndian.AppendUint32(meta, 2)
	meta = append(meta, 0, 1)
	meta = appendElement(meta, 0x0002, 0x0002, "UI", uid.SecondaryCaptureImageStorage)
	meta = appendElement(meta, 0x0002, 0x0003, "UI", testSOPInstance)
	meta = appendElement(meta, 0x0002, 0x0010, "UI", uid.ExplicitVRLittleEndian)
	meta = appendElement(meta, 0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.10.1381.1")
	var f bytes.Buffer
	f.Write(make([]byte, 128))
	f.WriteString("DICM")
	// (0002,0000) UL File Meta Information Group Length.
	f.Write([]byte{0x02, 0x00, 0x00, 0x00, 'U', 'L', 4, 0})
	f.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(meta))))
	f.Write(meta)
	f.Write(testDataSet())
	path := filepath.Join(t.TempDir(), "test.dcm")
	if err := os.WriteFile(path, f.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// recorder observes the server: the handshake failures, rejections and
// stores it saw.
type recorder struct {
	dimse.NopObserver
	mu       sync.Mutex
	aborted  []error // AssociationAborted causes (TLS handshake failures...)
	rejected []error // AssociationRejected causes
	bindErrs []error // CheckAEBinding refusals
	stored   []string
	accepted []tls.ConnectionState // TLS state of each accepted association
	moveErrs []error               // failures of C-MOVE sub-operations
}

// reset forgets what was seen so far.
func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aborted, r.rejected, r.bindErrs, r.stored, r.accepted, r.moveErrs = nil, nil, nil, nil, nil, nil
}

func (r *recorder) AssociationAborted(_ *dimse.AssociationInfo, _ *pdu.Abort, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if why != nil {
		r.aborted = append(r.aborted, why)
	}
}

func (r *recorder) AssociationRejected(_ *dimse.AssociationInfo, _ *pdu.AssociateRJ, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected = append(r.rejected, why)
}

func (r *recorder) AssociationAccepted(info *dimse.AssociationInfo, _ []ul.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var st tls.ConnectionState
	if info.TLS != nil {
		st = *info.TLS
	}
	r.accepted = append(r.accepted, st)
}

// waitFor polls until cond (called under the lock) holds, or fails.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("server never saw %s; aborted %v, rejected %v, binding %v", what, r.aborted, r.rejected, r.bindErrs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAborted waits for a handshake failure whose text contains want.
func (r *recorder) waitAborted(t *testing.T, want string) {
	t.Helper()
	r.waitFor(t, fmt.Sprintf("a connection failure containing %q", want), func() bool {
		for _, e := range r.aborted {
			if strings.Contains(e.Error(), want) {
				return true
			}
		}
		return false
	})
}

// rejectCallingAE is A-ASSOCIATE-RJ (1,1,3) calling-AE-not-recognized.
func rejectCallingAE() *pdu.AssociateRJ {
	return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserCallingAENotRecognized}
}

// testServer is a dimse.Server on a TLS listener wired as node wires it:
// the Accept hook runs CheckAEBinding for TLS associations.
type testServer struct {
	addr string
	rec  *recorder
	cfg  *config.Config
	srv  *dimse.Server
}

// startServer serves on a TLS listener made from cfg.TLS. move, when not
// nil, serves C-MOVE.
func startServer(t *testing.T, cfg *config.Config, move dimse.MoveHandlerFunc) *testServer {
	t.Helper()
	tcfg, err := Server(cfg.TLS)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{rec: &recorder{}, cfg: cfg}
	l := tls.NewListener(testutil.Listen(t), tcfg)
	ts.addr = l.Addr().String()
	ts.srv = &dimse.Server{
		AETitle:      testAETitle,
		ARTIMTimeout: 5 * time.Second,
		Observer:     ts.rec,
		Accept: func(info *dimse.AssociationInfo, rq *pdu.AssociateRQ) *pdu.AssociateRJ {
			if info.TLS == nil {
				return nil
			}
			peer, _ := cfg.Peer(info.CallingAETitle)
			if err := CheckAEBinding(info.TLS, info.CallingAETitle, peer); err != nil {
				ts.rec.mu.Lock()
				ts.rec.bindErrs = append(ts.rec.bindErrs, err)
				ts.rec.mu.Unlock()
				return rejectCallingAE()
			}
			return nil
		},
		Store: dimse.StoreHandlerFunc(func(_ context.Context, req *dimse.StoreRequest) error {
			if _, err := io.Copy(io.Discard, req.DataSet.NewReader()); err != nil {
				return err
			}
			ts.rec.mu.Lock()
			ts.rec.stored = append(ts.rec.stored, req.SOPInstanceUID)
			ts.rec.mu.Unlock()
			return nil
		}),
		Find: dimse.FindHandlerFunc(func(_ context.Context, req *dimse.QueryRequest, w dimse.FindResponder) error {
			return w.Pending(req.Identifier)
		}),
	}
	if move != nil {
		ts.srv.Move = move
	}
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		ts.srv.Close()
		if err := <-done; !errors.Is(err, dimse.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		checkGoroutines(t, before)
	})
	return ts
}

// serverConfig is the node configuration of the tests: our server
// certificate, the test CA for clients, and the given peers.
func serverConfig(p *testPKI, peers ...config.Peer) *config.Config {
	c := config.Default()
	c.TLS = p.server.global(p.caFile)
	c.Peers = peers
	return c
}

// runTool runs an external program with TCP_NODELAY=1 and a time limit,
// returning its combined output and exit error.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path := testutil.RequireTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "TCP_NODELAY=1")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out\n%s", name, strings.Join(args, " "), out)
	}
	return string(out), err
}

// hostPort splits "127.0.0.1:port" for the DCMTK command lines.
func hostPort(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// configPeer is a peer entry for the test server at addr, as a TLS
// client would configure it.
func configPeer(addr string) config.Peer {
	host, port := hostPort(addr)
	n, _ := strconv.Atoi(port)
	return config.Peer{AETitle: testAETitle, Host: host, Port: n, TLS: true}
}

// checkGoroutines fails the test when, within 10 s, the number of
// goroutines does not come back to before (a leaked connection handler).
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
