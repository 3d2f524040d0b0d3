package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
)

// TestProfile: the BCP 195 choices (RFC 9325 4.2) hold for both sides.
func TestProfile(t *testing.T) {
	p := pki(t)
	srv, err := Server(p.server.global(p.caFile))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Client(config.Peer{AETitle: "DEST", Host: "127.0.0.1", Port: 104, TLS: true}, p.server.global(p.caFile))
	if err != nil {
		t.Fatal(err)
	}
	insecure := map[uint16]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.ID] = true
	}
	for name, c := range map[string]*tls.Config{"Server": srv, "Client": cli} {
		if c.MinVersion != tls.VersionTLS12 || c.MaxVersion != 0 {
			t.Errorf("%s: versions %#x..%#x, want TLS 1.2..highest", name, c.MinVersion, c.MaxVersion)
		}
		if len(c.CipherSuites) == 0 {
			t.Errorf("%s: no explicit cipher suites (Go's defaults include CBC)", name)
		}
		for _, id := range c.CipherSuites {
			n := tls.CipherSuiteName(id)
			aead := strings.Contains(n, "_GCM_") || strings.Contains(n, "CHACHA20_POLY1305")
			if insecure[id] || !strings.HasPrefix(n, "TLS_ECDHE_") || !aead {
				t.Errorf("%s: suite %s is not ECDHE+AEAD", name, n)
			}
		}
		want := []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}
		if !slices.Equal(c.CurvePreferences, want) {
			t.Errorf("%s: curves %v, want %v", name, c.CurvePreferences, want)
		}
		if c.InsecureSkipVerify {
			t.Errorf("%s: InsecureSkipVerify", name)
		}
	}
	if len(srv.Certificates) != 1 || srv.Certificates[0].Leaf.Subject.CommonName != "SHARDPACS" {
		t.Errorf("server certificate not loaded: %+v", srv.Certificates)
	}
	if cli.ServerName != "127.0.0.1" || cli.RootCAs == nil || len(cli.Certificates) != 1 {
		t.Errorf("client: ServerName %q, RootCAs %v, %d certificates", cli.ServerName, cli.RootCAs != nil, len(cli.Certificates))
	}
}

// TestServerClientAuth: tls.ca_file and tls.require_client_cert decide
// whether a client certificate is required, optional or not asked for.
func TestServerClientAuth(t *testing.T) {
	p := pki(t)
	yes, no := true, false
	tests := []struct {
		name string
		ca   string
		req  *bool
		want tls.ClientAuthType
	}{
		{"no CA", "", nil, tls.NoClientCert},
		{"no CA, not required", "", &no, tls.NoClientCert},
		{"CA", p.caFile, nil, tls.RequireAndVerifyClientCert},
		{"CA, required", p.caFile, &yes, tls.RequireAndVerifyClientCert},
		{"CA, optional", p.caFile, &no, tls.VerifyClientCertIfGiven},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := p.server.global(tt.ca)
			cfg.RequireClientCert = tt.req
			c, err := Server(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientAuth != tt.want || (tt.ca != "") != (c.ClientCAs != nil) {
				t.Errorf("ClientAuth = %v, ClientCAs set %t; want %v", c.ClientAuth, c.ClientCAs != nil, tt.want)
			}
		})
	}
	cfg := p.server.global("")
	cfg.RequireClientCert = &yes
	if _, err := Server(cfg); err == nil || !strings.Contains(err.Error(), "tlsconf: tls.require_client_cert:") {
		t.Errorf("require_client_cert without ca_file: %v", err)
	}
}

