package ul

import (
	"context"
	"net"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Accept runs the acceptor side of association establishment (PS3.8 9.2,
// Evt5 → Sta2) on an already accepted transport connection: ARTIM runs
// while it waits for the A-ASSOCIATE-RQ; the request is checked (AE-6:
// protocol version; then, as the user's decision in Sta3: application
// context, called AE, context IDs, cfg.Accept, the peer's Maximum Length)
// and answered with an A-ASSOCIATE-AC (AE-7) or -RJ (AE-8).
//
// On success the association is established (Sta6) and owned by a new
// goroutine. On failure conn is closed, no goroutine is left, and the error
// is: one wrapping the *pdu.AssociateRJ we sent and why; the *pdu.Abort the
// peer sent; an *AbortedError (we aborted: unexpected or invalid PDU);
// ErrARTIMExpired; or one wrapping ErrTransportClosed. After a rejection or
// an abort we wait, up to ARTIM, for the peer to close the transport
// (Sta13), as PS3.8 requires. ctx bounds establishment only; cancelling it
// closes the connection. cfg nil means the zero AcceptConfig.
func Accept(ctx context.Context, conn net.Conn, cfg *AcceptConfig) (*Association, error) {
	if cfg == nil {
		cfg = &AcceptConfig{}
	}
	m := newMachine(conn, cfg.settings(), false)
	m.cfg = cfg
	m.estCtx = ctx
	m.step(Evt5, input{})
	return m.establish()
}

// decide is the local user's A-ASSOCIATE response in Sta3: Evt7 (accept) or
// Evt8 (reject).
func (m *machine) decide() {
	ac, ctxs, rj, why := negotiateAccept(m.cfg, &m.s, m.rq, m.remote())
	if rj != nil {
		m.step(Evt8, input{p: rj, why: why})
		return
	}
	m.ac, m.ctxs = ac, ctxs
	m.step(Evt7, input{p: ac})
}

// establish runs the machine from Sta2 or Sta5 until the association is
// established or over. When established it hands the machine to its own
// goroutine; otherwise it cleans up and returns why.
func (m *machine) establish() (*Association, error) {
	m.loop(func(s State) bool { return (s == Sta6 && !m.closed) || s == Sta1 })
	if m.state == Sta6 && m.requestor {
		m.checkAC()
		m.loop(func(s State) bool { return (s == Sta6 && !m.closed) || s == Sta1 })
	}
	if m.state != Sta6 {
		m.finish()
		if m.cause == nil {
			return nil, ErrTransportClosed
		}
		return nil, m.cause
	}
	rq := m.rq
	if m.requestor {
		rq = m.sentRQ
	}
	a := newAssociation(m, rq, m.ac, m.ctxs)
	m.a = a
	m.estCtx = nil
	m.idle.start(m.s.idle)
	m.s.obs.established(a)
	go m.run()
	return a, nil
}

// checkAC is the requestor's look at an A-ASSOCIATE-AC once in Sta6: no
// accepted context or a peer Maximum Length below our floor make the
// association useless, and we abort it (A-ABORT service-user, AA-1).
func (m *machine) checkAC() {
	var why error
	if len(m.ctxs) == 0 {
		why = ErrNoAcceptedContext
	} else if ml := m.ac.UserInfo.MaxLength; ml != 0 && ml < m.s.minPeerPDU {
		why = ErrPeerMaxLength
	}
	if why != nil {
		m.step(Evt15, input{abort: &pdu.Abort{Source: pdu.AbortServiceUser}, why: why})
	}
}
