package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
)

// Test PKI, made at run time (no key material in the repository) once per
// test binary: generating RSA keys is the slow part.
//
//	ca       "shardpacs test CA" (ECDSA P-256)
//	rogue    "rogue CA", trusted by nobody
//	server   CN SHARDPACS, RSA 2048 (so that ECDHE-RSA suites apply),
//	         SAN IP 127.0.0.1 + DNS localhost, server and client auth
//	mod1     CN MOD1, client and server auth (also a TLS storescp)
//	mod2uri  CN "device 2", URI SAN dicom-ae:MOD%202 ("MOD 2")
//	expired  CN MOD1, expired an hour ago
//	foreign  CN MOD1, SAN IP 127.0.0.1, issued by the rogue CA
//	self     CN MOD1, self-signed
//	twocn    CN MOD1 and CN MOD3 in one subject
type testPKI struct {
	dir                                                  string
	caFile, rogueCAFile                                  string
	server, mod1, mod2uri, expired, foreign, self, twocn keyPair
	caCert                                               *x509.Certificate
}

// keyPair is a PEM certificate and key on disk and the parsed leaf.
type keyPair struct {
	certFile, keyFile string
	cert              *x509.Certificate
	tls               tls.Certificate
}

// global returns a config.TLS that uses kp as node certificate.
func (kp keyPair) global(caFile string) config.TLS {
	return config.TLS{CertFile: kp.certFile, KeyFile: kp.keyFile, CAFile: caFile}
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pkiVal != nil {
		os.RemoveAll(pkiVal.dir)
	}
	os.Exit(code)
}

// pki returns the shared test PKI.
func pki(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = newPKI() })
	if pkiErr != nil {
		t.Fatalf("test PKI: %v", pkiErr)
	}
	return pkiVal
}

type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newPKI() (*testPKI, error) {
	dir, err := os.MkdirTemp("", "tlsconf-pki-")
	if err != nil {
		return nil, err
	}
	p := &testPKI{dir: dir}
	now := time.Now()
	ca, caFile, err := makeCA(dir, "ca", "shardpacs test CA")
	if err != nil {
		return nil, err
	}
	rogue, rogueFile, err := makeCA(dir, "rogue", "rogue CA")
	if err != nil {
		return nil, err
	}
	p.caFile, p.rogueCAFile, p.caCert = caFile, rogueFile, ca.cert
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	uri, _ := url.Parse("dicom-ae:MOD%202")
	for _, s := range []struct {
		dst  *keyPair
		name string
		tmpl x509.Certificate
		rsa  bool
		by   *issuer
	}{
		{&p.server, "server", x509.Certificate{Subject: pkix.Name{CommonName: "SHARDPACS"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}, true, &ca},
		{&p.mod1, "mod1", x509.Certificate{Subject: pkix.Name{CommonName: "MOD1"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, false, &ca},
		{&p.mod2uri, "mod2uri", x509.Certificate{Subject: pkix.Name{CommonName: "device 2"}, URIs: []*url.URL{uri}}, false, &ca},
		{&p.expired, "expired", x509.Certificate{Subject: pkix.Name{CommonName: "MOD1"},
			NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}, false, &ca},
		{&p.foreign, "foreign", x509.Certificate{Subject: pkix.Name{CommonName: "MOD1"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, false, &rogue},
		{&p.self, "self", x509.Certificate{Subject: pkix.Name{CommonName: "MOD1"}}, false, nil},
		{&p.twocn, "twocn", x509.Certificate{Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidCommonName, Value: "MOD1"}, {Type: oidCommonName, Value: "MOD3"}}}}, false, &ca},
	} {
		tmpl := s.tmpl
		if tmpl.NotAfter.IsZero() {
			tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		}
		tmpl.ExtKeyUsage = both
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		kp, err := issue(dir, s.name, &tmpl, s.rsa, s.by)
		if err != nil {
			return nil, err
		}
		*s.dst = kp
	}
	return p, nil
}

var serial int64

func nextSerial() *big.Int { serial++; return big.NewInt(serial) }

func newKey(useRSA bool) (crypto.Signer, error) {
	if useRSA {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func makeCA(dir, name, cn string) (issuer, string, error) {
	key, err := newKey(false)
	if err != nil {
		return issuer{}, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(72 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return issuer{}, "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return issuer{}, "", err
	}
	file := filepath.Join(dir, name+".pem")
	return issuer{cert, key}, file, writePEM(file, "CERTIFICATE", der)
}

// issue signs tmpl with by (self-signed when nil) and writes
// <name>.crt and <name>.key (PKCS #8).
func issue(dir, name string, tmpl *x509.Certificate, useRSA bool, by *issuer) (keyPair, error) {
	key, err := newKey(useRSA)
	if err != nil {
		return keyPair{}, err
	}
	tmpl.SerialNumber = nextSerial()
	parent, signer := tmpl, key
	if by != nil {
		parent, signer = by.cert, by.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return keyPair{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return keyPair{}, err
	}
	kp := keyPair{certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key"), cert: cert,
		tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}
	if err := writePEM(kp.certFile, "CERTIFICATE", der); err != nil {
		return keyPair{}, err
	}
	return kp, writePEM(kp.keyFile, "PRIVATE KEY", kder)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
