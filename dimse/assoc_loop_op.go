package dimse

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// operation is a C-FIND, C-MOVE or C-GET being served (PS3.4 C.4): its
// handler runs on its own goroutine while the loop goroutine keeps reading
// for C-CANCEL-RQ and C-STORE-RSP.
type operation struct {
	msg       *Message
	cmd       *Command
	pc        ul.Context
	ctx       context.Context
	cancel    context.CancelFunc
	cancelled atomic.Bool // a C-CANCEL-RQ arrived
	start     time.Time
	req       *QueryRequest
}

// opResult is what the operation goroutine hands back.
type opResult struct {
	sub      SubOps
	err      error
	panicked *PanicError
}

// prepareOp checks a C-FIND/C-MOVE/C-GET request. When it cannot be
// served it sends the failure response itself and returns nil.
func (l *assocLoop) prepareOp(msg *Message, readErr error) *operation {
	cmd := msg.Command
	err := l.checkErr(msg, readErr)
	if err == nil {
		switch cmd.CommandField {
		case CFindRQ:
			if l.s.Find == nil {
				err = StatusSOPClassNotSupported
			}
		case CMoveRQ:
			if l.s.Move == nil {
				err = StatusSOPClassNotSupported
			}
		case CGetRQ:
			if l.s.Get == nil {
				err = StatusSOPClassNotSupported
			}
		}
	}
	if err != nil {
		rsp := NewResponse(cmd, StatusSuccess)
		rsp.SetError(err, StatusProcessingFailure)
		serr := l.send(msg.ContextID, rsp, nil)
		l.obs.RequestDone(l.info, cmd, rsp.Status, msg.Data.Size(), 0, firstErr(err, serr))
		msg.Close()
		if serr != nil {
			l.failWrite(serr)
		}
		return nil
	}
	pc, _ := l.a.ContextByID(msg.ContextID)
	var ident []byte
	if msg.Data != nil {
		ident = make([]byte, msg.Data.Size())
		if _, rerr := msg.Data.ReadAt(ident, 0); rerr != nil && msg.Data.Size() > 0 {
			ident = nil
		}
	}
	ctx, cancel := context.WithCancel(l.ctx)
	return &operation{
		msg: msg, cmd: cmd, pc: pc, ctx: ctx, cancel: cancel, start: time.Now(),
		req: &QueryRequest{
			Assoc: l.info, Command: cmd, ContextID: msg.ContextID,
			SOPClassUID: cmd.AffectedSOPClassUID, TransferSyntaxUID: pc.TransferSyntax,
			Priority: uint16(cmd.Priority), Identifier: ident,
		},
	}
}

// runOp serves op to its final response; false ends the loop.
func (l *assocLoop) runOp(op *operation) bool {
	defer op.cancel()
	defer op.msg.Close()
	done := make(chan opResult, 1)
	go l.callHandler(op, done)
	for {
		select {
		case res := <-done:
			return l.finishOp(op, res)
		case rr := <-l.in:
			if rr.msg == nil {
				l.endOnError(rr.err)
				op.cancel()
				res := <-done
				l.obs.RequestDone(l.info, op.cmd, StatusOf(res.err, StatusUnableToProcess), op.msg.Data.Size(),
					time.Since(op.start), firstErr(res.err, rr.err))
				return false
			}
			if !l.duringOp(op, rr.msg) {
				l.abort(pdu.AbortNotSpecified, errWindowExceeded)
				op.cancel()
				<-done
				return false
			}
		}
	}
}

// errWindowExceeded: a request arrived while one was outstanding, beyond
// the asynchronous operations window of 1 (PS3.7 D.3.3.3).
var errWindowExceeded = errors.New("dimse: request received while another is outstanding (asynchronous operations window is 1)")

// duringOp handles a message that arrived while op runs; false means the
// peer broke the operations window.
func (l *assocLoop) duringOp(op *operation, msg *Message) bool {
	cmd := msg.Command
	switch cf := cmd.CommandField; {
	case cf == CCancelRQ:
		if cmd.MessageIDBeingRespondedTo == op.cmd.MessageID {
			op.cancelled.Store(true)
			op.cancel()
		}
	case cf == CStoreRSP && op.cmd.CommandField == CGetRQ:
		if l.deliverSub(msg) {
			return true // the waiting Store owns msg now
		}
	case cf.IsResponse():
		// a response to nothing outstanding: ignored
	default:
		msg.Close()
		return false
	}
	msg.Close()
	return true
}

// callHandler runs the handler of op on the operation goroutine.
func (l *assocLoop) callHandler(op *operation, done chan<- opResult) {
	var res opResult
	defer func() {
		if v := recover(); v != nil {
			res.panicked = panicError(v)
		}
		done <- res
	}()
	switch op.cmd.CommandField {
	case CFindRQ:
		res.err = l.s.Find.ServeFind(op.ctx, op.req, &findResponder{l: l, op: op})
	case CMoveRQ:
		mr := &MoveRequest{QueryRequest: *op.req, Destination: op.cmd.MoveDestination}
		res.sub, res.err = l.s.Move.ServeMove(op.ctx, mr, &subOpsResponder{l: l, op: op})
	case CGetRQ:
		res.sub, res.err = l.s.Get.ServeGet(op.ctx, op.req, &getResponder{subOpsResponder{l: l, op: op}})
	}
}

// finishOp sends the final response of op (PS3.4 C.4.1.1.4, C.4.2.1.5,
// C.4.3.1.4).
func (l *assocLoop) finishOp(op *operation, res opResult) bool {
	if res.panicked != nil {
		l.obs.RequestDone(l.info, op.cmd, StatusProcessingFailure, op.msg.Data.Size(), time.Since(op.start), res.panicked)
		l.abort(pdu.AbortNotSpecified, res.panicked)
		return false
	}
	rsp, data := l.finalResponse(op, res)
	err := l.send(op.msg.ContextID, rsp, data)
	l.obs.RequestDone(l.info, op.cmd, rsp.Status, op.msg.Data.Size(), time.Since(op.start), firstErr(res.err, err))
	if err != nil {
		l.failWrite(err)
		return false
	}
	return true
}
