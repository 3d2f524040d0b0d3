package dimse

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// advAERecorder keeps the calling AE titles the Observer was given and the
// causes of aborted associations.
type advAERecorder struct {
	NopObserver
	mu      sync.Mutex
	calling []string
	aborted []error
	ended   chan struct{}
}

func (r *advAERecorder) AssociationRequested(info *AssociationInfo, _ *pdu.AssociateRQ) {
	r.mu.Lock()
	r.calling = append(r.calling, info.CallingAETitle)
	r.mu.Unlock()
}

func (r *advAERecorder) AssociationAborted(_ *AssociationInfo, _ *pdu.Abort, why error) {
	r.mu.Lock()
	r.aborted = append(r.aborted, why)
	r.mu.Unlock()
	if r.ended != nil {
		r.ended <- struct{}{}
	}
}

// TestAdversarialLogInjectionAETitle (cross-cutting row: log injection via
// AE titles): a Calling AE Title carrying CR, LF and an ANSI escape reaches
// the Observer byte for byte (observers get peer strings unescaped, as
// documented), and audit.EscapeForLog turns it into one printable line.
func TestAdversarialLogInjectionAETitle(t *testing.T) {
	advGoroutines(t)
	rec := &advAERecorder{}
	addr := advServe(t, &Server{ARTIMTimeout: advShort, Observer: rec})
	const evil = "EV\r\nIL\x1b[2J\\x" // 14 bytes: fits the 16-byte AE field
	p := advDialRaw(t, addr)
	p.associate(advRQ(t, evil, 16384))
	p.write(advUnhex(t, "05 00 00 00 00 04 00 00 00 00")) // A-RELEASE-RQ
	p.expect("06 00 00 00 00 04 00 00 00 00", advDialTO)

	rec.mu.Lock()
	got := append([]string(nil), rec.calling...)
	rec.mu.Unlock()
	if len(got) != 1 || got[0] != evil {
		t.Fatalf("Observer saw %q, want %q", got, evil)
	}
	esc := audit.EscapeForLog(got[0])
	if want := `EV\x0d\x0aIL\x1b[2J\\x`; esc != want {
		t.Fatalf("EscapeForLog = %q, want %q", esc, want)
	}
	if strings.ContainsAny(esc, "\r\n\x1b") {
		t.Fatalf("escaped title %q still holds a control character", esc)
	}
}

// TestAdversarialFindHandlerPanic (cross-cutting row: a handler panic aborts
// only its own association): a C-FIND handler, which runs on its own
// goroutine, panics; that association gets A-ABORT (2,0) exactly, the
// Observer gets a *PanicError, and a concurrent association is unaffected.
// (TestServerHandlerPanic covers the C-STORE handler.)
func TestAdversarialFindHandlerPanic(t *testing.T) {
	advGoroutines(t)
	rec := &advAERecorder{ended: make(chan struct{}, 4)}
	addr := advServe(t, &Server{ARTIMTimeout: advShort, Observer: rec,
		Find: FindHandlerFunc(func(_ context.Context, req *QueryRequest, w FindResponder) error {
			if req.Assoc.CallingAETitle == "BAD" {
				panic("find handler bug")
			}
			return w.Pending(advFindIdentifier(1, 0))
		})})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	good := advDialRaw(t, addr)
	good.associate(advRQ(t, "GOOD", 16384, advPC(1, uid.StudyRootQRFind)))
	bad := advDialRaw(t, addr)
	bad.associate(advRQ(t, "BAD", 16384, advPC(1, uid.StudyRootQRFind)))

	if err := WriteMessage(ctx, bad, 1, NewCFindRQ(1, uid.StudyRootQRFind, PriorityMedium), bytes.NewReader(advFindIdentifier(0, 0)), 16384); err != nil {
		t.Fatal(err)
	}
	bad.expect(advAbort20, advDialTO)
	select {
	case <-rec.ended:
	case <-time.After(advDialTO):
		t.Fatal("Observer not told of the abort")
	}
	rec.mu.Lock()
	var pe *PanicError
	if len(rec.aborted) != 1 || !errors.As(rec.aborted[0], &pe) || pe.Value != "find handler bug" {
		t.Errorf("Observer got %v, want a *PanicError", rec.aborted)
	}
	rec.mu.Unlock()

	if err := WriteMessage(ctx, good, 1, NewCFindRQ(1, uid.StudyRootQRFind, PriorityMedium), bytes.NewReader(advFindIdentifier(0, 0)), 16384); err != nil {
		t.Fatal(err)
	}
	mr := &MessageReader{R: &advPDataReader{c: good.c, lim: pdu.Limits{MaxPDataLength: 1 << 20}}}
	for _, want := range []Status{StatusPending, StatusSuccess} {
		m, err := mr.ReadMessage(ctx)
		if err != nil || m.Command.Status != want {
			t.Fatalf("other association: %v, want %v", err, want)
		}
		m.Close()
	}
}
