package dimse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shardpacs/shardpacs/dcm"
)

// tagFailedSOPInstanceUIDList is (0008,0058), sent in the identifier of a
// final C-MOVE/C-GET response (PS3.4 C.4.2.1.3.1, C.4.3.1.3.1).
const tagFailedSOPInstanceUIDList dcm.Tag = 0x00080058

// Move runs a C-MOVE (PS3.7 §9.1.4, PS3.4 C.4.2) in the information model
// model, a Query/Retrieve MOVE SOP Class UID (uid.StudyRootQRMove...): the
// peer sends the instances matching identifier (encoded in the context's
// transfer syntax) to the AE destination over associations of its own.
//
// progress, when not nil, is called with the counts of every pending
// response. Cancelling ctx sends a C-CANCEL-RQ and drains up to the final
// response, as for [ClientConn.Find].
//
// Result: the counts of the final response, with FailedSOPInstanceUIDs
// from its Failed SOP Instance UID List (0008,0058) when present; the final
// status; and as error: ctx's cause when cancelled, otherwise nil for
// success and a *StatusError for any other status (0xB000 warning
// included). When err is neither, no final response was received.
func (cc *ClientConn) Move(ctx context.Context, model, destination string, identifier []byte, progress func(SubOps)) (SubOps, Status, error) {
	pc, err := cc.contextFor(model, "")
	if err != nil {
		return SubOps{}, 0, err
	}
	if err := cc.lock(ctx); err != nil {
		return SubOps{}, 0, err
	}
	defer cc.unlock()
	id := cc.messageID()
	cmd := NewCMoveRQ(id, model, destination, PriorityMedium)
	return cc.retrieve(ctx, pc.ID, pc.TransferSyntax, cmd, identifier, progress, nil)
}

// Get runs a C-GET (PS3.7 §9.1.3, PS3.4 C.4.3) in the information model
// model, a Query/Retrieve GET SOP Class UID (uid.StudyRootQRGet...): the
// peer sends the instances matching identifier back on this association,
// as C-STORE sub-operations on the storage contexts proposed with the SCP
// role ([StorageContexts](..., true)).
//
// Each C-STORE-RQ received is served by h and answered with the status the
// [Server] would give (see [StoreHandler]): nil → Success, a *StatusError
// or Status → that status, any other error → 0x0110. A C-STORE-RQ on a
// context without our SCP role, or for another SOP class than the
// context's, is answered 0x0122 without calling h; a data set over
// Client.Limits 0xA700. The StoreRequest's Assoc describes this
// association with ID 0. h runs on the calling goroutine with ctx, so
// cancelling ctx also reaches a store in progress.
//
// progress and the results are as for [ClientConn.Move].
func (cc *ClientConn) Get(ctx context.Context, model string, identifier []byte, h StoreHandler, progress func(SubOps)) (SubOps, Status, error) {
	if h == nil {
		return SubOps{}, 0, errors.New("dimse: C-GET: nil StoreHandler")
	}
	pc, err := cc.contextFor(model, "")
	if err != nil {
		return SubOps{}, 0, err
	}
	if err := cc.lock(ctx); err != nil {
		return SubOps{}, 0, err
	}
	defer cc.unlock()
	id := cc.messageID()
	cmd := NewCGetRQ(id, model, PriorityMedium)
	return cc.retrieve(ctx, pc.ID, pc.TransferSyntax, cmd, identifier, progress, h)
}

