package dimse

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// Defaults for zero fields of [Server].
const (
	DefaultMaxAssociations      = 64
	DefaultMaxAssociationsPerAE = 16
)

// Server errors.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("dimse: server closed")
	// ErrTooManyAssociations is the reason (reported to the Observer) for
	// an A-ASSOCIATE-RJ (2,3,2) over MaxAssociations or
	// MaxAssociationsPerAE.
	ErrTooManyAssociations = errors.New("dimse: too many associations")
	// ErrCalledAETitle: the Called AE Title is not Server.AETitle (RJ 1,1,7).
	ErrCalledAETitle = errors.New("dimse: called AE title not recognized")
	// ErrRejectedByHook: Server.Accept returned an A-ASSOCIATE-RJ.
	ErrRejectedByHook = errors.New("dimse: association rejected by the decision hook")
	// ErrTLSHandshake wraps the cause of a failed TLS handshake on a TLS
	// listener, reported to Observer.AssociationAborted (no A-ASSOCIATE-RQ
	// was read): a refused client certificate, a protocol version or suite
	// below the profile, plaintext on the TLS port, a timeout.
	ErrTLSHandshake = errors.New("dimse: TLS handshake")
	// ErrShuttingDown: an association was requested while the server shut
	// down (RJ 2,3,1 temporary congestion).
	ErrShuttingDown = errors.New("dimse: server shutting down")
	// ErrEvicted wraps the end of a connection that was closed while still
	// negotiating, to make room for a newer one (see MaxAssociations).
	ErrEvicted = errors.New("dimse: connection closed to make room: too many connections still negotiating")
)

// Server is a DIMSE service-class provider (SCP): it accepts associations
// (PS3.8) on a listener and serves C-ECHO (built in: Verification, PS3.4
// Annex A), C-STORE, C-FIND, C-MOVE and C-GET (PS3.4 Annexes B and C)
// through the handlers it is given, in the manner of net/http.Server.
//
// The zero value is a Verification SCP that accepts any called AE title.
// Fields are read when an association starts and must not be modified
// after Serve was first called; defaults are resolved at use and never
// written back.
//
// Each association is owned by one goroutine that reads messages and
// dispatches one request at a time (asynchronous operations window 1,
// PS3.7 D.3.3.3); a C-FIND, C-MOVE or C-GET handler runs on a second
// goroutine so that a C-CANCEL-RQ (PS3.7 §9.3.2.3) and, during C-GET, the
// peer's C-STORE-RSPs can be received meanwhile. A handler panic aborts
// that association with A-ABORT (2,0) and is reported to the Observer; the
// server goes on.
type Server struct {
	// AETitle is our AE title. "" accepts any Called AE Title.
	AETitle string
	// AcceptAnyCalledAE, with AETitle set, skips the Called AE Title check;
	// otherwise a request to another title gets A-ASSOCIATE-RJ (1,1,7).
	AcceptAnyCalledAE bool
	// Accept is the decision hook (calling AE policy, TLS certificate
	// binding...): called once per A-ASSOCIATE-RQ after the Called AE check,
	// with info's AE titles and TLS state filled in. Return nil to accept
	// or the A-ASSOCIATE-RJ to send as is. It must return promptly (the
	// peer waits). nil accepts everyone.
	Accept func(info *AssociationInfo, rq *pdu.AssociateRQ) *pdu.AssociateRJ

	// Service handlers. A nil handler rejects the presentation contexts of
	// its service (result 3, abstract syntax not supported), and a request
	// that arrives anyway is answered 0x0122. Storage contexts are also
	// accepted when only Get is set (they carry the C-GET sub-operations).
	Store StoreHandler
	Find  FindHandler
	Move  MoveHandler
	Get   GetHandler

	// Echo, when set, decides each valid C-ECHO-RQ (PS3.7 9.1.5): nil
	// answers 0x0000 Success, an error is mapped to the C-ECHO-RSP status
	// like a handler's (a *StatusError with StatusNotAuthorized answers
	// 0x0124 "Refused: Not authorized"). nil Echo (default): every C-ECHO
	// succeeds. It runs on the association's goroutine and must return
	// promptly.
	Echo func(ctx context.Context, info *AssociationInfo) error

	// StorageSOPClass says which abstract syntaxes are storage SOP classes
	// served by Store. nil means uid.IsStorageSOPClass.
	StorageSOPClass func(uid string) bool
	// TransferSyntaxes is our preference order when a context proposes
	// several (PS3.8 9.3.3.2): the first of this list that the peer
	// proposed wins. nil means Explicit VR Little Endian, Implicit VR
	// Little Endian, then every other transfer syntax in uid.TransferSyntaxes
	// (so compressed data is accepted and stored as sent). Query/retrieve
	// contexts only ever get Explicit or Implicit VR Little Endian.
	TransferSyntaxes []string

	// MaxAssociations caps concurrent associations: one more is rejected
	// with A-ASSOCIATE-RJ (2,3,2) (transient, local limit exceeded).
	// 0 means DefaultMaxAssociations (64). Connections that have not yet
	// completed association establishment (TLS handshake and A-ASSOCIATE
	// negotiation, bounded by ARTIMTimeout) are capped separately, at
	// 2*MaxAssociations+16: when a new connection arrives at that cap, the
	// OLDEST connection still negotiating is closed to make room, so that
	// idle or trickling sockets (slowloris, adversarial row 6) cannot keep
	// an honest peer, whose negotiation takes milliseconds, from getting in.
	MaxAssociations int
	// MaxAssociationsPerAE caps concurrent associations per Calling AE
	// Title, also with RJ (2,3,2). 0 means DefaultMaxAssociationsPerAE
	// (16); negative disables the per-AE cap.
	MaxAssociationsPerAE int
	// MaxPendingPerHost caps the connections from one IP address that have
	// not completed association establishment. Past it a new connection
	// from that address is closed at once (it does not evict others), so
	// that one host holding idle sockets can neither fill the cap of
	// 2*MaxAssociations+16 negotiating connections nor push other hosts'
	// connections out of it. 0 means MaxAssociations; negative disables the
	// per-host cap. Connections whose remote address is not an IP address
	// (net.Pipe) are not counted per host.
	MaxPendingPerHost int

	// MaxPDULength is the Maximum Length we advertise (PS3.8 D.1);
	// 0 means ul.DefaultMaxPDULength.
	MaxPDULength uint32
	// ARTIMTimeout bounds association establishment and the wait for the
	// peer to close after a release or abort (PS3.8 9.1.5). 0 means
	// ul.DefaultARTIMTimeout.
	ARTIMTimeout time.Duration
	// IdleTimeout aborts an association (A-ABORT 2,0) after that long
	// without any PDU in either direction; a handler that computes for
	// longer without sending must send pending responses. 0 means
	// ul.DefaultIdleTimeout; negative disables it.
	IdleTimeout time.Duration
	// Limits bounds received messages (command size, data set size,
	// identifier size, fragments) and says where data sets are spooled.
	Limits Limits
	// PDULimits bounds the PDUs the upper layer decodes: the length of an
	// A-ASSOCIATE-RQ, its presentation contexts and transfer syntaxes, the
	// PDVs in one P-DATA-TF (pdu.Limits; its zero value is pdu's defaults).
	// Its MaxPDataLength is replaced by MaxPDULength.
	PDULimits pdu.Limits

	// Observer receives association and request events; nil = none.
	Observer Observer
	// ULObserver receives the upper layer's PDU-level events (every PDU,
	// every state transition); its zero value observes nothing.
	ULObserver ul.Observer

	nextID atomic.Uint64

	mu        sync.Mutex
	shutdown  bool
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	active    int                      // associations holding a slot
	perAE     map[string]int           // slots per calling AE title
	pending   map[netip.Addr]int       // connections still negotiating, per remote IP
	nego      map[*serverConn]struct{} // connections still negotiating
	allGone   chan struct{}            // closed when conns becomes empty after shutdown
}

