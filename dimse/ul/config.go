package ul

import (
	"net"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Defaults applied to zero fields of AcceptConfig and RequestConfig. They are
// resolved when used and never written back into the caller's struct.
const (
	// DefaultMaxPDULength is the Maximum Length (PS3.8 D.1) we advertise and
	// the largest P-DATA-TF PDU-length we accept and send: 1 MiB.
	DefaultMaxPDULength uint32 = 1 << 20
	// DefaultMinPeerPDULength is the smallest non-zero Maximum Length we
	// accept from a peer (DCMTK's minimum, ASC_MINIMUMPDUSIZE). Below it an
	// acceptor answers A-ASSOCIATE-RJ (1,1,1) and a requestor aborts: a tiny
	// maximum would make every message a flood of PDUs (adversarial row 14).
	DefaultMinPeerPDULength uint32 = 4096
	// DefaultARTIMTimeout bounds the waits PS3.8 9.1.5 times with ARTIM
	// (Sta2, Sta13) and, for a requestor, the wait for A-ASSOCIATE-AC/RJ.
	DefaultARTIMTimeout = 30 * time.Second
	// DefaultIdleTimeout aborts an established association (A-ABORT (2,0))
	// when no PDU has been sent or received for that long.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultWriteTimeout bounds the writing of one PDU to a peer that does
	// not read.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultImplementationClassUID identifies shardpacs (PS3.7 D.3.3.2;
	// a UUID-derived UID, see uid.ImplementationClassUID).
	DefaultImplementationClassUID = uid.ImplementationClassUID
	// DefaultImplementationVersionName is sent with the class UID.
	DefaultImplementationVersionName = uid.ImplementationVersionName
	// DefaultCallingAETitle and DefaultCalledAETitle are a requestor's AE
	// titles when RequestConfig leaves them empty.
	DefaultCallingAETitle = "SHARDPACS"
	DefaultCalledAETitle  = "ANY-SCP"
)

// Well-known UIDs used by the defaults.
const (
	VerificationSOPClass   = "1.2.840.10008.1.1"
	ImplicitVRLittleEndian = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"
)

// AcceptConfig is how an acceptor negotiates (PS3.8 7.1, PS3.7 Annex D).
// The zero value accepts any called AE title, only the Verification SOP
// Class, and uses the defaults documented per field. A config may be shared
// by concurrent Accept calls; it must not be modified meanwhile.
type AcceptConfig struct {
	// AETitle is our AE title. It is used only when CheckCalledAE is set.
	AETitle string
	// CheckCalledAE, when set, rejects a request whose Called AE Title is
	// not AETitle with A-ASSOCIATE-RJ (1,1,7).
	CheckCalledAE bool
	// Accept is the decision hook, called once per request after the
	// protocol checks (protocol version, application context, called AE)
	// passed. Return nil to continue, or the A-ASSOCIATE-RJ to send as is
	// (e.g. (1,1,3) unknown calling AE, (2,3,2) over a connection limit).
	// It runs on the association's goroutine while ARTIM is stopped (Sta3):
	// it must return promptly. nil accepts everyone.
	Accept func(rq *pdu.AssociateRQ, remote net.Addr) *pdu.AssociateRJ
	// Contexts tells, per abstract syntax, whether we support it and our
	// transfer syntax preference order: the first of OUR list that the peer
	// proposed wins. Unsupported abstract syntax → result 3, no common
	// transfer syntax → result 4 (PS3.8 9.3.3.2). nil supports only
	// Verification with Explicit then Implicit VR Little Endian.
	Contexts func(abstractSyntax string) (transferSyntaxPreference []string, ok bool)
	// RoleSelect answers an SCP/SCU Role Selection sub-item (PS3.7 D.3.3.4)
	// for a SOP class that is among the proposed abstract syntaxes. The
	// answer is ANDed with the proposal (an acceptor can only withdraw a
	// role). nil accepts the roles as proposed.
	RoleSelect func(sopClass string, proposedSCU, proposedSCP bool) (scu, scp bool)
	// MaxPDULength is the Maximum Length we advertise and enforce on
	// received P-DATA-TF (larger → A-ABORT (2,6)). 0 = DefaultMaxPDULength.
	MaxPDULength uint32
	// MinPeerPDULength is the smallest non-zero peer Maximum Length
	// accepted. 0 = DefaultMinPeerPDULength. A peer's 0 means unlimited and
	// is accepted; we then send at most MaxPDULength.
	MinPeerPDULength uint32
	// ARTIMTimeout: 0 = DefaultARTIMTimeout; negative disables the timer
	// (unsafe on an open port).
	ARTIMTimeout time.Duration
	// IdleTimeout: 0 = DefaultIdleTimeout; negative disables it.
	IdleTimeout time.Duration
	// WriteTimeout: 0 = DefaultWriteTimeout; negative disables it.
	WriteTimeout time.Duration
	// ImplementationClassUID and ImplementationVersionName are sent in the
	// A-ASSOCIATE-AC. "" = the defaults above.
	ImplementationClassUID, ImplementationVersionName string
	// Limits bounds decoding; its MaxPDataLength is replaced by MaxPDULength.
	Limits pdu.Limits
	// Observer receives observe-only events.
	Observer Observer
}

// RequestConfig is how a requestor proposes an association. The zero value
// proposes Verification (context ID 1, Explicit and Implicit VR Little
// Endian) from DefaultCallingAETitle to DefaultCalledAETitle. A config may
// be shared by concurrent Request calls; it must not be modified meanwhile.
type RequestConfig struct {
	CallingAETitle, CalledAETitle string // "" = the defaults above
	// Contexts are proposed as given (odd, distinct IDs). Empty = one
	// Verification context.
	Contexts []pdu.PresentationContextRQ
	// RoleSelections are proposed as given (PS3.7 D.3.3.4), e.g. SCP role
	// for storage SOP classes used by C-GET.
	RoleSelections []pdu.RoleSelection
	// UserIdentity is proposed as given (PS3.7 D.3.3.7); nil = none.
	UserIdentity *pdu.UserIdentityRQ
	// The remaining fields mean what they mean in AcceptConfig; the ARTIM
	// timeout bounds the wait for A-ASSOCIATE-AC/RJ.
	MaxPDULength                                      uint32
	MinPeerPDULength                                  uint32
	ARTIMTimeout, IdleTimeout, WriteTimeout           time.Duration
	ImplementationClassUID, ImplementationVersionName string
	Limits                                            pdu.Limits
	Observer                                          Observer
}

// settings are the resolved values an association runs with.
type settings struct {
	maxPDU, minPeerPDU        uint32
	artim, idle, write        time.Duration
	implClassUID, implVersion string
	limits                    pdu.Limits
	obs                       Observer
}

func resolve(maxPDU, minPeer uint32, artim, idle, write time.Duration, uid, ver string, lim pdu.Limits, obs Observer) settings {
	s := settings{maxPDU: maxPDU, minPeerPDU: minPeer, artim: artim, idle: idle, write: write,
		implClassUID: uid, implVersion: ver, limits: lim, obs: obs}
	if s.maxPDU == 0 {
		s.maxPDU = DefaultMaxPDULength
	}
	if s.minPeerPDU == 0 {
		s.minPeerPDU = DefaultMinPeerPDULength
	}
	s.artim = durationOr(s.artim, DefaultARTIMTimeout)
	s.idle = durationOr(s.idle, DefaultIdleTimeout)
	s.write = durationOr(s.write, DefaultWriteTimeout)
	if s.implClassUID == "" {
		s.implClassUID = DefaultImplementationClassUID
	}
	if s.implVersion == "" {
		s.implVersion = DefaultImplementationVersionName
	}
	s.limits.MaxPDataLength = s.maxPDU
	return s
}

// durationOr maps 0 to def and a negative value to 0 (disabled).
func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (c *AcceptConfig) settings() settings {
	return resolve(c.MaxPDULength, c.MinPeerPDULength, c.ARTIMTimeout, c.IdleTimeout, c.WriteTimeout,
		c.ImplementationClassUID, c.ImplementationVersionName, c.Limits, c.Observer)
}

func (c *RequestConfig) settings() settings {
	return resolve(c.MaxPDULength, c.MinPeerPDULength, c.ARTIMTimeout, c.IdleTimeout, c.WriteTimeout,
		c.ImplementationClassUID, c.ImplementationVersionName, c.Limits, c.Observer)
}

// defaultContexts is the Contexts policy of a zero AcceptConfig.
func defaultContexts(as string) ([]string, bool) {
	if as == VerificationSOPClass {
		return []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}, true
	}
	return nil, false
}
