package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

func TestErrOutcome(t *testing.T) {
	rj := &pdu.AssociateRJ{Result: pdu.RejectTransient, Source: pdu.SourceServiceProviderPresentation, Reason: pdu.RejectPresentationLocalLimitExceeded}
	ab := &pdu.Abort{Source: pdu.AbortServiceProvider, Reason: pdu.AbortInvalidParameterValue}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, OutcomeAccepted},
		{fmt.Errorf("dimse: associating: %w", rj), "A-ASSOCIATE-RJ(2,3,2)"},
		{ab, "A-ABORT(2,6)"},
		{&ul.AbortedError{Sent: &pdu.Abort{Source: pdu.AbortServiceUser}, Cause: ul.ErrARTIMExpired}, "local abort: " + OutcomeNoAnswer},
		{fmt.Errorf("x: %w", ul.ErrTransportClosed), OutcomeClosed},
		{io.EOF, OutcomeClosed},
		{fmt.Errorf("pdu: %w", io.ErrUnexpectedEOF), OutcomeClosed},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, OutcomeReset},
		{&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, OutcomeReset},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, OutcomeRefused},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), OutcomeNoAnswer},
		{errors.New("something else"), OutcomeError},
	} {
		if got := errOutcome(c.err); got != c.want {
			t.Errorf("errOutcome(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestPDUOutcome(t *testing.T) {
	for _, c := range []struct {
		p    pdu.PDU
		want string
	}{
		{&pdu.AssociateAC{}, OutcomeAccepted},
		{&pdu.ReleaseRP{}, "A-RELEASE-RP"},
		{nil, OutcomeError},
	} {
		if got := pduOutcome(c.p); got != c.want {
			t.Errorf("pduOutcome(%T) = %q, want %q", c.p, got, c.want)
		}
	}
}
