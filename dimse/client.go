package dimse

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// Defaults applied to zero fields of [Client]. They are resolved when used
// and never written back into the caller's struct.
const (
	// DefaultClientAETitle is the calling AE title of a zero Client.
	DefaultClientAETitle = "SHARDPACS"
	// DefaultDialTimeout bounds the TCP connect and the TLS handshake.
	DefaultDialTimeout = 10 * time.Second
	// DefaultCancelDrainTimeout bounds the wait for the final response once
	// a C-CANCEL-RQ has been sent (PS3.7 §9.1.2.1.2): a peer that ignores
	// the cancel and keeps quiet gets its association aborted.
	DefaultCancelDrainTimeout = 30 * time.Second
	// MaxProposedContexts is the largest number of presentation contexts
	// one A-ASSOCIATE-RQ can carry: IDs are the odd numbers 1..255 (PS3.8
	// §9.3.2.2).
	MaxProposedContexts = 128
)

// Client opens associations as a requestor (SCU), PS3.8 §7.1 and PS3.7
// §9: C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET over [ClientConn].
//
// The zero value works: it calls as "SHARDPACS" over plain TCP with the
// documented defaults. A Client holds no state of its own; it may be used
// for any number of concurrent Dial calls, and must not be modified
// meanwhile.
type Client struct {
	// AETitle is the Calling AE Title (PS3.8 §9.3.2). "" means
	// DefaultClientAETitle.
	AETitle string
	// DialTimeout bounds the transport connection, TLS handshake included.
	// 0 means DefaultDialTimeout; negative means no bound but ctx.
	DialTimeout time.Duration
	// ARTIMTimeout bounds the wait for the A-ASSOCIATE-AC/RJ and, once
	// aborting or released, for the peer to close the transport (PS3.8
	// §9.1.5). 0 means ul.DefaultARTIMTimeout (30 s).
	ARTIMTimeout time.Duration
	// IdleTimeout aborts an association on which no PDU moved for that long
	// (a silent peer never leaves a request hanging forever). 0 means
	// ul.DefaultIdleTimeout (5 min); negative disables it.
	IdleTimeout time.Duration
	// ResponseTimeout bounds the wait for each DIMSE response, pending
	// ones included (so a C-MOVE may last longer, as long as progress keeps
	// coming). On expiry the association is aborted. 0 means no bound of
	// its own: IdleTimeout still applies.
	ResponseTimeout time.Duration
	// MaxPDULength is the Maximum Length we advertise (PS3.8 D.1): the
	// largest P-DATA-TF we accept. 0 means ul.DefaultMaxPDULength (1 MiB).
	// What we send is bounded by the peer's value.
	MaxPDULength uint32
	// TLSConfig, when non-nil, runs the association over TLS (PS3.15 B.1,
	// BCP 195). When its ServerName is empty, the host of addr is used.
	TLSConfig *tls.Config
	// Dialer, when non-nil, opens the transport instead of a net.Dialer
	// (e.g. through a proxy, or a net.Pipe in tests). DialTimeout still
	// bounds it through ctx.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// Limits bounds the messages we receive: responses, C-FIND identifiers
	// and the instances of C-GET sub-operations. The zero value gives the
	// defaults of [Limits].
	Limits Limits
	// Observer receives the upper layer's observe-only events (PDUs,
	// transitions, aborts) for logging and metrics.
	Observer ul.Observer
}

func (c *Client) aeTitle() string {
	if c.AETitle == "" {
		return DefaultClientAETitle
	}
	return c.AETitle
}

func (c *Client) dialTimeout() time.Duration {
	switch {
	case c.DialTimeout == 0:
		return DefaultDialTimeout
	case c.DialTimeout < 0:
		return 0
	}
	return c.DialTimeout
}

func (c *Client) artimTimeout() time.Duration {
	if c.ARTIMTimeout <= 0 {
		return ul.DefaultARTIMTimeout
	}
	return c.ARTIMTimeout
}

