package node

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/internal/testpki"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// startStorescpTLS starts DCMTK storescp +tls as ae with pair's
// certificate, trusting (and requiring) client certificates of caFile; it
// returns the port and the folder it writes to.
func startStorescpTLS(t *testing.T, ae string, pair testpki.Pair, caFile string) (int, string) {
	t.Helper()
	return startStorescpArgs(t, ae, append(pair.DCMTK(caFile), "-rc")...)
}

// TestNodeTLS: the node's TLS listener with DCMTK: echoscu and storescu
// +tls with a certificate naming the calling AE; the same certificate
// claiming another AE (RJ 1,1,3, audited as Node Authentication, adversarial
// row 3); plaintext on the TLS port (closed, audited, row 40); and a C-MOVE
// (requested on the plain port by movescu) whose sub-operations go over TLS
// to storescp +tls, which verifies our certificate.
func TestNodeTLS(t *testing.T) {
	testutil.RequireTool(t, "echoscu")
	testutil.RequireTool(t, "storescu")
	testutil.RequireTool(t, "movescu")
	ca := testpki.NewCA(t, "shardpacs test CA")
	server := ca.Issue(t, "server", "SHARDPACS", "127.0.0.1", "localhost")
	mod1 := ca.Issue(t, "mod1", "MOD1")
	destCert := ca.Issue(t, "dest", "DEST", "127.0.0.1")
	destPort, destDir := startStorescpTLS(t, "DEST", destCert, ca.File)
	sn := startSecureNode(t, func(c *config.Config) {
		c.TLS = config.TLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.File}
		c.UnknownCallingAE = config.UnknownCallingReject
		c.Peers = []config.Peer{
			{AETitle: "MOD1", MoveDestinations: []string{"DEST"}},
			{AETitle: "MOD2"},
			{AETitle: "DEST", Host: "127.0.0.1", Port: destPort, TLS: true, CertSubject: "DEST", Permissions: []string{}},
		}
	})
	ae := sn.cfg.AETitle
	tlsPort, plainPort := sn.port(true), sn.port(false)
	in := testInstance{"1.2.826.0.1.3680043.10.1397.78.1.1.1", "1.2.826.0.1.3680043.10.1397.78.1",
		"1.2.826.0.1.3680043.10.1397.78.1.1", "TLS-PID-1", "Tls^Patient"}
	file := in.writeFile(t, t.TempDir())

	t.Run("echoscu", func(t *testing.T) {
		args := append(mod1.DCMTK(ca.File), "-aet", "MOD1", "-aec", ae, "-to", "10", "127.0.0.1", tlsPort)
		if out, err := runTool(t, "", "echoscu", args...); err != nil {
			t.Fatalf("echoscu +tls: %v\n%s", err, out)
		}
	})
	t.Run("storescu", func(t *testing.T) {
		args := append(mod1.DCMTK(ca.File), "-aet", "MOD1", "-aec", ae, "-to", "10", "127.0.0.1", tlsPort, file)
		if out, err := runTool(t, "", "storescu", args...); err != nil {
			t.Fatalf("storescu +tls: %v\n%s", err, out)
		}
		if _, err := sn.n.arch.Lookup(t.Context(), in.sop); err != nil {
			t.Fatalf("instance stored over TLS not in the archive: %v", err)
		}
	})
	t.Run("wrong AE", func(t *testing.T) {
		args := append(mod1.DCMTK(ca.File), "-aet", "MOD2", "-aec", ae, "-to", "10", "127.0.0.1", tlsPort)
		out, err := runTool(t, "", "echoscu", args...)
		if err == nil || !strings.Contains(out, "Calling AE Title Not Recognized") {
			t.Fatalf("echoscu with MOD1's certificate as MOD2: %v, want RJ (1,1,3)\n%s", err, out)
		}
		ev := waitAudit(t, sn.auditPath, "Node Authentication for MOD2", func(ev audit.Event) bool {
			return isAlert(audit.TypeNodeAuthentication)(ev) && strings.Contains(alertText(ev), `"MOD2"`) &&
				strings.Contains(alertText(ev), "node authentication failed")
		})
		if ev.EventOutcomeIndicator != audit.OutcomeMinorFailure {
			t.Errorf("outcome %d, want minor failure", ev.EventOutcomeIndicator)
		}
	})
	t.Run("plaintext on the TLS port", func(t *testing.T) {
		out, err := runTool(t, "", "echoscu", "-aet", "MOD1", "-aec", ae, "-to", "10", "127.0.0.1", tlsPort)
		if err == nil {
			t.Fatalf("plain echoscu to the TLS port succeeded:\n%s", out)
		}
		waitAudit(t, sn.auditPath, "Node Authentication for a TLS handshake failure", func(ev audit.Event) bool {
			return isAlert(audit.TypeNodeAuthentication)(ev) && strings.Contains(alertText(ev), "TLS handshake")
		})
	})
	t.Run("C-MOVE to a TLS destination", func(t *testing.T) {
		args := []string{"-S", "-aet", "MOD1", "-aec", ae, "-aem", "DEST", "-to", "10",
			"-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + in.study, "127.0.0.1", plainPort}
		if out, err := runTool(t, "", "movescu", args...); err != nil {
			t.Fatalf("movescu: %v\n%s", err, out)
		}
		files, _ := filepath.Glob(filepath.Join(destDir, "*"))
		if len(files) != 1 {
			t.Fatalf("storescp +tls received %d files, want 1", len(files))
		}
		waitAudit(t, sn.auditPath, "C-MOVE to DEST", func(ev audit.Event) bool {
			return ev.EventID == audit.EventInstancesTransfer && ev.EventActionCode == audit.ActionRead &&
				ev.EventOutcomeIndicator == audit.OutcomeSuccess && strings.Contains(alertText(ev), "C-MOVE")
		})
	})
}

// TestNewTLSFailFast: New loads the TLS files (listener and TLS peers) and
// fails on a bad one, naming the setting; ServeTLS without a certificate
// is ErrNoTLS.
func TestNewTLSFailFast(t *testing.T) {
	ca := testpki.NewCA(t, "shardpacs test CA")
	server := ca.Issue(t, "server", "SHARDPACS", "127.0.0.1")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name, want string
		tls        config.TLS
		peerTLS    bool
	}{
		{"missing certificate", "tls.cert_file", config.TLS{CertFile: missing, KeyFile: server.KeyFile}, false},
		{"missing CA for a TLS peer", "tls.ca_file", config.TLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: missing}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.TLS = tt.tls
			if tt.peerTLS {
				cfg.Peers = []config.Peer{{AETitle: "DEST", Host: "127.0.0.1", Port: 104, TLS: true}}
			}
			arch := openTestArchive(t, cfg)
			_, err := New(cfg, arch, zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error naming %s", err, tt.want)
			}
		})
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	n, err := New(cfg, openTestArchive(t, cfg), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.ServeTLS(testutil.Listen(t)); !errors.Is(err, ErrNoTLS) {
		t.Errorf("ServeTLS without a certificate: %v, want ErrNoTLS", err)
	}
}

func openTestArchive(t *testing.T, cfg *config.Config) *archive.Archive {
	t.Helper()
	a, err := archive.OpenDir(t.Context(), cfg, archive.Options{NoRepairer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
