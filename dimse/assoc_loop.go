package dimse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// assocLoop serves the DIMSE messages of one established association
// (PS3.7 §6.3, asynchronous operations window 1). The goroutine calling
// run owns it; one reader goroutine feeds it messages; a C-FIND, C-MOVE or
// C-GET handler runs on an operation goroutine.
type assocLoop struct {
	s    *Server
	a    *ul.Association
	info *AssociationInfo
	obs  Observer

	ctx    context.Context // cancelled when the association ends
	cancel context.CancelFunc

	in   chan readResult // from the reader goroutine
	stop chan struct{}   // closed when run returns

	writeMu sync.Mutex // one message at a time on the wire

	subMu    sync.Mutex
	subWait  map[uint16]chan *Message // C-GET sub-operations awaiting C-STORE-RSP
	subMsgID uint16

	mu       sync.Mutex
	abortWhy error // why we aborted, reported instead of ul's error (under mu)
}

// readResult is one ReadMessage outcome.
type readResult struct {
	msg *Message
	err error
}

func newAssocLoop(s *Server, a *ul.Association, info *AssociationInfo, ctx context.Context, cancel context.CancelFunc) *assocLoop {
	return &assocLoop{
		s: s, a: a, info: info, obs: s.observer(),
		ctx: ctx, cancel: cancel,
		in:      make(chan readResult),
		stop:    make(chan struct{}),
		subWait: make(map[uint16]chan *Message),
	}
}

// recoverable reports whether ReadMessage can be called again after err:
// the data set was refused, but the message was read to its end.
func recoverable(err error) bool {
	return errors.Is(err, ErrDataSetTooLarge) || errors.Is(err, ErrSpool)
}

// read is the reader goroutine: it reads messages until the association
// ends or the stream breaks, and cancels the association context then, so
// that running handlers stop.
func (l *assocLoop) read() {
	r := &MessageReader{R: l.a, Limits: l.s.Limits}
	for {
		msg, err := r.ReadMessage(l.ctx)
		final := err != nil && !recoverable(err)
		if final {
			l.cancel()
		}
		select {
		case l.in <- readResult{msg, err}:
		case <-l.stop:
			msg.Close()
			return
		}
		if final {
			return
		}
	}
}

// run serves messages until the association ends. It returns once no
// goroutine of the loop is left except, possibly, the reader's, which
// exits as soon as the association is done.
func (l *assocLoop) run() {
	go l.read()
	defer close(l.stop)
	defer l.cancel()
	for {
		rr := <-l.in
		if !l.dispatch(rr) {
			return
		}
	}
}

// dispatch handles one message outside an operation; false ends the loop.
func (l *assocLoop) dispatch(rr readResult) bool {
	if rr.msg == nil {
		l.endOnError(rr.err)
		return false
	}
	msg := rr.msg
	cmd := msg.Command
	cf := cmd.CommandField
	switch {
	case cf.IsResponse() || cf == CCancelRQ:
		// A response to nothing we sent, or a late C-CANCEL-RQ (PS3.7
		// §9.3.2.3: a cancel for a finished operation is ignored).
		msg.Close()
		return true
	case cf == CFindRQ || cf == CMoveRQ || cf == CGetRQ:
		if op := l.prepareOp(msg, rr.err); op != nil {
			return l.runOp(op)
		}
		return !l.ended()
	}
	start := time.Now()
	var herr error
	fallback := StatusProcessingFailure
	switch cf {
	case CEchoRQ:
		var panicked *PanicError
		herr, panicked = l.serveEcho(msg, rr.err)
		if panicked != nil {
			msg.Close()
			l.abort(pdu.AbortNotSpecified, panicked)
			return false
		}
	case CStoreRQ:
		var panicked *PanicError
		herr, panicked = l.serveStore(msg, rr.err)
		if panicked != nil {
			msg.Close()
			l.abort(pdu.AbortNotSpecified, panicked)
			return false
		}
	default:
		herr = &StatusError{Status: StatusUnrecognizedOperation,
			Err: fmt.Errorf("dimse: unrecognized command field 0x%04X", uint16(cf))}
	}
	rsp := NewResponse(cmd, StatusSuccess)
	rsp.SetError(herr, fallback)
	err := l.send(msg.ContextID, rsp, nil)
	l.obs.RequestDone(l.info, cmd, rsp.Status, msg.Data.Size(), time.Since(start), firstErr(herr, err))
	msg.Close()
	if err != nil {
		l.failWrite(err)
		return false
	}
	return true
}

