package node

import (
	"context"
	"net"
	"net/netip"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/node/tlsconf"
)

// accept is the Server's decision hook (see the package documentation).
// A refusal's reason is kept for the audit observer (rejectNote).
func (n *Node) accept(info *dimse.AssociationInfo, rq *pdu.AssociateRQ) *pdu.AssociateRJ {
	p, known := n.cfg.Peer(info.CallingAETitle)
	if info.TLS != nil {
		var peer *config.Peer
		if known {
			peer = p
		}
		if err := tlsconf.CheckAEBinding(info.TLS, info.CallingAETitle, peer); err != nil {
			n.log.Warn().Uint64(FieldAssoc, info.ID).Str(FieldCallingAE, quoteAE(info.CallingAETitle)).
				Str(FieldRemote, addrString(info.RemoteAddr)).Err(err).Msg("node: TLS certificate not bound to the calling AE")
			n.auditLog(audit.NodeAuthFailure(info.CallingAETitle, info.RemoteAddr, err.Error()))
			return n.reject(info, rjCallingAE(), "", true)
		}
	}
	if !known {
		if n.cfg.UnknownCallingAE == config.UnknownCallingReject {
			return n.reject(info, rjCallingAE(), "calling AE not configured (unknown_calling_ae = reject)", false)
		}
		return nil
	}
	if len(p.Networks) > 0 {
		addr, ok := remoteAddr(info.RemoteAddr)
		if !ok || !p.AllowsAddr(addr) {
			return n.reject(info, rjCallingAE(), "address outside the peer's networks", false)
		}
	}
	for _, pc := range rq.PresentationContexts {
		if perm := permissionFor(pc.AbstractSyntax); perm != "" && p.Allows(perm) {
			return nil
		}
	}
	return n.reject(info, &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserNoReason},
		"no proposed presentation context is for a permitted service", false)
}

// rjCallingAE is A-ASSOCIATE-RJ (1,1,3) calling-AE-not-recognized.
func rjCallingAE() *pdu.AssociateRJ {
	return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserCallingAENotRecognized}
}

// rejectNote is what accept says about a rejection to the audit observer.
type rejectNote struct {
	reason  string
	audited bool // already in the audit trail (NodeAuthFailure)
}

// reject records why an association is rejected and returns rj.
func (n *Node) reject(info *dimse.AssociationInfo, rj *pdu.AssociateRJ, reason string, audited bool) *pdu.AssociateRJ {
	if n.audit != nil {
		n.rejects.Store(info.ID, rejectNote{reason: reason, audited: audited})
	}
	return rj
}

// serveEcho is the Server's C-ECHO hook: 0x0124 for a caller without the
// echo permission (PS3.7 9.1.5, PS3.4 A.4).
func (n *Node) serveEcho(_ context.Context, info *dimse.AssociationInfo) error {
	if !n.allowed(info, config.PermEcho) {
		return n.refuse(info, config.PermEcho, "C-ECHO")
	}
	return nil
}

// remoteAddr extracts the IP address of a peer.
func remoteAddr(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// permissionFor is the permission a presentation context's abstract
// syntax serves, "" for one we do not serve.
func permissionFor(as string) string {
	switch as {
	case dimse.VerificationSOPClass:
		return config.PermEcho
	case uid.PatientRootQRFind, uid.StudyRootQRFind:
		return config.PermFind
	case uid.PatientRootQRMove, uid.StudyRootQRMove:
		return config.PermMove
	case uid.PatientRootQRGet, uid.StudyRootQRGet:
		return config.PermGet
	}
	if uid.IsStorageSOPClass(as) {
		// A storage context also carries C-GET sub-operations.
		return config.PermStore
	}
	return ""
}

// allowed reports whether the caller of info holds perm: a known peer its
// permissions, an unknown caller (admitted only under "accept") all.
func (n *Node) allowed(info *dimse.AssociationInfo, perm string) bool {
	if p, ok := n.cfg.Peer(info.CallingAETitle); ok {
		return p.Allows(perm)
	}
	return n.cfg.UnknownCallingAE != config.UnknownCallingReject
}

// refuse is the 0x0124 answer to a request for a service the caller has
// no permission for; the refusal is a Security Alert of type Use of
// Restricted Function (PS3.15 A.5.3.11) in the audit trail.
func (n *Node) refuse(info *dimse.AssociationInfo, perm, function string) error {
	n.auditLog(audit.RestrictedFunction(info.CallingAETitle, info.RemoteAddr, function+" without the "+perm+" permission"))
	return &dimse.StatusError{Status: dimse.StatusNotAuthorized, Comment: "calling AE has no " + perm + " permission"}
}

// addrString is a.String(), "" for nil.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
