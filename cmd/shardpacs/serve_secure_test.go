package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testpki"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// secureServe is `shardpacs serve` run in-process until stop.
type secureServe struct {
	addrs  map[string]string // "plain" / "tls" → host:port
	stderr *syncBuffer
	cancel context.CancelFunc
	code   chan int
}

// startSecureServe runs serve --config cfgFile and waits for want
// "listening on" lines.
func startSecureServe(t *testing.T, cfgFile string, want int) *secureServe {
	t.Helper()
	cleanEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &secureServe{addrs: map[string]string{}, stderr: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	go func() {
		s.code <- runMain(ctx, []string{"serve", "--config", cfgFile}, pw, s.stderr)
		pw.Close()
	}()
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if after, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				lines <- after
			}
		}
		close(lines)
	}()
	t.Cleanup(func() { s.stop(t) })
	for len(s.addrs) < want {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited:\n%s", s.stderr)
			}
			if addr, ok := strings.CutSuffix(l, " (tls)"); ok {
				s.addrs["tls"] = addr
			} else {
				s.addrs["plain"] = l
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no 'listening on' line:\n%s", s.stderr)
		}
	}
	return s
}

// stop cancels serve (as SIGTERM does) and returns its exit code.
func (s *secureServe) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case c := <-s.code:
		s.code <- c
		return c
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop:\n%s", s.stderr)
	}
	return -1
}

// writeTestDICOM writes a small Secondary Capture file with the given
// patient and returns its path and SOP Instance UID.
func writeTestDICOM(t *testing.T, dir, patientID, patientName string) string {
	t.Helper()
	const sop = "1.2.826.0.1.3680043.10.1397.79.1.1.1"
	ds, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagSOPClassUID, VR: "UI", Value: uid.SecondaryCaptureImageStorage},
		{Tag: dcm.TagSOPInstanceUID, VR: "UI", Value: sop},
		{Tag: dcm.TagModality, VR: "CS", Value: "OT"},
		{Tag: dcm.TagPatientName, VR: "PN", Value: patientName},
		{Tag: dcm.TagPatientID, VR: "LO", Value: patientID},
		{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: "1.2.826.0.1.3680043.10.1397.79.1"},
		{Tag: dcm.TagSeriesInstanceUID, VR: "UI", Value: "1.2.826.0.1.3680043.10.1397.79.1.1"},
	}, uid.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	b := dcm.AppendPart10Header(nil, &dcm.FileMeta{MediaStorageSOPClassUID: uid.SecondaryCaptureImageStorage,
		MediaStorageSOPInstanceUID: sop, TransferSyntaxUID: uid.ExplicitVRLittleEndian,
		ImplementationClassUID: "1.2.826.0.1.3680043.10.1397.99"})
	path := filepath.Join(dir, "test.dcm")
	if err := os.WriteFile(path, append(b, ds...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeTLSOnlyWithAudit: a TLS-only configuration (listen = ""), driven
// by DCMTK echoscu and storescu +tls, a certificate claiming another AE
// (refused), then a graceful stop; the audit trail (0600) holds Application
// Start and Stop, the Node Authentication alert and the stored instances,
// and the operational log no patient data.
func TestServeTLSOnlyWithAudit(t *testing.T) {
	testutil.RequireTool(t, "echoscu")
	testutil.RequireTool(t, "storescu")
	ca := testpki.NewCA(t, "shardpacs test CA")
	server := ca.Issue(t, "server", "SHARDPACS", "127.0.0.1")
	mod1 := ca.Issue(t, "mod1", "MOD1")
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "logs", "audit.log")
	cfgFile := filepath.Join(dir, "shardpacs.toml")
	cfg := fmt.Sprintf(`ae_title = "SHARDPACS"
listen = ""
data_dir = %q
unknown_calling_ae = "reject"

[tls]
listen = "127.0.0.1:0"
cert_file = %q
key_file = %q
ca_file = %q

[log]
audit_file = %q

[[peers]]
ae_title = "MOD1"

[[peers]]
ae_title = "MOD2"
`, filepath.Join(dir, "data"), server.CertFile, server.KeyFile, ca.File, auditPath)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const patientID, patientName = "SRV-PHI-4242", "Hiddenname^Serve"
	file := writeTestDICOM(t, dir, patientID, patientName)

	s := startSecureServe(t, cfgFile, 1)
	if _, ok := s.addrs["plain"]; ok {
		t.Errorf("a plain listener with listen = \"\": %v", s.addrs)
	}
	host, port, _ := strings.Cut(s.addrs["tls"], ":")
	tlsArgs := mod1.DCMTK(ca.File)
	if out, err := runDCMTK(t, "echoscu", append(tlsArgs, "-aet", "MOD1", "-aec", "SHARDPACS", host, port)...); err != nil {
		t.Fatalf("echoscu +tls: %v\n%s", err, out)
	}
	if out, err := runDCMTK(t, "storescu", append(tlsArgs, "-aet", "MOD1", "-aec", "SHARDPACS", host, port, file)...); err != nil {
		t.Fatalf("storescu +tls: %v\n%s", err, out)
	}
	if out, err := runDCMTK(t, "echoscu", append(tlsArgs, "-aet", "MOD2", "-aec", "SHARDPACS", host, port)...); err == nil ||
		!strings.Contains(out, "Calling AE Title Not Recognized") {
		t.Errorf("echoscu with MOD1's certificate as MOD2: %v, want RJ (1,1,3)\n%s", err, out)
	}
	if out, err := runDCMTK(t, "echoscu", "-aet", "MOD1", "-aec", "SHARDPACS", host, port); err == nil {
		t.Errorf("plain echoscu to the TLS port succeeded:\n%s", out)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exit code %d:\n%s", code, s.stderr)
	}

	st, err := os.Stat(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit trail mode %#o, want 0600", st.Mode().Perm())
	}
	raw, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var evs []audit.Event
	for i, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var ev audit.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("audit line %d does not parse: %v\n%s", i+1, err, line)
		}
		evs = append(evs, ev)
	}
	typed := func(ev audit.Event, c audit.Code) bool { return len(ev.EventTypeCode) == 1 && ev.EventTypeCode[0] == c }
	for _, want := range []struct {
		what string
		ok   func(audit.Event) bool
	}{
		{"Application Start", func(ev audit.Event) bool {
			return ev.EventID == audit.EventApplicationActivity && typed(ev, audit.TypeApplicationStart)
		}},
		{"Application Stop, success", func(ev audit.Event) bool {
			return ev.EventID == audit.EventApplicationActivity && typed(ev, audit.TypeApplicationStop) && ev.EventOutcomeIndicator == audit.OutcomeSuccess
		}},
		{"Node Authentication (MOD2)", func(ev audit.Event) bool {
			if ev.EventID != audit.EventSecurityAlert || !typed(ev, audit.TypeNodeAuthentication) || len(ev.ParticipantObjectIdentification) != 1 {
				return false
			}
			d := ev.ParticipantObjectIdentification[0].ParticipantObjectDetail
			return len(d) == 1 && strings.Contains(d[0].Value, `"MOD2"`) && strings.Contains(d[0].Value, "node authentication failed")
		}},
		{"Instances Transferred (stored)", func(ev audit.Event) bool {
			return ev.EventID == audit.EventInstancesTransfer && ev.EventActionCode == audit.ActionCreate &&
				len(ev.ParticipantObjectIdentification) == 2 && ev.ParticipantObjectIdentification[1].ParticipantObjectID == patientID
		}},
	} {
		found := false
		for _, ev := range evs {
			found = found || want.ok(ev)
		}
		if !found {
			t.Errorf("audit trail lacks %s:\n%s", want.what, raw)
		}
	}
	if first, last := evs[0], evs[len(evs)-1]; !typed(first, audit.TypeApplicationStart) || !typed(last, audit.TypeApplicationStop) {
		t.Errorf("audit trail does not start with Application Start and end with Application Stop:\n%s", raw)
	}
	logs := s.stderr.String()
	for _, phi := range []string{patientID, "Hiddenname"} {
		if strings.Contains(logs, phi) {
			t.Errorf("operational log contains patient data %q:\n%s", phi, logs)
		}
	}
}

