package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// handshake connects a Go TLS client to addr and, the handshake done,
// sends an A-ASSOCIATE-RQ from MOD1 and reads the first byte of the answer:
// in TLS 1.3 the server judges the client certificate after the client's
// handshake has returned, so its alert arrives on that read. It returns
// the first error, or an error when the answer is not an A-ASSOCIATE-AC.
func handshake(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := tls.Client(raw, cfg)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return c.ConnectionState(), err
	}
	if _, err := c.Write(associateRQ(t, "MOD1")); err != nil {
		return c.ConnectionState(), err
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return c.ConnectionState(), err
	}
	if b[0] != 0x02 {
		return c.ConnectionState(), fmt.Errorf("PDU type %#x, want A-ASSOCIATE-AC", b[0])
	}
	return c.ConnectionState(), nil
}

// associateRQ encodes an A-ASSOCIATE-RQ for Verification from calling.
func associateRQ(t *testing.T, calling string) []byte {
	t.Helper()
	rq, err := pdu.Encode(&pdu.AssociateRQ{
		ProtocolVersion: pdu.ProtocolVersion1, CalledAETitle: testAETitle, CallingAETitle: calling,
		ApplicationContext: pdu.DICOMApplicationContext,
		PresentationContexts: []pdu.PresentationContextRQ{{ID: 1, AbstractSyntax: uid.VerificationSOPClass,
			TransferSyntaxes: []string{uid.ImplicitVRLittleEndian}}},
		UserInfo: pdu.UserInfo{MaxLength: 16384, ImplementationClassUID: "1.2.826.0.1.3680043.10.1381.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rq
}

// always makes a client present kp whatever CAs the server names (a Go
// client otherwise sends no certificate the server's CAs did not issue).
func always(kp keyPair) func(*tls.Config) {
	return func(c *tls.Config) {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp.tls, nil }
	}
}

// TestHandshakeRefusals: the alerts of adversarial row 40, seen by Go
// clients (the exact alert is visible here; DCMTK only says "failed").
func TestHandshakeRefusals(t *testing.T) {
	p := pki(t)
	ts := startServer(t, serverConfig(p), nil)
	roots := x509.NewCertPool()
	roots.AddCert(p.caCert)
	cfg := func(kp *keyPair, mutate func(*tls.Config)) *tls.Config {
		c := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
		if kp != nil {
			c.Certificates = []tls.Certificate{kp.tls}
		}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	tls12 := func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }
	tests := []struct {
		name   string
		cfg    *tls.Config
		alert  string // "" = accepted; else the client's "remote error: tls: ..."
		server string // substring of the server-side cause
	}{
		{"good, TLS 1.3", cfg(&p.mod1, nil), "", ""},
		{"good, TLS 1.2 AES-GCM", cfg(&p.mod1, func(c *tls.Config) {
			tls12(c)
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		}), "", ""},
		{"good, TLS 1.2 ChaCha20", cfg(&p.mod1, func(c *tls.Config) {
			tls12(c)
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
		}), "", ""},
		{"good, TLS 1.2 P-384 only", cfg(&p.mod1, func(c *tls.Config) {
			tls12(c)
			c.CurvePreferences = []tls.CurveID{tls.CurveP384}
		}), "", ""},
		{"no certificate, TLS 1.3", cfg(nil, nil), "certificate required", "client didn't provide a certificate"},
		{"no certificate, TLS 1.2", cfg(nil, tls12), "handshake failure", "client didn't provide a certificate"},
		{"wrong CA", cfg(nil, always(p.foreign)), "unknown certificate authority", "certificate signed by unknown authority"},
		{"wrong CA, TLS 1.2", cfg(nil, func(c *tls.Config) { tls12(c); always(p.foreign)(c) }), "unknown certificate authority", "certificate signed by unknown authority"},
		{"self-signed", cfg(nil, always(p.self)), "unknown certificate authority", "certificate signed by unknown authority"},
		{"expired", cfg(&p.expired, nil), "expired certificate", "certificate has expired"},
		{"TLS 1.1", cfg(&p.mod1, func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		}), "protocol version not supported", "unsupported versions"},
		{"TLS 1.0", cfg(&p.mod1, func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
		}), "protocol version not supported", "unsupported versions"},
		{"TLS 1.2 CBC only", cfg(&p.mod1, func(c *tls.Config) {
			tls12(c)
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
				tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}
		}), "handshake failure", "no cipher suite supported by both client and server"},
		{"TLS 1.2 static RSA with GCM", cfg(&p.mod1, func(c *tls.Config) {
			tls12(c)
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}
		}), "handshake failure", "no cipher suite supported by both client and server"},
		{"TLS 1.2 3DES", cfg(&p.mod1, func(c *tls.Config) {
			tls12(c)
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}
		}), "handshake failure", "no cipher suite supported by both client and server"},
		{"TLS 1.3 P-521 only", cfg(&p.mod1, func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP521} }),
			"handshake failure", "no key exchanges supported by both client and server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.rec.reset()
			st, err := handshake(t, ts.addr, tt.cfg)
			if tt.alert == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if n := tls.CipherSuiteName(st.CipherSuite); st.Version == tls.VersionTLS12 &&
					!strings.Contains(n, "_GCM_") && !strings.Contains(n, "CHACHA20") {
					t.Errorf("negotiated %s", n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "remote error: tls: "+tt.alert) {
				t.Fatalf("client error %v, want the alert %q", err, tt.alert)
			}
			ts.rec.waitAborted(t, tt.server)
		})
	}
}