// TestLoadErrors: each bad file gives an error naming its setting.
func TestLoadErrors(t *testing.T) {
	p := pki(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	missing := filepath.Join(dir, "missing.pem")
	garbage := write("garbage.pem", "not PEM at all\n")
	badBlock := write("badblock.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	keyOnly := write("keyonly.pem", read(p.mod1.keyFile))
	combined := write("combined.pem", read(p.server.keyFile)+read(p.server.certFile))
	big := write("big.pem", strings.Repeat("x", maxPEMFile+1))
	srv := p.server
	tests := []struct {
		name string
		cfg  config.TLS
		want string
		is   error
	}{
		{"no cert", config.TLS{KeyFile: srv.keyFile}, "tlsconf: tls.cert_file and tls.key_file must both be set", nil},
		{"cert missing", config.TLS{CertFile: missing, KeyFile: srv.keyFile}, "tlsconf: tls.cert_file: open ", fs.ErrNotExist},
		{"key missing", config.TLS{CertFile: srv.certFile, KeyFile: missing}, "tlsconf: tls.key_file: open ", fs.ErrNotExist},
		{"cert garbage", config.TLS{CertFile: garbage, KeyFile: srv.keyFile}, "tlsconf: tls.cert_file: " + garbage + ": no PEM certificate found", nil},
		{"cert bad block", config.TLS{CertFile: badBlock, KeyFile: srv.keyFile}, "tlsconf: tls.cert_file: " + badBlock + ": PEM block 1:", nil},
		{"cert is a key", config.TLS{CertFile: keyOnly, KeyFile: srv.keyFile}, "tlsconf: tls.cert_file: " + keyOnly + ": no PEM certificate found", nil},
		{"key garbage", config.TLS{CertFile: srv.certFile, KeyFile: garbage}, "tlsconf: tls.cert_file/tls.key_file:", nil},
		{"key mismatch", config.TLS{CertFile: srv.certFile, KeyFile: p.mod1.keyFile}, "tlsconf: tls.cert_file/tls.key_file:", nil},
		{"cert too big", config.TLS{CertFile: big, KeyFile: srv.keyFile}, "tlsconf: tls.cert_file: " + big + ": larger than", nil},
		{"expired", config.TLS{CertFile: p.expired.certFile, KeyFile: p.expired.keyFile}, "tlsconf: tls.cert_file: " + p.expired.certFile + ": certificate expired on", nil},
		{"CA missing", config.TLS{CertFile: srv.certFile, KeyFile: srv.keyFile, CAFile: missing}, "tlsconf: tls.ca_file: open ", fs.ErrNotExist},
		{"CA garbage", config.TLS{CertFile: srv.certFile, KeyFile: srv.keyFile, CAFile: garbage}, "tlsconf: tls.ca_file: " + garbage + ": no PEM certificate found", nil},
		{"CA bad block", config.TLS{CertFile: srv.certFile, KeyFile: srv.keyFile, CAFile: badBlock}, "tlsconf: tls.ca_file: " + badBlock + ": PEM block 1:", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Server(tt.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Server: %v\nwant prefix %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Server: %v does not wrap %v", err, tt.is)
			}
			if tt.cfg.CertFile != "" && tt.cfg.KeyFile != "" {
				_, err = Client(config.Peer{AETitle: "P", Host: "h", Port: 1, TLS: true}, tt.cfg)
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Errorf("Client: %v\nwant prefix %q", err, tt.want)
				}
			}
		})
	}
	// A key and certificate in one file serve as both settings.
	if _, err := Server(config.TLS{CertFile: combined, KeyFile: combined}); err != nil {
		t.Errorf("combined key+certificate file: %v", err)
	}
	// Validity is checked against the clock.
	if _, err := server(srv.global(""), time.Now().Add(-48*time.Hour)); err == nil || !strings.Contains(err.Error(), "not valid before") {
		t.Errorf("not yet valid: %v", err)
	}
	if _, err := server(srv.global(""), time.Now().Add(48*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired on") {
		t.Errorf("expired: %v", err)
	}
}

// TestClientConfig: peer settings reach the client configuration.
func TestClientConfig(t *testing.T) {
	p := pki(t)
	c, err := Client(config.Peer{AETitle: "D", Host: "pacs.example.org", Port: 2762, TLS: true}, config.TLS{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerName != "pacs.example.org" || c.RootCAs != nil || len(c.Certificates) != 0 || c.VerifyConnection != nil {
		t.Errorf("no-certificate client: %+v", c)
	}
	if _, err := Client(config.Peer{AETitle: "D", TLS: true}, p.server.global(p.caFile)); err == nil || !strings.Contains(err.Error(), "tlsconf: peers (D).host") {
		t.Errorf("no host: %v", err)
	}
	if _, err := Client(config.Peer{AETitle: "D", Host: "h", Port: 1, CertSHA256: "12"}, config.TLS{}); err == nil ||
		!strings.Contains(err.Error(), "tlsconf: peers (D).cert_sha256:") {
		t.Errorf("bad pin: %v", err)
	}
	c, err = Client(config.Peer{AETitle: "D", Host: "h", Port: 1, CertSubject: "MOD1"}, config.TLS{})
	if err != nil || c.VerifyConnection == nil {
		t.Fatalf("pinned peer: %v, VerifyConnection set %t", err, c != nil && c.VerifyConnection != nil)
	}
	if err := c.VerifyConnection(tls.ConnectionState{}); !errors.Is(err, ErrPeerMismatch) {
		t.Errorf("no certificate: %v", err)
	}
	if err := c.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.mod2uri.cert}}); !errors.Is(err, ErrPeerMismatch) {
		t.Errorf("other certificate: %v", err)
	}
	if err := c.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.mod1.cert}}); err != nil {
		t.Errorf("pinned certificate: %v", err)
	}
}