// TestServeRefusesWithoutAudit: serve does not start when the audit trail
// cannot be opened (here: a file that others may read), naming the setting.
func TestServeRefusesWithoutAudit(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(auditPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(auditPath, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "shardpacs.toml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("[log]\naudit_file = %q\n", auditPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "serve", "--config", cfgFile, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "log.audit_file") || strings.Contains(r.stdout, "listening on") {
		t.Errorf("serve with an audit file readable by others: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// TestKeysRotateAudited: keys rotate writes a Security Configuration alert
// naming the new KEK version to the audit trail.
func TestKeysRotateAudited(t *testing.T) {
	cleanEnv(t)
	data := filepath.Join(t.TempDir(), "data")
	for _, action := range []string{"create", "rotate"} {
		if r := runCLI(t, "keys", "--data", data, action); r.code != 0 {
			t.Fatalf("keys %s: %d %s %s", action, r.code, r.stdout, r.stderr)
		}
	}
	raw, err := os.ReadFile(filepath.Join(data, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var ev audit.Event
	if err := json.Unmarshal(bytes.TrimSpace(raw), &ev); err != nil {
		t.Fatalf("audit trail: %v\n%s", err, raw)
	}
	if ev.EventID != audit.EventSecurityAlert || len(ev.EventTypeCode) != 1 || ev.EventTypeCode[0] != audit.TypeSecurityConfiguration ||
		len(ev.ParticipantObjectIdentification) != 1 || ev.ParticipantObjectIdentification[0].ParticipantObjectID != "shardpacs:kek/2" {
		t.Errorf("audit event after keys rotate: %s", raw)
	}
}