// TestPlaintextOnTLSPort: an A-ASSOCIATE-RQ in clear to the TLS port gets
// no DICOM answer: the server closes (after at most a TLS alert record).
func TestPlaintextOnTLSPort(t *testing.T) {
	p := pki(t)
	ts := startServer(t, serverConfig(p), nil)
	rq := associateRQ(t, "MOD1")
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(rq); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset by peer") {
		t.Fatalf("reading the answer: %v (the server did not close)", err)
	}
	// Anything sent back must be TLS records (alert 0x15 or handshake 0x16),
	// never a PDU (A-ASSOCIATE-AC 0x02, -RJ 0x03, A-ABORT 0x07).
	t.Logf("answer: % x", got)
	if len(got) > 0 && got[0] != 0x15 {
		t.Errorf("answer to a plaintext A-ASSOCIATE-RQ: % x", got[:min(len(got), 16)])
	}
	ts.rec.waitAborted(t, "tls: first record does not look like a TLS handshake")
	ts.rec.mu.Lock()
	defer ts.rec.mu.Unlock()
	if len(ts.rec.accepted)+len(ts.rec.rejected) != 0 {
		t.Errorf("plaintext request reached association negotiation")
	}
}

// TestWrongAEBytes: a valid certificate of MOD1 used with calling AE MOD2
// (adversarial row 3) gets exactly A-ASSOCIATE-RJ (1,1,3) on the wire;
// MOD1 itself is accepted, and dimse.Client sees the same rejection.
func TestWrongAEBytes(t *testing.T) {
	p := pki(t)
	ts := startServer(t, serverConfig(p), nil)
	tc, err := Client(configPeer(ts.addr), p.mod1.global(p.caFile))
	if err != nil {
		t.Fatal(err)
	}
	assoc := func(calling string) []byte {
		rq := associateRQ(t, calling)
		c, err := tls.Dial("tcp", ts.addr, tc)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(rq); err != nil {
			t.Fatal(err)
		}
		hdr := make([]byte, 6)
		if _, err := io.ReadFull(c, hdr); err != nil {
			t.Fatalf("calling %s: %v", calling, err)
		}
		return hdr
	}
	if h := assoc("MOD1"); h[0] != 0x02 {
		t.Errorf("MOD1 with its own certificate: PDU type %#x, want A-ASSOCIATE-AC", h[0])
	}

	c, err := tls.Dial("tcp", ts.addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	rq := associateRQ(t, "MOD2")
	if _, err := c.Write(rq); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	// PS3.8 9.3.4: type 03, reserved, length 4, reserved, result 1
	// (permanent), source 1 (service-user), reason 3 (calling AE title not
	// recognized).
	want := []byte{0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x03}
	if !bytes.Equal(got, want) {
		t.Errorf("answer to MOD1's certificate as MOD2: % x, want % x", got, want)
	}
	c.Close() // the server reports the rejection once the requestor closed (PS3.8 Sta13)
	ts.rec.waitFor(t, "the binding refusal", func() bool {
		return len(ts.rec.bindErrs) == 1 && errors.Is(ts.rec.bindErrs[0], ErrAEMismatch) &&
			len(ts.rec.rejected) == 1 && errors.Is(ts.rec.rejected[0], dimse.ErrRejectedByHook)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = (&dimse.Client{AETitle: "MOD2", TLSConfig: tc}).Dial(ctx, ts.addr, testAETitle, []dimse.ContextProposal{dimse.EchoContext()})
	var rj *pdu.AssociateRJ
	if !errors.As(err, &rj) || *rj != *rejectCallingAE() {
		t.Errorf("dimse.Client as MOD2 with MOD1's certificate: %v, want RJ (1,1,3)", err)
	}
}

// TestGoClientEchoStore: dimse.Client configured by Client (the MOD1 side)
// echoes and stores over mutual TLS.
func TestGoClientEchoStore(t *testing.T) {
	p := pki(t)
	ts := startServer(t, serverConfig(p), nil)
	tc, err := Client(configPeer(ts.addr), p.mod1.global(p.caFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	props := append([]dimse.ContextProposal{dimse.EchoContext()},
		dimse.StorageContexts([]string{uid.SecondaryCaptureImageStorage}, nil, false)...)
	cc, err := (&dimse.Client{AETitle: "MOD1", TLSConfig: tc}).Dial(ctx, ts.addr, testAETitle, props)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Echo(ctx); err != nil {
		t.Fatalf("Echo: %v", err)
	}
	if _, err := cc.Store(ctx, uid.SecondaryCaptureImageStorage, testSOPInstance, uid.ExplicitVRLittleEndian,
		bytes.NewReader(testDataSet())); err != nil {
		t.Fatalf("Store: %v", err)
	}
	if err := cc.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	ts.rec.mu.Lock()
	defer ts.rec.mu.Unlock()
	if len(ts.rec.stored) != 1 || len(ts.rec.accepted) != 1 || ts.rec.accepted[0].Version != tls.VersionTLS13 {
		t.Errorf("stored %v; accepted %d associations", ts.rec.stored, len(ts.rec.accepted))
	}
}
