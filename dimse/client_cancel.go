package dimse

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errCancelIgnored ends the wait for a final response that did not come
// within DefaultCancelDrainTimeout of our C-CANCEL-RQ.
var errCancelIgnored = errors.New("dimse: no final response within the cancel timeout")

// cancelDrainTimeout is DefaultCancelDrainTimeout; tests shorten it.
var cancelDrainTimeout = DefaultCancelDrainTimeout

// pendingOp is the client side of one C-FIND, C-MOVE or C-GET: the request
// with Message ID id on context ctxID, which answers with pending responses
// until a final one and can be cancelled (PS3.7 §9.1.2.1.2, §9.3.2.3).
//
// Responses are read with rctx, which the caller's ctx does not cancel:
// cancelling ctx (or cancel(cause), when the result callback fails) sends
// one C-CANCEL-RQ instead, and the responses are then drained up to the
// final one, for at most DefaultCancelDrainTimeout. That keeps the stream
// in step (a read interrupted mid-message would cost the association) and
// gives the peer the chance to answer 0xFE00 Cancel, as PS3.4 C.4 wants.
type pendingOp struct {
	cc    *ClientConn
	ctxID uint8
	id    uint16
	wctx  context.Context // for writing the C-CANCEL-RQ: ctx without its cancellation

	rctx    context.Context
	rcancel context.CancelCauseFunc
	stop    func() bool // unregisters the ctx watch

	mu    sync.Mutex
	cause error // why we cancelled; nil while not cancelled
	final bool  // the final response arrived: never cancel after it
	drain *time.Timer
}

func (cc *ClientConn) startOp(ctx context.Context, ctxID uint8, id uint16) *pendingOp {
	base := context.WithoutCancel(ctx)
	op := &pendingOp{cc: cc, ctxID: ctxID, id: id, wctx: base}
	op.rctx, op.rcancel = context.WithCancelCause(base)
	op.stop = context.AfterFunc(ctx, func() { op.cancel(context.Cause(ctx)) })
	return op
}

// cancel sends the C-CANCEL-RQ, once, unless the final response already
// came. cause is what the operation will return.
func (op *pendingOp) cancel(cause error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.cause != nil || op.final {
		return
	}
	op.cause = cause
	// A failed send means the association is gone: the read fails too.
	_ = op.cc.send(op.wctx, op.ctxID, NewCCancelRQ(op.id), nil)
	op.drain = time.AfterFunc(cancelDrainTimeout, func() { op.rcancel(errCancelIgnored) })
}

// checkCtx cancels at once when ctx has ended, without waiting for the
// ctx watch's goroutine: a callback that cancels ctx gets its C-CANCEL-RQ
// sent before the next response is read.
func (op *pendingOp) checkCtx(ctx context.Context) {
	if ctx.Err() != nil {
		op.cancel(context.Cause(ctx))
	}
}

// cancelled returns the cause given to cancel, or nil.
func (op *pendingOp) cancelled() error {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.cause
}

// end marks the operation over (final response received, or failed) and
// releases its timer and ctx watch. It returns the cancel cause, if any.
func (op *pendingOp) end() error {
	op.stop()
	op.mu.Lock()
	defer op.mu.Unlock()
	op.final = true
	if op.drain != nil {
		op.drain.Stop()
	}
	op.rcancel(nil)
	return op.cause
}
