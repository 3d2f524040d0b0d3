package ul

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// TestReadPDataBuffer: PDVs read with ReadPDataBuffer stay intact while
// later PDUs are read, as long as their buffer is held, and each PDU comes
// in a buffer of its own; the association ends cleanly with buffers held
// and released in any order.
func TestReadPDataBuffer(t *testing.T) {
	goroutineCheck(t)
	req, acc := pair(t, false, testAcceptConfig(nil), testRequestConfig(nil))
	const n = 20
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte(i + 1)}, 800*(i+1)) // up to 16000: one PDU each
	}
	errc := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := req.SendPData(context.Background(), []pdu.PDV{{ContextID: 1, Last: true, Data: m}}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var got [][]pdu.PDV
	var bufs []*pdu.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range msgs {
		pdvs, buf, err := acc.ReadPDataBuffer(ctx)
		if err != nil || buf == nil || len(pdvs) != 1 {
			t.Fatalf("PDU %d: %d PDVs, buffer %v, %v", i, len(pdvs), buf, err)
		}
		got, bufs = append(got, pdvs), append(bufs, buf)
		if i%2 == 1 { // release every other one early: the pool may reuse them
			bufs[i-1].Release()
			got[i-1] = nil
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for i, pdvs := range got {
		if pdvs != nil && !bytes.Equal(pdvs[0].Data, msgs[i]) {
			t.Errorf("PDU %d changed while its buffer was held", i)
		}
	}
	for i := 1; i < n; i += 2 {
		bufs[i].Release()
	}
	if err := req.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, buf, err := acc.ReadPDataBuffer(context.Background()); err != io.EOF || buf != nil {
		t.Fatalf("after release: %v, %v; want io.EOF", buf, err)
	}
	<-acc.Done()
}