// serverConn is one transport connection being served.
type serverConn struct {
	nc     net.Conn
	info   *AssociationInfo
	cancel context.CancelFunc
	assoc  *ul.Association // set once established (under Server.mu)
	host   netip.Addr      // remote IP address, when it has one

	negotiating bool        // in Server.nego, counted in Server.pending (under Server.mu)
	evicted     atomic.Bool // closed to make room for a newer connection
}

func (s *Server) maxAssociations() int {
	if s.MaxAssociations <= 0 {
		return DefaultMaxAssociations
	}
	return s.MaxAssociations
}

func (s *Server) maxPerAE() int {
	switch {
	case s.MaxAssociationsPerAE == 0:
		return DefaultMaxAssociationsPerAE
	case s.MaxAssociationsPerAE < 0:
		return int(^uint(0) >> 1)
	}
	return s.MaxAssociationsPerAE
}

// maxNegotiating is the cap on connections still negotiating.
func (s *Server) maxNegotiating() int { return 2*s.maxAssociations() + 16 }

func (s *Server) maxPendingPerHost() int {
	switch {
	case s.MaxPendingPerHost == 0:
		return s.maxAssociations()
	case s.MaxPendingPerHost < 0:
		return int(^uint(0) >> 1)
	}
	return s.MaxPendingPerHost
}

// remoteHost is the IP address of a connection's peer; ok is false for
// transports without one (net.Pipe).
func remoteHost(nc net.Conn) (netip.Addr, bool) {
	ta, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ap := ta.AddrPort()
	return ap.Addr().Unmap(), ap.Addr().IsValid()
}

func (s *Server) observer() Observer {
	if s.Observer == nil {
		return NopObserver{}
	}
	return s.Observer
}

