package ul

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// pair establishes an association between our own requestor and acceptor.
func pair(t *testing.T, pipe bool, acfg *AcceptConfig, rcfg *RequestConfig) (req, acc *Association) {
	t.Helper()
	var c1, c2 net.Conn
	if pipe {
		c1, c2 = net.Pipe()
	} else {
		c1, c2 = tcpPair(t)
	}
	ach := acceptAsync(c2, acfg)
	rch := requestAsync(c1, rcfg)
	ra, aa := waitResult(t, rch), waitResult(t, ach)
	if ra.err != nil || aa.err != nil {
		t.Fatalf("request: %v, accept: %v", ra.err, aa.err)
	}
	return ra.a, aa.a
}

func TestEndToEnd(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		name := "tcp"
		if pipe {
			name = "pipe"
		}
		t.Run(name+"/requestor releases", func(t *testing.T) {
			goroutineCheck(t)
			req, acc := pair(t, pipe, testAcceptConfig(nil), testRequestConfig(nil))
			exchange(t, req, acc)
			exchange(t, acc, req)
			if err := req.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := acc.ReadPData(context.Background()); err != io.EOF {
				t.Fatalf("acceptor ReadPData after release: %v", err)
			}
			<-acc.Done()
		})
		t.Run(name+"/acceptor releases", func(t *testing.T) {
			goroutineCheck(t)
			req, acc := pair(t, pipe, testAcceptConfig(nil), testRequestConfig(nil))
			if err := acc.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := req.ReadPData(context.Background()); err != io.EOF {
				t.Fatalf("requestor ReadPData after release: %v", err)
			}
		})
		t.Run(name+"/simultaneous release", func(t *testing.T) {
			goroutineCheck(t)
			req, acc := pair(t, pipe, testAcceptConfig(nil), testRequestConfig(nil))
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, a := range []*Association{req, acc} {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = a.Release(context.Background()) }()
			}
			wg.Wait()
			// Either a clean collision or one side's release answered
			// normally; both must end without error.
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("release errors %v", errs)
			}
		})
		for _, who := range []string{"requestor", "acceptor"} {
			t.Run(name+"/"+who+" aborts", func(t *testing.T) {
				goroutineCheck(t)
				req, acc := pair(t, pipe, testAcceptConfig(nil), testRequestConfig(nil))
				us, them := req, acc
				if who == "acceptor" {
					us, them = acc, req
				}
				if err := us.Abort(0); err != nil {
					t.Fatal(err)
				}
				if _, err := them.ReadPData(context.Background()); !isAbort(err, 0, 0) {
					t.Fatalf("peer sees %v", err)
				}
				<-us.Done()
				if !errors.Is(us.Err(), ErrLocalAbort) {
					t.Errorf("aborting side Err = %v", us.Err())
				}
			})
		}
	}
}

// exchange sends a multi-PDU message from a to b, fragmenting to b's limit,
// while b reads concurrently.
func exchange(t *testing.T, from, to *Association) {
	t.Helper()
	msg := make([]byte, 100000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	frag := pdu.MaxPDVData(from.MaxSendPDULength())
	errc := make(chan error, 1)
	go func() {
		for off := 0; off < len(msg); off += frag {
			end := min(off+frag, len(msg))
			if err := from.SendPData(context.Background(), []pdu.PDV{{ContextID: 1, Last: end == len(msg), Data: msg[off:end]}}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var got []byte
	for {
		pdvs, err := to.ReadPData(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pdvs[0].Data...)
		if pdvs[0].Last {
			break
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("message corrupted")
	}
}

// TestWriteBlockedCancelled: the peer does not read; cancelling SendPData's
// ctx while the PDU is being written breaks the transport and ends the
// association.
func TestWriteBlockedCancelled(t *testing.T) {
	goroutineCheck(t)
	c1, c2 := net.Pipe()
	ach := acceptAsync(c2, testAcceptConfig(nil))
	p := &peer{t, c1}
	p.send(encode(t, echoRQ()))
	p.readPDU()
	a := waitResult(t, ach).a
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := a.SendPData(ctx, []pdu.PDV{{ContextID: 1, Last: true, Data: make([]byte, 1000)}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendPData = %v", err)
	}
	<-a.Done()
	if !errors.Is(a.Err(), ErrTransportClosed) {
		t.Errorf("Err = %v", a.Err())
	}
	c1.Close()
}

// TestWriteTimeout: a peer that never reads is cut off by WriteTimeout.
func TestWriteTimeout(t *testing.T) {
	goroutineCheck(t)
	c1, c2 := net.Pipe()
	cfg := testAcceptConfig(nil)
	cfg.WriteTimeout = 100 * time.Millisecond
	ach := acceptAsync(c2, cfg)
	p := &peer{t, c1}
	p.send(encode(t, echoRQ()))
	p.readPDU()
	a := waitResult(t, ach).a
	err := a.SendPData(context.Background(), []pdu.PDV{{ContextID: 1, Last: true, Data: make([]byte, 1000)}})
	if !errors.Is(err, ErrTransportClosed) || !errors.Is(err, ErrTransportClosed) {
		t.Fatalf("SendPData = %v", err)
	}
	<-a.Done()
	c1.Close()
}
