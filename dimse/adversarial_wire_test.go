package dimse

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// Adversarial rows 4, 8-14 at the Server level: the exact bytes a
// dimse.Server answers to crafted PDUs, before and after association
// establishment (PS3.8 9.2 state table, 9.3 PDU encodings). The same cases
// are tested one layer down in dimse/ul (accept_test.go); here we check the
// Server behaves like ul, with its own configuration plumbing.

// advRQFixed is the fixed part of an A-ASSOCIATE-RQ (PS3.8 9.3.2): protocol
// version 1, called SHARDPACS, calling RAW, reserved bytes.
func advRQFixed() []byte {
	b := make([]byte, 68)
	b[1] = 1
	copy(b[4:20], "SHARDPACS       ")
	copy(b[20:36], "RAW             ")
	return b
}

// advItem encodes a UL item (type, reserved, 2-byte length, body).
func advItem(typ byte, body ...[]byte) []byte {
	v := bytes.Join(body, nil)
	out := []byte{typ, 0, 0, 0}
	binary.BigEndian.PutUint16(out[2:], uint16(len(v)))
	return append(out, v...)
}

// advPDU encodes a PDU (type, reserved, 4-byte length, body).
func advPDU(typ byte, body ...[]byte) []byte {
	v := bytes.Join(body, nil)
	out := []byte{typ, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[2:], uint32(len(v)))
	return append(out, v...)
}

var (
	advAppCtx = advItem(0x10, []byte(pdu.DICOMApplicationContext))
	advAS     = advItem(0x30, []byte(VerificationSOPClass))
	advTS     = advItem(0x40, []byte(uid.ImplicitVRLittleEndian))
)

// advContextFlood is an A-ASSOCIATE-RQ of 200 presentation contexts with
// 1,000 transfer syntaxes each (about 4.6 MB).
func advContextFlood() []byte {
	items := [][]byte{advRQFixed(), advAppCtx}
	for i := range 200 {
		sub := [][]byte{{byte(2*i + 1), 0, 0, 0}, advAS}
		for range 1000 {
			sub = append(sub, advTS)
		}
		items = append(items, advItem(0x20, sub...))
	}
	return advPDU(0x01, items...)
}

