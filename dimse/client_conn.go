package dimse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// ErrUnexpectedMessage: the peer sent a DIMSE message that does not answer
// the operation in progress (wrong command field or Message ID Being
// Responded To, a request we do not serve). The association is aborted.
var ErrUnexpectedMessage = errors.New("dimse: unexpected message from the peer")

// ClientConn is one association opened by [Client.Dial], on which we are
// the requestor (PS3.7 §9, DIMSE-C service user).
//
// Concurrency: every method may be called from any goroutine. Operations
// (Echo, Store, Find, Move, Get) run one at a time, in the order they get
// the connection: no asynchronous operations window is negotiated (PS3.7
// D.3.3.3), so a second call waits until the first one has its final
// response. Abort does not wait: it may interrupt an operation in progress.
//
// The association ends with Release, Close or Abort, or when the peer
// aborts, breaks the protocol or goes silent past the timeouts; operations
// then fail with an error wrapping why (ul.ErrClosed, the *pdu.Abort...).
type ClientConn struct {
	assoc           *ul.Association
	info            AssociationInfo
	responseTimeout time.Duration
	artim           time.Duration

	sem    chan struct{} // holds one token while an operation runs
	reader MessageReader // under sem
	nextID uint16        // under sem: the last Message ID used

	wmu sync.Mutex // serialises whole messages on the wire
}

func newClientConn(c *Client, a *ul.Association, st *tls.ConnectionState) *ClientConn {
	cc := &ClientConn{
		assoc:           a,
		responseTimeout: c.ResponseTimeout,
		artim:           c.artimTimeout(),
		info: AssociationInfo{
			CallingAETitle: a.CallingAETitle(),
			CalledAETitle:  a.CalledAETitle(),
			RemoteAddr:     a.RemoteAddr(),
			TLS:            st,
		},
	}
	cc.reader = MessageReader{R: a, Limits: c.Limits}
	cc.sem = make(chan struct{}, 1)
	return cc
}

// lock waits for the operation in progress to end, or for ctx.
func (cc *ClientConn) lock(ctx context.Context) error {
	select {
	case cc.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (cc *ClientConn) unlock() { <-cc.sem }

// Association returns the underlying upper-layer association: negotiated
// contexts, the A-ASSOCIATE-AC, Done and Err. Do not read or send P-DATA on
// it directly.
func (cc *ClientConn) Association() *ul.Association { return cc.assoc }

// Done is closed once the association has ended and its transport is
// closed.
func (cc *ClientConn) Done() <-chan struct{} { return cc.assoc.Done() }

// TransferSyntax returns the transfer syntax negotiated for the first
// (lowest ID) accepted presentation context of abstractSyntax, and false
// when none was accepted. Identifiers given to Find, Move and Get must be
// encoded in it.
func (cc *ClientConn) TransferSyntax(abstractSyntax string) (string, bool) {
	for _, c := range cc.assoc.Contexts() {
		if c.AbstractSyntax == abstractSyntax {
			return c.TransferSyntax, true
		}
	}
	return "", false
}

// contextFor returns the first accepted context of abstractSyntax on which
// we may act as SCU and, when ts is not "", whose transfer syntax is ts.
func (cc *ClientConn) contextFor(abstractSyntax, ts string) (ul.Context, error) {
	found := false
	for _, c := range cc.assoc.Contexts() {
		if c.AbstractSyntax != abstractSyntax || !c.SCURole {
			continue
		}
		found = true
		if ts == "" || c.TransferSyntax == ts {
			return c, nil
		}
	}
	if found {
		return ul.Context{}, fmt.Errorf("%w: %s accepted, but not in transfer syntax %s", ErrNoContext, abstractSyntax, ts)
	}
	return ul.Context{}, fmt.Errorf("%w: %s not accepted with the SCU role", ErrNoContext, abstractSyntax)
}

// messageID returns the next Message ID (PS3.7 §9.1.1.1.1: unique among
// the requests outstanding; we have one at a time). Called under sem.
func (cc *ClientConn) messageID() uint16 {
	cc.nextID++
	if cc.nextID == 0 {
		cc.nextID = 1
	}
	return cc.nextID
}

// send writes one message. A message cut short leaves the peer unable to
// parse what follows: the association is then aborted.
func (cc *ClientConn) send(ctx context.Context, contextID uint8, cmd *Command, data io.Reader) error {
	cc.wmu.Lock()
	err := WriteMessage(ctx, cc.assoc, contextID, cmd, data, cc.assoc.MaxSendPDULength())
	cc.wmu.Unlock()
	if err != nil {
		if errors.Is(err, ErrMessageIncomplete) {
			_ = cc.assoc.Abort(pdu.AbortNotSpecified)
		}
		return cc.endErr(err)
	}
	return nil
}

// receive reads the next message, bounded by ResponseTimeout. Any failure
// aborts the association: the stream may be mid-message, and a peer
// that broke the protocol or went silent is not worth keeping.
func (cc *ClientConn) receive(ctx context.Context) (*Message, error) {
	if cc.responseTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cc.responseTimeout)
		defer cancel()
	}
	msg, err := cc.reader.ReadMessage(ctx)
	if err == nil {
		return msg, nil
	}
	if errors.Is(err, ErrDataSetTooLarge) || errors.Is(err, ErrSpool) {
		return msg, err // the message was drained: the caller decides
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		_ = cc.assoc.Abort(pe.Reason)
	} else {
		_ = cc.assoc.Abort(pdu.AbortNotSpecified)
	}
	return nil, cc.endErr(err)
}

