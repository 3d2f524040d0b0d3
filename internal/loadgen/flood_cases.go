package loadgen

import (
	"net"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// MalformedCase is one broken-peer script: it writes its bytes on a fresh
// connection and returns the outcome label of what the server answered.
// The expected answers are rows 8-11 of docs/adversarial-tests.md.
type MalformedCase struct {
	Name string
	// Want is the outcome a conforming server gives (PS3.8 9.3.8, Table
	// 9-10); informational, the load test reports rather than asserts it.
	Want string
	run  func(c net.Conn, rq []byte) string
}

// Run plays the case on c; rq is a valid A-ASSOCIATE-RQ encoding for
// the cases that need one first.
func (m MalformedCase) Run(c net.Conn, rq []byte) string { return m.run(c, rq) }

// sendThenRead writes b and reads the answer.
func sendThenRead(b []byte) func(net.Conn, []byte) string {
	return func(c net.Conn, _ []byte) string {
		if _, err := c.Write(b); err != nil {
			return errOutcome(err)
		}
		return readAnswer(c)
	}
}

// afterAC associates with rq, then writes b and reads the answer; the
// outcome is "AC, then X", or what came instead of the AC.
func afterAC(b func(rq []byte) []byte) func(net.Conn, []byte) string {
	return func(c net.Conn, rq []byte) string {
		if _, err := c.Write(rq); err != nil {
			return "before AC: " + errOutcome(err)
		}
		if got := readAnswer(c); got != OutcomeAccepted {
			return "before AC: " + got
		}
		if _, err := c.Write(b(rq)); err != nil {
			return "AC, then " + errOutcome(err)
		}
		return "AC, then " + readAnswer(c)
	}
}

// MalformedCases are the scripts a [Flood] cycles through.
var MalformedCases = []MalformedCase{
	{Name: "unknown PDU type 0x08", Want: "A-ABORT(2,1)",
		run: sendThenRead([]byte{0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0})},
	{Name: "A-ASSOCIATE-RQ length 0xFFFFFFFF", Want: "A-ABORT(2,6)",
		run: sendThenRead([]byte{0x01, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 0})},
	{Name: "P-DATA-TF before A-ASSOCIATE-RQ", Want: "A-ABORT(2,2)",
		// One PDV of 2 bytes on context 1, last command fragment.
		run: sendThenRead([]byte{0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 1, 3, 0, 0})},
	{Name: "TLS ClientHello on the plain port", Want: "A-ABORT(2,1)",
		run: sendThenRead([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})},
	{Name: "garbage after A-ASSOCIATE-AC", Want: "AC, then A-ABORT(2,1)",
		run: afterAC(func([]byte) []byte { return []byte("GET / HTTP/1.1\r\nHost: pacs\r\n\r\n") })},
	{Name: "second A-ASSOCIATE-RQ after AC", Want: "AC, then A-ABORT(2,2)",
		run: afterAC(func(rq []byte) []byte { return rq })},
}

// associateRQ encodes a minimal valid A-ASSOCIATE-RQ proposing
// Verification in Implicit VR Little Endian (PS3.8 9.3.2).
func associateRQ(calledAE, callingAE string) ([]byte, error) {
	return pdu.Encode(&pdu.AssociateRQ{
		ProtocolVersion:    pdu.ProtocolVersion1,
		CalledAETitle:      calledAE,
		CallingAETitle:     callingAE,
		ApplicationContext: pdu.DICOMApplicationContext,
		PresentationContexts: []pdu.PresentationContextRQ{
			{ID: 1, AbstractSyntax: uid.VerificationSOPClass, TransferSyntaxes: []string{uid.ImplicitVRLittleEndian}},
		},
		UserInfo: pdu.UserInfo{MaxLength: 16384, ImplementationClassUID: "2.25.1000"},
	})
}