// Serve accepts connections on l and serves each on its own goroutine
// until l fails or the server is shut down. It always returns a non-nil
// error: ErrServerClosed after Shutdown or Close, otherwise l's error.
// Temporary accept errors are retried with a back-off. Serve may be
// called on several listeners at once; l is closed when Serve returns.
// A *tls.Conn from a TLS listener is handshaken (bounded by ARTIMTimeout)
// before association establishment.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c, ok := s.track(nc)
		if !ok {
			_ = nc.Close()
			continue
		}
		go s.serveConn(c)
	}
}

func (s *Server) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// track registers a new connection as negotiating. It refuses it when
// shutting down or when its host is at the per-host cap; at the cap of
// negotiating connections it closes the oldest of them to make room.
func (s *Server) track(nc net.Conn) (*serverConn, bool) {
	host, hasHost := remoteHost(nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return nil, false
	}
	if hasHost && s.pending[host] >= s.maxPendingPerHost() {
		return nil, false
	}
	if s.conns == nil {
		s.conns = make(map[*serverConn]struct{})
		s.pending = make(map[netip.Addr]int)
		s.nego = make(map[*serverConn]struct{})
	}
	if len(s.nego) >= s.maxNegotiating() {
		var oldest *serverConn
		for o := range s.nego {
			if oldest == nil || o.info.ID < oldest.info.ID {
				oldest = o
			}
		}
		s.negotiatedLocked(oldest)
		oldest.evicted.Store(true)
		_ = oldest.nc.Close() // its goroutine sees the error and untracks it
	}
	c := &serverConn{nc: nc, info: &AssociationInfo{ID: s.nextID.Add(1), RemoteAddr: nc.RemoteAddr()}}
	if hasHost {
		c.host = host
		s.pending[host]++
	}
	c.negotiating = true
	s.nego[c] = struct{}{}
	s.conns[c] = struct{}{}
	return c, true
}

// negotiated ends c's time as a connection still negotiating (counted by
// the caps on negotiating connections). Safe to call more than once.
func (s *Server) negotiated(c *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negotiatedLocked(c)
}

func (s *Server) negotiatedLocked(c *serverConn) {
	if !c.negotiating {
		return
	}
	c.negotiating = false
	delete(s.nego, c)
	if !c.host.IsValid() {
		return
	}
	if s.pending[c.host]--; s.pending[c.host] <= 0 {
		delete(s.pending, c.host)
	}
}

func (s *Server) untrack(c *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negotiatedLocked(c)
	delete(s.conns, c)
	if s.shutdown && len(s.conns) == 0 && s.allGone != nil {
		select {
		case <-s.allGone:
		default:
			close(s.allGone)
		}
	}
}

// reserve takes an association slot for the calling AE title.
func (s *Server) reserve(callingAE string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return ErrShuttingDown
	}
	if s.active >= s.maxAssociations() || s.perAE[callingAE] >= s.maxPerAE() {
		return ErrTooManyAssociations
	}
	if s.perAE == nil {
		s.perAE = make(map[string]int)
	}
	s.active++
	s.perAE[callingAE]++
	return nil
}

func (s *Server) unreserve(callingAE string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.perAE[callingAE]--; s.perAE[callingAE] <= 0 {
		delete(s.perAE, callingAE)
	}
}

// beginShutdown marks the server closed and closes its listeners. It
// returns the channel closed once every connection is gone.
func (s *Server) beginShutdown() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	for l := range s.listeners {
		_ = l.Close()
	}
	if s.allGone == nil {
		s.allGone = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.allGone)
		}
	}
	return s.allGone
}

// Shutdown stops the server gracefully: it closes the listeners, refuses
// new associations (RJ 2,3,1 to requests still being negotiated), and
// waits for the running associations to end by themselves (the peer
// releases them). If ctx ends first, every remaining association is
// aborted (A-ABORT, source service-user), its handlers' contexts are
// cancelled, and Shutdown returns ctx.Err() without waiting further.
// After Shutdown, Serve returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	gone := s.beginShutdown()
	select {
	case <-gone:
		return nil
	case <-ctx.Done():
	}
	s.abortAll()
	return ctx.Err()
}

// Close stops the server at once: listeners closed, every association
// aborted (A-ABORT, source service-user) and every connection still
// negotiating closed. It does not wait for the goroutines to exit.
func (s *Server) Close() error {
	s.beginShutdown()
	s.abortAll()
	return nil
}

func (s *Server) abortAll() {
	s.mu.Lock()
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.mu.Lock()
		a, cancel := c.assoc, c.cancel
		s.mu.Unlock()
		if a != nil {
			_ = a.AbortPDU(&pdu.Abort{Source: pdu.AbortServiceUser})
		} else {
			_ = c.nc.Close()
		}
		if cancel != nil {
			cancel()
		}
	}
}

// storageSOPClass reports whether as is served by Store.
func (s *Server) storageSOPClass(as string) bool {
	if s.StorageSOPClass != nil {
		return s.StorageSOPClass(as)
	}
	return uid.IsStorageSOPClass(as)
}
