package ul

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// echoRSP is a minimal C-ECHO-RSP command set (PS3.7 9.3.5.2), implicit VR
// little endian, answering message id. Test-only: the DIMSE layer proper
// lives in package dimse.
func echoRSP(id uint16) []byte {
	var body []byte
	el := func(elem uint16, v []byte) {
		body = binary.LittleEndian.AppendUint16(body, 0)
		body = binary.LittleEndian.AppendUint16(body, elem)
		body = binary.LittleEndian.AppendUint32(body, uint32(len(v)))
		body = append(body, v...)
	}
	us := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	el(0x0002, []byte(VerificationSOPClass+"\x00"))
	el(0x0100, us(0x8030))
	el(0x0120, us(id))
	el(0x0800, us(0x0101))
	el(0x0900, us(0x0000))
	var out []byte
	out = binary.LittleEndian.AppendUint16(out, 0)
	out = binary.LittleEndian.AppendUint16(out, 0)
	out = binary.LittleEndian.AppendUint32(out, 4)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}

// messageID finds (0000,0110) in an implicit VR little endian command set.
func messageID(cmd []byte) (uint16, error) {
	for len(cmd) >= 8 {
		g, e := binary.LittleEndian.Uint16(cmd), binary.LittleEndian.Uint16(cmd[2:])
		n := binary.LittleEndian.Uint32(cmd[4:])
		if uint64(n) > uint64(len(cmd)-8) {
			break
		}
		if g == 0 && e == 0x0110 && n == 2 {
			return binary.LittleEndian.Uint16(cmd[8:]), nil
		}
		cmd = cmd[8+n:]
	}
	return 0, errors.New("no message ID")
}

// serveEcho answers C-ECHO requests on a until the peer releases.
func serveEcho(a *Association) error {
	var cmd []byte
	for {
		pdvs, err := a.ReadPData(context.Background())
		if err != nil {
			return err
		}
		for _, v := range pdvs {
			cmd = append(cmd, v.Data...)
			if !v.Command || !v.Last {
				continue
			}
			id, err := messageID(cmd)
			if err != nil {
				return err
			}
			cmd = nil
			if err := a.SendPData(context.Background(), []pdu.PDV{{ContextID: v.ContextID, Command: true, Last: true, Data: echoRSP(id)}}); err != nil {
				return err
			}
		}
	}
}

// TestInteropEchoscu: DCMTK's echoscu against Accept over TCP. echoscu
// exits 0 only after a successful C-ECHO and release; a wrong called AE
// title makes it fail with our A-ASSOCIATE-RJ (1,1,7).
func TestInteropEchoscu(t *testing.T) {
	echoscu := testutil.RequireTool(t, "echoscu")
	for _, tt := range []struct {
		name, called string
		ok           bool
	}{{"accepted", "SHARDPACS", true}, {"wrong called AE", "NOTUS", false}} {
		t.Run(tt.name, func(t *testing.T) {
			goroutineCheck(t)
			l := testutil.Listen(t)
			rec := &recorder{}
			cfg := &AcceptConfig{AETitle: "SHARDPACS", CheckCalledAE: true, ARTIMTimeout: 5 * time.Second, Observer: rec.observer()}
			served := make(chan error, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					served <- err
					return
				}
				a, err := Accept(context.Background(), c, cfg)
				if err != nil {
					served <- err
					return
				}
				served <- serveEcho(a)
			}()
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, echoscu, "-aet", "ECHOSCU", "-aec", tt.called, "127.0.0.1", port).CombinedOutput()
			serr := <-served
			if tt.ok {
				if err != nil {
					t.Fatalf("echoscu failed: %v\n%s", err, out)
				}
				if serr != io.EOF {
					t.Errorf("server ended with %v, want io.EOF (released)", serr)
				}
				if rec.established != 1 || len(rec.closed) != 1 || rec.closed[0] != nil {
					t.Errorf("observer: established %d closed %v", rec.established, rec.closed)
				}
				return
			}
			var r *pdu.AssociateRJ
			if err == nil || !errors.As(serr, &r) || r.Reason != pdu.RejectUserCalledAENotRecognized {
				t.Fatalf("echoscu err %v, server %v\n%s", err, serr, out)
			}
		})
	}
}

// TestInteropStorescp: Request against DCMTK's storescp, then release.
func TestInteropStorescp(t *testing.T) {
	goroutineCheck(t)
	dir := t.TempDir()
	port, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
		return []string{"-aet", "STORESCP", "-od", dir, strconv.Itoa(port)}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Request(ctx, conn, &RequestConfig{CallingAETitle: "SHARDPACS", CalledAETitle: "STORESCP"})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := a.ContextByID(1)
	if !ok || c.AbstractSyntax != VerificationSOPClass {
		t.Errorf("contexts %+v", a.Contexts())
	}
	if a.PeerMaxPDULength() == 0 || a.AssociateAC().UserInfo.ImplementationClassUID == "" {
		t.Errorf("AC user info %+v", a.AssociateAC().UserInfo)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
