package node

import (
	"context"
	"errors"
	"net"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
)

// Node serves the archive over DIMSE. Build it with New; it is safe for
// concurrent use (every association is served on its own goroutine).
type Node struct {
	cfg    *config.Config
	arch   *archive.Archive
	log    zerolog.Logger
	srv    *dimse.Server
	client *dimse.Client
}

// New builds the node's dimse.Server from cfg (a private copy is taken:
// later changes to cfg are not seen) over the archive a. cfg must be
// valid (config.Validate). log receives operational events; an observer
// (see LogObserver) logs one line per association. The caller owns a and
// closes it after Shutdown.
func New(cfg *config.Config, a *archive.Archive, log zerolog.Logger) (*Node, error) {
	if cfg == nil || a == nil {
		return nil, errors.New("node: nil configuration or archive")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg.Clone(), arch: a, log: log}
	lim := n.cfg.Limits
	n.srv = &dimse.Server{
		AETitle:              n.cfg.AETitle,
		AcceptAnyCalledAE:    n.cfg.AcceptAnyCalledAE,
		Accept:               n.accept,
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
		Observer: NewLogObserver(log),
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
func (n *Node) Serve(l net.Listener) error { return n.srv.Serve(l) }

// Shutdown stops accepting, lets running associations finish until ctx
// ends, then aborts them; see dimse.Server.Shutdown.
func (n *Node) Shutdown(ctx context.Context) error { return n.srv.Shutdown(ctx) }

// identLimits bounds the decoding of C-FIND / C-MOVE / C-GET identifiers.
func (n *Node) identLimits() dcm.Limits {
	return dcm.Limits{MaxDepth: n.cfg.Limits.MaxSequenceDepth}
}
