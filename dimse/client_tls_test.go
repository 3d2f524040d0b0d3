package dimse

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it, made at run time (no key material in the repository).
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "shardpacs test SCP"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// TestClientTLS runs C-ECHO over TLS (PS3.15 B.1), the server name taken
// from the address, and checks that an untrusted server is refused.
func TestClientTLS(t *testing.T) {
	checkGoroutines(t)
	cert, pool := selfSigned(t)
	l := tls.NewListener(testutil.Listen(t), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	addr := startFakeSCPOn(t, l, nil, echoServe)
	ctx := testCtx(t, 10*time.Second)

	cc, err := (&Client{TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}).Dial(ctx, addr, "X", []ContextProposal{EchoContext()})
	if err != nil {
		t.Fatal(err)
	}
	if cc.info.TLS == nil || cc.info.TLS.Version < tls.VersionTLS12 {
		t.Errorf("no TLS state recorded: %+v", cc.info.TLS)
	}
	if err := cc.Echo(ctx); err != nil {
		t.Errorf("Echo over TLS: %v", err)
	}
	if err := cc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	_, err = (&Client{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}).Dial(ctx, addr, "X", []ContextProposal{EchoContext()})
	var uerr x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &uerr) {
		t.Errorf("Dial to an untrusted server = %v, want x509.UnknownAuthorityError", err)
	}
}
