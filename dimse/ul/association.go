package ul

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Association is an established DICOM association (PS3.8 Sta6 and the
// release states). One goroutine owns its state machine; the methods below
// hand it requests and are safe for concurrent use (one reader calling
// ReadPData and one or more writers calling SendPData is the intended use).
//
// It ends in one of three ways: orderly release (Err is nil, ReadPData
// returns io.EOF), an A-ABORT received (Err is the *pdu.Abort) or sent
// (Err is an *AbortedError), or a transport failure (Err wraps
// ErrTransportClosed). Done is closed once the transport is closed and every
// goroutine of the association has exited.
type Association struct {
	conn      net.Conn
	requestor bool
	rq        *pdu.AssociateRQ
	ac        *pdu.AssociateAC
	contexts  []Context
	byID      [256]int16 // index+1 into contexts, 0 = not accepted
	peerMax   uint32
	sendMax   uint32

	reqs  chan *request
	pdata chan pdataInd
	done  chan struct{}
	// err and released are written by the machine before done is closed.
	err      error
	released bool
}

func newAssociation(m *machine, rq *pdu.AssociateRQ, ac *pdu.AssociateAC, ctxs []Context) *Association {
	a := &Association{
		conn:      m.conn,
		requestor: m.requestor,
		rq:        rq,
		ac:        ac,
		reqs:      make(chan *request),
		pdata:     make(chan pdataInd),
		done:      make(chan struct{}),
	}
	a.contexts = append([]Context(nil), ctxs...)
	sortContexts(a.contexts)
	for i, c := range a.contexts {
		a.byID[c.ID] = int16(i + 1)
	}
	if m.requestor {
		a.peerMax = ac.UserInfo.MaxLength
	} else {
		a.peerMax = rq.UserInfo.MaxLength
	}
	a.sendMax = m.s.maxPDU
	if a.peerMax != 0 && a.peerMax < a.sendMax {
		a.sendMax = a.peerMax
	}
	return a
}

func sortContexts(c []Context) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j].ID < c[j-1].ID; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

// CallingAETitle is the requestor's AE title from the A-ASSOCIATE-RQ
// (peer-controlled on the acceptor side: escape it before logging).
func (a *Association) CallingAETitle() string { return a.rq.CallingAETitle }

// CalledAETitle is the Called AE Title of the A-ASSOCIATE-RQ.
func (a *Association) CalledAETitle() string { return a.rq.CalledAETitle }

// RemoteAddr is the peer's transport address.
func (a *Association) RemoteAddr() net.Addr { return a.conn.RemoteAddr() }

// LocalAddr is our transport address.
func (a *Association) LocalAddr() net.Addr { return a.conn.LocalAddr() }

// IsRequestor reports whether this side sent the A-ASSOCIATE-RQ.
func (a *Association) IsRequestor() bool { return a.requestor }

// AssociateRQ and AssociateAC return the negotiation PDUs (user identity,
// implementation UIDs, extended negotiation). They are shared: read only.
func (a *Association) AssociateRQ() *pdu.AssociateRQ { return a.rq }

// AssociateAC: see AssociateRQ.
func (a *Association) AssociateAC() *pdu.AssociateAC { return a.ac }

// PeerMaxPDULength is the Maximum Length the peer advertised (PS3.8 D.1);
// 0 means unlimited.
func (a *Association) PeerMaxPDULength() uint32 { return a.peerMax }

// MaxSendPDULength is the largest PDU-length of a P-DATA-TF that SendPData
// accepts: the peer's Maximum Length, capped by our own MaxPDULength (also
// when the peer said 0, unlimited). Fragment with
// pdu.MaxPDVData(a.MaxSendPDULength()).
func (a *Association) MaxSendPDULength() uint32 { return a.sendMax }

// Contexts returns the accepted presentation contexts sorted by ID (a copy).
func (a *Association) Contexts() []Context { return append([]Context(nil), a.contexts...) }

// ContextByID returns the accepted presentation context with that ID.
func (a *Association) ContextByID(id uint8) (Context, bool) {
	if i := a.byID[id]; i > 0 {
		return a.contexts[i-1], true
	}
	return Context{}, false
}

// Done is closed when the association has ended and its transport is closed.
func (a *Association) Done() <-chan struct{} { return a.done }

// Err is nil while the association runs and after an orderly release;
// otherwise why it ended (see Association).
func (a *Association) Err() error {
	select {
	case <-a.done:
		return a.err
	default:
		return nil
	}
}

// endErr is what a call returns once the association has ended.
func (a *Association) endErr() error {
	if a.released {
		return io.EOF
	}
	return a.err
}

