package dimse

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// MessageReader assembles DIMSE messages from the PDVs an association
// receives (PS3.7 §6.3.1, PS3.8 Annex E): command fragments (command bit
// set) up to the one marked last, then, when Command Data Set Type is not
// 0x0101, data fragments up to the one marked last, all on one presentation
// context. A Server calls ReadMessage in a loop from one goroutine and
// dispatches; a C-CANCEL-RQ arriving while a C-FIND, C-MOVE or C-GET is
// served is simply the next message.
//
// The zero value with R set is ready to use, with default Limits.
// MessageReader is not safe for concurrent use.
type MessageReader struct {
	// R supplies the PDVs. Required.
	R PDataReader
	// Limits bounds commands, data sets and fragments; the zero value gives
	// the defaults.
	Limits Limits
	// AcceptContext, when non-nil, is asked about the presentation context
	// ID of each message's first fragment; false is a protocol error
	// (A-ABORT reason 6, adversarial row 15). nil accepts any ID (the upper
	// layer may check it instead).
	AcceptContext func(contextID uint8) bool

	pending []pdu.PDV   // PDVs received but not consumed yet
	buf     *pdu.Buffer // the pooled buffer pending (and the last PDV) alias, or nil
	err     error       // sticky: the stream is out of step with the messages
}

// PDataBufferReader is a [PDataReader] that lends pooled buffers instead of
// giving the PDV data away; *ul.Association implements it. The PDVs' Data
// alias buf, which holds one reference for the caller until it calls
// buf.Release (see pdu.Buffer). A MessageReader whose R implements it keeps
// data fragments in those buffers rather than copying them.
type PDataBufferReader interface {
	ReadPDataBuffer(ctx context.Context) (pdvs []pdu.PDV, buf *pdu.Buffer, err error)
}

// ReadMessage reads the next complete message.
//
// Errors:
//   - *[ProtocolError] (errors.Is ErrProtocol): the peer broke the fragment
//     rules or sent an undecodable command set; abort the association with
//     err.Abort(). The reader is then unusable: every later call returns the
//     same error.
//   - ErrDataSetTooLarge or ErrSpool: msg is non-nil with its Command (and
//     ContextID) but no Data; the rest of the message was read and
//     discarded, so the caller can answer (0xA700) and read on.
//   - an error from R: returned wrapped. If it came in the middle of a
//     message the reader is unusable afterwards (sticky); before the first
//     fragment (e.g. ctx cancelled while idle) it is not.
//
// The caller owns msg and must Close it to release a spooled data set.
func (r *MessageReader) ReadMessage(ctx context.Context) (*Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	msg, fatal, err := r.read(ctx)
	if fatal {
		r.err = err
	}
	return msg, err
}

// next returns the next PDV, reading a P-DATA-TF when none is pending.
// The PDV's Data alias r.buf when that is not nil, and stay valid until
// the following call.
func (r *MessageReader) next(ctx context.Context) (pdu.PDV, error) {
	if len(r.pending) == 0 {
		r.buf.Release() // the last PDV of the previous PDU is done with
		r.buf = nil
		var pdvs []pdu.PDV
		var err error
		if br, ok := r.R.(PDataBufferReader); ok {
			pdvs, r.buf, err = br.ReadPDataBuffer(ctx)
		} else {
			pdvs, err = r.R.ReadPData(ctx)
		}
		if err != nil {
			return pdu.PDV{}, fmt.Errorf("dimse: reading P-DATA: %w", err)
		}
		if len(pdvs) == 0 {
			return pdu.PDV{}, protocolErr(pdu.AbortInvalidParameterValue, "P-DATA-TF without PDV items")
		}
		r.pending = pdvs
	}
	p := r.pending[0]
	r.pending = r.pending[1:] // the slice belongs to R: not modified
	if len(r.pending) == 0 {
		r.pending = nil
	}
	return p, nil
}

