package dimse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

func cmdPDV(ctx uint8, c *Command) pdu.PDV {
	return pdu.PDV{ContextID: ctx, Command: true, Last: true, Data: c.Encode()}
}

func dataPDV(ctx uint8, last bool, b []byte) pdu.PDV {
	return pdu.PDV{ContextID: ctx, Last: last, Data: b}
}

func one(pdvs ...pdu.PDV) [][]pdu.PDV {
	out := make([][]pdu.PDV, len(pdvs))
	for i, p := range pdvs {
		out[i] = []pdu.PDV{p}
	}
	return out
}

// TestFragmentationRoundTrip writes a C-STORE of each size at each maximum
// PDU length and reads it back.
func TestFragmentationRoundTrip(t *testing.T) {
	for _, maxPDU := range []uint32{4096, 16384, 1 << 20, 0} {
		maxData := pdu.MaxPDVData(maxPDU)
		for _, size := range []int{0, 1, maxData - 1, maxData, maxData + 1, 3 * maxData} {
			t.Run(fmt.Sprintf("pdu%d/size%d", maxPDU, size), func(t *testing.T) {
				data := pattern(size)
				cmd := NewCStoreRQ(3, ctImageStorage, someInstance, PriorityMedium)
				cmd.HasDataSet = false // WriteMessage must set it from data
				rec := &recorder{}
				if err := WriteMessage(context.Background(), rec, 5, cmd, bytes.NewReader(data), maxPDU); err != nil {
					t.Fatal(err)
				}
				if cmd.HasDataSet {
					t.Error("WriteMessage modified the caller's command")
				}
				wantFrags := 1 + max(1, (size+maxData-1)/maxData)
				if len(rec.pdus) != wantFrags {
					t.Errorf("%d P-DATA-TFs, want %d", len(rec.pdus), wantFrags)
				}
				for i, p := range rec.pdus {
					if len(p) != 1 || len(p[0].Data) > maxData || p[0].ContextID != 5 {
						t.Fatalf("P-DATA-TF %d: %d PDVs, %d bytes, ctx %d", i, len(p), len(p[0].Data), p[0].ContextID)
					}
					if last := i == 0 || i == len(rec.pdus)-1; p[0].Last != last {
						t.Errorf("P-DATA-TF %d: Last = %v", i, p[0].Last)
					}
				}
				mr := &MessageReader{R: &script{pdus: rec.pdus}, Limits: Limits{SpoolDir: t.TempDir()}}
				msg, err := mr.ReadMessage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				defer msg.Close()
				if msg.ContextID != 5 || msg.Command.CommandField != CStoreRQ || !msg.Command.HasDataSet {
					t.Errorf("message = %+v", msg)
				}
				got, inMem := msg.Data.Bytes()
				if !inMem || !bytes.Equal(got, data) || msg.Data.Size() != int64(size) {
					t.Errorf("data: %d bytes (in memory %v), want %d", len(got), inMem, size)
				}
				if _, err := mr.ReadMessage(context.Background()); !errors.Is(err, io.EOF) {
					t.Errorf("after message: %v, want EOF", err)
				}
			})
		}
	}
}

func TestWriteMessageNoDataSet(t *testing.T) {
	rec := &recorder{}
	cmd := NewCEchoRQ(1)
	cmd.HasDataSet = true
	if err := WriteMessage(context.Background(), rec, 1, cmd, nil, 16384); err != nil {
		t.Fatal(err)
	}
	if len(rec.pdus) != 1 || !bytes.Equal(rec.pdus[0][0].Data, NewCEchoRQ(1).Encode()) {
		t.Fatalf("sent %v", rec.pdus)
	}
}

func TestWriteMessageFragmentsCommand(t *testing.T) {
	rec := &recorder{}
	cmd := NewCStoreRQ(1, ctImageStorage, someInstance, 0)
	if err := WriteMessage(context.Background(), rec, 1, cmd, bytes.NewReader(nil), 16); err != nil { // 10-byte PDVs
		t.Fatal(err)
	}
	var enc []byte
	for i, p := range rec.pdus[:len(rec.pdus)-1] {
		if !p[0].Command || p[0].Last != (i == len(rec.pdus)-2) || len(p[0].Data) > 10 {
			t.Fatalf("fragment %d: %+v", i, p[0])
		}
		enc = append(enc, p[0].Data...)
	}
	if !bytes.Equal(enc, cmd.Encode()) {
		t.Error("reassembled command differs")
	}
	mr := &MessageReader{R: &script{pdus: rec.pdus}, Limits: Limits{MinAverageFragmentSize: -1}}
	if _, err := mr.ReadMessage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := WriteMessage(context.Background(), rec, 1, cmd, nil, 6); !errors.Is(err, ErrPDUTooSmall) {
		t.Errorf("maxPDU 6: %v", err)
	}
}

