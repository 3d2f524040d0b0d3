package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"slices"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// serveMove serves C-MOVE (PS3.4 C.4.2): the destination must be a peer
// with an address that the caller may move to (else 0xA801, and no
// connection is attempted); the instances go over ONE new association as
// C-STORE sub-operations carrying Move Originator AE Title and Message ID
// (PS3.7 9.1.1.1).
func (n *Node) serveMove(ctx context.Context, req *dimse.MoveRequest, w dimse.MoveResponder) (dimse.SubOps, error) {
	if !n.allowed(req.Assoc, config.PermMove) {
		return dimse.SubOps{}, notAuthorized(config.PermMove)
	}
	dest, ok := n.cfg.MoveDestination(req.Assoc.CallingAETitle, req.Destination)
	if !ok {
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
	client := *n.client
	if dest.TLS {
		tc, err := n.tlsConfig()
		if err != nil {
			return allFailed(recs), &dimse.StatusError{Status: dimse.StatusOutOfResourcesSubops, Comment: "TLS to destination not configured", Err: err}
		}
		client.TLSConfig = tc
	}
	cc, err := client.Dial(ctx, dest.Address(), dest.AETitle, moveProposals(recs))
	if err != nil {
		n.log.Warn().Str("op", "C-MOVE").Str("destination", dest.AETitle).Err(err).Msg("node: cannot associate with the move destination")
		return allFailed(recs), &dimse.StatusError{Status: dimse.StatusOutOfResourcesSubops,
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
	so := n.runSubOps(ctx, "C-MOVE", recs, w.Progress, func(ctx context.Context, rec *index.InstanceRecord, data io.Reader) (dimse.Status, error) {
		return cc.Store(ctx, rec.SOPClassUID, rec.SOPInstanceUID, rec.TransferSyntaxUID, data, orig)
	})
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
// native, the other little-endian native syntaxes: first every stored
// syntax, then the alternatives while room remains under
// dimse.MaxProposedContexts.
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
		for _, ts := range []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian} {
			if !slices.Contains(stored[c], ts) {
				out = append(out, dimse.ContextProposal{AbstractSyntax: c, TransferSyntaxes: []string{ts}})
			}
		}
	}
	if len(out) > dimse.MaxProposedContexts {
		out = out[:dimse.MaxProposedContexts]
	}
	return out
}

// tlsConfig builds the client TLS configuration for TLS destinations from
// the node's [tls] settings (PS3.15 B.1: TLS 1.2 or later).
func (n *Node) tlsConfig() (*tls.Config, error) {
	t := n.cfg.TLS
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("node: no certificate in " + t.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