// retrieve sends a C-MOVE-RQ or C-GET-RQ and reads its responses (and,
// for C-GET, serves the C-STORE sub-operations) up to the final one.
func (cc *ClientConn) retrieve(ctx context.Context, ctxID uint8, ts string, cmd *Command, identifier []byte,
	progress func(SubOps), h StoreHandler) (SubOps, Status, error) {
	name := cmd.CommandField.String()
	if err := cmd.Validate(); err != nil {
		return SubOps{}, 0, fmt.Errorf("dimse: %s: %w", name, err)
	}
	id := cmd.MessageID
	want := cmd.CommandField.Response()
	op := cc.startOp(ctx, ctxID, id)
	defer op.end()
	if err := cc.send(op.wctx, ctxID, cmd, bytes.NewReader(identifier)); err != nil {
		return SubOps{}, 0, fmt.Errorf("dimse: %s: %w", name, err)
	}
	for {
		msg, err := cc.receive(op.rctx)
		if err != nil && msg == nil {
			return SubOps{}, 0, fmt.Errorf("dimse: %s: %w", name, cc.drainErr(op, err))
		}
		if h != nil && msg.Command.CommandField == CStoreRQ {
			serr := cc.serveSubStore(ctx, msg, err, h)
			_ = msg.Close()
			if serr != nil {
				return SubOps{}, 0, fmt.Errorf("dimse: %s: answering a C-STORE sub-operation: %w", name, serr)
			}
			op.checkCtx(ctx)
			continue
		}
		if !isResponse(msg, want, id) {
			return SubOps{}, 0, fmt.Errorf("dimse: %s: %w", name, cc.unexpected(msg, want, id))
		}
		ops := subOpsOf(msg.Command)
		st := msg.Command.Status
		if st.Type() == StatusTypePending {
			_ = msg.Close()
			if progress != nil {
				progress(ops)
			}
			op.checkCtx(ctx)
			continue
		}
		if err == nil && msg.Data != nil {
			ops.FailedSOPInstanceUIDs = failedUIDs(msg.Data, ts)
		}
		_ = msg.Close()
		if cause := op.end(); cause != nil {
			return ops, st, cause
		}
		return ops, st, statusErr(msg.Command)
	}
}

// serveSubStore answers one C-STORE-RQ of a C-GET (PS3.4 C.4.3.3) on the
// context it came on. dataErr is the MessageReader's verdict on its data
// set (ErrDataSetTooLarge, ErrSpool) or nil. The returned error is a
// failure to send the response.
func (cc *ClientConn) serveSubStore(ctx context.Context, msg *Message, dataErr error, h StoreHandler) error {
	rq := msg.Command
	rsp := NewResponse(rq, StatusSuccess)
	pc, ok := cc.assoc.ContextByID(msg.ContextID)
	switch {
	case !ok || !pc.SCPRole || pc.AbstractSyntax != rq.AffectedSOPClassUID:
		rsp.Status = StatusSOPClassNotSupported
	case rq.Validate() != nil:
		rsp.Status = StatusInvalidAttributeValue
	case dataErr != nil:
		rsp.Status = StatusOutOfResources
	default:
		req := &StoreRequest{
			Assoc:                 &cc.info,
			Command:               rq,
			ContextID:             msg.ContextID,
			SOPClassUID:           rq.AffectedSOPClassUID,
			SOPInstanceUID:        rq.AffectedSOPInstanceUID,
			TransferSyntaxUID:     pc.TransferSyntax,
			MoveOriginatorAETitle: rq.MoveOriginatorApplicationEntityTitle,
			DataSet:               msg.Data,
		}
		if rq.MoveOriginatorMessageID != nil {
			req.MoveOriginatorMessageID = *rq.MoveOriginatorMessageID
		}
		rsp.SetError(h.ServeStore(ctx, req), StatusProcessingFailure)
	}
	// The response is small: write it whole whatever ctx says.
	return cc.send(context.WithoutCancel(ctx), msg.ContextID, rsp, nil)
}

// subOpsOf reads the sub-operation counters of a C-MOVE/C-GET response
// (absent = 0).
func subOpsOf(c *Command) SubOps {
	n := func(p *uint16) int {
		if p == nil {
			return 0
		}
		return int(*p)
	}
	return SubOps{
		Remaining: n(c.NumberOfRemainingSuboperations),
		Completed: n(c.NumberOfCompletedSuboperations),
		Failed:    n(c.NumberOfFailedSuboperations),
		Warning:   n(c.NumberOfWarningSuboperations),
	}
}

// failedUIDs extracts Failed SOP Instance UID List (0008,0058) from the
// identifier of a final response; nil when absent or unreadable (the
// counts still tell that something failed).
func failedUIDs(d *DataSet, ts string) []string {
	b, err := dataBytes(d)
	if err != nil || len(b) == 0 {
		return nil
	}
	elems, err := dcm.DecodeIdentifier(b, ts, dcm.Limits{})
	if err != nil {
		return nil
	}
	for _, e := range elems {
		if e.Tag == tagFailedSOPInstanceUIDList && e.Value != "" {
			return strings.Split(e.Value, `\`)
		}
	}
	return nil
}
