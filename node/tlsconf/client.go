package tlsconf

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/shardpacs/shardpacs/config"
)

// Client returns the configuration of an outgoing DICOM TLS association
// to peer (a C-MOVE destination with tls = true), for dimse.Client's
// TLSConfig. Same protocol profile as [Server]. The peer's server
// certificate is verified against global.CAFile (the system roots when
// empty) and peer.Host (DNS name or IP address SAN); when the peer sets
// cert_subject / cert_sha256, its leaf certificate must match them as well
// (errors wrap ErrPeerMismatch). global.CertFile/KeyFile, when set, are
// offered as our client certificate (mutual TLS); load errors name the
// setting.
//
// The files are read on every call: call it once per peer and reuse the
// result (it must not be modified once in use).
func Client(peer config.Peer, global config.TLS) (*tls.Config, error) {
	return client(peer, global, time.Now())
}

func client(peer config.Peer, global config.TLS, now time.Time) (*tls.Config, error) {
	if peer.Host == "" {
		return nil, fmt.Errorf("tlsconf: peers (%s).host: needed for a TLS connection", peer.AETitle)
	}
	if peer.CertSHA256 != "" {
		if _, err := config.ParseCertSHA256(peer.CertSHA256); err != nil {
			return nil, fmt.Errorf("tlsconf: peers (%s).cert_sha256: %w", peer.AETitle, err)
		}
	}
	c := base()
	c.ServerName = peer.Host
	if global.CertFile != "" || global.KeyFile != "" {
		cert, err := loadKeyPair(global.CertFile, global.KeyFile, now)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if global.CAFile != "" {
		pool, err := loadCAPool(global.CAFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if peer.CertSubject != "" || peer.CertSHA256 != "" {
		p := peer // a copy: the closure must not see later changes
		c.VerifyConnection = func(st tls.ConnectionState) error {
			if len(st.PeerCertificates) == 0 {
				return fmt.Errorf("%w: %s presented no certificate", ErrPeerMismatch, p.AETitle)
			}
			if err := matchPins(st.PeerCertificates[0], &p); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrPeerMismatch, p.AETitle, err)
			}
			return nil
		}
	}
	return c, nil
}
