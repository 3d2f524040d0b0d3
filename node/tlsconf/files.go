package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxPEMFile caps a certificate, key or CA bundle file: larger files are
// refused unread.
const maxPEMFile = 4 << 20

// readPEMFile reads a PEM file named by setting, at most maxPEMFile bytes.
func readPEMFile(setting, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %s: %w", setting, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %s: %s: %w", setting, path, err)
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("tlsconf: %s: %s: larger than %d bytes", setting, path, maxPEMFile)
	}
	return b, nil
}

// loadKeyPair loads the node certificate chain and its private key
// (tls.cert_file, tls.key_file) and checks that the leaf is valid at now.
func loadKeyPair(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, errors.New("tlsconf: tls.cert_file and tls.key_file must both be set")
	}
	certPEM, err := readPEMFile("tls.cert_file", certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEMFile("tls.key_file", keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	if _, err := parseCertificates(certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconf: tls.cert_file: %s: %w", certFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconf: tls.cert_file/tls.key_file: %s, %s: %w", certFile, keyFile, err)
	}
	leaf := cert.Leaf // filled by X509KeyPair since Go 1.23
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("tlsconf: tls.cert_file: %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	switch {
	case now.After(leaf.NotAfter):
		return tls.Certificate{}, fmt.Errorf("tlsconf: tls.cert_file: %s: certificate expired on %s",
			certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return tls.Certificate{}, fmt.Errorf("tlsconf: tls.cert_file: %s: certificate not valid before %s",
			certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// loadCAPool loads the PEM bundle of tls.ca_file. Every block must be a
// parsable CERTIFICATE and there must be at least one: a bundle that would
// silently trust nothing (or not what the operator meant) is an error.
func loadCAPool(caFile string) (*x509.CertPool, error) {
	b, err := readPEMFile("tls.ca_file", caFile)
	if err != nil {
		return nil, err
	}
	certs, err := parseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: tls.ca_file: %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// parseCertificates decodes every CERTIFICATE PEM block of b. Text outside
// blocks and blocks of other types (a private key in a combined file) are
// skipped; an unparsable certificate, or none at all, is an error.
func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}
