package node

import (
	"context"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
)

// serveFind serves C-FIND (PS3.4 C.4.1) on the Patient Root and Study Root
// models: the identifier becomes an index.Query (matching rules in
// index.DB.Query), and each match is sent as a pending response holding
// every requested key (empty when unknown), the unique keys of its level and
// above, QueryRetrieveLevel and RetrieveAETitle (our AE title), with
// SpecificCharacterSet "ISO_IR 192" when a value is not ASCII. More matches
// than limits.max_find_results: 0xA700 and nothing streamed; a query (its
// responses included) that takes longer than limits.operation_timeout ends
// with 0xA700 after the matches already sent. Every decoded
// request is a Query event in the audit trail, with its keys and outcome.
func (n *Node) serveFind(ctx context.Context, req *dimse.QueryRequest, w dimse.FindResponder) error {
	if !n.allowed(req.Assoc, config.PermFind) {
		return n.refuse(req.Assoc, config.PermFind, "C-FIND")
	}
	r, err := n.decodeRequest(req)
	if err != nil {
		return err
	}
	q := &index.Query{Root: r.root, Level: r.level, Limit: n.cfg.Limits.MaxFindResults}
	var order []dcm.Element // requested keys, in request order, without values
	seen := map[dcm.Tag]bool{}
	for _, e := range r.elems {
		if seen[e.Tag] || e.Tag == dcm.TagSpecificCharacterSet || e.Tag == dcm.TagQueryRetrieveLevel {
			continue
		}
		seen[e.Tag] = true
		order = append(order, dcm.Element{Tag: e.Tag, VR: e.VR})
		if e.VR == "SQ" {
			q.Keys = append(q.Keys, index.Key{Tag: e.Tag, VR: e.VR})
			continue
		}
		q.Keys = append(q.Keys, index.Key{Tag: e.Tag, Value: e.Value, VR: e.VR})
	}
	qctx, cancel := n.operationContext(ctx)
	defer cancel()
	err = n.arch.Query(qctx, q, func(m index.Match) error {
		b, err := n.encodeMatch(m, order, req.TransferSyntaxUID)
		if err != nil {
			return err
		}
		return w.Pending(b)
	})
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case qctx.Err() != nil:
			err = &dimse.StatusError{Status: dimse.StatusOutOfResources,
				Comment: "query not done within limits.operation_timeout: refine the query", Err: err}
		default:
			err = queryStatus(err, n.cfg.Limits.MaxFindResults)
		}
	}
	n.auditQuery(req, r, err)
	return err
}

// encodeMatch builds one C-FIND response identifier.
func (n *Node) encodeMatch(m index.Match, requested []dcm.Element, ts string) ([]byte, error) {
	out := make([]dcm.Element, 0, len(requested)+len(m)+2)
	have := map[dcm.Tag]bool{}
	add := func(e dcm.Element) {
		if !have[e.Tag] {
			have[e.Tag] = true
			out = append(out, e)
		}
	}
	add(dcm.Element{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: m[dcm.TagQueryRetrieveLevel]})
	add(dcm.Element{Tag: dcm.TagRetrieveAETitle, VR: "AE", Value: n.cfg.AETitle})
	for _, e := range requested {
		switch {
		case e.Tag == dcm.TagInstanceAvailability:
			e.VR, e.Value = "CS", "ONLINE"
		case e.VR == "SQ":
			// Sequence matching is not supported: returned empty.
		default:
			e.Value = m[e.Tag]
			e.VR = responseVR(e.Tag, e.VR)
		}
		add(e)
	}
	for t, v := range m {
		add(dcm.Element{Tag: t, VR: responseVR(t, ""), Value: v})
	}
	return dcm.EncodeIdentifier(out, ts)
}

// responseVR is the VR a returned key is encoded with: the dictionary's
// when it knows the tag, else the one the request used (UN for an unknown
// tag sent implicitly).
func responseVR(t dcm.Tag, reqVR string) string {
	if vr := dcm.DictionaryVR(t); vr != "" {
		return vr
	}
	if reqVR == "" {
		return "UN"
	}
	return reqVR
}
