package dimse

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

type discard struct{}

func (discard) SendPData(context.Context, []pdu.PDV) error { return nil }

var benchPDUs = []uint32{16 << 10, 1 << 20}

func BenchmarkWriteMessage(b *testing.B) {
	data := pattern(512 << 10)
	cmd := NewCStoreRQ(1, ctImageStorage, someInstance, 0)
	for _, maxPDU := range benchPDUs {
		b.Run(fmt.Sprintf("pdu%dKiB", maxPDU>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			r := bytes.NewReader(data)
			for b.Loop() {
				r.Reset(data)
				if err := WriteMessage(context.Background(), discard{}, 1, cmd, r, maxPDU); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadMessage(b *testing.B) {
	data := pattern(512 << 10)
	cmd := NewCStoreRQ(1, ctImageStorage, someInstance, 0)
	for _, maxPDU := range benchPDUs {
		b.Run(fmt.Sprintf("pdu%dKiB", maxPDU>>10), func(b *testing.B) {
			rec := &recorder{}
			if err := WriteMessage(context.Background(), rec, 1, cmd, bytes.NewReader(data), maxPDU); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			src := &script{pdus: rec.pdus}
			mr := &MessageReader{R: src}
			for b.Loop() {
				src.reads = 0
				msg, err := mr.ReadMessage(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				msg.Close()
			}
		})
	}
}

// BenchmarkReadMessagePooled is BenchmarkReadMessage from a
// PDataBufferReader (as *ul.Association is): data fragments are kept in
// the pooled PDU buffers instead of being copied. The time includes the
// fake's own copy of each PDU into a pooled buffer (standing for the read
// from the network), so it is not faster than BenchmarkReadMessage here.
func BenchmarkReadMessagePooled(b *testing.B) {
	data := pattern(512 << 10)
	cmd := NewCStoreRQ(1, ctImageStorage, someInstance, 0)
	for _, maxPDU := range benchPDUs {
		b.Run(fmt.Sprintf("pdu%dKiB", maxPDU>>10), func(b *testing.B) {
			rec := &recorder{}
			if err := WriteMessage(context.Background(), rec, 1, cmd, bytes.NewReader(data), maxPDU); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			src := &bufScript{pdus: rec.pdus}
			mr := &MessageReader{R: src}
			for b.Loop() {
				src.reads = 0
				msg, err := mr.ReadMessage(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				msg.Close()
			}
		})
	}
}
