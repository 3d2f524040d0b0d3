package ul

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// readResult is what the reader goroutine hands to the machine: one PDU,
// or the error that ended reading.
type readResult struct {
	p   pdu.PDU
	buf *pdu.Buffer // the pooled body p aliases
	n   int         // bytes consumed from the transport for p
	err error
}

// pdataInd is a P-DATA indication (PS3.8 Table 9-2, Evt10): the PDVs of a
// P-DATA-TF and the pooled buffer their Data alias. The zero value is none.
type pdataInd struct {
	pdvs []pdu.PDV
	buf  *pdu.Buffer
}

// drop releases the buffer of an indication nobody will take.
func (d *pdataInd) drop() {
	d.buf.Release()
	*d = pdataInd{}
}

// input carries the parameters of one event into its action.
type input struct {
	p     pdu.PDU
	buf   *pdu.Buffer // Evt10: the pooled body p aliases
	abort *pdu.Abort  // Evt15: the A-ABORT to send; Evt19: built from the decode error
	why   error       // cause reported for aborts, rejections and closes
	req   *request    // Evt9 / Evt11: the local request
}

// request is a local primitive (P-DATA, A-RELEASE, A-ABORT request) handed
// to the machine goroutine. The machine replies exactly once on reply
// (buffered) to every request it receives.
type request struct {
	ev    Event
	ctx   context.Context
	pdvs  []pdu.PDV
	abort *pdu.Abort
	reply chan error
}

// machine is the PS3.8 9.2 state machine of one association. Exactly one
// goroutine at a time runs its methods (the caller of Accept/Request while
// the association is being negotiated, then the goroutine started by run);
// a reader goroutine only feeds it PDUs through in.
type machine struct {
	a         *Association
	conn      net.Conn
	s         settings
	requestor bool
	state     State

	artim, idle timer

	in         chan readResult
	stopRead   chan struct{}
	readerDone chan struct{}
	readerOn   bool

	pending pdataInd // P-DATA indication not yet taken by ReadPData
	release *request // the Release call waiting for completion
	wbuf    []byte

	cause    error // why the association ends; first one wins
	released bool  // ended by an orderly release
	closed   bool  // transport closed by us
	// estCtx is the context of Accept/Request until it is established or
	// cancelled, then nil.
	estCtx context.Context
	// accept side: the request being decided in Sta3.
	rq  *pdu.AssociateRQ
	ac  *pdu.AssociateAC
	cfg *AcceptConfig
	// requestor side: the request we sent.
	sentRQ *pdu.AssociateRQ
	ctxs   []Context
}

func newMachine(conn net.Conn, s settings, requestor bool) *machine {
	return &machine{
		conn:       conn,
		s:          s,
		requestor:  requestor,
		state:      Sta1,
		in:         make(chan readResult),
		stopRead:   make(chan struct{}),
		readerDone: make(chan struct{}),
	}
}

// ---- event dispatch -------------------------------------------------------

// step runs the action Table 9-10 assigns to (state, ev) and moves to the
// next state. An undefined cell runs AA-8 instead.
func (m *machine) step(ev Event, in input) {
	from := m.state
	act, ok := Lookup(from, ev)
	if !ok {
		if in.why == nil || ev.FromPeer() {
			in.why = fmt.Errorf("%w: %s in %s", ErrUndefinedTransition, ev, from)
		}
		reason := pdu.AbortUnexpectedPDU
		if !ev.FromPeer() {
			reason = pdu.AbortNotSpecified
		}
		in.abort = &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: reason}
		if in.req != nil {
			in.req.reply <- in.why
			in.req = nil
		}
	}
	m.state = m.perform(act, ev, in)
	m.s.obs.transition(m.remote(), Transition{From: from, Event: ev, Action: act, To: m.state, Undefined: !ok})
}

