package dimse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// findResponder is the FindResponder of one C-FIND.
type findResponder struct {
	l  *assocLoop
	op *operation
}

// Pending sends a C-FIND-RSP 0xFF00 with identifier (PS3.4 C.4.1.1.4).
func (w *findResponder) Pending(identifier []byte) error {
	if err := w.op.ctx.Err(); err != nil {
		return err
	}
	rsp := NewResponse(w.op.cmd, StatusPending)
	return w.l.sendFromOp(w.op.msg.ContextID, rsp, bytes.NewReader(identifier))
}

// subOpsResponder is the MoveResponder of one C-MOVE and the Progress half
// of a GetResponder.
type subOpsResponder struct {
	l  *assocLoop
	op *operation
}

// Progress sends a C-MOVE-RSP or C-GET-RSP 0xFF00 with the four counts
// (PS3.7 §9.3.3.2, §9.3.4.2).
func (w *subOpsResponder) Progress(so SubOps) error {
	if err := w.op.ctx.Err(); err != nil {
		return err
	}
	rsp := NewResponse(w.op.cmd, StatusPending)
	rsp.SetSuboperations(clamp16(so.Remaining), clamp16(so.Completed), clamp16(so.Failed), clamp16(so.Warning), true)
	return w.l.sendFromOp(w.op.msg.ContextID, rsp, nil)
}

// getResponder adds the C-STORE sub-operations of C-GET (PS3.4 C.4.3.3).
type getResponder struct{ subOpsResponder }

// TransferSyntaxes lists the transfer syntaxes accepted for sopClassUID on
// contexts where the requestor is SCP, in context ID order.
func (w *getResponder) TransferSyntaxes(sopClassUID string) []string {
	var out []string
	for _, c := range w.l.a.Contexts() {
		if c.AbstractSyntax == sopClassUID && c.SCPRole {
			out = append(out, c.TransferSyntax)
		}
	}
	return out
}

// Store sends one C-STORE-RQ on this association and waits for the
// peer's C-STORE-RSP, which the loop goroutine routes here.
func (w *getResponder) Store(ctx context.Context, sopClassUID, sopInstanceUID, transferSyntaxUID string, data io.Reader) (Status, error) {
	l := w.l
	var pc ul.Context
	found := false
	for _, c := range l.a.Contexts() {
		if c.AbstractSyntax == sopClassUID && c.TransferSyntax == transferSyntaxUID && c.SCPRole {
			pc, found = c, true
			break
		}
	}
	if !found {
		return 0, fmt.Errorf("%w: %s in %s with the requestor as SCP", ErrNoContext, sopClassUID, transferSyntaxUID)
	}
	if err := w.op.ctx.Err(); err != nil {
		return 0, err
	}
	id, ch := l.registerSub()
	defer l.unregisterSub(id)
	rq := NewCStoreRQ(id, sopClassUID, sopInstanceUID, w.op.cmd.Priority)
	if err := l.sendFromOp(pc.ID, rq, data); err != nil {
		return 0, err
	}
	select {
	case rsp := <-ch:
		st := rsp.Command.Status
		rsp.Close()
		return st, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-w.op.ctx.Done():
		return 0, w.op.ctx.Err()
	}
}

// registerSub allocates a Message ID for a sub-operation and the channel
// its response is delivered on.
func (l *assocLoop) registerSub() (uint16, chan *Message) {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	for {
		l.subMsgID++
		if _, busy := l.subWait[l.subMsgID]; !busy && l.subMsgID != 0 {
			break
		}
	}
	ch := make(chan *Message, 1)
	l.subWait[l.subMsgID] = ch
	return l.subMsgID, ch
}

func (l *assocLoop) unregisterSub(id uint16) {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	delete(l.subWait, id)
}

// deliverSub hands a C-STORE-RSP to the Store waiting for it; false when
// nobody waits (late or bogus response).
func (l *assocLoop) deliverSub(msg *Message) bool {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	ch, ok := l.subWait[msg.Command.MessageIDBeingRespondedTo]
	if !ok {
		return false
	}
	delete(l.subWait, msg.Command.MessageIDBeingRespondedTo)
	ch <- msg // buffered, one response per ID
	return true
}

// sendFromOp sends from the operation goroutine; a message sent in part
// aborts the association.
func (l *assocLoop) sendFromOp(contextID uint8, cmd *Command, data io.Reader) error {
	err := l.send(contextID, cmd, data)
	if err != nil && errors.Is(err, ErrMessageIncomplete) {
		l.failWrite(err)
	}
	return err
}

// finalResponse builds the final C-FIND/C-MOVE/C-GET response and its
// identifier, if any, from the handler's result (see MoveHandler).
func (l *assocLoop) finalResponse(op *operation, res opResult) (*Command, io.Reader) {
	rsp := NewResponse(op.cmd, StatusSuccess)
	cancelled := op.cancelled.Load()
	if op.cmd.CommandField == CFindRQ {
		switch {
		case cancelled:
			rsp.Status = StatusCancel
		default:
			rsp.SetError(res.err, StatusUnableToProcess)
		}
		return rsp, nil
	}
	so := res.sub
	withFailedList := false
	switch {
	case cancelled:
		rsp.Status = StatusCancel
		withFailedList = len(so.FailedSOPInstanceUIDs) > 0
	case res.err != nil:
		rsp.SetError(res.err, StatusUnableToProcess)
		withFailedList = len(so.FailedSOPInstanceUIDs) > 0
	case so.Failed > 0 && so.Completed+so.Warning == 0:
		rsp.Status = StatusOutOfResourcesSubops
		withFailedList = true
	case so.Failed+so.Warning > 0:
		rsp.Status = StatusSubopsCompleteWithFailures
		withFailedList = true
	}
	rsp.SetSuboperations(clamp16(so.Remaining), clamp16(so.Completed), clamp16(so.Failed), clamp16(so.Warning),
		cancelled && so.Remaining > 0)
	if !withFailedList {
		return rsp, nil
	}
	return rsp, bytes.NewReader(failedSOPInstanceUIDList(op.pc.TransferSyntax, so.FailedSOPInstanceUIDs))
}

// failedSOPInstanceUIDList encodes an identifier holding only Failed SOP
// Instance UID List (0008,0058), VR UI, multi-valued, in the little endian
// transfer syntax ts (PS3.4 C.4.2.1.3.1). UIDs that would push the value
// past 0xFFFE bytes (the 16-bit length of Explicit VR) are left out.
func failedSOPInstanceUIDList(ts string, uids []string) []byte {
	var v strings.Builder
	for _, u := range uids {
		n := v.Len() + len(u)
		if v.Len() > 0 {
			n++
		}
		if n > 0xFFFE-1 {
			break
		}
		if v.Len() > 0 {
			v.WriteByte('\\')
		}
		v.WriteString(u)
	}
	val := []byte(v.String())
	if len(val)%2 == 1 {
		val = append(val, 0)
	}
	out := binary.LittleEndian.AppendUint16(nil, 0x0008)
	out = binary.LittleEndian.AppendUint16(out, 0x0058)
	if ts == uid.ImplicitVRLittleEndian {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(val)))
	} else {
		out = append(out, 'U', 'I')
		out = binary.LittleEndian.AppendUint16(out, uint16(len(val)))
	}
	return append(out, val...)
}

// clamp16 fits a count into an unsigned 16-bit element.
func clamp16(n int) uint16 { return uint16(min(max(n, 0), 0xFFFF)) }
