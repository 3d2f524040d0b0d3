package dimse

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
)

// ErrNoContext is returned by GetResponder.Store (and by the Client) when no
// accepted presentation context fits a C-STORE: none for the SOP class, none
// with the needed role (PS3.7 D.3.3.4), or none in the transfer syntax.
var ErrNoContext = errors.New("dimse: no suitable presentation context")

// AssociationInfo describes one accepted association to handlers and
// observers. It is created by the [Server] before the decision hook runs
// and is read-only afterwards (safe to share between goroutines).
//
// CallingAETitle and CalledAETitle are peer-controlled (trimmed of padding
// only): escape them before logging.
type AssociationInfo struct {
	ID             uint64 // unique per Server, increasing from 1
	CallingAETitle string
	CalledAETitle  string
	RemoteAddr     net.Addr
	TLS            *tls.ConnectionState // nil on plain TCP
}

// StoreRequest is a C-STORE-RQ received by the Server (PS3.7 §9.1.1,
// PS3.4 Annex B).
type StoreRequest struct {
	Assoc     *AssociationInfo
	Command   *Command
	ContextID uint8
	// SOPClassUID and SOPInstanceUID are the command's Affected SOP Class
	// UID (0000,0002) and Affected SOP Instance UID (0000,1000); the Server
	// has checked that the class is the context's abstract syntax and that
	// both are syntactically valid UIDs. Whether the data set agrees with
	// them is the handler's business (0xA900 otherwise).
	SOPClassUID, SOPInstanceUID string
	// TransferSyntaxUID is the presentation context's transfer syntax: the
	// encoding of DataSet.
	TransferSyntaxUID string
	// MoveOriginatorAETitle and MoveOriginatorMessageID are set when the
	// store is a C-MOVE sub-operation (0000,1030), (0000,1031); "" and 0
	// otherwise.
	MoveOriginatorAETitle   string
	MoveOriginatorMessageID uint16
	// DataSet is the received data set, without File Meta Information. It
	// is owned by the Server and valid until ServeStore returns: a handler
	// that keeps the bytes must copy them.
	DataSet *DataSet
}

// StoreHandler serves C-STORE (PS3.4 B.2.2). The returned error is mapped
// to the C-STORE-RSP status (PS3.4 B.2.3) by [StatusOf]:
//
//   - nil → 0x0000 Success;
//   - an error holding a *[StatusError] (errors.As) → its Status, Error
//     Comment (0000,0902) and Offending Element (0000,0901); a bare
//     [Status] → that status (warnings 0xB000, 0xB006, 0xB007 included);
//   - any other error → 0x0110 Processing failure; the error itself stays
//     local (it reaches the Observer only, never the network).
//
// ctx is cancelled when the association ends (peer abort, transport loss,
// Shutdown deadline). ServeStore is called from the association's
// goroutine, one request at a time per association, but concurrently for
// different associations.
type StoreHandler interface {
	ServeStore(ctx context.Context, req *StoreRequest) error
}

// StoreHandlerFunc adapts a function to [StoreHandler].
type StoreHandlerFunc func(ctx context.Context, req *StoreRequest) error

// ServeStore calls f(ctx, req).
func (f StoreHandlerFunc) ServeStore(ctx context.Context, req *StoreRequest) error {
	return f(ctx, req)
}

// QueryRequest is a C-FIND-RQ, or the common part of a C-MOVE-RQ or
// C-GET-RQ (PS3.7 §9.1.2-9.1.4, PS3.4 Annex C).
type QueryRequest struct {
	Assoc     *AssociationInfo
	Command   *Command
	ContextID uint8
	// SOPClassUID is the Affected SOP Class UID: the query/retrieve
	// information model (Patient Root, Study Root...).
	SOPClassUID string
	// TransferSyntaxUID is the context's transfer syntax, in which
	// Identifier is encoded and pending identifiers must be encoded.
	TransferSyntaxUID string
	Priority          uint16
	// Identifier is the raw identifier data set (PS3.4 C.4.1.1.3), at most
	// Limits.MaxIdentifierSize bytes. Owned by the handler.
	Identifier []byte
}

// FindResponder sends C-FIND pending responses (PS3.4 C.4.1.1.4).
type FindResponder interface {
	// Pending sends one C-FIND-RSP with status 0xFF00 Pending and identifier
	// as its data set, encoded in the request's TransferSyntaxUID. It
	// returns an error when the association is gone or the operation was
	// cancelled; the handler should then return.
	Pending(identifier []byte) error
}

// FindHandler serves C-FIND (PS3.4 C.4.1).
//
// ctx is cancelled when a C-CANCEL-RQ for this request arrives (the Server
// then answers 0xFE00 Cancel whatever the handler returns) or when the
// association ends. Return value: nil → final 0x0000 Success; otherwise the
// status by [StatusOf] with fallback 0xC000 Unable to process (0xA700,
// 0xA900, 0xC0xx from a *StatusError).
type FindHandler interface {
	ServeFind(ctx context.Context, req *QueryRequest, w FindResponder) error
}