// Dial connects to addr ("host:port"), proposes the presentation contexts
// to the AE calledAE and returns the established association (PS3.8 §7.1,
// A-ASSOCIATE). Proposals get the context IDs 1, 3, 5... in order; at most
// MaxProposedContexts, each with at least one transfer syntax.
//
// ctx bounds establishment only (the connection, then the negotiation);
// DialTimeout bounds the connection and ARTIMTimeout the wait for the
// answer. Errors: a rejection is the *pdu.AssociateRJ received
// (errors.As); an A-ABORT is the *pdu.Abort; an association on which the
// peer accepted no context is aborted and wraps ul.ErrNoAcceptedContext;
// invalid proposals wrap ErrInvalidProposal. Nothing is left open on
// failure.
func (c *Client) Dial(ctx context.Context, addr, calledAE string, proposals []ContextProposal) (*ClientConn, error) {
	pcs, roles, err := buildProposals(proposals)
	if err != nil {
		return nil, err
	}
	conn, tlsState, err := c.connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg := &ul.RequestConfig{
		CallingAETitle: c.aeTitle(),
		CalledAETitle:  calledAE,
		Contexts:       pcs,
		RoleSelections: roles,
		MaxPDULength:   c.MaxPDULength,
		ARTIMTimeout:   c.artimTimeout(),
		IdleTimeout:    c.IdleTimeout,
		Observer:       c.Observer,
	}
	a, err := ul.Request(ctx, conn, cfg)
	if err != nil {
		return nil, fmt.Errorf("dimse: associating with %q at %s: %w", calledAE, addr, err)
	}
	return newClientConn(c, a, tlsState), nil
}

// connect opens the transport, and the TLS session over it when configured.
func (c *Client) connect(ctx context.Context, addr string) (net.Conn, *tls.ConnectionState, error) {
	dctx := ctx
	if d := c.dialTimeout(); d > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var conn net.Conn
	var err error
	if c.Dialer != nil {
		conn, err = c.Dialer(dctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dimse: connecting to %s: %w", addr, err)
	}
	if c.TLSConfig == nil {
		return conn, nil, nil
	}
	cfg := c.TLSConfig.Clone()
	if cfg.ServerName == "" {
		host, _, herr := net.SplitHostPort(addr)
		if herr != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(dctx); err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("dimse: TLS handshake with %s: %w", addr, err)
	}
	st := tc.ConnectionState()
	return tc, &st, nil
}

// buildProposals numbers the proposals and derives the role selection
// items (one per SOP class, PS3.7 D.3.3.4).
func buildProposals(props []ContextProposal) ([]pdu.PresentationContextRQ, []pdu.RoleSelection, error) {
	if len(props) == 0 {
		return nil, nil, fmt.Errorf("%w: no presentation context", ErrInvalidProposal)
	}
	if len(props) > MaxProposedContexts {
		return nil, nil, fmt.Errorf("%w: %d presentation contexts, at most %d", ErrInvalidProposal, len(props), MaxProposedContexts)
	}
	pcs := make([]pdu.PresentationContextRQ, len(props))
	scpRole := make(map[string]bool)
	var roles []pdu.RoleSelection
	for i, p := range props {
		if p.AbstractSyntax == "" || len(p.TransferSyntaxes) == 0 {
			return nil, nil, fmt.Errorf("%w: proposal %d needs an abstract syntax and a transfer syntax", ErrInvalidProposal, i)
		}
		pcs[i] = pdu.PresentationContextRQ{
			ID:               uint8(2*i + 1),
			AbstractSyntax:   p.AbstractSyntax,
			TransferSyntaxes: append([]string(nil), p.TransferSyntaxes...),
		}
		prev, seen := scpRole[p.AbstractSyntax]
		switch {
		case !seen:
			scpRole[p.AbstractSyntax] = p.SCPRole
			if p.SCPRole {
				roles = append(roles, pdu.RoleSelection{SOPClassUID: p.AbstractSyntax, SCU: false, SCP: true})
			}
		case prev != p.SCPRole:
			return nil, nil, fmt.Errorf("%w: %s proposed both with and without the SCP role", ErrInvalidProposal, p.AbstractSyntax)
		}
	}
	return pcs, roles, nil
}
