package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/node/tlsconf"
)

// Node serves the archive over DIMSE. Build it with New; it is safe for
// concurrent use (every association is served on its own goroutine).
type Node struct {
	cfg    *config.Config
	arch   *archive.Archive
	log    zerolog.Logger
	audit  *audit.Logger
	srv    *dimse.Server
	client *dimse.Client

	serverTLS *tls.Config            // the TLS listener's, nil without tls.cert_file
	peerTLS   map[string]*tls.Config // per TLS peer (C-MOVE destinations), by AE title
	rejects   sync.Map               // association ID → rejectNote, from accept to the audit observer
	stores    storeAggregator        // C-STORE audit events, per association and study
	auditObs  *auditObserver         // nil without an audit trail
	alerts    alertBudget            // integrity alerts written one by one (alertbudget.go)
}

// Options are New's optional settings; the zero value works.
type Options struct {
	// Log receives operational events (no patient data); the zero value
	// logs nothing.
	Log zerolog.Logger
	// Audit receives the audit trail (PS3.15 A.5; see the package
	// documentation for the events); nil records nothing. The caller owns
	// it and closes it after Shutdown.
	Audit *audit.Logger
}

// New builds the node's dimse.Server from cfg (a private copy is taken:
// later changes to cfg are not seen) over the archive a. cfg must be
// valid (config.Validate). log receives operational events; an observer
// (see LogObserver) logs one line per association. The caller owns a and
// closes it after Shutdown. New is NewWithOptions without an audit trail.
func New(cfg *config.Config, a *archive.Archive, log zerolog.Logger) (*Node, error) {
	return NewWithOptions(cfg, a, Options{Log: log})
}

// NewWithOptions is New with an audit trail. With opt.Audit, it adds an
// integrity observer to a (archive.Archive.ObserveIntegrity): every bad
// share the archive finds becomes an IntegrityAlert, so close a before
// opt.Audit. It creates the spool folder
// (config SpoolPath) when missing. The TLS configurations are
// built now, so that a bad certificate, key or CA file fails here: the
// listener's when tls.cert_file is set (see ServeTLS), and the client
// configuration of every peer with tls = true (tlsconf.Client).
func NewWithOptions(cfg *config.Config, a *archive.Archive, opt Options) (*Node, error) {
	if cfg == nil || a == nil {
		return nil, errors.New("node: nil configuration or archive")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg.Clone(), arch: a, log: opt.Log, audit: opt.Audit, peerTLS: map[string]*tls.Config{}}
	// Data sets past limits.spool_threshold are spooled there: without the
	// folder every such C-STORE would be refused 0xA700.
	if err := os.MkdirAll(n.cfg.SpoolPath(), 0o700); err != nil {
		return nil, fmt.Errorf("node: spool_dir: %w", err)
	}
	if n.cfg.TLS.CertFile != "" {
		tc, err := tlsconf.Server(n.cfg.TLS)
		if err != nil {
			return nil, err
		}
		n.serverTLS = tc
	}
	for _, p := range n.cfg.Peers {
		if !p.TLS {
			continue
		}
		tc, err := tlsconf.Client(p, n.cfg.TLS)
		if err != nil {
			return nil, err
		}
		n.peerTLS[p.AETitle] = tc
	}
	// Where each of config.Limits takes effect (docs/conformance.md §2.7):
	// the association and PDU limits and the timers in the Server below;
	// max_data_set_size and spool_threshold in the Server's dimse.Limits
	// (and, with max_sequence_depth and max_inflated_size, in the
	// archive's ScanLimits, set by archive.OpenDir); max_sequence_depth for
	// identifiers in identLimits; max_find_results and operation_timeout
	// in serveFind and the retrieval sub-operations; dial_timeout and
	// operation_timeout in the C-MOVE client; shutdown_timeout in the
	// caller of Shutdown (serve); max_associate_rq_length in the Server's
	// PDULimits.
	lim := n.cfg.Limits
	var obs dimse.Observer = NewLogObserver(n.log)
	if n.audit != nil {
		n.auditObs = &auditObserver{n: n}
		obs = dimse.MultiObserver{obs, n.auditObs}
		// Bad shares found by the archive (reads, repairer, Verify) go
		// to the audit trail. The observer stays with the archive: the
		// caller closes the archive (waiting for a repair in progress)
		// before the audit trail.
		n.alerts.summary = n.auditHeld
		a.ObserveIntegrity(n.auditIntegrity)
	}
	n.srv = &dimse.Server{
		AETitle:              n.cfg.AETitle,
		AcceptAnyCalledAE:    n.cfg.AcceptAnyCalledAE,
		Accept:               n.accept,
		Echo:                 n.serveEcho,
		Store:                dimse.StoreHandlerFunc(n.serveStore),
		Find:                 dimse.FindHandlerFunc(n.serveFind),
		Move:                 dimse.MoveHandlerFunc(n.serveMove),
		Get:                  dimse.GetHandlerFunc(n.serveGet),
		MaxAssociations:      lim.MaxAssociations,
		MaxAssociationsPerAE: lim.MaxAssociationsPerAE,
		MaxPDULength:         uint32(lim.MaxPDULength),
		ARTIMTimeout:         lim.ARTIMTimeout,
		IdleTimeout:          lim.IdleTimeout,
		Limits: dimse.Limits{
			MaxDataSetSize: int64(lim.MaxDataSetSize),
			SpoolThreshold: int64(lim.SpoolThreshold),
			SpoolDir:       n.cfg.SpoolPath(),
		},
		PDULimits: pdu.Limits{MaxAssociateLength: uint32(lim.MaxAssociateRQLength)},
		Observer:  obs,
	}
	n.client = &dimse.Client{
		AETitle:         n.cfg.AETitle,
		DialTimeout:     lim.DialTimeout,
		ARTIMTimeout:    lim.ARTIMTimeout,
		IdleTimeout:     lim.IdleTimeout,
		ResponseTimeout: lim.OperationTimeout,
		MaxPDULength:    uint32(lim.MaxPDULength),
	}
	return n, nil
}

