package dimse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Find runs a C-FIND (PS3.7 §9.1.2, PS3.4 C.4.1) in the information model
// model, a Query/Retrieve FIND SOP Class UID (uid.PatientRootQRFind,
// uid.StudyRootQRFind...), on the first accepted context for it.
// identifier is the query data set, already encoded in that context's
// transfer syntax ([ClientConn.TransferSyntax]; dcm.EncodeIdentifier).
//
// fn is called, in order, with the identifier of every pending response
// (0xFF00, 0xFF01), encoded in the same transfer syntax; the slice is the
// caller's to keep. fn may be nil. When fn returns an error, or ctx is
// cancelled, Find sends a C-CANCEL-RQ (PS3.7 §9.3.2.3), stops calling fn,
// and reads the remaining responses up to the final one (the peer then
// answers 0xFE00 Cancel, or success if it had finished first), waiting at
// most DefaultCancelDrainTimeout before aborting the association.
//
// Result: the final status, and as error: the cause of the cancellation
// when there was one (fn's error, or ctx's); otherwise nil for success and
// a *StatusError for any other final status. When err is neither, no
// final response was received and the status means nothing.
func (cc *ClientConn) Find(ctx context.Context, model string, identifier []byte, fn func(identifier []byte) error) (Status, error) {
	pc, err := cc.contextFor(model, "")
	if err != nil {
		return 0, err
	}
	if err := cc.lock(ctx); err != nil {
		return 0, err
	}
	defer cc.unlock()
	id := cc.messageID()
	cmd := NewCFindRQ(id, model, PriorityMedium)
	if err := cmd.Validate(); err != nil {
		return 0, fmt.Errorf("dimse: C-FIND: %w", err)
	}
	op := cc.startOp(ctx, pc.ID, id)
	defer op.end()
	// The request is small: send it whole even if ctx ends meanwhile (a
	// cut message would cost the association); the ctx watch cancels it.
	if err := cc.send(op.wctx, pc.ID, cmd, bytes.NewReader(identifier)); err != nil {
		return 0, fmt.Errorf("dimse: C-FIND: %w", err)
	}
	for {
		msg, err := cc.receive(op.rctx)
		if err != nil && msg == nil {
			return 0, fmt.Errorf("dimse: C-FIND: %w", cc.drainErr(op, err))
		}
		if !isResponse(msg, CFindRSP, id) {
			return 0, fmt.Errorf("dimse: C-FIND: %w", cc.unexpected(msg, CFindRSP, id))
		}
		st := msg.Command.Status
		if st.Type() != StatusTypePending {
			_ = msg.Close()
			if cause := op.end(); cause != nil {
				return st, cause
			}
			return st, statusErr(msg.Command)
		}
		if err != nil { // an identifier over our limits: stop here
			op.cancel(fmt.Errorf("dimse: C-FIND: pending response: %w", err))
		} else if fn != nil && op.cancelled() == nil {
			b, rerr := dataBytes(msg.Data)
			if rerr == nil {
				rerr = fn(b)
			}
			if rerr != nil {
				op.cancel(rerr)
			}
		}
		_ = msg.Close()
		op.checkCtx(ctx)
	}
}

// drainErr explains a read failure during an operation: past a cancel
// that the peer did not answer in time, say so.
func (cc *ClientConn) drainErr(op *pendingOp, err error) error {
	if errors.Is(err, context.Canceled) && context.Cause(op.rctx) == errCancelIgnored {
		return fmt.Errorf("%w: %w", errCancelIgnored, err)
	}
	return err
}

// dataBytes returns a copy of the bytes of a received data set (nil for
// none): the caller keeps it, while the DataSet's memory returns to a pool
// on Close.
func dataBytes(d *DataSet) ([]byte, error) {
	if d.Size() == 0 {
		return nil, nil
	}
	b := make([]byte, d.Size())
	if _, err := d.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}