func TestWriteMessageErrors(t *testing.T) {
	cmd := NewCStoreRQ(1, ctImageStorage, someInstance, 0)
	rec := &recorder{fail: 1}
	if err := WriteMessage(context.Background(), rec, 1, cmd, nil, 0); !errors.Is(err, errSend) || errors.Is(err, ErrMessageIncomplete) {
		t.Errorf("first send failing: %v", err)
	}
	rec = &recorder{fail: 3}
	if err := WriteMessage(context.Background(), rec, 1, cmd, &gen{}, 4096); !errors.Is(err, ErrMessageIncomplete) || !errors.Is(err, errSend) {
		t.Errorf("third send failing: %v", err)
	}
	rerr := errors.New("disk read")
	r := io.MultiReader(bytes.NewReader(pattern(10000)), &errReader{rerr})
	if err := WriteMessage(context.Background(), &recorder{}, 1, cmd, r, 4096); !errors.Is(err, ErrMessageIncomplete) || !errors.Is(err, rerr) {
		t.Errorf("reader failing: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteMessage(ctx, &recorder{}, 1, cmd, nil, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// TestSpooling: past the threshold the data set goes to a file in SpoolDir,
// which is gone after Close (already unlinked on Linux).
func TestSpooling(t *testing.T) {
	dir := t.TempDir()
	data := pattern(300 << 10)
	rec := &recorder{}
	if err := WriteMessage(context.Background(), rec, 1, NewCStoreRQ(1, ctImageStorage, "1.2", 0), bytes.NewReader(data), 16384); err != nil {
		t.Fatal(err)
	}
	mr := &MessageReader{R: &script{pdus: rec.pdus}, Limits: Limits{SpoolThreshold: 64 << 10, SpoolDir: dir}}
	msg, err := mr.ReadMessage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !msg.Data.Spooled() {
		t.Fatal("300 KiB data set with a 64 KiB threshold is not spooled")
	}
	if b, ok := msg.Data.Bytes(); ok || b != nil {
		t.Error("Bytes() of a spooled data set reports in-memory")
	}
	got, err := io.ReadAll(msg.Data.NewReader())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("spooled content differs (%d bytes, %v)", len(got), err)
	}
	part := make([]byte, 10)
	if n, err := msg.Data.ReadAt(part, int64(len(data))-4); n != 4 || err != io.EOF || !bytes.Equal(part[:4], data[len(data)-4:]) {
		t.Errorf("ReadAt at end: %d, %v", n, err)
	}
	if err := msg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := msg.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := msg.Data.ReadAt(part, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadAt after Close: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spool dir not empty after Close: %v", left)
	}

	// Below the threshold: in memory, nothing created.
	small := &MessageReader{R: &script{pdus: one(cmdPDV(1, NewCStoreRQ(1, ctImageStorage, "1.2", 0)), dataPDV(1, true, data[:1000]))},
		Limits: Limits{SpoolThreshold: 64 << 10, SpoolDir: dir}}
	msg, err = small.ReadMessage(context.Background())
	if err != nil || msg.Data.Spooled() {
		t.Fatalf("small: %v, spooled %v", err, msg.Data.Spooled())
	}
	msg.Close()
}

func TestSpoolDirMissing(t *testing.T) {
	big := pattern(2000)
	mr := &MessageReader{
		R:      &script{pdus: one(cmdPDV(1, NewCStoreRQ(1, ctImageStorage, "1.2", 0)), dataPDV(1, false, big), dataPDV(1, true, big), cmdPDV(1, NewCEchoRQ(2)))},
		Limits: Limits{SpoolThreshold: 1000, SpoolDir: t.TempDir() + "/nonexistent"},
	}
	msg, err := mr.ReadMessage(context.Background())
	if !errors.Is(err, ErrSpool) || msg == nil || msg.Command.MessageID != 1 || msg.Data != nil {
		t.Fatalf("got %+v, %v; want message without data and ErrSpool", msg, err)
	}
	if msg, err := mr.ReadMessage(context.Background()); err != nil || msg.Command.CommandField != CEchoRQ {
		t.Fatalf("next message: %+v, %v", msg, err)
	}
}

// TestDataSetTooLarge: the message is drained, the error reported with the
// command, and the next message is read normally.
func TestDataSetTooLarge(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	if err := WriteMessage(context.Background(), rec, 1, NewCStoreRQ(1, ctImageStorage, "1.2", 0), bytes.NewReader(pattern(100<<10)), 4096); err != nil {
		t.Fatal(err)
	}
	if err := WriteMessage(context.Background(), rec, 1, NewCEchoRQ(2), nil, 4096); err != nil {
		t.Fatal(err)
	}
	src := &script{pdus: rec.pdus}
	mr := &MessageReader{R: src, Limits: Limits{MaxDataSetSize: 50 << 10, SpoolThreshold: 8 << 10, SpoolDir: dir}}
	msg, err := mr.ReadMessage(context.Background())
	if !errors.Is(err, ErrDataSetTooLarge) || msg == nil || msg.Command.AffectedSOPInstanceUID != "1.2" || msg.Data != nil {
		t.Fatalf("got %+v, %v", msg, err)
	}
	if src.reads != len(rec.pdus)-1 {
		t.Errorf("drained %d of %d P-DATA-TFs", src.reads, len(rec.pdus)-1)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
	msg, err = mr.ReadMessage(context.Background())
	if err != nil || msg.Command.CommandField != CEchoRQ || msg.Command.MessageID != 2 {
		t.Fatalf("next: %+v, %v", msg, err)
	}

	// Identifiers have their own, smaller cap.
	mr = &MessageReader{R: &script{pdus: one(cmdPDV(1, NewCFindRQ(4, studyRootFind, 0)), dataPDV(1, true, pattern(2048)))},
		Limits: Limits{MaxIdentifierSize: 1024}}
	if msg, err := mr.ReadMessage(context.Background()); !errors.Is(err, ErrDataSetTooLarge) || msg.Command.MessageID != 4 {
		t.Fatalf("identifier: %+v, %v", msg, err)
	}
}

func TestProtocolErrors(t *testing.T) {
	store := NewCStoreRQ(1, ctImageStorage, "1.2", 0)
	half := store.Encode()
	cases := []struct {
		name   string
		pdus   [][]pdu.PDV
		lim    Limits
		accept func(uint8) bool
		reason pdu.AbortReason
	}{
		{"data before command", one(dataPDV(1, true, []byte{1, 2})), Limits{}, nil, pdu.AbortUnexpectedPDU},
		{"data before last command fragment", one(pdu.PDV{ContextID: 1, Command: true, Data: half[:10]}, dataPDV(1, true, nil)), Limits{}, nil, pdu.AbortUnexpectedPDU},
		{"command context switch", one(pdu.PDV{ContextID: 1, Command: true, Data: half[:10]}, pdu.PDV{ContextID: 3, Command: true, Last: true, Data: half[10:]}), Limits{}, nil, pdu.AbortInvalidParameterValue},
		{"data context switch", one(cmdPDV(1, store), dataPDV(1, false, pattern(600)), dataPDV(3, true, []byte{1})), Limits{}, nil, pdu.AbortInvalidParameterValue},
		{"command inside data", one(cmdPDV(1, store), dataPDV(1, false, pattern(600)), cmdPDV(1, NewCEchoRQ(2))), Limits{}, nil, pdu.AbortUnexpectedPDU},
		{"context not accepted", one(cmdPDV(7, NewCEchoRQ(1))), Limits{}, func(id uint8) bool { return id == 1 }, pdu.AbortInvalidParameterValue},
		{"command too long", one(cmdPDV(1, store)), Limits{MaxCommandSize: 32}, nil, pdu.AbortInvalidParameterValue},
		{"undecodable command", one(pdu.PDV{ContextID: 1, Command: true, Last: true, Data: half[:len(half)-1]}), Limits{}, nil, pdu.AbortInvalidParameterValue},
		{"empty P-DATA-TF", [][]pdu.PDV{{}}, Limits{}, nil, pdu.AbortInvalidParameterValue},
		{"too many fragments", one(cmdPDV(1, store), dataPDV(1, false, pattern(4096)), dataPDV(1, false, pattern(4096)), dataPDV(1, true, nil)), Limits{MaxFragments: 3}, nil, pdu.AbortInvalidParameterValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mr := &MessageReader{R: &script{pdus: tc.pdus}, Limits: tc.lim, AcceptContext: tc.accept}
			msg, err := mr.ReadMessage(context.Background())
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrProtocol) || msg != nil {
				t.Fatalf("got %v, %v; want *ProtocolError", msg, err)
			}
			if pe.Reason != tc.reason || pe.Abort().Source != pdu.AbortServiceProvider || pe.Abort().Reason != tc.reason {
				t.Errorf("reason %v, want %v", pe.Reason, tc.reason)
			}
			if _, err2 := mr.ReadMessage(context.Background()); err2 != err {
				t.Errorf("error not sticky: %v", err2)
			}
		})
	}
}

// TestFragmentFlood: 10^6 one-byte data PDVs are refused within the first
// hundred, fast and without reading the rest (adversarial row 15).
func TestFragmentFlood(t *testing.T) {
	const n = 1_000_000
	pdvs := make([]pdu.PDV, 0, n+1)
	pdvs = append(pdvs, cmdPDV(1, NewCStoreRQ(1, ctImageStorage, "1.2", 0)))
	b := []byte{0}
	for i := 0; i < n; i++ {
		pdvs = append(pdvs, dataPDV(1, i == n-1, b))
	}
	src := &script{pdus: [][]pdu.PDV{pdvs}}
	mr := &MessageReader{R: src}
	start := time.Now()
	_, err := mr.ReadMessage(context.Background())
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Reason != pdu.AbortInvalidParameterValue {
		t.Fatalf("err = %v, want ProtocolError reason 6", err)
	}
	if consumed := n + 1 - len(mr.pending); consumed > FragmentGrace+2 {
		t.Errorf("consumed %d fragments before refusing", consumed)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestSeveralMessagesInOnePDU(t *testing.T) {
	find := NewCFindRQ(2, studyRootFind, 0)
	id := pattern(100)
	src := &script{pdus: [][]pdu.PDV{
		{cmdPDV(1, NewCEchoRQ(1)), cmdPDV(3, find), dataPDV(3, true, id), cmdPDV(3, NewCCancelRQ(2))},
	}}
	mr := &MessageReader{R: src}
	want := []CommandField{CEchoRQ, CFindRQ, CCancelRQ}
	for i, cf := range want {
		msg, err := mr.ReadMessage(context.Background())
		if err != nil || msg.Command.CommandField != cf {
			t.Fatalf("message %d: %+v, %v", i, msg, err)
		}
		if cf == CFindRQ {
			if b, ok := msg.Data.Bytes(); !ok || !bytes.Equal(b, id) || msg.ContextID != 3 {
				t.Errorf("identifier wrong")
			}
		}
	}
}

func TestReadMessageIdleCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mr := &MessageReader{R: &script{pdus: one(cmdPDV(1, NewCEchoRQ(1)))}}
	if _, err := mr.ReadMessage(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if msg, err := mr.ReadMessage(context.Background()); err != nil || msg.Command.CommandField != CEchoRQ {
		t.Fatalf("cancel while idle must not poison the reader: %v", err)
	}
	// Mid-message failure is sticky.
	mr = &MessageReader{R: &script{pdus: one(cmdPDV(1, NewCStoreRQ(1, ctImageStorage, "1.2", 0)))}}
	_, err := mr.ReadMessage(context.Background())
	if !errors.Is(err, io.EOF) {
		t.Fatalf("truncated message: %v", err)
	}
	if _, err2 := mr.ReadMessage(context.Background()); err2 != err {
		t.Errorf("mid-message error not sticky: %v", err2)
	}
}

func TestDataSetZeroAndNil(t *testing.T) {
	var nilDS *DataSet
	if nilDS.Size() != 0 || nilDS.Close() != nil || nilDS.Spooled() {
		t.Error("nil DataSet")
	}
	if b, ok := nilDS.Bytes(); !ok || b != nil {
		t.Error("nil Bytes")
	}
	if n, _ := io.Copy(io.Discard, nilDS.NewReader()); n != 0 {
		t.Error("nil reader")
	}
	d := NewDataSet([]byte("abc"))
	if got, _ := io.ReadAll(d.NewReader()); string(got) != "abc" {
		t.Errorf("NewDataSet reader = %q", got)
	}
	if _, err := d.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
}
