package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// Outcome labels: what a peer saw the server do, in the notation of
// docs/adversarial-tests.md (RJ and ABORT fields, PS3.8 9.3.4 and 9.3.8).
const (
	OutcomeClosed   = "closed"    // transport closed without a PDU (EOF)
	OutcomeReset    = "reset"     // connection reset, or a write to a closed socket
	OutcomeNoAnswer = "no answer" // nothing within the wait: the server held the socket
	OutcomeRefused  = "refused"   // the TCP connect itself failed
	OutcomeAccepted = "A-ASSOCIATE-AC"
	OutcomeError    = "error" // anything else (see the report's sample error)
)

// pduOutcome names a PDU received from the server.
func pduOutcome(p pdu.PDU) string {
	switch v := p.(type) {
	case *pdu.AssociateRJ:
		return fmt.Sprintf("A-ASSOCIATE-RJ(%d,%d,%d)", v.Result, v.Source, v.Reason)
	case *pdu.Abort:
		return fmt.Sprintf("A-ABORT(%d,%d)", v.Source, v.Reason)
	case *pdu.AssociateAC:
		return OutcomeAccepted
	case nil:
		return OutcomeError
	}
	return p.PDUType().String()
}

// errOutcome names what err says the server did: an A-ASSOCIATE-RJ or
// A-ABORT received (also as the error of dimse.Client.Dial), a close, a
// reset, a timeout, a refused connect. An abort we sent ourselves
// (*ul.AbortedError) is "local abort: " and its cause's outcome.
func errOutcome(err error) string {
	var rj *pdu.AssociateRJ
	var ab *pdu.Abort
	var ne net.Error
	var local *ul.AbortedError
	switch {
	case err == nil:
		return OutcomeAccepted
	case errors.As(err, &local):
		return "local abort: " + errOutcome(local.Cause)
	case errors.Is(err, ul.ErrTransportClosed):
		return OutcomeClosed
	case errors.Is(err, ul.ErrARTIMExpired), errors.Is(err, ul.ErrIdleTimeout):
		return OutcomeNoAnswer
	case errors.As(err, &rj):
		return pduOutcome(rj)
	case errors.As(err, &ab):
		return pduOutcome(ab)
	case errors.Is(err, syscall.ECONNREFUSED):
		return OutcomeRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return OutcomeReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return OutcomeClosed
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return OutcomeNoAnswer
	}
	return OutcomeError
}

// readAnswer reads the server's answer on c: its first PDU, or how the
// connection ended. Limits are generous: a PDU the codec refuses is
// reported as OutcomeError.
func readAnswer(c net.Conn) string {
	p, err := pdu.ReadPDU(c, pdu.Limits{})
	if err != nil {
		return errOutcome(err)
	}
	return pduOutcome(p)
}
