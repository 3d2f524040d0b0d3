package node

import (
	"context"
	"io"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dimse"
)

// serveGet serves C-GET (PS3.4 C.4.3): the instances go back on the
// requesting association as C-STORE sub-operations, each on a context the
// requestor accepted with the SCP role (GetResponder.TransferSyntaxes): in
// the instance's own transfer syntax when accepted, else — native data
// only — converted to a native syntax accepted (see chooseSyntax). An
// instance with neither fails, logged.
func (n *Node) serveGet(ctx context.Context, req *dimse.QueryRequest, w dimse.GetResponder) (dimse.SubOps, error) {
	if !n.allowed(req.Assoc, config.PermGet) {
		return dimse.SubOps{}, n.refuse(req.Assoc, config.PermGet, "C-GET")
	}
	r, err := n.decodeRequest(req)
	if err != nil {
		return dimse.SubOps{}, err
	}
	recs, err := n.resolve(ctx, r)
	if err != nil || len(recs) == 0 {
		return dimse.SubOps{}, err
	}
	so := n.runSubOps(ctx, "C-GET", recs, w.Progress, w.TransferSyntaxes, func(ctx context.Context, rec *index.InstanceRecord, ts string, data io.Reader) (dimse.Status, error) {
		return w.Store(ctx, rec.SOPClassUID, rec.SOPInstanceUID, ts, data)
	})
	n.auditTransferred(audit.RetrieveGet, req.Assoc, req.Assoc.CallingAETitle, req.Assoc.RemoteAddr, recs, so)
	return so, nil
}