// perform executes one action (PS3.8 Tables 9-6 to 9-9) and returns the next
// state.
func (m *machine) perform(act Action, ev Event, in input) State {
	switch act {
	case AE1: // the transport is connected by the caller before Request
		return Sta4
	case AE2:
		m.send(m.sentRQ)
		m.startReader()
		m.artim.start(m.s.artim) // local extension: bound the wait in Sta5
		return Sta5
	case AE3:
		m.artim.stop()
		return Sta6
	case AE4:
		m.artim.stop()
		rj := in.p.(*pdu.AssociateRJ)
		m.s.obs.rejected(m.remote(), Received, rj, nil)
		m.setCause(rj)
		m.closeTransport()
		return Sta1
	case AE5:
		m.startReader()
		m.artim.start(m.s.artim)
		return Sta2
	case AE6:
		m.artim.stop()
		m.rq = in.p.(*pdu.AssociateRQ)
		if rj, why := checkProvider(m.rq); rj != nil {
			m.reject(rj, why)
			return Sta13
		}
		return Sta3
	case AE7:
		m.send(m.ac)
		return Sta6
	case AE8:
		m.reject(in.p.(*pdu.AssociateRJ), in.why)
		return Sta13
	case DT1, AR7:
		m.sendPData(in.req)
		return m.state
	case DT2, AR6:
		m.pending = pdataInd{pdvs: in.p.(*pdu.PDataTF).Items, buf: in.buf}
		return m.state
	case AR1:
		m.release = in.req
		m.send(&pdu.ReleaseRQ{})
		return Sta7
	case AR2:
		return Sta8 // indication: answered at once by Evt14 (see afterStep)
	case AR3:
		m.released = true
		m.closeTransport()
		return Sta1
	case AR4:
		m.released = true
		m.send(&pdu.ReleaseRP{})
		m.artim.start(m.s.artim)
		return Sta13
	case AR5:
		m.artim.stop()
		m.closeTransport()
		return Sta1
	case AR8:
		if m.requestor {
			return Sta9
		}
		return Sta10
	case AR9:
		m.send(&pdu.ReleaseRP{})
		return Sta11
	case AR10:
		return Sta12
	case AA1, AA8:
		m.sendAbort(m.abortFor(ev, in), in.why)
		m.artim.start(m.s.artim)
		return Sta13
	case AA7:
		m.sendAbort(m.abortFor(ev, in), in.why)
		return Sta13
	case AA2:
		m.artim.stop()
		if ab, ok := in.p.(*pdu.Abort); ok {
			m.s.obs.abort(m.remote(), Received, ab, nil)
			m.setCause(ab)
		}
		m.setCause(in.why)
		m.closeTransport()
		return Sta1
	case AA3:
		ab := in.p.(*pdu.Abort)
		m.s.obs.abort(m.remote(), Received, ab, nil)
		m.setCause(ab)
		m.closeTransport()
		return Sta1
	case AA4, AA5:
		m.artim.stop()
		m.setCause(in.why)
		m.closeTransport()
		return Sta1
	case AA6:
		return Sta13
	}
	// Unreachable: every Action is handled above.
	m.setCause(fmt.Errorf("ul: no implementation for %s", act))
	m.closeTransport()
	return Sta1
}

// afterStep issues the primitives this implementation answers by itself:
// the A-RELEASE response (Evt14) to a release indication (AR-2) or a
// release collision (Sta9 right away, Sta12 after AR-10).
func (m *machine) afterStep() {
	for {
		switch m.state {
		case Sta3:
			m.decide()
			continue
		case Sta8, Sta9, Sta12:
			m.step(Evt14, input{})
			continue
		}
		if m.state == Sta13 || m.state == Sta1 {
			m.idle.stop() // only ARTIM times the end
		}
		if (m.state != Sta6 && m.state != Sta7) || m.a == nil {
			// Nobody can take it: the association is ending, or its
			// transport broke before Accept/Request returned.
			m.pending.drop()
		}
		return
	}
}

// abortFor returns the A-ABORT an abort action sends. A local A-ABORT
// request (Evt15) carries its own. Otherwise the abort answers the peer, and
// its source is the service-provider: PS3.8 labels AA-1 "service-user
// source", but in Sta2 and Sta13 it answers a PDU the provider could not
// accept, so like DCMTK we send (2, reason).
func (m *machine) abortFor(ev Event, in input) *pdu.Abort {
	if in.abort != nil {
		return in.abort
	}
	return &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortUnexpectedPDU}
}

// ---- I/O --------------------------------------------------------------------

func (m *machine) remote() net.Addr { return m.conn.RemoteAddr() }

func (m *machine) setCause(err error) {
	if m.cause == nil && err != nil {
		m.cause = err
	}
}

// send writes one PDU. A write failure breaks the transport: it is closed
// and the reader then reports Evt17.
func (m *machine) send(p pdu.PDU) {
	_ = m.write(nil, p)
}

func (m *machine) write(ctx context.Context, p pdu.PDU) error {
	if m.closed {
		return ErrClosed
	}
	var err error
	m.wbuf, err = pdu.AppendEncode(m.wbuf[:0], p)
	if err != nil {
		err = fmt.Errorf("ul: encoding %s: %w", p.PDUType(), err)
		m.setCause(err)
		m.closeTransport()
		return err
	}
	deadline := time.Time{} // also clears a past deadline left by a cancelled ctx
	if m.s.write > 0 {
		deadline = time.Now().Add(m.s.write)
	}
	_ = m.conn.SetWriteDeadline(deadline)
	var cancelled chan struct{}
	stop := func() bool { return true }
	if ctx != nil && ctx.Done() != nil {
		cancelled = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			_ = m.conn.SetWriteDeadline(time.Unix(1, 0))
			close(cancelled)
		})
	}
	_, err = m.conn.Write(m.wbuf)
	if !stop() {
		<-cancelled // the deadline was moved: let that finish first
		if err != nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		err = fmt.Errorf("%w: writing %s: %w", ErrTransportClosed, p.PDUType(), err)
		m.setCause(err)
		m.closeTransport()
		return err
	}
	m.s.obs.pdu(m.remote(), Sent, p.PDUType(), len(m.wbuf))
	m.touch()
	return nil
}

