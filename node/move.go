package node

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// serveMove serves C-MOVE (PS3.4 C.4.2): the destination must be a peer
// with an address that the caller may move to (else 0xA801, no connection
// is attempted, and a Security Alert is audited); the instances go over ONE
// new association, over TLS (tlsconf.Client) to a peer with tls = true, as
// C-STORE sub-operations carrying Move Originator AE Title and Message ID
// (PS3.7 9.1.1.1). The transfer is audited per study.
func (n *Node) serveMove(ctx context.Context, req *dimse.MoveRequest, w dimse.MoveResponder) (dimse.SubOps, error) {
	if !n.allowed(req.Assoc, config.PermMove) {
		return dimse.SubOps{}, n.refuse(req.Assoc, config.PermMove, "C-MOVE")
	}
	dest, ok := n.cfg.MoveDestination(req.Assoc.CallingAETitle, req.Destination)
	if !ok {
		// Adversarial rows 31 and 32: the same answer for an unknown and a
		// forbidden destination (no enumeration); both are Security Alerts.
		what := fmt.Sprintf("C-MOVE to unknown destination AE %q", strings.TrimRight(req.Destination, " "))
		if p, known := n.cfg.Peer(req.Destination); known && p.Host != "" {
			what = fmt.Sprintf("C-MOVE to destination AE %q, not among its move destinations", p.AETitle)
		}
		n.auditLog(audit.RestrictedFunction(req.Assoc.CallingAETitle, req.Assoc.RemoteAddr, what))
		return dimse.SubOps{}, &dimse.StatusError{Status: dimse.StatusMoveDestinationUnknown, Comment: "move destination unknown"}
	}
	r, err := n.decodeRequest(&req.QueryRequest)
	if err != nil {
		return dimse.SubOps{}, err
	}
	recs, err := n.resolve(ctx, r)
	if err != nil || len(recs) == 0 {
		return dimse.SubOps{}, err
	}
	destAddr := peerAddr(dest.Address())
	client := *n.client
	if dest.TLS {
		tc := n.peerTLS[dest.AETitle]
		if tc == nil { // New built one for every TLS peer
			so := allFailed(recs)
			n.auditTransferred(audit.RetrieveMove, req.Assoc, dest.AETitle, destAddr, recs, so)
			return so, &dimse.StatusError{Status: dimse.StatusOutOfResourcesSubops, Comment: "TLS to destination not configured"}
		}
		client.TLSConfig = tc
	}
	cc, err := client.Dial(ctx, dest.Address(), dest.AETitle, moveProposals(recs))
	if err != nil {
		n.log.Warn().Str("op", "C-MOVE").Str("destination", dest.AETitle).Err(err).Msg("node: cannot associate with the move destination")
		so := allFailed(recs)
		n.auditTransferred(audit.RetrieveMove, req.Assoc, dest.AETitle, destAddr, recs, so)
		return so, &dimse.StatusError{Status: dimse.StatusOutOfResourcesSubops,
			Comment: "destination unreachable or refused the association", Err: err}
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.releaseTimeout())
		defer cancel()
		if err := cc.Release(rctx); err != nil {
			_ = cc.Abort()
		}
	}()
	orig := dimse.WithMoveOriginator(req.Assoc.CallingAETitle, req.Command.MessageID)
	accepted := func(sopClassUID string) []string {
		var out []string
		for _, c := range cc.Association().Contexts() {
			if c.AbstractSyntax == sopClassUID && c.SCURole {
				out = append(out, c.TransferSyntax)
			}
		}
		return out
	}
	so := n.runSubOps(ctx, "C-MOVE", recs, w.Progress, accepted, func(ctx context.Context, rec *index.InstanceRecord, ts string, data io.Reader) (dimse.Status, error) {
		return cc.Store(ctx, rec.SOPClassUID, rec.SOPInstanceUID, ts, data, orig)
	})
	n.auditTransferred(audit.RetrieveMove, req.Assoc, dest.AETitle, destAddr, recs, so)
	return so, nil
}

func (n *Node) releaseTimeout() time.Duration {
	if t := n.cfg.Limits.ARTIMTimeout; t > 0 {
		return t
	}
	return 30 * time.Second
}

// allFailed counts every instance as a failed sub-operation.
func allFailed(recs []*index.InstanceRecord) dimse.SubOps {
	so := dimse.SubOps{Failed: len(recs)}
	for _, r := range recs {
		so.FailedSOPInstanceUIDs = append(so.FailedSOPInstanceUIDs, r.SOPInstanceUID)
	}
	return so
}

// moveProposals proposes, for each SOP class of recs, one context per
// transfer syntax its instances are stored in and, when one of those is
// native, the other native syntaxes (which subOp converts to): first every
// stored syntax, then the little-endian alternatives, then Explicit VR Big
// Endian, while room remains under dimse.MaxProposedContexts.
func moveProposals(recs []*index.InstanceRecord) []dimse.ContextProposal {
	var classes []string
	stored := map[string][]string{}
	for _, r := range recs {
		if _, ok := stored[r.SOPClassUID]; !ok {
			classes = append(classes, r.SOPClassUID)
		}
		if !slices.Contains(stored[r.SOPClassUID], r.TransferSyntaxUID) {
			stored[r.SOPClassUID] = append(stored[r.SOPClassUID], r.TransferSyntaxUID)
		}
	}
	var out []dimse.ContextProposal
	nativeClass := map[string]bool{}
	for _, c := range classes {
		out = append(out, dimse.StorageContexts([]string{c}, stored[c], false)...)
	}
	for _, c := range classes {
		native := slices.ContainsFunc(stored[c], func(ts string) bool {
			t, ok := uid.LookupTransferSyntax(ts)
			return ok && t.Native()
		})
		if !native {
			continue
		}
		nativeClass[c] = true
		for _, ts := range []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian} {
			if !slices.Contains(stored[c], ts) {
				out = append(out, dimse.ContextProposal{AbstractSyntax: c, TransferSyntaxes: []string{ts}})
			}
		}
	}
	for _, c := range classes {
		if nativeClass[c] && !slices.Contains(stored[c], uid.ExplicitVRBigEndian) {
			out = append(out, dimse.ContextProposal{AbstractSyntax: c, TransferSyntaxes: []string{uid.ExplicitVRBigEndian}})
		}
	}
	if len(out) > dimse.MaxProposedContexts {
		out = out[:dimse.MaxProposedContexts]
	}
	return out
}
