// Package tlsconf builds the crypto/tls configurations of DICOM TLS (PS3.15
// Annex B.1, "The Basic TLS Secure Transport Connection Profile", with the
// BCP 195 profile of PS3.15 B.9/B.10) and binds a TLS client certificate to
// the Calling AE Title of the association it carries.
//
// # Profile
//
// The protocol choices are fixed, not configurable: TLS 1.2 minimum, TLS 1.3
// preferred (Go negotiates the highest common version; a client that
// signals a fallback with TLS_FALLBACK_SCSV below our maximum gets the
// inappropriate_fallback alert, RFC 7507); TLS 1.2 cipher suites ECDHE with
// AES-GCM or ChaCha20-Poly1305 only (AEAD, forward secret: no CBC, no
// static-RSA key exchange, no RC4/3DES); key exchange groups X25519MLKEM768
// (when both sides have it), X25519, P-256, P-384. crypto/tls never
// renegotiates as a server and never compresses. TLS 1.3 suites are all
// AEAD and are not configurable in crypto/tls.
//
// # Certificates and the AE binding
//
// [Server] serves the node certificate (config tls.cert_file/key_file) and,
// when a CA bundle (tls.ca_file) is configured, requires and verifies client
// certificates against it (config.TLS.ClientCertRequired). The handshake
// itself refuses a missing, expired or foreign-CA certificate with a TLS
// alert; nothing DICOM is exchanged.
//
// A verified certificate proves who holds it, not which AE title it may
// use: [CheckAEBinding] (called from the association decision hook) says
// whether it may claim the A-ASSOCIATE-RQ's Calling AE Title. By default the
// certificate must name the AE title (Subject CN, or a URI SAN
// "dicom-ae:<AE title>"); a peer entry's cert_subject / cert_sha256 replace
// that rule. A refusal is answered with A-ASSOCIATE-RJ (1,1,3)
// calling-AE-not-recognized (PS3.8 9.3.4) and is a Security Alert for the
// audit trail (PS3.15 A.5, EventTypeCode 110126 "Node Authentication").
//
// [Client] is the configuration of an outgoing association to a peer with
// tls = true (C-MOVE destinations): the CA bundle (or the system roots)
// verifies the peer's server certificate against its host, our certificate
// is offered for mutual TLS, and the peer's cert_subject / cert_sha256 are
// checked as well.
//
// Nothing in this package logs; errors are prefixed "tlsconf: " and name
// the setting at fault.
package tlsconf
