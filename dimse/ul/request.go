package ul

import (
	"context"
	"net"
)

// Request runs the requestor side of association establishment on an
// already connected transport (PS3.8 Evt1/AE-1 and Evt2/AE-2): it sends
// the A-ASSOCIATE-RQ built from cfg and waits, bounded by the ARTIM timeout
// (a local extension: PS3.8 does not time Sta5), for the answer.
//
// On A-ASSOCIATE-AC the association is established (Sta6) and owned by a new
// goroutine; if no context was accepted, or the peer's Maximum Length is
// below MinPeerPDULength, it is aborted instead (ErrNoAcceptedContext,
// ErrPeerMaxLength). On failure conn is closed and the error is the
// *pdu.AssociateRJ received, the *pdu.Abort received, an *AbortedError, or
// wraps ErrInvalidConfig / ErrTransportClosed. ctx bounds establishment
// only: cancelling it aborts. cfg nil means the zero RequestConfig.
func Request(ctx context.Context, conn net.Conn, cfg *RequestConfig) (*Association, error) {
	if cfg == nil {
		cfg = &RequestConfig{}
	}
	s := cfg.settings()
	rq, err := buildRQ(cfg, &s)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	m := newMachine(conn, s, true)
	m.sentRQ = rq
	m.estCtx = ctx
	m.step(Evt1, input{})
	m.step(Evt2, input{})
	return m.establish()
}
