package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/config"
)

// verified is the state crypto/tls leaves after verifying kp against ca.
func verified(kp keyPair, ca *x509.Certificate) *tls.ConnectionState {
	return &tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{kp.cert},
		VerifiedChains:   [][]*x509.Certificate{{kp.cert, ca}},
	}
}

func fingerprint(c *x509.Certificate, colons bool) string {
	sum := sha256.Sum256(c.Raw)
	if !colons {
		return hex.EncodeToString(sum[:])
	}
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// TestCheckAEBinding covers adversarial row 3 (AE spoofing with a valid
// certificate of another AE) and the binding rules.
func TestCheckAEBinding(t *testing.T) {
	p := pki(t)
	mod1 := verified(p.mod1, p.caCert)
	mod2 := verified(p.mod2uri, p.caCert)
	tests := []struct {
		name  string
		state *tls.ConnectionState
		ae    string
		peer  *config.Peer
		want  error // nil, ErrNoCertificate or ErrAEMismatch
	}{
		{"plain TCP", nil, "MOD1", nil, ErrNoCertificate},
		{"CN equals AE", mod1, "MOD1", nil, nil},
		{"CN equals padded AE", mod1, "MOD1            ", &config.Peer{AETitle: "MOD1"}, nil},
		{"AE spoofing: MOD1's certificate as MOD2", mod1, "MOD2", &config.Peer{AETitle: "MOD2"}, ErrAEMismatch},
		{"case differs", mod1, "mod1", nil, ErrAEMismatch},
		{"prefix of CN", mod1, "MOD", nil, ErrAEMismatch},
		{"blank AE", mod1, "   ", nil, ErrAEMismatch},
		{"URI SAN, percent-decoded", mod2, "MOD 2", nil, nil},
		{"URI SAN still encoded", mod2, "MOD%202", nil, ErrAEMismatch},
		{"CN beside URI SAN", mod2, "device 2", nil, nil},
		{"two CNs name nobody", verified(p.twocn, p.caCert), "MOD1", nil, ErrAEMismatch},
		{"two CNs, second", verified(p.twocn, p.caCert), "MOD3", nil, ErrAEMismatch},
		{"presented, not verified", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.mod1.cert}}, "MOD1", nil, ErrNoCertificate},
		{"no certificate, no pin", &tls.ConnectionState{}, "ANY", &config.Peer{AETitle: "ANY"}, nil},
		{"no certificate, pinned", &tls.ConnectionState{}, "MOD1", &config.Peer{AETitle: "MOD1", CertSubject: "MOD1"}, ErrNoCertificate},
		{"cert_subject replaces AE rule", mod1, "SCANNER", &config.Peer{AETitle: "SCANNER", CertSubject: "MOD1"}, nil},
		{"cert_subject mismatch", mod2, "MOD 2", &config.Peer{AETitle: "MOD 2", CertSubject: "MOD 2"}, ErrAEMismatch},
		{"cert_sha256 hex", mod1, "X", &config.Peer{AETitle: "X", CertSHA256: fingerprint(p.mod1.cert, false)}, nil},
		{"cert_sha256 colons", mod1, "X", &config.Peer{AETitle: "X", CertSHA256: fingerprint(p.mod1.cert, true)}, nil},
		{"cert_sha256 of another certificate", mod1, "MOD1", &config.Peer{AETitle: "MOD1", CertSHA256: fingerprint(p.expired.cert, false)}, ErrAEMismatch},
		{"both pins match", mod1, "X", &config.Peer{AETitle: "X", CertSubject: "MOD1", CertSHA256: fingerprint(p.mod1.cert, true)}, nil},
		{"subject matches, fingerprint not", mod1, "MOD1", &config.Peer{AETitle: "MOD1", CertSubject: "MOD1", CertSHA256: fingerprint(p.foreign.cert, true)}, ErrAEMismatch},
		{"invalid pin fails closed", mod1, "MOD1", &config.Peer{AETitle: "MOD1", CertSHA256: "zz"}, ErrAEMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAEBinding(tt.state, tt.ae, tt.peer)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("CheckAEBinding = %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("CheckAEBinding = %v, want %v", err, tt.want)
			case err != nil && !strings.HasPrefix(err.Error(), "tlsconf: "):
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// FuzzCheckAEBinding: any certificate names and pins give an answer, never
// a panic, and an accepted unpinned AE title is literally named by the
// certificate.
func FuzzCheckAEBinding(f *testing.F) {
	f.Add("MOD1", "MOD1", "dicom-ae:MOD1", "", "")
	f.Add("MOD 2", "x", "dicom-ae:MOD%202", "", "")
	f.Add("A", "B", "DICOM-AE:A", "B", "")
	f.Add("A", "A", "dicom-ae:%zz", "", strings.Repeat("ab", 32))
	f.Add(" ", " ", "dicom-ae:%20", "", "")
	f.Add("A", "", "dicom-ae://A/", "", "")
	f.Fuzz(func(t *testing.T, ae, cn, uri, subject, sha string) {
		leaf := &x509.Certificate{Raw: []byte(cn + uri), Subject: pkix.Name{
			Names: []pkix.AttributeTypeAndValue{{Type: oidCommonName, Value: cn}}}}
		if u, err := url.Parse(uri); err == nil {
			leaf.URIs = []*url.URL{u}
		}
		st := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: [][]*x509.Certificate{{leaf}}}
		peer := &config.Peer{AETitle: ae, CertSubject: subject, CertSHA256: sha}
		err := CheckAEBinding(st, ae, peer)
		if err != nil && !errors.Is(err, ErrAEMismatch) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil && subject == "" && sha == "" {
			a := strings.Trim(ae, " ")
			named := a == cn
			for _, u := range leaf.URIs {
				if v, ok := aeFromURI(u); ok && v == a {
					named = true
				}
			}
			if a == "" || !named {
				t.Fatalf("AE %q accepted for CN %q, URI %q", ae, cn, uri)
			}
		}
		if err == nil && subject != "" && subject != cn {
			t.Fatalf("cert_subject %q accepted for CN %q", subject, cn)
		}
	})
}
