package dimse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// runDCMTKIn is runDCMTK with a working directory.
func runDCMTKIn(ctx context.Context, t testing.TB, dir, tool string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, testutil.RequireTool(t, tool), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TCP_NODELAY=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// srvElement encodes one element in ts (Explicit or Implicit VR LE).
func srvElement(ts string, group, elem uint16, vr, value string) []byte {
	if len(value)%2 == 1 {
		value += " "
	}
	b := binary.LittleEndian.AppendUint16(nil, group)
	b = binary.LittleEndian.AppendUint16(b, elem)
	if ts == uid.ImplicitVRLittleEndian {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
	} else {
		b = append(b, vr...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(value)))
	}
	return append(b, value...)
}

// findResults answers every C-FIND with n patients, pausing between them.
type findResults struct {
	n     int
	pause time.Duration
}

func (f findResults) ServeFind(ctx context.Context, req *QueryRequest, w FindResponder) error {
	for i := range f.n {
		id := append(srvElement(req.TransferSyntaxUID, 0x0008, 0x0052, "CS", "PATIENT"),
			srvElement(req.TransferSyntaxUID, 0x0010, 0x0010, "PN", "DOE^"+strconv.Itoa(i))...)
		if err := w.Pending(id); err != nil {
			return err
		}
		if f.pause > 0 {
			select {
			case <-time.After(f.pause):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func TestServerFindscu(t *testing.T) {
	srvLeakCheck(t)
	testutil.RequireTool(t, "findscu")
	rec := newSrvObs()
	addr := srvStart(t, &Server{Find: findResults{n: 5}, Observer: rec})
	h, p := hostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	out, err := runDCMTKIn(ctx, t, dir, "findscu", "-P", "-X", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName", h, p)
	if err != nil {
		t.Fatalf("findscu: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "rsp*.dcm"))
	if len(files) != 5 {
		t.Fatalf("findscu extracted %d responses, want 5\n%s", len(files), out)
	}
	rec.waitEnd(t)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.requests) != 1 || rec.requests[0] != StatusSuccess {
		t.Fatalf("final statuses %v", rec.requests)
	}
}

// findscu --cancel 2 sends C-CANCEL-RQ after two responses: the handler's
// context is cancelled and the final status is 0xFE00.
func TestServerFindscuCancel(t *testing.T) {
	srvLeakCheck(t)
	testutil.RequireTool(t, "findscu")
	rec := newSrvObs()
	addr := srvStart(t, &Server{Find: findResults{n: 1000, pause: 5 * time.Millisecond}, Observer: rec})
	h, p := hostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := runDCMTKIn(ctx, t, t.TempDir(), "findscu", "-P", "--cancel", "2", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName", h, p)
	if err != nil {
		t.Fatalf("findscu: %v\n%s", err, out)
	}
	rec.waitEnd(t)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.requests) != 1 || rec.requests[0] != StatusCancel {
		t.Fatalf("final statuses %v, want [0xFE00]\n%s", rec.requests, out)
	}
}

// getscu: the GetHandler sends the CT corpus file as a C-STORE
// sub-operation on the same association; getscu's copy holds the same data
// set.
func TestServerGetscu(t *testing.T) {
	srvLeakCheck(t)
	testutil.RequireTool(t, "getscu")
	ct := filepath.Join(testutil.CorpusDir(t), "grailbio-examples", "CT-MONO2-16-ort.dcm")
	ts, class, ds, ok := srvPart10(ct)
	if !ok {
		t.Fatalf("%s is not Part-10", ct)
	}
	rec := newSrvObs()
	completed := 0
	get := GetHandlerFunc(func(ctx context.Context, req *QueryRequest, w GetResponder) (SubOps, error) {
		so := SubOps{Remaining: 2}
		if err := w.Progress(so); err != nil {
			return so, err
		}
		for _, inst := range []string{"1.2.3.4.1", "1.2.3.4.2"} {
			so.Remaining--
			st, err := w.Store(ctx, class, inst, ts, bytes.NewReader(ds))
			switch {
			case err != nil:
				t.Errorf("Store: %v (accepted: %v)", err, w.TransferSyntaxes(class))
				so.Failed++
				so.FailedSOPInstanceUIDs = append(so.FailedSOPInstanceUIDs, inst)
			case st != StatusSuccess:
				so.Failed++
			default:
				so.Completed++
			}
		}
		completed = so.Completed
		return so, nil
	})
	// The file is in Implicit VR: prefer it for the sub-operation contexts.
	addr := srvStart(t, &Server{Get: get, Observer: rec, TransferSyntaxes: []string{uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian}})
	h, p := hostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	out, err := runDCMTKIn(ctx, t, dir, "getscu", "-P", "-od", dir, "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=X", h, p)
	if err != nil {
		t.Fatalf("getscu: %v\n%s", err, out)
	}
	rec.waitEnd(t)
	entries, _ := os.ReadDir(dir)
	want := sha256.Sum256(ds)
	n := 0
	for _, e := range entries {
		_, _, got, ok := srvPart10(filepath.Join(dir, e.Name()))
		if !ok {
			continue
		}
		n++
		if sha256.Sum256(got) != want {
			t.Errorf("%s: data set differs from the file sent (%d vs %d bytes)", e.Name(), len(got), len(ds))
		}
	}
	// Both sub-operations carry the same instance: getscu names its files
	// by SOP Instance UID, so the second overwrites the first.
	if n != 1 || completed != 2 {
		t.Fatalf("getscu stored %d files, %d sub-operations completed; want 1, 2\n%s", n, completed, out)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.requests) != 1 || rec.requests[0] != StatusSuccess {
		t.Fatalf("final statuses %v", rec.requests)
	}
}

// movescu: the MoveHandler reports progress and a partial failure; the
// final status is 0xB000 with the counts.
func TestServerMovescu(t *testing.T) {
	srvLeakCheck(t)
	testutil.RequireTool(t, "movescu")
	rec := newSrvObs()
	var dest string
	move := MoveHandlerFunc(func(ctx context.Context, req *MoveRequest, w MoveResponder) (SubOps, error) {
		dest = req.Destination
		if err := w.Progress(SubOps{Remaining: 3}); err != nil {
			return SubOps{}, err
		}
		return SubOps{Completed: 2, Failed: 1, FailedSOPInstanceUIDs: []string{"1.2.3.9"}}, nil
	})
	addr := srvStart(t, &Server{Move: move, Observer: rec})
	h, p := hostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := runDCMTKIn(ctx, t, t.TempDir(), "movescu", "-P", "-aem", "ELSEWHERE", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=X", h, p)
	rec.waitEnd(t)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if dest != "ELSEWHERE" {
		t.Fatalf("destination %q", dest)
	}
	if len(rec.requests) != 1 || rec.requests[0] != StatusSubopsCompleteWithFailures {
		t.Fatalf("final statuses %v\n%s", rec.requests, out)
	}
	if !strings.Contains(out, "B000") && !strings.Contains(strings.ToLower(out), "warning") {
		t.Logf("movescu output:\n%s", out)
	}
}