func (m *machine) sendPData(r *request) {
	if err := r.ctx.Err(); err != nil {
		r.reply <- err
		return
	}
	r.reply <- m.write(r.ctx, &pdu.PDataTF{Items: r.pdvs})
}

func (m *machine) sendAbort(ab *pdu.Abort, why error) {
	if why == nil {
		why = ErrUnexpectedPDU
	}
	m.setCause(&AbortedError{Sent: ab, Cause: why})
	m.s.obs.abort(m.remote(), Sent, ab, why)
	m.send(ab)
}

func (m *machine) reject(rj *pdu.AssociateRJ, why error) {
	if why == nil {
		why = errors.New("ul: rejected")
	}
	m.s.obs.rejected(m.remote(), Sent, rj, why)
	m.setCause(fmt.Errorf("ul: association rejected: %w: %w", rj, why))
	m.send(rj)
	m.artim.start(m.s.artim)
}

// touch restarts the idle timer while the association is established.
func (m *machine) touch() {
	if m.state >= Sta6 && m.state <= Sta12 && m.a != nil {
		m.idle.start(m.s.idle)
	}
}

func (m *machine) closeTransport() {
	if !m.closed {
		m.closed = true
		_ = m.conn.Close()
	}
	m.artim.stop()
	m.idle.stop()
}

// accepted reports whether id is an accepted presentation context.
func (m *machine) accepted(id uint8) bool {
	for _, c := range m.ctxs {
		if c.ID == id {
			return true
		}
	}
	return false
}

// ---- the reader goroutine --------------------------------------------------

func (m *machine) startReader() {
	if m.readerOn {
		return
	}
	m.readerOn = true
	go m.readLoop()
}

// readLoop reads PDUs and hands them to the machine until reading fails.
// After a decode error the byte stream cannot be resynchronised: it drains
// the transport (so that the peer can still read our A-ABORT rather than
// getting a reset) and then reports the close.
func (m *machine) readLoop() {
	defer close(m.readerDone)
	pr := &pdu.PooledReader{R: m.conn, Limits: m.s.limits}
	for {
		p, buf, n, err := pr.Next()
		if !m.deliver(readResult{p: p, buf: buf, n: n, err: err}) {
			buf.Release()
			return
		}
		if err == nil {
			continue
		}
		var de *pdu.DecodeError
		if errors.As(err, &de) {
			_, err = io.Copy(io.Discard, pr)
			if err == nil {
				err = io.EOF
			}
			m.deliver(readResult{err: err})
		}
		return
	}
}

func (m *machine) deliver(r readResult) bool {
	select {
	case m.in <- r:
		return true
	case <-m.stopRead:
		return false
	}
}

// classify maps what the reader delivered to an event (PS3.8 Table 9-2).
func (m *machine) classify(r readResult) (Event, input) {
	if r.err != nil {
		var de *pdu.DecodeError
		if errors.As(r.err, &de) {
			return Evt19, input{abort: de.Abort(), why: r.err}
		}
		if errors.Is(r.err, io.EOF) {
			return Evt17, input{why: ErrTransportClosed}
		}
		return Evt17, input{why: fmt.Errorf("%w: %w", ErrTransportClosed, r.err)}
	}
	m.s.obs.pdu(m.remote(), Received, r.p.PDUType(), r.n)
	m.touch()
	switch r.p.(type) {
	case *pdu.PDataTF, *pdu.AssociateRQ, *pdu.AssociateAC:
		// Their byte slices alias r.buf: P-DATA hands it on, the
		// negotiation PDUs are kept for the association's lifetime (the
		// buffer is then simply never returned to the pool).
	default:
		r.buf.Release() // decoded into values: nothing aliases the body
	}
	unexpected := fmt.Errorf("%w: %s in %s", ErrUnexpectedPDU, r.p.PDUType(), m.state)
	switch p := r.p.(type) {
	case *pdu.AssociateAC:
		if m.state == Sta5 {
			ctxs, err := acceptedContexts(m.sentRQ, p)
			if err != nil {
				return Evt19, input{abort: &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortInvalidParameterValue}, why: err}
			}
			m.ac, m.ctxs = p, ctxs
		}
		return Evt3, input{p: p, why: unexpected}
	case *pdu.AssociateRJ:
		return Evt4, input{p: p, why: unexpected}
	case *pdu.AssociateRQ:
		return Evt6, input{p: p, why: unexpected}
	case *pdu.PDataTF:
		if m.state == Sta6 || m.state == Sta7 {
			for _, v := range p.Items {
				if !m.accepted(v.ContextID) {
					return Evt19, input{abort: &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortInvalidParameterValue},
						why: fmt.Errorf("%w: PDV on context %d", ErrUnknownContext, v.ContextID)}
				}
			}
		}
		return Evt10, input{p: p, buf: r.buf, why: unexpected}
	case *pdu.ReleaseRQ:
		return Evt12, input{p: p, why: unexpected}
	case *pdu.ReleaseRP:
		return Evt13, input{p: p, why: unexpected}
	case *pdu.Abort:
		return Evt16, input{p: p}
	}
	return Evt19, input{abort: &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortUnrecognizedPDU},
		why: fmt.Errorf("%w: %T", ErrUnexpectedPDU, r.p)}
}

