package dimse

import (
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// service is the DIMSE service an abstract syntax is negotiated for.
type service uint8

const (
	svcNone service = iota
	svcEcho
	svcStore
	svcFind
	svcMove
	svcGet
)

// queryRetrieveModels maps the query/retrieve information models the
// Server serves to their service (PS3.4 C.6.1.3, C.6.2.3).
var queryRetrieveModels = map[string]service{
	uid.PatientRootQRFind: svcFind,
	uid.PatientRootQRMove: svcMove,
	uid.PatientRootQRGet:  svcGet,
	uid.StudyRootQRFind:   svcFind,
	uid.StudyRootQRMove:   svcMove,
	uid.StudyRootQRGet:    svcGet,
}

// serviceOf returns the service abstract syntax as is served by, taking
// the configured handlers into account (svcNone: not supported).
func (s *Server) serviceOf(as string) service {
	if as == VerificationSOPClass {
		return svcEcho
	}
	if svc, ok := queryRetrieveModels[as]; ok {
		switch {
		case svc == svcFind && s.Find != nil,
			svc == svcMove && s.Move != nil,
			svc == svcGet && s.Get != nil:
			return svc
		}
		return svcNone
	}
	if (s.Store != nil || s.Get != nil) && s.storageSOPClass(as) {
		return svcStore
	}
	return svcNone
}

// cmdService is the service a request command field belongs to.
func cmdService(cf CommandField) service {
	switch cf {
	case CEchoRQ:
		return svcEcho
	case CStoreRQ:
		return svcStore
	case CFindRQ:
		return svcFind
	case CMoveRQ:
		return svcMove
	case CGetRQ:
		return svcGet
	}
	return svcNone
}

// uncompressedLE are the transfer syntaxes of query/retrieve and
// verification contexts, in preference order.
var uncompressedLE = []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian}

// defaultTransferSyntaxes is the default storage preference: Explicit and
// Implicit VR Little Endian, then every other transfer syntax.
var defaultTransferSyntaxes = func() []string {
	out := append([]string(nil), uncompressedLE...)
	for _, ts := range uid.TransferSyntaxes {
		if ts.UID != uid.ExplicitVRLittleEndian && ts.UID != uid.ImplicitVRLittleEndian {
			out = append(out, ts.UID)
		}
	}
	return out
}()

func (s *Server) transferSyntaxes() []string {
	if len(s.TransferSyntaxes) > 0 {
		return s.TransferSyntaxes
	}
	return defaultTransferSyntaxes
}

// contextPolicy is the ul.AcceptConfig.Contexts policy (PS3.8 9.3.3.2):
// which abstract syntaxes we accept and our transfer syntax preference.
func (s *Server) contextPolicy(as string) ([]string, bool) {
	switch s.serviceOf(as) {
	case svcEcho:
		return uncompressedLE, true
	case svcStore:
		return s.transferSyntaxes(), true
	case svcFind, svcMove, svcGet:
		// Uncompressed little endian only, in the configured order.
		var out []string
		for _, ts := range s.transferSyntaxes() {
			if ts == uid.ExplicitVRLittleEndian || ts == uid.ImplicitVRLittleEndian {
				out = append(out, ts)
			}
		}
		if len(out) == 0 {
			out = uncompressedLE
		}
		return out, true
	}
	return nil, false
}

// roleSelect answers SCP/SCU Role Selection (PS3.7 D.3.3.4): the requestor
// may be SCP (receive C-STORE sub-operations of C-GET) only when a Get
// handler is configured; the SCU role is granted as proposed.
func (s *Server) roleSelect(_ string, proposedSCU, proposedSCP bool) (scu, scp bool) {
	return proposedSCU, proposedSCP && s.Get != nil
}
