package dimse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// serveConn runs one connection: TLS handshake, association establishment
// (PS3.8 9.2), the DIMSE loop, and the observer's end event.
func (s *Server) serveConn(c *serverConn) {
	defer s.untrack(c)
	obs := s.observer()
	info := c.info
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.mu.Lock()
	c.cancel = cancel
	s.mu.Unlock()

	if tc, ok := c.nc.(*tls.Conn); ok {
		if err := s.handshakeTLS(ctx, tc); err != nil {
			_ = c.nc.Close()
			obs.AssociationAborted(info, nil, err)
			return
		}
		st := tc.ConnectionState()
		info.TLS = &st
	}

	var why error  // our reason for a rejection, from the hook
	reserved := "" // calling AE holding a slot
	hasSlot := false
	cfg := s.acceptConfig(func(rq *pdu.AssociateRQ, _ net.Addr) *pdu.AssociateRJ {
		info.CallingAETitle, info.CalledAETitle = rq.CallingAETitle, rq.CalledAETitle
		obs.AssociationRequested(info, rq)
		rj, w := s.decide(info, rq)
		if rj != nil {
			why = w
			return rj
		}
		hasSlot, reserved = true, rq.CallingAETitle
		// Accepted: from here the association holds a slot under
		// MaxAssociations and is no longer a connection still
		// negotiating, which a newcomer at the cap of those may close to
		// make room (track). Marking it only after ul.Accept returned left
		// a window in which a connection that had just been sent its
		// A-ASSOCIATE-AC could be closed as "oldest negotiating": its peer
		// saw the AC, then a close or a reset, and no A-ABORT (seen twice
		// in the load test under the idle-socket flood).
		s.negotiated(c)
		return nil
	})
	a, err := ul.Accept(ctx, c.nc, cfg)
	s.negotiated(c)
	if err != nil && c.evicted.Load() {
		err = fmt.Errorf("%w: %w", ErrEvicted, err)
	}
	if err != nil {
		if hasSlot {
			s.unreserve(reserved)
		}
		var rj *pdu.AssociateRJ
		var ab *pdu.Abort
		switch {
		case errors.As(err, &rj):
			if why == nil {
				why = err
			}
			obs.AssociationRejected(info, rj, why)
		case errors.As(err, &ab):
			obs.AssociationAborted(info, ab, err)
		default:
			obs.AssociationAborted(info, nil, err)
		}
		return
	}
	defer s.unreserve(reserved)

	s.mu.Lock()
	c.assoc = a
	s.mu.Unlock()
	obs.AssociationAccepted(info, a.Contexts())

	l := newAssocLoop(s, a, info, ctx, cancel)
	l.run()
	<-a.Done()

	end := a.Err()
	if end == nil {
		obs.AssociationReleased(info)
		return
	}
	var ab *pdu.Abort
	errors.As(end, &ab)
	if why := l.whyAborted(); why != nil {
		end = why
	}
	obs.AssociationAborted(info, ab, end)
}

// handshakeTLS runs the TLS handshake bounded by the ARTIM timeout.
func (s *Server) handshakeTLS(ctx context.Context, tc *tls.Conn) error {
	d := s.ARTIMTimeout
	if d == 0 {
		d = ul.DefaultARTIMTimeout
	}
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrTLSHandshake, err)
	}
	return nil
}

// decide is the server's answer to an A-ASSOCIATE-RQ, in order: shutting
// down (RJ 2,3,1), Called AE Title (1,1,7), the decision hook, then the
// association limits (2,3,2), which take a slot when they pass.
func (s *Server) decide(info *AssociationInfo, rq *pdu.AssociateRQ) (*pdu.AssociateRJ, error) {
	if s.closing() {
		return &pdu.AssociateRJ{Result: pdu.RejectTransient, Source: pdu.SourceServiceProviderPresentation,
			Reason: pdu.RejectPresentationTemporaryCongestion}, ErrShuttingDown
	}
	if s.AETitle != "" && !s.AcceptAnyCalledAE && rq.CalledAETitle != s.AETitle {
		return &pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.SourceServiceUser,
			Reason: pdu.RejectUserCalledAENotRecognized}, ErrCalledAETitle
	}
	if s.Accept != nil {
		if rj := s.Accept(info, rq); rj != nil {
			return rj, ErrRejectedByHook
		}
	}
	if err := s.reserve(rq.CallingAETitle); err != nil {
		reason := pdu.RejectPresentationLocalLimitExceeded
		if errors.Is(err, ErrShuttingDown) {
			reason = pdu.RejectPresentationTemporaryCongestion
		}
		return &pdu.AssociateRJ{Result: pdu.RejectTransient, Source: pdu.SourceServiceProviderPresentation,
			Reason: reason}, err
	}
	return nil, nil
}

// acceptConfig builds the upper layer's configuration for one connection.
func (s *Server) acceptConfig(hook func(*pdu.AssociateRQ, net.Addr) *pdu.AssociateRJ) *ul.AcceptConfig {
	return &ul.AcceptConfig{
		AETitle:      s.AETitle,
		Accept:       hook,
		Contexts:     s.contextPolicy,
		RoleSelect:   s.roleSelect,
		MaxPDULength: s.MaxPDULength,
		ARTIMTimeout: s.ARTIMTimeout,
		IdleTimeout:  s.IdleTimeout,
		Limits:       s.PDULimits,
		Observer:     s.ULObserver,
	}
}