// read does the work of ReadMessage; fatal reports whether err leaves the
// stream mid-message.
func (r *MessageReader) read(ctx context.Context) (msg *Message, fatal bool, err error) {
	lim := &r.Limits
	maxFrags, minAvg := lim.maxFragments(), int64(lim.minAverageFragmentSize())
	frags, total := 0, int64(0)
	count := func(n int) error {
		frags++
		total += int64(n)
		if frags > maxFrags {
			return protocolErr(pdu.AbortInvalidParameterValue, "message has more than %d fragments", maxFrags)
		}
		if minAvg > 0 && frags > FragmentGrace && total < int64(frags)*minAvg {
			return protocolErr(pdu.AbortInvalidParameterValue,
				"fragment flood: %d fragments carry %d bytes (average below %d)", frags, total, minAvg)
		}
		return nil
	}

	// Command fragments (PS3.8 E.2: message control header bit 0 set).
	maxCmd := lim.maxCommandSize()
	var cmdBuf []byte
	var ctxID uint8
	for first := true; ; first = false {
		p, err := r.next(ctx)
		if err != nil {
			return nil, !first || errors.Is(err, ErrProtocol), err
		}
		if first {
			ctxID = p.ContextID
			if r.AcceptContext != nil && !r.AcceptContext(ctxID) {
				return nil, true, protocolErr(pdu.AbortInvalidParameterValue,
					"PDV on presentation context %d, which is not accepted", ctxID)
			}
		} else if p.ContextID != ctxID {
			return nil, true, protocolErr(pdu.AbortInvalidParameterValue,
				"command fragment on presentation context %d inside a message on context %d", p.ContextID, ctxID)
		}
		if !p.Command {
			return nil, true, protocolErr(pdu.AbortUnexpectedPDU,
				"data fragment on context %d before the command set is complete", p.ContextID)
		}
		if err := count(len(p.Data)); err != nil {
			return nil, true, err
		}
		if len(cmdBuf)+len(p.Data) > maxCmd {
			return nil, true, protocolErr(pdu.AbortInvalidParameterValue, "command set longer than %d bytes", maxCmd)
		}
		cmdBuf = append(cmdBuf, p.Data...)
		if p.Last {
			break
		}
	}
	cmd, err := DecodeCommand(cmdBuf)
	if err != nil {
		return nil, true, &ProtocolError{Reason: pdu.AbortInvalidParameterValue, Msg: "undecodable command set", Err: err}
	}
	msg = &Message{ContextID: ctxID, Command: cmd}
	if !cmd.HasDataSet {
		return msg, false, nil
	}

	// Data fragments (bit 0 clear), same context, up to the last one.
	capBytes := lim.maxDataSetSize(cmd.CommandField)
	sp := newSpooler(lim.spoolThreshold(), lim.spoolDir())
	var dataErr error // once set, the rest of the message is drained
	for {
		p, err := r.next(ctx)
		if err != nil {
			sp.abandon()
			return nil, true, err
		}
		if p.ContextID != ctxID {
			sp.abandon()
			return nil, true, protocolErr(pdu.AbortInvalidParameterValue,
				"data fragment on presentation context %d inside a message on context %d", p.ContextID, ctxID)
		}
		if p.Command {
			sp.abandon()
			return nil, true, protocolErr(pdu.AbortUnexpectedPDU,
				"command fragment where a data fragment of the %s data set was expected", cmd.CommandField)
		}
		if err := count(len(p.Data)); err != nil {
			sp.abandon()
			return nil, true, err
		}
		if dataErr == nil {
			if sp.ds.size+int64(len(p.Data)) > capBytes {
				dataErr = fmt.Errorf("%w: %s data set over %d bytes", ErrDataSetTooLarge, cmd.CommandField, capBytes)
				sp.abandon()
			} else if err := sp.write(p.Data, r.buf); err != nil {
				dataErr = fmt.Errorf("%w: %w", ErrSpool, err)
				sp.abandon()
			}
		}
		if p.Last {
			break
		}
	}
	if dataErr != nil {
		return msg, false, dataErr
	}
	ds, err := sp.finish()
	if err != nil {
		return msg, false, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	msg.Data = ds
	return msg, false, nil
}
