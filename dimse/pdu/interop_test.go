package pdu

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

const verification = "1.2.840.10008.1.1"

// TestInteropEchoscu: DCMTK echoscu's A-ASSOCIATE-RQ decodes, DCMTK accepts
// our A-ASSOCIATE-AC, and its C-ECHO-RQ command arrives as one P-DATA-TF.
func TestInteropEchoscu(t *testing.T) {
	echoscu := testutil.RequireTool(t, "echoscu")
	l := testutil.Listen(t)
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, echoscu, "-v", "-to", "10", "-aet", "SCU_TEST", "-aec", "GO_PDU", "127.0.0.1", strconv.Itoa(port))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))

	p, err := ReadPDU(conn, Limits{})
	if err != nil {
		t.Fatalf("reading echoscu's request: %v", err)
	}
	rq, ok := p.(*AssociateRQ)
	if !ok {
		t.Fatalf("got %T, want *AssociateRQ", p)
	}
	if rq.CalledAETitle != "GO_PDU" || rq.CallingAETitle != "SCU_TEST" || rq.ApplicationContext != DICOMApplicationContext ||
		rq.ProtocolVersion&1 == 0 || len(rq.PresentationContexts) == 0 || rq.PresentationContexts[0].AbstractSyntax != verification ||
		rq.UserInfo.MaxLength == 0 || rq.UserInfo.ImplementationClassUID == "" {
		t.Fatalf("unexpected request %#v", rq)
	}
	pc := rq.PresentationContexts[0]
	ac := &AssociateAC{
		ProtocolVersion: ProtocolVersion1, CalledAETitle: rq.CalledAETitle, CallingAETitle: rq.CallingAETitle,
		ApplicationContext:   DICOMApplicationContext,
		PresentationContexts: []PresentationContextAC{{ID: pc.ID, Result: ContextAccepted, TransferSyntax: pc.TransferSyntaxes[0]}},
		UserInfo: UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.826.0.1.3680043.10.1234",
			ImplementationVersionName: "SHARDPACS_PDU"},
	}
	if err := WritePDU(conn, ac); err != nil {
		t.Fatal(err)
	}
	p, err = ReadPDU(conn, Limits{MaxPDataLength: 16384})
	if err != nil {
		t.Fatalf("reading the C-ECHO-RQ: %v (echoscu said: %s)", err, out.String())
	}
	pd, ok := p.(*PDataTF)
	if !ok || len(pd.Items) == 0 || !pd.Items[0].Command || !pd.Items[0].Last || pd.Items[0].ContextID != pc.ID {
		t.Fatalf("got %#v, want a last command fragment on context %d", p, pc.ID)
	}
	if err := WritePDU(conn, &Abort{Source: AbortServiceUser}); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // echoscu fails: we aborted instead of answering
	if !strings.Contains(out.String(), "Association Accepted") {
		t.Fatalf("echoscu did not accept our A-ASSOCIATE-AC:\n%s", out.String())
	}
}

// TestInteropEchoscuRejected: DCMTK reads our A-ASSOCIATE-RJ as the reason
// we sent.
func TestInteropEchoscuRejected(t *testing.T) {
	echoscu := testutil.RequireTool(t, "echoscu")
	l := testutil.Listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, echoscu, "-to", "10", "-aec", "NOBODY", "127.0.0.1",
		strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := ReadPDU(conn, Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := WritePDU(conn, &AssociateRJ{Result: RejectPermanent, Source: SourceServiceUser, Reason: RejectUserCalledAENotRecognized}); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !strings.Contains(out.String(), "Called AE Title Not Recognized") {
		t.Fatalf("echoscu output lacks the reject reason:\n%s", out.String())
	}
}

// TestInteropStorescp: DCMTK storescp accepts our A-ASSOCIATE-RQ (with
// role selection, asynchronous window, extended negotiation sub-items) and
// its A-ASSOCIATE-AC and A-RELEASE-RP decode.
func TestInteropStorescp(t *testing.T) {
	dir := t.TempDir()
	port, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
		return []string{"-od", dir, strconv.Itoa(port)}
	})
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))

	rq := fullRQ()
	rq.CalledAETitle, rq.UserInfo.UserIdentityRQ = "STORESCP", nil
	if err := WritePDU(conn, rq); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPDU(conn, Limits{})
	if err != nil {
		t.Fatalf("reading storescp's answer: %v", err)
	}
	ac, ok := p.(*AssociateAC)
	if !ok {
		t.Fatalf("got %#v, want *AssociateAC", p)
	}
	if len(ac.PresentationContexts) != len(rq.PresentationContexts) || ac.PresentationContexts[0].ID != 1 ||
		ac.PresentationContexts[0].Result != ContextAccepted || ac.PresentationContexts[0].TransferSyntax != "1.2.840.10008.1.2" ||
		ac.CalledAETitle != "STORESCP" || ac.UserInfo.ImplementationClassUID == "" {
		t.Fatalf("unexpected answer %#v", ac)
	}
	if err := WritePDU(conn, &ReleaseRQ{}); err != nil {
		t.Fatal(err)
	}
	if p, err = ReadPDU(conn, Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*ReleaseRP); !ok {
		t.Fatalf("got %#v, want *ReleaseRP", p)
	}
}