// unexpected aborts the association because of msg and returns the error.
func (cc *ClientConn) unexpected(msg *Message, want CommandField, id uint16) error {
	_ = cc.assoc.Abort(pdu.AbortNotSpecified)
	c := msg.Command
	_ = msg.Close()
	return fmt.Errorf("%w: %s (responding to %d) on context %d while waiting for %s to message %d",
		ErrUnexpectedMessage, c.CommandField, c.MessageIDBeingRespondedTo, msg.ContextID, want, id)
}

// isResponse reports whether msg answers request id with field want.
func isResponse(msg *Message, want CommandField, id uint16) bool {
	return msg.Command.CommandField == want && msg.Command.MessageIDBeingRespondedTo == id
}

// endErr adds why the association ended, when it has, to err.
func (cc *ClientConn) endErr(err error) error {
	if aerr := cc.assoc.Err(); aerr != nil && !errors.Is(err, aerr) {
		return fmt.Errorf("%w (association: %w)", err, aerr)
	}
	return err
}

// statusErr turns a final response into the (Status, error) pair the
// operations return: nil for success, a *StatusError carrying the Error
// Comment and Offending Element otherwise (warnings included).
func statusErr(cmd *Command) error {
	if cmd.Status.Err() == nil {
		return nil
	}
	return &StatusError{Status: cmd.Status, Comment: cmd.ErrorComment, Offending: cmd.OffendingElement}
}

// Release ends the association in order (PS3.8 A-RELEASE) once the
// operation in progress, if any, is over. P-DATA still arriving is read and
// discarded. If ctx ends first, the association is aborted and ctx.Err()
// returned. Released or aborted already: it returns nil or why it ended.
func (cc *ClientConn) Release(ctx context.Context) error {
	if err := cc.lock(ctx); err != nil {
		_ = cc.assoc.Abort(pdu.AbortNotSpecified)
		return fmt.Errorf("dimse: releasing the association: %w", err)
	}
	defer cc.unlock()
	select {
	case <-cc.assoc.Done():
		return cc.assoc.Err()
	default:
	}
	// A peer may still send (late responses): keep reading so that the
	// release can progress (PS3.8 AR-6), until the association is over.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			if _, err := cc.assoc.ReadPData(context.Background()); err != nil {
				return
			}
		}
	}()
	err := cc.assoc.Release(ctx)
	<-drained
	if err != nil {
		return fmt.Errorf("dimse: releasing the association: %w", err)
	}
	return nil
}

// Close releases the association, waiting at most the ARTIM timeout for
// the peer, and aborts it otherwise. It is Release with a deadline.
func (cc *ClientConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), cc.artim)
	defer cancel()
	return cc.Release(ctx)
}

// Abort ends the association at once with A-ABORT (source service-user,
// PS3.8 §7.3.1); an operation in progress fails. It returns once the
// A-ABORT is written, without waiting for the peer to close the transport
// (wait on Done for that). Aborting an ended association returns nil.
func (cc *ClientConn) Abort() error {
	err := cc.assoc.Abort(pdu.AbortNotSpecified)
	if errors.Is(err, ul.ErrClosed) {
		return nil
	}
	return err
}
