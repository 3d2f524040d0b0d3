package ul

import (
	"errors"
	"fmt"
	"net"
	"sort"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Context is an accepted presentation context (PS3.8 7.1.1.13).
//
// SCURole and SCPRole are the roles of the association-REQUESTOR for the
// abstract syntax, as the SCP/SCU Role Selection sub-item states them
// (PS3.7 D.3.3.4): without role negotiation the requestor is SCU only
// (SCURole true, SCPRole false). The acceptor's roles are the converse.
type Context struct {
	ID             uint8
	AbstractSyntax string
	TransferSyntax string
	SCURole        bool
	SCPRole        bool
}

// rj builds an A-ASSOCIATE-RJ.
func rj(result pdu.RejectResult, src pdu.RejectSource, reason pdu.RejectReason) *pdu.AssociateRJ {
	return &pdu.AssociateRJ{Result: result, Source: src, Reason: reason}
}

// checkProvider is the acceptability test of AE-6 (PS3.8 9.2, Table 9-6):
// what the UL service-provider itself refuses, before the user sees the
// request. Only the protocol version belongs here (PS3.8 9.3.2: a receiver
// tests bit 0 only); the answer is RJ (1,2,2).
func checkProvider(rq *pdu.AssociateRQ) (*pdu.AssociateRJ, error) {
	if rq.ProtocolVersion&pdu.ProtocolVersion1 == 0 {
		return rj(pdu.RejectPermanent, pdu.SourceServiceProviderACSE, pdu.RejectACSEProtocolVersionNotSupported),
			fmt.Errorf("ul: protocol version 0x%04x without bit 0", rq.ProtocolVersion)
	}
	return nil, nil
}

// negotiateAccept is the acceptor's decision in Sta3 (Evt7 or Evt8). It
// returns the A-ASSOCIATE-AC and the accepted contexts, or the
// A-ASSOCIATE-RJ to send and why. Checks, in order: application context
// name (RJ 1,1,2), called AE title (1,1,7), context IDs (1,1,1), the
// decision hook (its RJ as is), the peer's Maximum Length floor (1,1,1).
func negotiateAccept(cfg *AcceptConfig, s *settings, rq *pdu.AssociateRQ, remote net.Addr) (*pdu.AssociateAC, []Context, *pdu.AssociateRJ, error) {
	if rq.ApplicationContext != pdu.DICOMApplicationContext {
		return nil, nil, rj(pdu.RejectPermanent, pdu.SourceServiceUser, pdu.RejectUserAppContextNotSupported),
			fmt.Errorf("ul: application context %q not supported", rq.ApplicationContext)
	}
	if cfg.CheckCalledAE && rq.CalledAETitle != cfg.AETitle {
		return nil, nil, rj(pdu.RejectPermanent, pdu.SourceServiceUser, pdu.RejectUserCalledAENotRecognized),
			errors.New("ul: called AE title not recognized")
	}
	if err := checkContextIDs(rq.PresentationContexts); err != nil {
		return nil, nil, rj(pdu.RejectPermanent, pdu.SourceServiceUser, pdu.RejectUserNoReason), err
	}
	if cfg.Accept != nil {
		if r := cfg.Accept(rq, remote); r != nil {
			return nil, nil, r, errors.New("ul: rejected by the decision hook")
		}
	}
	if m := rq.UserInfo.MaxLength; m != 0 && m < s.minPeerPDU {
		return nil, nil, rj(pdu.RejectPermanent, pdu.SourceServiceUser, pdu.RejectUserNoReason),
			fmt.Errorf("%w: %d < %d", ErrPeerMaxLength, m, s.minPeerPDU)
	}

	policy := cfg.Contexts
	if policy == nil {
		policy = defaultContexts
	}
	ac := &pdu.AssociateAC{
		ProtocolVersion:    pdu.ProtocolVersion1,
		CalledAETitle:      rq.CalledAETitle,
		CallingAETitle:     rq.CallingAETitle,
		ApplicationContext: pdu.DICOMApplicationContext,
		UserInfo: pdu.UserInfo{
			MaxLength:                 s.maxPDU,
			ImplementationClassUID:    s.implClassUID,
			ImplementationVersionName: s.implVersion,
		},
	}
	proposed := make(map[string]bool, len(rq.PresentationContexts))
	var accepted []Context
	for _, pc := range rq.PresentationContexts {
		proposed[pc.AbstractSyntax] = true
		res := pdu.PresentationContextAC{ID: pc.ID, Result: pdu.ContextAbstractSyntaxNotSupported, TransferSyntax: ImplicitVRLittleEndian}
		if pref, ok := policy(pc.AbstractSyntax); ok {
			res.Result = pdu.ContextTransferSyntaxesNotSupported
			if ts, found := firstCommon(pref, pc.TransferSyntaxes); found {
				res.Result, res.TransferSyntax = pdu.ContextAccepted, ts
				accepted = append(accepted, Context{ID: pc.ID, AbstractSyntax: pc.AbstractSyntax, TransferSyntax: ts, SCURole: true})
			}
		}
		ac.PresentationContexts = append(ac.PresentationContexts, res)
	}

	// Role selection (PS3.7 D.3.3.4): answer each SOP class once, only
	// for proposed abstract syntaxes.
	answered := make(map[string]bool)
	for _, r := range rq.UserInfo.RoleSelections {
		if !proposed[r.SOPClassUID] || answered[r.SOPClassUID] {
			continue
		}
		answered[r.SOPClassUID] = true
		scu, scp := r.SCU, r.SCP
		if cfg.RoleSelect != nil {
			scu, scp = cfg.RoleSelect(r.SOPClassUID, r.SCU, r.SCP)
			scu, scp = scu && r.SCU, scp && r.SCP
		}
		ac.UserInfo.RoleSelections = append(ac.UserInfo.RoleSelections, pdu.RoleSelection{SOPClassUID: r.SOPClassUID, SCU: scu, SCP: scp})
	}
	applyRoles(accepted, ac.UserInfo.RoleSelections)
	return ac, accepted, nil, nil
}

// checkContextIDs rejects an empty list, even IDs and duplicate IDs
// (PS3.8 9.3.2.2: IDs are odd integers 1..255, unique in the request).
func checkContextIDs(pcs []pdu.PresentationContextRQ) error {
	if len(pcs) == 0 {
		return fmt.Errorf("%w: no presentation context proposed", ErrInvalidConfig)
	}
	var seen [256]bool
	for _, pc := range pcs {
		if pc.ID%2 == 0 {
			return fmt.Errorf("ul: presentation context ID %d is even", pc.ID)
		}
		if seen[pc.ID] {
			return fmt.Errorf("ul: presentation context ID %d proposed twice", pc.ID)
		}
		seen[pc.ID] = true
	}
	return nil
}

// firstCommon returns the first element of pref that offered contains.
func firstCommon(pref, offered []string) (string, bool) {
	for _, p := range pref {
		for _, o := range offered {
			if p == o {
				return p, true
			}
		}
	}
	return "", false
}

// applyRoles sets the requestor's roles on each accepted context from the
// negotiated role selection items; contexts without an item keep the default
// (requestor SCU only).
func applyRoles(ctxs []Context, roles []pdu.RoleSelection) {
	for i := range ctxs {
		for _, r := range roles {
			if r.SOPClassUID == ctxs[i].AbstractSyntax {
				ctxs[i].SCURole, ctxs[i].SCPRole = r.SCU, r.SCP
				break
			}
		}
	}
}

// buildRQ turns a RequestConfig into the A-ASSOCIATE-RQ to send.
func buildRQ(cfg *RequestConfig, s *settings) (*pdu.AssociateRQ, error) {
	rq := &pdu.AssociateRQ{
		ProtocolVersion:      pdu.ProtocolVersion1,
		CallingAETitle:       cfg.CallingAETitle,
		CalledAETitle:        cfg.CalledAETitle,
		ApplicationContext:   pdu.DICOMApplicationContext,
		PresentationContexts: cfg.Contexts,
		UserInfo: pdu.UserInfo{
			MaxLength:                 s.maxPDU,
			ImplementationClassUID:    s.implClassUID,
			ImplementationVersionName: s.implVersion,
			RoleSelections:            cfg.RoleSelections,
			UserIdentityRQ:            cfg.UserIdentity,
		},
	}
	if rq.CallingAETitle == "" {
		rq.CallingAETitle = DefaultCallingAETitle
	}
	if rq.CalledAETitle == "" {
		rq.CalledAETitle = DefaultCalledAETitle
	}
	if len(rq.PresentationContexts) == 0 {
		rq.PresentationContexts = []pdu.PresentationContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass,
			TransferSyntaxes: []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}}}
	}
	if err := checkContextIDs(rq.PresentationContexts); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	for _, pc := range rq.PresentationContexts {
		if len(pc.TransferSyntaxes) == 0 {
			return nil, fmt.Errorf("%w: presentation context %d has no transfer syntax", ErrInvalidConfig, pc.ID)
		}
	}
	return rq, nil
}

