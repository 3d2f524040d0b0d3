package node

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
)

// TestAuditPreAssociationSummarised: 40 connections that never send an
// A-ASSOCIATE-RQ (a slowloris burst, adversarial row 6) end at ARTIM; the
// audit trail records them without one fsynced line each — one event at the
// first, and the other 39 counted into a summary written at shutdown — so
// a flood cannot turn the audit log into its amplifier.
func TestAuditPreAssociationSummarised(t *testing.T) {
	sn := startSecureNode(t, func(c *config.Config) { c.Limits.ARTIMTimeout = 200 * time.Millisecond })
	const n = 40
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", sn.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns { // the node closes each at ARTIM, without a byte
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
			t.Fatalf("silent connection: got %d bytes, %v; want a close", len(b), err)
		}
		c.Close()
	}
	time.Sleep(100 * time.Millisecond) // the observer runs as each connection's goroutine ends
	sn.stop()

	var aborted []audit.Event
	for _, ev := range readAudit(t, sn.auditPath) {
		if isAlert(audit.TypeAssociationAborted)(ev) {
			aborted = append(aborted, ev)
		}
	}
	if len(aborted) != 2 {
		for _, ev := range aborted {
			t.Log(alertText(ev))
		}
		t.Fatalf("%d Association Aborted events for %d silent connections, want 2 (the first, then a summary)", len(aborted), n)
	}
	if s := alertText(aborted[1]); !strings.Contains(s, "39 connections ended before association") {
		t.Errorf("summary %q does not count the other 39 connections", s)
	}
}
