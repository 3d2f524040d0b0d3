package tlsconf

import "errors"

// Errors of [CheckAEBinding]. Either one means: answer the A-ASSOCIATE-RQ
// with A-ASSOCIATE-RJ (1,1,3) calling-AE-not-recognized (PS3.8 9.3.4).
var (
	// ErrNoCertificate: the connection carries no verified client
	// certificate (no TLS state, no certificate, or one that was not
	// verified against the CA bundle), yet the binding needs one.
	ErrNoCertificate = errors.New("tlsconf: no verified client certificate")
	// ErrAEMismatch: the verified certificate does not identify the
	// Calling AE Title (or does not match the peer's cert_subject /
	// cert_sha256).
	ErrAEMismatch = errors.New("tlsconf: client certificate does not match the calling AE title")
	// ErrPeerMismatch: a peer's server certificate does not match its
	// cert_subject / cert_sha256 (outgoing associations, [Client]).
	ErrPeerMismatch = errors.New("tlsconf: peer certificate does not match its cert_subject/cert_sha256")
)
