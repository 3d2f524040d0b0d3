package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net/url"
	"strings"

	"github.com/shardpacs/shardpacs/config"
)

// URIScheme is the scheme of a URI Subject Alternative Name that names an
// AE title: "dicom-ae:STORESCU", with characters outside the URI
// unreserved set percent-encoded ("dicom-ae:CT%201" for "CT 1"). It is our
// convention (DICOM defines none); the Subject CN works as well.
const URIScheme = "dicom-ae"

// oidCommonName is the X.520 commonName attribute type (2.5.4.3).
var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// CheckAEBinding reports whether the client certificate of a TLS
// connection may claim callingAE, the Calling AE Title of its
// A-ASSOCIATE-RQ (space padding is ignored). peer is the configuration
// entry for callingAE, nil for an unknown caller. A non-nil error means:
// answer A-ASSOCIATE-RJ (1,1,3) calling-AE-not-recognized (PS3.8 9.3.4)
// and raise a Security Alert; it wraps ErrNoCertificate or ErrAEMismatch.
//
// Only the leaf of a verified chain counts (state.VerifiedChains, filled
// when crypto/tls verified the certificate against tls.ca_file); a
// certificate that was presented but not verified is refused.
//
//   - peer sets cert_subject and/or cert_sha256: the leaf's Subject Common
//     Name must equal cert_subject, and the SHA-256 of its DER encoding must
//     equal cert_sha256 (each one that is set).
//   - otherwise: callingAE must equal the leaf's Subject Common Name (a
//     subject with several CNs has none) or the value of one of its URI
//     SANs "dicom-ae:<AE title>" (see [URIScheme]). Comparison is exact
//     (case-sensitive) after trimming callingAE's spaces.
//
// A TLS connection without any client certificate (tls.ca_file unset, or
// require_client_cert = false and the client sent none) has no identity to
// bind: it passes unless the peer pins a certificate. state == nil (plain
// TCP) is ErrNoCertificate: call this only for TLS associations.
//
// CheckAEBinding reads its arguments only; it is safe for concurrent use.
func CheckAEBinding(state *tls.ConnectionState, callingAE string, peer *config.Peer) error {
	ae := strings.Trim(callingAE, " ")
	if state == nil {
		return fmt.Errorf("%w: not a TLS connection", ErrNoCertificate)
	}
	pinned := peer != nil && (peer.CertSubject != "" || peer.CertSHA256 != "")
	var leaf *x509.Certificate
	if len(state.VerifiedChains) > 0 && len(state.VerifiedChains[0]) > 0 {
		leaf = state.VerifiedChains[0][0]
	}
	switch {
	case leaf == nil && len(state.PeerCertificates) > 0:
		return fmt.Errorf("%w: calling AE %q presented a certificate that was not verified", ErrNoCertificate, ae)
	case leaf == nil && pinned:
		return fmt.Errorf("%w: calling AE %q has a pinned certificate but presented none", ErrNoCertificate, ae)
	case leaf == nil:
		return nil
	case pinned:
		if err := matchPins(leaf, peer); err != nil {
			return fmt.Errorf("%w: calling AE %q: %v", ErrAEMismatch, ae, err)
		}
		return nil
	}
	if ae != "" && namesAE(leaf, ae) {
		return nil
	}
	cn, _ := commonName(leaf)
	return fmt.Errorf("%w: calling AE %q, certificate CN %q has no matching CN or %s: URI SAN", ErrAEMismatch, ae, cn, URIScheme)
}

// namesAE reports whether the certificate names the AE title ae, by its
// single Subject CN or a dicom-ae: URI SAN.
func namesAE(leaf *x509.Certificate, ae string) bool {
	if cn, ok := commonName(leaf); ok && cn == ae {
		return true
	}
	for _, u := range leaf.URIs {
		if v, ok := aeFromURI(u); ok && v == ae {
			return true
		}
	}
	return false
}

// aeFromURI returns the AE title of a "dicom-ae:NAME" URI (scheme compared
// case-insensitively, NAME percent-decoded).
func aeFromURI(u *url.URL) (string, bool) {
	if u == nil || !strings.EqualFold(u.Scheme, URIScheme) || u.Opaque == "" {
		return "", false
	}
	v, err := url.PathUnescape(u.Opaque)
	if err != nil {
		return "", false
	}
	return v, true
}

// commonName returns the Subject's commonName when there is exactly one
// (pkix.Name.CommonName silently keeps one of several).
func commonName(c *x509.Certificate) (string, bool) {
	var cn string
	n := 0
	for _, atv := range c.Subject.Names {
		if atv.Type.Equal(oidCommonName) {
			s, ok := atv.Value.(string)
			if !ok {
				return "", false
			}
			cn, n = s, n+1
		}
	}
	return cn, n == 1
}

// matchPins checks the peer's cert_subject and cert_sha256 against leaf.
// The error says which failed, for the log (no secret in it: certificates
// are public).
func matchPins(leaf *x509.Certificate, peer *config.Peer) error {
	if peer.CertSubject != "" {
		if cn, ok := commonName(leaf); !ok || cn != peer.CertSubject {
			return fmt.Errorf("certificate CN %q, want cert_subject %q", cn, peer.CertSubject)
		}
	}
	if peer.CertSHA256 != "" {
		want, err := config.ParseCertSHA256(peer.CertSHA256)
		if err != nil {
			return fmt.Errorf("cert_sha256: %v", err)
		}
		if got := sha256.Sum256(leaf.Raw); got != want {
			return fmt.Errorf("certificate SHA-256 %X does not match cert_sha256", got)
		}
	}
	return nil
}