// FindHandlerFunc adapts a function to [FindHandler].
type FindHandlerFunc func(ctx context.Context, req *QueryRequest, w FindResponder) error

// ServeFind calls f(ctx, req, w).
func (f FindHandlerFunc) ServeFind(ctx context.Context, req *QueryRequest, w FindResponder) error {
	return f(ctx, req, w)
}

// SubOps counts the C-STORE sub-operations of a C-MOVE or C-GET (PS3.7
// §9.1.3, §9.1.4: Number of Remaining/Completed/Failed/Warning
// Sub-operations, (0000,1020)-(0000,1023)). Counts are clamped to 0..65535
// on the wire.
type SubOps struct {
	Remaining, Completed, Failed, Warning int
	// FailedSOPInstanceUIDs feeds Failed SOP Instance UID List (0008,0058)
	// of the final response when some sub-operations failed or the
	// operation was cancelled (PS3.4 C.4.2.1.3.1, C.4.3.1.3.1).
	FailedSOPInstanceUIDs []string
}

// MoveRequest is a C-MOVE-RQ (PS3.4 C.4.2).
type MoveRequest struct {
	QueryRequest
	// Destination is Move Destination (0000,0600): the AE title the
	// instances must be sent to (over a new association, by the handler).
	Destination string
}

// MoveResponder sends C-MOVE pending responses (PS3.4 C.4.2.1.4).
type MoveResponder interface {
	// Progress sends a C-MOVE-RSP 0xFF00 Pending with the four counts.
	Progress(SubOps) error
}

// MoveHandler serves C-MOVE (PS3.4 C.4.2). The final C-MOVE-RSP is built
// from the result:
//
//   - ctx cancelled by C-CANCEL-RQ → 0xFE00 Cancel with the counts and, when
//     non-empty, the Failed SOP Instance UID List;
//   - err != nil → its status by [StatusOf] with fallback 0xC000 (for example
//     a *StatusError{Status: StatusMoveDestinationUnknown} gives 0xA801),
//     with the counts;
//   - Failed+Warning > 0 → 0xB000 with the Failed SOP Instance UID List
//     (0008,0058) in an identifier; unless Completed+Warning == 0 and
//     Failed > 0, which is 0xA702 (all sub-operations failed);
//   - otherwise 0x0000 Success.
type MoveHandler interface {
	ServeMove(ctx context.Context, req *MoveRequest, w MoveResponder) (SubOps, error)
}

// MoveHandlerFunc adapts a function to [MoveHandler].
type MoveHandlerFunc func(ctx context.Context, req *MoveRequest, w MoveResponder) (SubOps, error)

// ServeMove calls f(ctx, req, w).
func (f MoveHandlerFunc) ServeMove(ctx context.Context, req *MoveRequest, w MoveResponder) (SubOps, error) {
	return f(ctx, req, w)
}

// GetResponder sends C-GET pending responses and runs the C-STORE
// sub-operations of a C-GET on the requesting association (PS3.4 C.4.3.3).
type GetResponder interface {
	// Progress sends a C-GET-RSP 0xFF00 Pending with the four counts.
	Progress(SubOps) error
	// Store runs one C-STORE sub-operation on this association: it needs
	// an accepted context for sopClassUID in transferSyntaxUID for which
	// the requestor took the SCP role (SCP/SCU Role Selection, PS3.7
	// D.3.3.4), and returns ErrNoContext otherwise. data is the data set
	// (no File Meta Information) in transferSyntaxUID, read to EOF. The
	// returned Status is the peer's C-STORE-RSP status (warnings and
	// failures come back as a status, not an error); err is for transport
	// failures, cancellation and ErrNoContext.
	Store(ctx context.Context, sopClassUID, sopInstanceUID, transferSyntaxUID string, data io.Reader) (Status, error)
	// TransferSyntaxes returns the transfer syntaxes of the contexts
	// accepted for sopClassUID with the requestor as SCP, in context ID
	// order (nil when none), so the handler can pick one it can provide.
	TransferSyntaxes(sopClassUID string) []string
}

// GetHandler serves C-GET (PS3.4 C.4.3). The final C-GET-RSP is built from
// the result exactly as for [MoveHandler].
type GetHandler interface {
	ServeGet(ctx context.Context, req *QueryRequest, w GetResponder) (SubOps, error)
}

// GetHandlerFunc adapts a function to [GetHandler].
type GetHandlerFunc func(ctx context.Context, req *QueryRequest, w GetResponder) (SubOps, error)

// ServeGet calls f(ctx, req, w).
func (f GetHandlerFunc) ServeGet(ctx context.Context, req *QueryRequest, w GetResponder) (SubOps, error) {
	return f(ctx, req, w)
}
