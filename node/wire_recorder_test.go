package node

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// wireRecorder is a loopback TCP relay in front of the node that keeps a
// copy of every byte the node sends back, so that a test can see exactly
// what an external tool received even when the tool does not print it.
type wireRecorder struct {
	port string

	mu    sync.Mutex
	toSCU bytes.Buffer
	conns []chan struct{} // closed when both directions of a relayed connection are done
}

// startWireRecorder relays every connection it accepts to target.
func startWireRecorder(t *testing.T, target string) *wireRecorder {
	t.Helper()
	l := testutil.Listen(t)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	r := &wireRecorder{port: port}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			done := make(chan struct{})
			r.mu.Lock()
			r.conns = append(r.conns, done)
			r.mu.Unlock()
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				close(done)
				continue
			}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(up, c)
				_ = up.(*net.TCPConn).CloseWrite()
			}()
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.MultiWriter(c, lockedBuffer{r}), up)
				_ = c.Close()
			}()
			go func() { wg.Wait(); _ = up.Close(); close(done) }()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); r.wait() })
	return r
}

// wait waits until every connection relayed so far has ended.
func (r *wireRecorder) wait() {
	r.mu.Lock()
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	for _, done := range conns {
		<-done
	}
}

type lockedBuffer struct{ r *wireRecorder }

func (b lockedBuffer) Write(p []byte) (int, error) {
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	return b.r.toSCU.Write(p)
}

// take waits until every relayed connection has ended and returns (and
// forgets) what the node sent.
func (r *wireRecorder) take() []byte {
	r.wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := bytes.Clone(r.toSCU.Bytes())
	r.toSCU.Reset()
	return out
}

// recordedResponse is one DIMSE message read back from a recording.
type recordedResponse struct {
	cmd        *dimse.Command
	identifier []dcm.Element // nil without a data set
}

// decodeRecording reads the PDUs the node sent on one association
// (A-ASSOCIATE-AC, P-DATA-TF..., A-RELEASE-RP) and returns the DIMSE
// messages, identifiers decoded in the transfer syntax the A-ASSOCIATE-AC
// accepted for their context, and whether the stream ended with an
// A-RELEASE-RP.
func decodeRecording(t *testing.T, b []byte) (msgs []recordedResponse, released bool) {
	t.Helper()
	rd := bytes.NewReader(b)
	ts := map[uint8]string{}
	var cmdBuf, dataBuf []byte
	var pending *dimse.Command
	for {
		p, err := pdu.ReadPDU(rd, pdu.Limits{})
		if errors.Is(err, io.EOF) {
			return msgs, released
		}
		if err != nil {
			t.Fatalf("recording: %v", err)
		}
		switch p := p.(type) {
		case *pdu.AssociateAC:
			for _, pc := range p.PresentationContexts {
				if pc.Result == pdu.ContextAccepted {
					ts[pc.ID] = pc.TransferSyntax
				}
			}
		case *pdu.ReleaseRP:
			released = true
		case *pdu.PDataTF:
			for _, v := range p.Items {
				if v.Command {
					cmdBuf = append(cmdBuf, v.Data...)
					if !v.Last {
						continue
					}
					cmd, err := dimse.DecodeCommand(cmdBuf)
					cmdBuf = nil
					if err != nil {
						t.Fatalf("recording: command: %v", err)
					}
					if cmd.HasDataSet {
						pending = cmd
					} else {
						msgs = append(msgs, recordedResponse{cmd: cmd})
					}
					continue
				}
				dataBuf = append(dataBuf, v.Data...)
				if !v.Last {
					continue
				}
				if pending == nil {
					t.Fatal("recording: data set without a command")
				}
				elems, err := dcm.DecodeIdentifier(dataBuf, ts[v.ContextID], dcm.Limits{})
				if err != nil {
					t.Fatalf("recording: identifier: %v", err)
				}
				msgs = append(msgs, recordedResponse{cmd: pending, identifier: elems})
				pending, dataBuf = nil, nil
			}
		}
	}
}

// elementValue returns the value of tag in elems, and whether it is there.
func elementValue(elems []dcm.Element, tag dcm.Tag) (string, bool) {
	for _, e := range elems {
		if e.Tag == tag {
			return e.Value, true
		}
	}
	return "", false
}