// acceptedContexts reads the requestor's view of the A-ASSOCIATE-AC: the
// contexts the acceptor accepted with a transfer syntax we proposed, sorted
// by ID. Answers for IDs we did not propose, repeated answers and accepted
// transfer syntaxes we did not propose are protocol violations (an error);
// a missing answer counts as a rejection.
func acceptedContexts(rq *pdu.AssociateRQ, ac *pdu.AssociateAC) ([]Context, error) {
	var byID [256]*pdu.PresentationContextRQ
	for i := range rq.PresentationContexts {
		pc := &rq.PresentationContexts[i]
		byID[pc.ID] = pc
	}
	var seen [256]bool
	var out []Context
	for _, r := range ac.PresentationContexts {
		pc := byID[r.ID]
		if pc == nil || seen[r.ID] {
			return nil, fmt.Errorf("ul: A-ASSOCIATE-AC answers presentation context %d unexpectedly", r.ID)
		}
		seen[r.ID] = true
		if r.Result != pdu.ContextAccepted {
			continue
		}
		if _, ok := firstCommon([]string{r.TransferSyntax}, pc.TransferSyntaxes); !ok {
			return nil, fmt.Errorf("ul: A-ASSOCIATE-AC accepts context %d with a transfer syntax not proposed", r.ID)
		}
		out = append(out, Context{ID: r.ID, AbstractSyntax: pc.AbstractSyntax, TransferSyntax: r.TransferSyntax, SCURole: true})
	}
	// Roles: only SOP classes we asked about count.
	asked := make(map[string]pdu.RoleSelection)
	for _, r := range rq.UserInfo.RoleSelections {
		asked[r.SOPClassUID] = r
	}
	var roles []pdu.RoleSelection
	for _, r := range ac.UserInfo.RoleSelections {
		if p, ok := asked[r.SOPClassUID]; ok {
			roles = append(roles, pdu.RoleSelection{SOPClassUID: r.SOPClassUID, SCU: r.SCU && p.SCU, SCP: r.SCP && p.SCP})
		}
	}
	applyRoles(out, roles)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
