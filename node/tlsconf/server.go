package tlsconf

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/shardpacs/shardpacs/config"
)

// Server returns the configuration of the DICOM TLS listener (PS3.15 B.1,
// BCP 195 profile: see the package documentation), to be used with
// tls.NewListener; dimse.Server handshakes each connection before the
// A-ASSOCIATE-RQ.
//
// cfg.CertFile and cfg.KeyFile (PEM) are loaded now: errors name the
// setting (tls.cert_file, tls.key_file) and the file; a certificate that
// is expired or not yet valid is an error too. When cfg.CAFile is set, its
// PEM certificates are the only roots for client certificates, and
// cfg.ClientCertRequired decides between RequireAndVerifyClientCert (a
// missing certificate fails the handshake) and VerifyClientCertIfGiven;
// without a CA file no client certificate is asked for. Certificates are
// not reloaded: restart to pick up new files.
//
// The returned *tls.Config is the caller's; it must not be modified once in
// use (crypto/tls rules).
func Server(cfg config.TLS) (*tls.Config, error) {
	return server(cfg, time.Now())
}

func server(cfg config.TLS, now time.Time) (*tls.Config, error) {
	cert, err := loadKeyPair(cfg.CertFile, cfg.KeyFile, now)
	if err != nil {
		return nil, err
	}
	c := base()
	c.Certificates = []tls.Certificate{cert}
	switch {
	case cfg.CAFile != "":
		if c.ClientCAs, err = loadCAPool(cfg.CAFile); err != nil {
			return nil, err
		}
		c.ClientAuth = tls.VerifyClientCertIfGiven
		if cfg.ClientCertRequired() {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
	case cfg.ClientCertRequired():
		return nil, errors.New("tlsconf: tls.require_client_cert: needs tls.ca_file to verify client certificates")
	}
	return c, nil
}