// ---- the owner loop -------------------------------------------------------

// loop runs the machine until done reports true for the current state.
// While the association is being negotiated it watches estCtx; once it is
// established it also serves local requests and delivers P-DATA.
func (m *machine) loop(done func(State) bool) {
	for !done(m.state) {
		var inCh <-chan readResult
		if m.pending.pdvs == nil {
			inCh = m.in
		}
		var outCh chan<- pdataInd
		var reqCh <-chan *request
		if m.a != nil {
			reqCh = m.a.reqs
			if m.pending.pdvs != nil {
				outCh = m.a.pdata
			}
		}
		var estDone, relDone <-chan struct{}
		if m.estCtx != nil {
			estDone = m.estCtx.Done()
		}
		if m.release != nil {
			relDone = m.release.ctx.Done()
		}
		select {
		case r := <-inCh:
			ev, in := m.classify(r)
			m.step(ev, in)
		case outCh <- m.pending:
			m.pending = pdataInd{}
			m.touch()
		case r := <-reqCh:
			m.onRequest(r)
		case <-m.artim.C():
			m.artim.fired()
			m.expire(ErrARTIMExpired, &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortNotSpecified})
		case <-m.idle.C():
			m.idle.fired()
			m.expire(ErrIdleTimeout, &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortNotSpecified})
		case <-estDone:
			why := context.Cause(m.estCtx)
			m.estCtx = nil
			m.expire(why, &pdu.Abort{Source: pdu.AbortServiceUser})
		case <-relDone:
			r := m.release
			m.release = nil
			r.reply <- r.ctx.Err()
			m.expire(r.ctx.Err(), &pdu.Abort{Source: pdu.AbortServiceUser})
		}
		m.afterStep()
	}
}

// expire handles a timer expiry or a cancelled context: ARTIM expiry
// (Evt18) in Sta2 and Sta13, a provider or user A-ABORT request (Evt15)
// elsewhere.
func (m *machine) expire(why error, ab *pdu.Abort) {
	switch m.state {
	case Sta2, Sta13:
		m.step(Evt18, input{why: why})
	case Sta1:
	default:
		m.step(Evt15, input{abort: ab, why: why})
	}
}

// onRequest runs a local primitive. Requests that arrive once the
// association is ending (Sta13) are refused without touching the table.
func (m *machine) onRequest(r *request) {
	if m.state == Sta13 || m.state == Sta1 {
		if r.ev == Evt11 && m.released && m.release == nil {
			m.release = r // already released by the peer: answer at the end
			return
		}
		r.reply <- ErrClosed
		return
	}
	switch r.ev {
	case Evt9:
		m.step(Evt9, input{req: r})
	case Evt11:
		if m.release != nil {
			r.reply <- fmt.Errorf("%w: release already in progress", ErrClosed)
			return
		}
		m.step(Evt11, input{req: r})
	case Evt15:
		m.step(Evt15, input{abort: r.abort, why: ErrLocalAbort})
		r.reply <- nil
	default:
		r.reply <- fmt.Errorf("ul: unsupported local primitive %s", r.ev)
	}
}

// run owns an established association until it reaches Sta1.
func (m *machine) run() {
	m.loop(func(s State) bool { return s == Sta1 })
	m.finish()
}

// finish releases everything once the machine is in Sta1: the transport,
// the timers, the reader goroutine, and any Release call still waiting.
func (m *machine) finish() {
	m.closeTransport()
	close(m.stopRead)
	if m.readerOn {
		<-m.readerDone
	}
	err := m.cause
	if m.released {
		err = nil
	} else if err == nil {
		err = ErrTransportClosed
	}
	if m.release != nil {
		m.release.reply <- err
		m.release = nil
	}
	if a := m.a; a != nil {
		a.err = err
		a.released = m.released
		m.s.obs.closed(a, err)
		close(a.done)
	}
}