// TestAdversarialServerBeforeAssociation sends each hostile first PDU to a
// Server (Sta2) and checks the exact answer, then that the connection is
// closed and no goroutine is left.
func TestAdversarialServerBeforeAssociation(t *testing.T) {
	advGoroutines(t)
	addr := advServe(t, &Server{AETitle: "SHARDPACS", ARTIMTimeout: advShort})
	ac, err := pdu.Encode(&pdu.AssociateAC{ProtocolVersion: 1, CalledAETitle: "A", CallingAETitle: "B", ApplicationContext: pdu.DICOMApplicationContext})
	if err != nil {
		t.Fatal(err)
	}
	evenID := advRQ(t, "RAW", 16384)
	// The first presentation context item follows the fixed part and the
	// application context item; its ID is the first byte of its body.
	pcAt := 6 + 68 + len(advAppCtx)
	if evenID[pcAt] != 0x20 || evenID[pcAt+4] != 1 {
		t.Fatalf("unexpected RQ layout % x", evenID[pcAt:pcAt+8])
	}
	evenID[pcAt+4] = 2
	otherApp := advPDU(0x01, advRQFixed(), advItem(0x10, []byte("1.2.3.4")), advItem(0x20, []byte{1, 0, 0, 0}, advAS, advTS), advItem(0x50, advItem(0x51, []byte{0, 0, 0x40, 0})))
	version2 := advPDU(0x01, advRQFixed(), advAppCtx, advItem(0x20, []byte{1, 0, 0, 0}, advAS, advTS), advItem(0x50, advItem(0x51, []byte{0, 0, 0x40, 0})))
	version2[7] = 2 // protocol version field: bit 0 clear (PS3.8 9.3.2)
	var closers advClosers
	parent := t

	for _, tc := range []struct {
		row, name string
		send      []byte
		want      string
		async     bool // the Server answers before reading everything
	}{
		{"4", "application context not DICOM", otherApp, "03 00 00 00 00 04 00 01 01 02", false},
		{"4", "protocol version 2", version2, "03 00 00 00 00 04 00 01 02 02", false},
		{"8", "unknown PDU type 0x08", advUnhex(t, "08 00 00 00 00 04 00 00 00 00"), advAbort21, false},
		{"8", "TLS ClientHello on the plain port", advUnhex(t, "16 03 01 02 00 01 00 01 FC 03 03"), advAbort21, false},
		{"8", "PDU type 0xFF", advUnhex(t, "FF 00 00 00 00 04 00 00 00 00"), advAbort21, false},
		{"9", "P-DATA-TF before association", advUnhex(t, "04 00 00 00 00 0A 00 00 00 06 01 03 66 6F 6F 00"), advAbort22, false},
		{"9", "A-ASSOCIATE-AC from the requestor", ac, advAbort22, false},
		{"9", "A-RELEASE-RQ before association", advUnhex(t, "05 00 00 00 00 04 00 00 00 00"), advAbort22, false},
		{"10", "A-ASSOCIATE-RQ length 0xFFFFFFFF", advUnhex(t, "01 00 FF FF FF FF"), advAbort26, false},
		{"12", "A-ASSOCIATE-RQ over 64 KiB", advUnhex(t, "01 00 00 01 00 01"), advAbort26, false},
		{"12", "item length past the PDU end", advPDU(0x01, advRQFixed(), advAppCtx, []byte{0x20, 0, 0x10, 0x00, 1, 0, 0, 0}), advAbort26, false},
		{"12", "even presentation context ID", evenID, advAbort26, false},
		{"12", "200 contexts x 1,000 transfer syntaxes", advContextFlood(), advAbort26, true},
		{"14", "peer maximum length 16", advRQ(t, "RAW", 16), advRJ111, false},
		{"14", "peer maximum length 4095", advRQ(t, "RAW", 4095), advRJ111, false},
	} {
		t.Run("row"+tc.row+"/"+tc.name, func(t *testing.T) {
			p := advDialRawOwned(t, parent, addr)
			start := time.Now()
			if tc.async {
				done := p.writeAsync(tc.send)
				parent.Cleanup(func() { <-done })
			} else {
				p.write(tc.send)
			}
			p.expect(tc.want, advDialTO)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("answered after %v", d)
			}
			// After the A-ABORT or A-ASSOCIATE-RJ the Server waits for our
			// close at most ARTIM (Sta13), then closes; nothing else is sent.
			closers.add(t.Name(), p, advShort+advSlack)
		})
	}
	closers.check(t)
}

// TestAdversarialServerPeerMaxPDUFloor: 4096, DCMTK's minimum and our
// documented floor (ul.DefaultMinPeerPDULength), is accepted (row 14).
func TestAdversarialServerPeerMaxPDUFloor(t *testing.T) {
	advGoroutines(t)
	addr := advServe(t, &Server{ARTIMTimeout: advShort})
	if ul.DefaultMinPeerPDULength != 4096 {
		t.Fatalf("documented floor changed to %d: update docs/adversarial.md", ul.DefaultMinPeerPDULength)
	}
	p := advDialRaw(t, addr)
	p.associate(advRQ(t, "RAW", 4096))
	p.write(advUnhex(t, "05 00 00 00 00 04 00 00 00 00")) // A-RELEASE-RQ
	p.expect("06 00 00 00 00 04 00 00 00 00", advDialTO)
}

// TestAdversarialServerLengthLieNoAllocation: a declared PDU length of
// 0xFFFFFFFF, before and after association, is answered A-ABORT (2,6)
// without allocating anything like the declared size (row 10).
func TestAdversarialServerLengthLieNoAllocation(t *testing.T) {
	advGoroutines(t)
	addr := advServe(t, &Server{ARTIMTimeout: advShort})
	for _, established := range []bool{false, true} {
		t.Run(fmt.Sprint("established=", established), func(t *testing.T) {
			p := advDialRaw(t, addr)
			typ := "01"
			if established {
				p.associate(advRQ(t, "RAW", 16384))
				typ = "04"
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			p.write(advUnhex(t, typ+" 00 FF FF FF FF"))
			p.expect(advAbort26, advDialTO)
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
				t.Errorf("allocated %d bytes answering a 4 GiB length", d)
			}
			p.expectClosedSilently(advShort + advSlack)
		})
	}
}

