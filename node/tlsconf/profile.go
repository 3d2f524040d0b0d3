package tlsconf

import "crypto/tls"

// minVersion is the lowest protocol version we speak (BCP 195, RFC 9325
// 3.1.1: TLS 1.2 at least; TLS 1.0 and 1.1 are refused with
// protocol_version).
const minVersion = tls.VersionTLS12

// cipherSuites are the TLS 1.2 suites we accept, strongest first: ECDHE
// key exchange (forward secrecy) with an AEAD cipher only (RFC 9325 4.2).
// TLS 1.3 suites are not configurable in crypto/tls and are all AEAD.
func cipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	}
}

// curves are the key exchange groups in preference order (RFC 9325 4.2.1:
// X25519, P-256; P-384 for peers that insist), with the post-quantum
// hybrid X25519MLKEM768 first for peers that have it (TLS 1.3 only).
func curves() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}
}

// base returns the profile shared by the server and client configurations.
func base() *tls.Config {
	return &tls.Config{
		MinVersion:       minVersion,
		CipherSuites:     cipherSuites(),
		CurvePreferences: curves(),
	}
}