// ended reports whether the association context is over.
func (l *assocLoop) ended() bool { return l.ctx.Err() != nil }

// check verifies a request against its presentation context: the Affected
// SOP Class UID must be the context's abstract syntax (else 0x0122, PS3.7
// §9.1 and adversarial row 17), the service must fit the SOP class (else
// 0x0211), the command must be valid (else 0xA900 with the offending
// element), and the data set must not have been refused (0xA700). It
// returns StatusSuccess when the request may be served.
func (l *assocLoop) check(msg *Message, readErr error) Status {
	cmd := msg.Command
	pc, ok := l.a.ContextByID(msg.ContextID)
	if !ok || cmd.AffectedSOPClassUID != pc.AbstractSyntax {
		return StatusSOPClassNotSupported
	}
	svc := l.s.serviceOf(pc.AbstractSyntax)
	if svc == svcNone {
		return StatusSOPClassNotSupported
	}
	if svc != cmdService(cmd.CommandField) {
		return StatusUnrecognizedOperation
	}
	if readErr != nil {
		return StatusOutOfResources
	}
	if cmd.Validate() != nil {
		return StatusDataSetDoesNotMatchSOPClass
	}
	return StatusSuccess
}

// checkErr is check as an error for SetError: a *StatusError whose
// comment and offending element explain a validation failure.
func (l *assocLoop) checkErr(msg *Message, readErr error) error {
	st := l.check(msg, readErr)
	switch st {
	case StatusSuccess:
		return nil
	case StatusDataSetDoesNotMatchSOPClass:
		err := msg.Command.Validate()
		se := &StatusError{Status: st, Err: err, Comment: "invalid command element"}
		var ee *ElementError
		if errors.As(err, &ee) {
			se.Offending = []Tag{ee.Tag}
		}
		return se
	case StatusOutOfResources:
		return &StatusError{Status: st, Comment: "data set refused", Err: readErr}
	case StatusSOPClassNotSupported:
		return &StatusError{Status: st, Comment: "SOP class not supported on this presentation context"}
	}
	return &StatusError{Status: st, Comment: "operation not supported for this SOP class"}
}

// send writes one message, serialized with every other write.
func (l *assocLoop) send(contextID uint8, cmd *Command, data io.Reader) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return WriteMessage(l.ctx, l.a, contextID, cmd, data, l.a.MaxSendPDULength())
}

// endOnError ends the loop after a fatal read error: a protocol error is
// answered with A-ABORT (PS3.8 9.3.8, adversarial row 15); release, peer
// abort and transport loss need nothing more.
func (l *assocLoop) endOnError(err error) {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		l.setAbortWhy(err)
		_ = l.a.AbortPDU(pe.Abort())
	}
}

// failWrite ends the association after a write failure: a message sent in
// part leaves the peer out of step (ErrMessageIncomplete), so abort.
func (l *assocLoop) failWrite(err error) {
	if l.ended() {
		return
	}
	l.abort(pdu.AbortNotSpecified, err)
}

// abort sends A-ABORT (source service-provider, reason) and records why.
func (l *assocLoop) abort(reason pdu.AbortReason, why error) {
	l.setAbortWhy(why)
	_ = l.a.AbortPDU(&pdu.Abort{Source: pdu.AbortServiceProvider, Reason: reason})
	l.cancel()
}

func (l *assocLoop) setAbortWhy(why error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.abortWhy == nil {
		l.abortWhy = why
	}
}

// whyAborted is the cause of an abort we sent, nil when we did not.
func (l *assocLoop) whyAborted() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.abortWhy
}

// serveEcho answers a C-ECHO-RQ (PS3.7 9.1.5): success unless the request
// is invalid or the Server's Echo hook refuses it; a hook panic is
// returned like a handler's.
func (l *assocLoop) serveEcho(msg *Message, readErr error) (err error, panicked *PanicError) {
	if err := l.checkErr(msg, readErr); err != nil || l.s.Echo == nil {
		return err, nil
	}
	defer recoverPanic(&panicked)
	return l.s.Echo(l.ctx, l.info), nil
}

// recoverPanic turns a handler panic into a *PanicError.
func recoverPanic(p *(*PanicError)) {
	if v := recover(); v != nil {
		*p = panicError(v)
	}
}

func panicError(v any) *PanicError { return &PanicError{Value: v, Stack: debug.Stack()} }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
