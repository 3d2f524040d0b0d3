package dimse

import (
	"errors"

	"github.com/shardpacs/shardpacs/dcm/uid"
)

// ErrInvalidProposal is wrapped by Dial when the proposed presentation
// contexts cannot make an A-ASSOCIATE-RQ (none, more than
// MaxProposedContexts, one without a transfer syntax, inconsistent roles).
var ErrInvalidProposal = errors.New("dimse: invalid presentation context proposal")

// ContextProposal is one presentation context to propose (PS3.8 §7.1.1.13,
// §9.3.2.2): an abstract syntax (SOP Class UID) and the transfer syntaxes
// we can use with it, in our order of preference (the acceptor chooses).
//
// SCPRole proposes, through an SCP/SCU Role Selection item (PS3.7
// D.3.3.4), that we act as SCP only for this SOP class (SCU-role 0,
// SCP-role 1): what C-GET needs on its storage contexts, so that the peer
// may send C-STORE-RQs to us. All proposals of one abstract syntax must
// agree on it (one item per SOP class).
type ContextProposal struct {
	AbstractSyntax   string
	TransferSyntaxes []string
	SCPRole          bool
}

// clientTransferSyntaxes are proposed by the helpers for non-storage
// services: the two uncompressed little-endian syntaxes every SCP supports
// (PS3.5 §10.1: Implicit VR Little Endian is the default).
func clientTransferSyntaxes() []string {
	return []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian}
}

// EchoContext proposes the Verification SOP Class (PS3.4 Annex A), for
// [ClientConn.Echo].
func EchoContext() ContextProposal {
	return ContextProposal{AbstractSyntax: uid.VerificationSOPClass, TransferSyntaxes: clientTransferSyntaxes()}
}

// QueryRetrieveContexts proposes the Patient Root and Study Root
// Query/Retrieve information models for FIND, MOVE and GET (PS3.4
// C.6.1.3, C.6.2.3), six contexts, with Explicit then Implicit VR Little
// Endian. C-GET also needs storage contexts with the SCP role: add
// [StorageContexts](..., true).
func QueryRetrieveContexts() []ContextProposal {
	models := []string{
		uid.PatientRootQRFind, uid.PatientRootQRMove, uid.PatientRootQRGet,
		uid.StudyRootQRFind, uid.StudyRootQRMove, uid.StudyRootQRGet,
	}
	out := make([]ContextProposal, len(models))
	for i, m := range models {
		out[i] = ContextProposal{AbstractSyntax: m, TransferSyntaxes: clientTransferSyntaxes()}
	}
	return out
}

// StorageContexts proposes each storage SOP class in sopClasses once per
// transfer syntax of tss (nil: Explicit then Implicit VR Little Endian),
// one transfer syntax per context: [ClientConn.Store] never transcodes, so
// an instance can only go on a context accepted in its own transfer
// syntax, and a context offering several syntaxes gets only one accepted.
// scpRole sets ContextProposal.SCPRole (C-GET). The result has
// len(sopClasses)*len(tss) proposals: keep it within MaxProposedContexts
// together with the others.
func StorageContexts(sopClasses, tss []string, scpRole bool) []ContextProposal {
	if len(tss) == 0 {
		tss = clientTransferSyntaxes()
	}
	out := make([]ContextProposal, 0, len(sopClasses)*len(tss))
	for _, c := range sopClasses {
		for _, ts := range tss {
			out = append(out, ContextProposal{AbstractSyntax: c, TransferSyntaxes: []string{ts}, SCPRole: scpRole})
		}
	}
	return out
}
