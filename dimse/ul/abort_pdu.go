package ul

import (
	"context"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// AbortPDU is Abort with the exact A-ABORT to send (PS3.8 AA-1), for the
// combinations Abort cannot express, such as (service-provider,
// reason-not-specified) (2,0) that a server sends when a service handler
// failed. ab must not be nil and is not modified. Like Abort it returns
// once the PDU is written, or ErrClosed when the association had already
// ended or was ending.
func (a *Association) AbortPDU(ab *pdu.Abort) error {
	cp := *ab
	return a.call(context.Background(), &request{ev: Evt15, ctx: context.Background(), abort: &cp})
}