// TestAdversarialServerStalls: a peer that stalls is cut by a timer: ARTIM
// before association (TCP close, nothing sent), the idle timeout after it
// (A-ABORT (2,0), then close) — rows 7 and 11.
func TestAdversarialServerStalls(t *testing.T) {
	advGoroutines(t)
	addr := advServe(t, &Server{ARTIMTimeout: advShort, IdleTimeout: advShort})
	echoPData, err := pdu.Encode(&pdu.PDataTF{Items: []pdu.PDV{{ContextID: 1, Command: true, Last: true, Data: NewCEchoRQ(1).Encode()}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		row, name   string
		established bool
		send        []byte
		want        string // "" = closed without a byte
	}{
		{"11", "A-ASSOCIATE-RQ longer than sent, then stall", false, append(advUnhex(t, "01 00 00 00 10 00"), make([]byte, 20)...), ""},
		{"11", "half a PDU header, then stall", false, advUnhex(t, "01 00 00"), ""},
		{"7", "silence after A-ASSOCIATE-AC", true, nil, advAbort20},
		{"7", "half-sent P-DATA-TF", true, echoPData[:len(echoPData)/2], advAbort20},
		{"11", "P-DATA-TF longer than sent, then stall", true, append(advUnhex(t, "04 00 00 00 03 E8 00 00 03 E2 01 03"), make([]byte, 10)...), advAbort20},
	} {
		t.Run("row"+tc.row+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			p := advDialRaw(t, addr)
			if tc.established {
				p.associate(advRQ(t, "RAW", 16384))
			}
			start := time.Now()
			if tc.send != nil {
				p.write(tc.send)
			}
			if tc.want == "" {
				p.expectClosedSilently(advShort + advSlack)
			} else {
				p.expect(tc.want, advShort+advSlack)
				p.expectClosedSilently(advShort + advSlack) // Sta13: ARTIM, then close
			}
			if d := time.Since(start); d < advShort-50*time.Millisecond {
				t.Errorf("cut after %v, before the %v timer", d, advShort)
			}
		})
	}
}

// TestAdversarialServerInAssociation: protocol violations after A-ASSOCIATE-AC
// (Sta6) end in the exact A-ABORT (rows 8, 9, 11, 13).
func TestAdversarialServerInAssociation(t *testing.T) {
	advGoroutines(t)
	var called atomic.Bool
	addr := advServe(t, &Server{ARTIMTimeout: advShort, MaxPDULength: 16384,
		Store: StoreHandlerFunc(func(context.Context, *StoreRequest) error { called.Store(true); return nil })})
	ac, err := pdu.Encode(&pdu.AssociateAC{ProtocolVersion: 1, CalledAETitle: "A", CallingAETitle: "B", ApplicationContext: pdu.DICOMApplicationContext})
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB P-DATA-TF, 64 times our advertised 16 KiB.
	big := advPDU(0x04, binary.BigEndian.AppendUint32(nil, 1<<20-4), []byte{3, 0}, make([]byte, 1<<20-6))
	// The PDU-length is 4 short of the PDV item it carries.
	echo := NewCEchoRQ(1).Encode()
	short := advPDU(0x04, binary.BigEndian.AppendUint32(nil, uint32(2+len(echo))), []byte{1, 3}, echo)
	binary.BigEndian.PutUint32(short[2:], uint32(len(short)-6-4))
	// A whole P-DATA-TF (a command fragment, not the last) followed by bytes
	// that its PDU-length does not cover: they are read as the next PDU,
	// whose type 0x00 is unknown.
	partial := advPDU(0x04, binary.BigEndian.AppendUint32(nil, 2+8), []byte{1, 1}, echo[:8])
	trailing := append(partial, advUnhex(t, "00 00 00 00 00 04 00 00 00 00")...)

	cases := []struct {
		row, name string
		send      []byte
		want      string
		async     bool
	}{
		{"8", "unknown PDU type 0x09", advUnhex(t, "09 00 00 00 00 00"), advAbort21, false},
		{"8", "TLS record", advUnhex(t, "16 03 01 02 00 01 00 01 FC 03 03"), advAbort21, false},
		{"9", "second A-ASSOCIATE-RQ", advRQ(t, "RAW", 16384), advAbort22, false},
		{"9", "A-ASSOCIATE-AC from the requestor", ac, advAbort22, false},
		{"9", "A-RELEASE-RP without a request", advUnhex(t, "06 00 00 00 00 04 00 00 00 00"), advAbort22, false},
		{"11", "PDU-length shorter than its PDV", short, advAbort26, false},
		{"11", "bytes past the PDU-length parsed as the next PDU", trailing, advAbort21, false},
		{"13", "1 MiB P-DATA-TF over our 16 KiB maximum", big, advAbort26, true},
		{"15", "PDV on a context never proposed", advUnhex(t, "04 00 00 00 00 08 00 00 00 04 07 03 00 00"), advAbort26, false},
	}
	var closers advClosers
	parent := t
	for _, tc := range cases {
		t.Run("row"+tc.row+"/"+tc.name, func(t *testing.T) {
			p := advDialRawOwned(t, parent, addr)
			p.associate(advRQ(t, "RAW", 16384, advPC(1, VerificationSOPClass), advPC(3, uid.CTImageStorage)))
			if tc.async {
				done := p.writeAsync(tc.send)
				parent.Cleanup(func() { <-done })
			} else {
				p.write(tc.send)
			}
			p.expect(tc.want, advDialTO)
			closers.add(t.Name(), p, advShort+advSlack)
		})
	}
	closers.check(t)
	if called.Load() {
		t.Fatal("a Store handler ran")
	}
}

// advFindIdentifier encodes a small C-FIND response identifier (Explicit VR
// LE): QueryRetrieveLevel and PatientID, and optionally a filler OB
// element of n bytes.
func advFindIdentifier(i, n int) []byte {
	var b []byte
	el := func(group, elem uint16, vr string, v []byte) {
		b = binary.LittleEndian.AppendUint16(b, group)
		b = binary.LittleEndian.AppendUint16(b, elem)
		b = append(b, vr...)
		if vr == "OB" {
			b = append(b, 0, 0)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		}
		b = append(b, v...)
	}
	el(0x0008, 0x0052, "CS", []byte("STUDY "))
	el(0x0010, 0x0020, "LO", fmt.Appendf(nil, "ID%06d", i))
	if n > 0 {
		el(0x0009, 0x1010, "OB", make([]byte, n))
	}
	return b
}

// TestAdversarialServerPeerMaxPDUZero: a peer advertising Maximum Length 0
// (unlimited, PS3.8 D.1) is sent P-DATA-TF PDUs of at most our own
// MaxPDULength, and filled up to it (row 14).
func TestAdversarialServerPeerMaxPDUZero(t *testing.T) {
	advGoroutines(t)
	const ours = 16384
	ident := advFindIdentifier(1, 100000)
	addr := advServe(t, &Server{ARTIMTimeout: advShort, MaxPDULength: ours,
		Find: FindHandlerFunc(func(_ context.Context, _ *QueryRequest, w FindResponder) error {
			return w.Pending(ident)
		})})
	p := advDialRaw(t, addr)
	p.associate(advRQ(t, "RAW", 0, advPC(1, uid.StudyRootQRFind)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WriteMessage(ctx, p, 1, NewCFindRQ(1, uid.StudyRootQRFind, PriorityMedium), bytes.NewReader(advFindIdentifier(0, 0)), 16384); err != nil {
		t.Fatal(err)
	}
	rd := &advPDataReader{c: p.c, lim: pdu.Limits{MaxPDataLength: 1 << 21}}
	mr := &MessageReader{R: rd}
	m, err := mr.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := m.Data.Bytes()
	if m.Command.Status != StatusPending || !bytes.Equal(got, ident) {
		t.Fatalf("pending response %v with %d bytes", m.Command.Status, len(got))
	}
	m.Close()
	if m, err = mr.ReadMessage(ctx); err != nil || m.Command.Status != StatusSuccess {
		t.Fatalf("final response: %v", err)
	}
	longest := 0
	for _, n := range rd.lengths {
		longest = max(longest, n)
	}
	if longest != ours {
		t.Fatalf("longest P-DATA-TF PDU-length %d, want our maximum %d (lengths %v)", longest, ours, rd.lengths)
	}
}

// TestAdversarialServerFindTinyPDU: 1,000 C-FIND matches to a peer whose
// Maximum Length is the 4 KiB floor all arrive, in a bounded number of PDUs
// (no fragment amplification) and well within a generous deadline (row 14).
func TestAdversarialServerFindTinyPDU(t *testing.T) {
	advGoroutines(t)
	const matches = 1000
	addr := advServe(t, &Server{ARTIMTimeout: advShort,
		Find: FindHandlerFunc(func(ctx context.Context, _ *QueryRequest, w FindResponder) error {
			for i := range matches {
				if err := w.Pending(advFindIdentifier(i, 0)); err != nil {
					return err
				}
			}
			return nil
		})})
	conn, err := net.DialTimeout("tcp", addr, advDialTO)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pdus atomic.Int64
	a, err := ul.Request(ctx, conn, &ul.RequestConfig{CallingAETitle: "TINY", CalledAETitle: "SHARDPACS",
		Contexts: []pdu.PresentationContextRQ{advPC(1, uid.StudyRootQRFind)}, MaxPDULength: 4096,
		Observer: ul.Observer{PDU: func(_ net.Addr, dir ul.Direction, typ pdu.Type, n int) {
			if dir == ul.Received && typ == pdu.TypePDataTF {
				pdus.Add(1)
				if n > 4096+6 {
					t.Errorf("received a P-DATA-TF of %d bytes, peer maximum 4096", n)
				}
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Abort(pdu.AbortNotSpecified); <-a.Done() }()
	if err := WriteMessage(ctx, a, 1, NewCFindRQ(1, uid.StudyRootQRFind, PriorityMedium), bytes.NewReader(advFindIdentifier(0, 0)), a.MaxSendPDULength()); err != nil {
		t.Fatal(err)
	}
	mr := &MessageReader{R: a}
	seen := map[string]bool{}
	for {
		m, err := mr.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d matches: %v", len(seen), err)
		}
		st := m.Command.Status
		if st == StatusPending {
			b, _ := m.Data.Bytes()
			seen[string(b)] = true
		}
		m.Close()
		if st != StatusPending {
			if st != StatusSuccess {
				t.Fatalf("final status %v", st)
			}
			break
		}
	}
	if len(seen) != matches {
		t.Fatalf("%d distinct matches, want %d", len(seen), matches)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Each response is a command and at most one identifier fragment.
	if n := pdus.Load(); n > 2*(matches+1) {
		t.Fatalf("%d P-DATA-TF PDUs for %d responses", n, matches+1)
	}
}

// TestAdversarialServerAETitles: rows 1 and 2 at the Server level: an
// unknown Calling AE Title refused by the decision hook gets exactly
// A-ASSOCIATE-RJ (1,1,3), a wrong Called AE Title (1,1,7); a known peer is
// accepted. (The node's policy and Security Alert are node-level.)
func TestAdversarialServerAETitles(t *testing.T) {
	advGoroutines(t)
	addr := advServe(t, &Server{AETitle: "SHARDPACS", ARTIMTimeout: advShort,
		Accept: func(info *AssociationInfo, _ *pdu.AssociateRQ) *pdu.AssociateRJ {
			if info.CallingAETitle != "MOD1" {
				return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserCallingAENotRecognized}
			}
			return nil
		}})
	notUs := advRQ(t, "MOD1", 16384)
	copy(notUs[10:26], "NOTUS           ") // Called AE Title field (PS3.8 9.3.2)
	var closers advClosers
	parent := t
	for _, tc := range []struct {
		row, name string
		rq        []byte
		want      string
	}{
		{"1", "unknown calling AE", advRQ(t, "EVIL", 16384), "03 00 00 00 00 04 00 01 01 03"},
		{"2", "wrong called AE", notUs, "03 00 00 00 00 04 00 01 01 07"},
	} {
		t.Run("row"+tc.row+"/"+tc.name, func(t *testing.T) {
			p := advDialRawOwned(t, parent, addr)
			p.write(tc.rq)
			p.expect(tc.want, advDialTO)
			closers.add(t.Name(), p, advShort+advSlack)
		})
	}
	closers.check(t)
	p := advDialRaw(t, addr)
	p.associate(advRQ(t, "MOD1", 16384))
}
