package node

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dimse"
)

// TestAdversarialNodeUnknownCallingAE (adversarial row 1): under
// unknown_calling_ae = "reject", an A-ASSOCIATE-RQ from EVIL is answered
// exactly RJ (1,1,3) on the wire, the connection is closed at ARTIM (PS3.8
// 9.2: the acceptor waits for the requestor to close first), and the
// audit trail holds a Node Authentication Security Alert naming EVIL and
// the policy; a configured peer is accepted (the control).
func TestAdversarialNodeUnknownCallingAE(t *testing.T) {
	an := startAdvNode(t, func(c *config.Config) {
		c.UnknownCallingAE = config.UnknownCallingReject
		c.Peers = []config.Peer{{AETitle: "MOD1"}}
		c.Limits.ARTIMTimeout = 500 * time.Millisecond // the close after the RJ waits for ARTIM
	})
	c := advRaw(t, an.addr, advRQBytes(t, "EVIL", an.cfg.AETitle))
	advExpect(t, c, rjCallingAEBytes)
	advExpectClose(t, c)

	cc := an.dial(t, "MOD1", dimse.EchoContext())
	if err := cc.Echo(t.Context()); err != nil {
		t.Fatalf("known peer's C-ECHO: %v", err)
	}
	_ = cc.Release(t.Context())

	evs := an.advAlerts(t, audit.TypeNodeAuthentication, `"EVIL"`, "unknown_calling_ae = reject", "RJ 1,1,3")
	if len(evs) != 1 {
		t.Fatalf("%d Node Authentication alerts for EVIL, want 1", len(evs))
	}
	if evs[0].EventOutcomeIndicator != audit.OutcomeMinorFailure {
		t.Errorf("outcome %d, want minor failure (4)", evs[0].EventOutcomeIndicator)
	}
	an.stop()
	if got := an.advAlertsNow(t, audit.TypeNodeAuthentication, `"MOD1"`); len(got) != 0 {
		t.Errorf("the accepted MOD1 was audited as a rejection: %+v", got)
	}
}

// TestAdversarialNodeSubnet (adversarial row 3, subnet half; the
// certificate half is TestNodeTLS / tlsconf.TestWrongAEBytes): MOD1 may
// call only from 10.0.0.0/8; calling from 127.0.0.1 it gets exactly RJ
// (1,1,3), closed at ARTIM, and a Node Authentication alert (110126) naming the reason. MOD2,
// allowed 127.0.0.0/8, is accepted.
func TestAdversarialNodeSubnet(t *testing.T) {
	an := startAdvNode(t, func(c *config.Config) {
		c.Peers = []config.Peer{
			{AETitle: "MOD1", Networks: []string{"10.0.0.0/8"}},
			{AETitle: "MOD2", Networks: []string{"127.0.0.0/8"}},
		}
		c.Limits.ARTIMTimeout = 500 * time.Millisecond
	})
	c := advRaw(t, an.addr, advRQBytes(t, "MOD1", an.cfg.AETitle))
	advExpect(t, c, rjCallingAEBytes)
	advExpectClose(t, c)

	cc := an.dial(t, "MOD2", dimse.EchoContext())
	if err := cc.Echo(t.Context()); err != nil {
		t.Fatalf("MOD2 from an allowed network: %v", err)
	}
	_ = cc.Release(t.Context())

	evs := an.advAlerts(t, audit.TypeNodeAuthentication, `"MOD1"`, "address outside the peer's networks", "RJ 1,1,3")
	if len(evs) != 1 {
		t.Fatalf("%d alerts for MOD1 outside its networks, want 1", len(evs))
	}
	if evs[0].EventTypeCode[0].Code != "110126" {
		t.Errorf("alert type %+v, want DCM 110126", evs[0].EventTypeCode[0])
	}
}

// TestAdversarialNodeLogInjection (cross-cutting row: logs escape CR/LF):
// Calling AE Titles holding CR, LF, ESC and a backslash reach the node's
// LogObserver (an accepted association, and one rejected for its called
// AE); in the JSON log every line is one JSON object and no raw control
// byte appears; in the console format (`serve` with log.format = console)
// every line still starts with a timestamp and a level, so no forged line
// exists. The calling_ae field is the Go-quoted title.
func TestAdversarialNodeLogInjection(t *testing.T) {
	const evil = "EV\r\nIL\x1b[2J\\x"     // 14 bytes: fits the 16-byte AE field
	const forged = "EVIL\n{\"level\":\"i" // 16 bytes: a forged JSON line
	for _, console := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "console"}[console], func(t *testing.T) {
			an := startAdvNode(t, nil, advOpts{console: console})
			// Accepted, then released: the "association ended" line.
			c := advRaw(t, an.addr, advRQBytes(t, evil, an.cfg.AETitle))
			if typ, _ := advReadPDU(t, c); typ != 0x02 {
				t.Fatalf("association with the evil title: PDU type %#x, want A-ASSOCIATE-AC", typ)
			}
			c.Write([]byte{0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0}) // A-RELEASE-RQ
			advExpect(t, c, "06 00 00 00 00 04 00 00 00 00")
			c.Close()
			// Rejected (wrong called AE, itself hostile): the warn line.
			r := advRaw(t, an.addr, advRQBytes(t, forged, "NOT\r\nUS"))
			advExpect(t, r, "03 00 00 00 00 04 00 01 01 07")
			r.Close()
			an.stop()

			logs := an.logs.String()
			if strings.ContainsAny(logs, "\r\x1b") {
				t.Errorf("log holds a raw CR or ESC:\n%q", logs)
			}
			lines := strings.Split(strings.TrimSuffix(logs, "\n"), "\n")
			ended, rejected := 0, 0
			lineStart := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ (TRC|DBG|INF|WRN|ERR) `)
			for _, l := range lines {
				if console {
					if !lineStart.MatchString(l) {
						t.Errorf("console line does not start with time and level (forged?): %q", l)
					}
					if strings.Contains(l, "association ended") && strings.Contains(l, `EV\\r\\nIL`) {
						ended++
					}
					if strings.Contains(l, "association rejected") && strings.Contains(l, `NOT\\r\\nUS`) {
						rejected++
					}
					continue
				}
				var m map[string]any
				dec := json.NewDecoder(strings.NewReader(l))
				if err := dec.Decode(&m); err != nil || dec.More() {
					t.Errorf("log line is not one JSON object (%v): %q", err, l)
					continue
				}
				switch m["message"] {
				case "association ended":
					if m[FieldCallingAE] == strconv.Quote(evil) {
						ended++
					}
				case "association rejected":
					if m[FieldCallingAE] == strconv.Quote(forged) && m[FieldCalledAE] == strconv.Quote("NOT\r\nUS") {
						rejected++
					}
				}
			}
			if ended != 1 || rejected != 1 {
				t.Errorf("%d association-ended and %d rejected lines with the quoted titles, want 1 and 1:\n%s", ended, rejected, logs)
			}
			// The audit trail (JSON) holds the titles escaped too.
			raw, err := os.ReadFile(an.auditPath)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(raw, "\r\x1b") {
				t.Errorf("audit trail holds a raw CR or ESC")
			}
		})
	}
}