// Server returns the node's server, to add observers (wrap its Observer
// with dimse.MultiObserver) before the first Serve. Do not change the
// handlers.
func (n *Node) Server() *dimse.Server { return n.srv }

// Serve accepts associations on l until Shutdown; see dimse.Server.Serve.
// l is a plain TCP listener, or one that yields *tls.Conn.
func (n *Node) Serve(l net.Listener) error { return n.srv.Serve(l) }

// ErrNoTLS: ServeTLS was called but tls.cert_file is not configured.
var ErrNoTLS = errors.New("node: TLS not configured (tls.cert_file, tls.key_file)")

// ServeTLS accepts DICOM TLS associations (PS3.15 B.1) on the TCP
// listener l until Shutdown, with the configuration of tlsconf.Server built
// by New; each connection is handshaken before its A-ASSOCIATE-RQ, and the
// client certificate is bound to the Calling AE Title by the decision hook
// (tlsconf.CheckAEBinding). It returns ErrNoTLS (and closes l) when no
// certificate is configured. Serve and ServeTLS may run at the same time.
func (n *Node) ServeTLS(l net.Listener) error {
	if n.serverTLS == nil {
		l.Close()
		return ErrNoTLS
	}
	return n.srv.Serve(tls.NewListener(l, n.serverTLS))
}

// Shutdown stops accepting, lets running associations finish until ctx
// ends, then aborts them; see dimse.Server.Shutdown. It then writes the
// audit events still held back (pre-association, integrity summaries);
// integrity alerts found later (a repair the archive finishes on Close)
// are written one by one.
func (n *Node) Shutdown(ctx context.Context) error {
	err := n.srv.Shutdown(ctx)
	if n.auditObs != nil {
		n.auditObs.flushPreAssociation()
	}
	n.alerts.close()
	return err
}

// identLimits bounds the decoding of C-FIND / C-MOVE / C-GET identifiers
// (their size is capped before, by dimse.Limits.MaxIdentifierSize).
func (n *Node) identLimits() dcm.Limits {
	return dcm.Limits{MaxDepth: n.cfg.Limits.MaxSequenceDepth}
}

// operationContext bounds one operation the node performs for a peer (a
// C-FIND query with its responses) by limits.operation_timeout.
func (n *Node) operationContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if t := n.cfg.Limits.OperationTimeout; t > 0 {
		return context.WithTimeout(ctx, t)
	}
	return context.WithCancel(ctx)
}
