package dimse

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Adversarial row 15: a data set as a flood of one-byte PDVs, and a PDV on
// a presentation context that was not accepted, end in A-ABORT (2,6).
func TestServerFragmentFlood(t *testing.T) {
	srvLeakCheck(t)
	for _, tc := range []struct {
		name string
		pdvs func() [][]pdu.PDV
	}{
		{"one-byte-pdvs", func() [][]pdu.PDV {
			cmd := NewCStoreRQ(1, srvCTImage, "1.2.3", PriorityMedium).Encode()
			out := [][]pdu.PDV{{{ContextID: 1, Command: true, Last: true, Data: cmd}}}
			for range 10000 {
				out = append(out, []pdu.PDV{{ContextID: 1, Data: []byte{0}}})
			}
			return out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newSrvObs()
			called := false
			addr := srvStart(t, &Server{Observer: rec, Store: StoreHandlerFunc(func(context.Context, *StoreRequest) error {
				called = true
				return nil
			})})
			c := srvDial(t, addr, "SCU", srvStorePC(1, srvCTImage))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, p := range tc.pdvs() {
				if err := c.a.SendPData(ctx, p); err != nil {
					break // aborted meanwhile
				}
			}
			_, err := c.recv()
			var ab *pdu.Abort
			if !errors.As(err, &ab) || ab.Source != pdu.AbortServiceProvider || ab.Reason != pdu.AbortInvalidParameterValue {
				t.Fatalf("got %v, want A-ABORT (2,6)", err)
			}
			rec.waitEnd(t)
			if called {
				t.Fatal("handler called")
			}
		})
	}
}

// A PDV on a presentation context that was never accepted: A-ABORT (2,6).
// Sent over a raw connection, since ul refuses to send it.
func TestServerPDVOnUnacceptedContext(t *testing.T) {
	srvLeakCheck(t)
	addr := srvStart(t, &Server{})
	conn, ac := rawAssociated(t, addr)
	if ac[0] != 0x02 {
		t.Fatalf("got PDU type 0x%02x, want A-ASSOCIATE-AC", ac[0])
	}
	b, err := pdu.Encode(&pdu.PDataTF{Items: []pdu.PDV{{ContextID: 5, Command: true, Last: true, Data: NewCEchoRQ(1).Encode()}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x06}
	if got := readRawPDU(t, conn); string(got) != string(want) {
		t.Fatalf("got % x, want A-ABORT (2,6) % x", got, want)
	}
}
