package dimse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/shardpacs/shardpacs/dcm"
)

// StoreOption adjusts a C-STORE-RQ sent by [ClientConn.Store].
type StoreOption func(*Command)

// WithMoveOriginator marks the store as a sub-operation of the C-MOVE with
// Message ID messageID received from the AE aeTitle: Move Originator
// Application Entity Title (0000,1030) and Move Originator Message ID
// (0000,1031), PS3.7 §9.1.1.1.
func WithMoveOriginator(aeTitle string, messageID uint16) StoreOption {
	return func(c *Command) {
		c.MoveOriginatorApplicationEntityTitle = aeTitle
		c.MoveOriginatorMessageID = Uint16(messageID)
	}
}

// WithPriority sets Priority (0000,0700); the default is Medium.
func WithPriority(p Priority) StoreOption {
	return func(c *Command) { c.Priority = p }
}

// Echo sends a C-ECHO-RQ on the Verification context and waits for the
// C-ECHO-RSP (PS3.7 §9.1.5, PS3.4 A.4). It returns nil on success, the
// *StatusError of any other status, ErrNoContext when Verification was not
// accepted, or the transport or protocol error. Cancelling ctx while the
// response is awaited aborts the association (C-ECHO cannot be cancelled).
func (cc *ClientConn) Echo(ctx context.Context) error {
	pc, err := cc.contextFor(VerificationSOPClass, "")
	if err != nil {
		return err
	}
	if err := cc.lock(ctx); err != nil {
		return err
	}
	defer cc.unlock()
	id := cc.messageID()
	if err := cc.send(ctx, pc.ID, NewCEchoRQ(id), nil); err != nil {
		return fmt.Errorf("dimse: C-ECHO: %w", err)
	}
	msg, err := cc.await(ctx, CEchoRSP, id)
	if err != nil {
		return fmt.Errorf("dimse: C-ECHO: %w", err)
	}
	defer msg.Close()
	return statusErr(msg.Command)
}

// Store sends one instance with C-STORE (PS3.7 §9.1.1, PS3.4 B.2): the data
// set (no File Meta Information) read from data to EOF, streamed in
// fragments of the negotiated size, on the first accepted context of
// sopClassUID whose transfer syntax is transferSyntaxUID and on which we
// are SCU. A data set of odd length gets one trailing NUL byte: DICOM
// streams are of even length (PS3.5 §7.1; PS3.5 A.5 asks for exactly this
// pad after a deflated bit stream, which real files sometimes lack), and
// peers such as DCMTK refuse an odd last fragment. There is no transcoding: without such a context the result is
// an error wrapping ErrNoContext and nothing is sent.
//
// It returns the status of the C-STORE-RSP, with a nil error for success
// and a *StatusError (Error Comment, Offending Element) for any other
// status, warnings included (errors.Is(err, StatusCoercionOfDataElements)).
// When err is not a *StatusError no response was received and the status
// means nothing. A data reader failing mid-way, or ctx cancelled once the
// message has started, aborts the association: a C-STORE cannot be taken
// back.
func (cc *ClientConn) Store(ctx context.Context, sopClassUID, sopInstanceUID, transferSyntaxUID string, data io.Reader, opts ...StoreOption) (Status, error) {
	if data == nil {
		return 0, fmt.Errorf("dimse: C-STORE: nil data set")
	}
	pc, err := cc.contextFor(sopClassUID, transferSyntaxUID)
	if err != nil {
		return 0, err
	}
	if err := cc.lock(ctx); err != nil {
		return 0, err
	}
	defer cc.unlock()
	id := cc.messageID()
	cmd := NewCStoreRQ(id, sopClassUID, sopInstanceUID, PriorityMedium)
	for _, o := range opts {
		o(cmd)
	}
	if err := cmd.Validate(); err != nil {
		return 0, fmt.Errorf("dimse: C-STORE: %w", err)
	}
	if err := cc.send(ctx, pc.ID, cmd, &evenReader{r: data}); err != nil {
		return 0, fmt.Errorf("dimse: C-STORE: %w", err)
	}
	msg, err := cc.await(ctx, CStoreRSP, id)
	if err != nil {
		return 0, fmt.Errorf("dimse: C-STORE: %w", err)
	}
	defer msg.Close()
	return msg.Command.Status, statusErr(msg.Command)
}

// StoreFile sends the DICOM file at path (PS3.10) with [ClientConn.Store]:
// its File Meta Information (read with dcm.ReadPart10Header) gives the SOP
// Class, SOP Instance and Transfer Syntax UIDs, and the data set after it
// is sent as it is, byte for byte. A file without File Meta Information or
// without a Transfer Syntax UID is refused (an error wrapping
// dcm.ErrNoPart10Header or ErrInvalidFile) before anything is sent.
func (cc *ClientConn) StoreFile(ctx context.Context, path string) (Status, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("dimse: C-STORE: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	meta, _, err := dcm.ReadPart10Header(br, 0)
	if err != nil {
		return 0, fmt.Errorf("dimse: C-STORE of %s: %w", path, err)
	}
	if meta.TransferSyntaxUID == "" || meta.MediaStorageSOPClassUID == "" || meta.MediaStorageSOPInstanceUID == "" {
		return 0, fmt.Errorf("%w: %s: File Meta Information lacks a SOP Class, SOP Instance or Transfer Syntax UID", ErrInvalidFile, path)
	}
	return cc.Store(ctx, meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID, br)
}

// ErrInvalidFile: StoreFile was given a file it cannot send as is.
var ErrInvalidFile = errors.New("dimse: invalid DICOM file")

// await reads the response to request id, which must be a want message
// (no pending responses in between).
func (cc *ClientConn) await(ctx context.Context, want CommandField, id uint16) (*Message, error) {
	msg, err := cc.receive(ctx)
	if err != nil {
		if msg != nil { // data set refused by our limits: nothing to answer
			_ = msg.Close()
		}
		return nil, err
	}
	if !isResponse(msg, want, id) {
		return nil, cc.unexpected(msg, want, id)
	}
	return msg, nil
}

// evenReader passes r through and, when r ends after an odd number of
// bytes, adds one NUL byte.
type evenReader struct {
	r   io.Reader
	n   int64
	eof bool
}

func (e *evenReader) Read(p []byte) (int, error) {
	if e.eof {
		if e.n%2 == 1 && len(p) > 0 {
			p[0] = 0
			e.n++
			return 1, io.EOF
		}
		return 0, io.EOF
	}
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err != io.EOF {
		return n, err
	}
	e.eof = true
	if e.n%2 == 1 && n < len(p) {
		p[n] = 0
		n++
		e.n++
	}
	if e.n%2 == 1 {
		return n, nil // the pad byte comes with the next call
	}
	return n, io.EOF
}