// ReadPData returns the PDV items of the next P-DATA-TF received (PS3.8
// P-DATA indication). The slice and the Data it references belong to the
// caller: they are never reused (see ReadPDataBuffer for the variant that
// recycles them). Every PDV names an accepted presentation context (others
// abort the association with A-ABORT (2,6)).
//
// It returns io.EOF once the association was released (in either direction)
// and its transport closed, the *pdu.Abort when the peer aborted, an
// *AbortedError when we aborted (protocol error, idle timeout, Abort), or an
// error wrapping ErrTransportClosed. Until ReadPData is called, no further
// PDU is read from the peer (back-pressure); ctx only bounds this call.
func (a *Association) ReadPData(ctx context.Context) ([]pdu.PDV, error) {
	pdvs, _, err := a.ReadPDataBuffer(ctx)
	// The buffer is not released: the caller keeps the Data for good, and
	// the garbage collector reclaims it.
	return pdvs, err
}

// ReadPDataBuffer is ReadPData for callers that give the memory back: the
// PDVs' Data alias buf, a pooled buffer holding one reference for the
// caller, valid until the caller's buf.Release() (and any references it
// took with Retain) — independently of later calls. Releasing is optional
// (an unreleased buffer is garbage collected) but lets a steady stream of
// P-DATA run without allocating. buf is nil when err is not.
func (a *Association) ReadPDataBuffer(ctx context.Context) (pdvs []pdu.PDV, buf *pdu.Buffer, err error) {
	select {
	case p := <-a.pdata:
		return p.pdvs, p.buf, nil
	case <-a.done:
		return nil, nil, a.endErr()
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// SendPData sends the PDVs as one P-DATA-TF (PS3.8 P-DATA request, DT-1).
// The caller fragments: the PDU-length (the sum of 6 + len(Data) per PDV)
// must not exceed MaxSendPDULength, every PDV must name an accepted context,
// and there must be at least one PDV; otherwise SendPData returns an error
// wrapping ErrPDUTooLarge or ErrUnknownContext and sends nothing. The PDVs
// are encoded before SendPData returns; the caller keeps ownership.
//
// Cancelling ctx before the PDU is written returns ctx.Err(); cancelling it
// while the PDU is being written breaks the transport (a partial PDU cannot
// be taken back) and ends the association.
func (a *Association) SendPData(ctx context.Context, pdvs []pdu.PDV) error {
	if len(pdvs) == 0 {
		return fmt.Errorf("%w: no PDV", ErrPDUTooLarge)
	}
	var total uint64
	for _, v := range pdvs {
		if _, ok := a.ContextByID(v.ContextID); !ok {
			return fmt.Errorf("%w: %d", ErrUnknownContext, v.ContextID)
		}
		total += pdu.PDVHeaderLen + uint64(len(v.Data))
	}
	if total > uint64(a.sendMax) {
		return fmt.Errorf("%w: %d > %d", ErrPDUTooLarge, total, a.sendMax)
	}
	return a.call(ctx, &request{ev: Evt9, ctx: ctx, pdvs: pdvs})
}

// Release asks for an orderly release (A-RELEASE, PS3.8 AR-1) and waits
// until the peer answered and the transport is closed, handling a release
// collision as PS3.8 9.2.1 describes (Sta9 to Sta12). P-DATA received
// meanwhile is still delivered to ReadPData (AR-6); it must be read for the
// release to progress. If ctx ends first, the association is aborted
// (A-ABORT service-user) and ctx.Err() returned. If the peer's release
// request was answered first, Release waits for the end and returns nil.
func (a *Association) Release(ctx context.Context) error {
	err := a.call(ctx, &request{ev: Evt11, ctx: ctx})
	switch {
	case err == nil:
		<-a.done
	case errors.Is(err, ErrClosed):
		select {
		case <-a.done:
			if a.released {
				return nil // the peer released first
			}
		default:
		}
	}
	return err
}

// Abort sends an A-ABORT (PS3.8 AA-1) and returns once it is written. With
// reason AbortNotSpecified the source is the service-user (0,0); any other
// reason is sent with source service-provider (2,reason), for protocol
// errors found above this layer. The machine then waits (Sta13, ARTIM) for
// the peer to close the transport: wait on Done for the end. It returns
// ErrClosed when the association had already ended or was ending.
func (a *Association) Abort(reason pdu.AbortReason) error {
	ab := &pdu.Abort{Source: pdu.AbortServiceUser}
	if reason != pdu.AbortNotSpecified {
		ab = &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: reason}
	}
	return a.call(context.Background(), &request{ev: Evt15, ctx: context.Background(), abort: ab})
}

// call hands a request to the machine and waits for its reply.
func (a *Association) call(ctx context.Context, r *request) error {
	r.reply = make(chan error, 1)
	select {
	case a.reqs <- r:
	case <-a.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.reply
}
