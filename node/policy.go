package node

import (
	"net"
	"net/netip"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// accept is the Server's decision hook (see the package documentation).
func (n *Node) accept(info *dimse.AssociationInfo, rq *pdu.AssociateRQ) *pdu.AssociateRJ {
	p, known := n.cfg.Peer(info.CallingAETitle)
	if !known {
		if n.cfg.UnknownCallingAE == config.UnknownCallingReject {
			return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserCallingAENotRecognized}
		}
		return nil
	}
	if len(p.Networks) > 0 {
		addr, ok := remoteAddr(info.RemoteAddr)
		if !ok || !p.AllowsAddr(addr) {
			return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserCallingAENotRecognized}
		}
	}
	for _, pc := range rq.PresentationContexts {
		if perm := permissionFor(pc.AbstractSyntax); perm != "" && p.Allows(perm) {
			return nil
		}
	}
	return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser, Reason: pdu.RejectUserNoReason}
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

// notAuthorized is the 0x0124 answer to a refused request.
func notAuthorized(perm string) error {
	return &dimse.StatusError{Status: dimse.StatusNotAuthorized, Comment: "calling AE has no " + perm + " permission"}
}
