package dimse

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// TestEchoscuGolden captures the C-ECHO-RQ command set DCMTK's echoscu
// sends and checks that it is byte-for-byte what NewCEchoRQ encodes and the
// golden fixture holds. The association is accepted by a hand-written
// A-ASSOCIATE-AC (PS3.8 §9.3.3), independent of dimse/ul, then aborted.
func TestEchoscuGolden(t *testing.T) {
	echoscu := testutil.RequireTool(t, "echoscu")
	l := testutil.Listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	port := l.Addr().(*net.TCPAddr).Port
	cmd := exec.CommandContext(ctx, echoscu, "-aet", "ECHOSCU", "-aec", "SHARDPACS", "127.0.0.1", strconv.Itoa(port))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()

	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))

	readPDU := func() (byte, []byte) {
		t.Helper()
		var h [6]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			t.Fatalf("reading PDU header: %v (echoscu: %s)", err, out.String())
		}
		n := binary.BigEndian.Uint32(h[2:])
		if n > 1<<20 {
			t.Fatalf("PDU length %d", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		return h[0], b
	}
	typ, rq := readPDU()
	if typ != 0x01 || len(rq) < 68 {
		t.Fatalf("expected A-ASSOCIATE-RQ, got type %d", typ)
	}
	// Find the first presentation context item (0x20) to accept its ID.
	ctxID := byte(0)
	for p := 68; p+4 <= len(rq); {
		n := int(binary.BigEndian.Uint16(rq[p+2:]))
		if rq[p] == 0x20 && p+5 <= len(rq) {
			ctxID = rq[p+4]
			break
		}
		p += 4 + n
	}
	if ctxID == 0 {
		t.Fatal("no presentation context in A-ASSOCIATE-RQ")
	}
	item := func(typ byte, body []byte) []byte {
		return append([]byte{typ, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	var ac []byte
	ac = append(ac, 0, 1, 0, 0)
	ac = append(ac, rq[4:68]...) // called AE, calling AE, reserved: echoed
	ac = append(ac, item(0x10, []byte("1.2.840.10008.3.1.1.1"))...)
	ac = append(ac, item(0x21, append([]byte{ctxID, 0, 0, 0}, item(0x40, []byte("1.2.840.10008.1.2"))...))...)
	ac = append(ac, item(0x50, append(item(0x51, []byte{0, 0, 0x40, 0}), item(0x52, []byte("1.2.3.4"))...))...)
	hdr := []byte{0x02, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[2:], uint32(len(ac)))
	if _, err := conn.Write(append(hdr, ac...)); err != nil {
		t.Fatal(err)
	}

	var command []byte
	for done := false; !done; {
		typ, pd := readPDU()
		if typ != 0x04 {
			t.Fatalf("expected P-DATA-TF, got type %d", typ)
		}
		for p := 0; p+6 <= len(pd); {
			n := int(binary.BigEndian.Uint32(pd[p:]))
			if n < 2 || p+4+n > len(pd) {
				t.Fatal("bad PDV item")
			}
			mch := pd[p+5]
			if mch&1 == 0 {
				t.Fatal("data PDV in a C-ECHO")
			}
			command = append(command, pd[p+6:p+4+n]...)
			done = done || mch&2 != 0
			p += 4 + n
		}
	}
	_, _ = conn.Write([]byte{0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0}) // A-ABORT

	c, err := DecodeCommand(command)
	if err != nil {
		t.Fatalf("decoding echoscu's command: %v\n%s", err, hex.Dump(command))
	}
	if err := c.Validate(); err != nil {
		t.Errorf("echoscu's command invalid: %v", err)
	}
	t.Logf("echoscu C-ECHO-RQ: %d bytes, Message ID %d", len(command), c.MessageID)
	if want := NewCEchoRQ(c.MessageID).Encode(); !bytes.Equal(command, want) {
		t.Errorf("echoscu sent\n%s\nwe encode\n%s", hex.Dump(command), hex.Dump(want))
	}
	if c.MessageID == 1 {
		golden, _ := hex.DecodeString(goldenEchoRQ)
		if !bytes.Equal(command, golden) {
			t.Errorf("golden fixture differs from echoscu")
		}
	}
}
