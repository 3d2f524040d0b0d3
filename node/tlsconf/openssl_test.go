package tlsconf

import (
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// TestOpenSSLClientHellos: hellos that BCP 195 forbids, sent by OpenSSL's
// s_client, are refused with the expected alert (adversarial row 40); the
// AEAD suites of TLS 1.2 and TLS 1.3 are accepted (so the refusals are
// about the protocol, not the set-up).
func TestOpenSSLClientHellos(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	p := pki(t)
	ts := startServer(t, serverConfig(p), nil)
	// Old protocol versions need security level 0 for OpenSSL 3 to offer
	// them at all.
	old := "DEFAULT:@SECLEVEL=0"
	tests := []struct {
		name   string
		args   []string
		ok     bool
		output string // substring of s_client's output
		server string // substring of the server-side cause
	}{
		{"TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, true,
			"Cipher is ECDHE-RSA-AES128-GCM-SHA256", ""},
		{"TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305", []string{"-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"}, true,
			"Cipher is ECDHE-RSA-CHACHA20-POLY1305", ""},
		{"TLS 1.3", []string{"-tls1_3"}, true, "New, TLSv1.3, Cipher is TLS_", ""},
		{"TLS 1.1 hello", []string{"-tls1_1", "-cipher", old}, false, "alert protocol version", "client offered only unsupported versions"},
		{"TLS 1.0 hello", []string{"-tls1", "-cipher", old}, false, "alert protocol version", "client offered only unsupported versions"},
		{"TLS 1.2 CBC only", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"}, false,
			"alert handshake failure", "no cipher suite supported by both client and server"},
		{"TLS 1.2 CBC-SHA256/384 only", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384"}, false,
			"alert handshake failure", "no cipher suite supported by both client and server"},
		{"TLS 1.2 static RSA key exchange", []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384"}, false,
			"alert handshake failure", "no cipher suite supported by both client and server"},
		{"TLS 1.2 DHE only", []string{"-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"}, false,
			"alert handshake failure", "no cipher suite supported by both client and server"},
		{"downgrade with TLS_FALLBACK_SCSV", []string{"-tls1_2", "-fallback_scsv", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, false,
			"alert inappropriate fallback", "inappropriate protocol fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.rec.reset()
			args := append([]string{"s_client", "-connect", ts.addr, "-CAfile", p.caFile,
				"-cert", p.mod1.certFile, "-key", p.mod1.keyFile, "-verify_return_error"}, tt.args...)
			out, err := runTool(t, "openssl", args...)
			if (err == nil) != tt.ok {
				t.Fatalf("openssl s_client exit %v, want success %t\n%s", err, tt.ok, out)
			}
			if !strings.Contains(out, tt.output) {
				t.Errorf("s_client output lacks %q:\n%s", tt.output, out)
			}
			if tt.server != "" {
				ts.rec.waitAborted(t, tt.server)
			}
		})
	}
}
