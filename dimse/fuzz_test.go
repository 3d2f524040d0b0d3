package dimse

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands() {
		f.Add(c.Encode())
	}
	golden, _ := hex.DecodeString(goldenEchoRQ)
	f.Add(golden)
	f.Add([]byte{})
	f.Add(group(elem(TagCommandField, u16(0x0100)), elem(TagMessageID, u16(1)), elem(TagCommandDataSetType, u16(1)), elem(0x00001002, u16(3))))
	f.Fuzz(func(t *testing.T, b []byte) {
		c1, err := DecodeCommand(b)
		if err != nil {
			if c1 != nil || !errors.Is(err, ErrMalformedCommand) {
				t.Fatalf("error %v with command %v", err, c1)
			}
			return
		}
		_ = c1.Validate()
		_ = c1.CommandField.String()
		_ = c1.Status.Meaning(c1.CommandField)
		// One re-encoding normalises; after it, encode/decode is a fixed point.
		c2, err := DecodeCommand(c1.Encode())
		if err != nil {
			t.Fatalf("re-encoding of a decoded command does not decode: %v", err)
		}
		c3, err := DecodeCommand(c2.Encode())
		if err != nil || !reflect.DeepEqual(c2, c3) {
			t.Fatalf("not a fixed point: %v\n%+v\n%+v", err, c2, c3)
		}
	})
}

// pdvsFromBytes turns fuzz input into PDVs: per PDV one control byte (bit 0
// command, bit 1 last, bits 2-3 context ID 1/3/5/7), one length byte, data.
// Every fourth PDV starts a new P-DATA-TF.
func pdvsFromBytes(b []byte) [][]pdu.PDV {
	var out [][]pdu.PDV
	var cur []pdu.PDV
	for len(b) >= 2 {
		ctl, n := b[0], int(b[1])
		b = b[2:]
		n = min(n, len(b))
		cur = append(cur, pdu.PDV{ContextID: 1 + 2*(ctl>>2&3), Command: ctl&1 != 0, Last: ctl&2 != 0, Data: b[:n]})
		b = b[n:]
		if len(cur) == 4 {
			out, cur = append(out, cur), nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// bytesFromPDVs is the inverse of pdvsFromBytes for PDVs of < 256 bytes.
func bytesFromPDVs(pdvs ...pdu.PDV) []byte {
	var b []byte
	for _, p := range pdvs {
		ctl := byte((p.ContextID-1)/2) << 2
		if p.Command {
			ctl |= 1
		}
		if p.Last {
			ctl |= 2
		}
		b = append(b, ctl, byte(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b
}

func FuzzReassembly(f *testing.F) {
	echo := NewCEchoRQ(1).Encode()
	store := NewCStoreRQ(2, "1.2", "1.2.3", 0).Encode()
	find := NewCFindRQ(3, "1.2", 0).Encode()
	f.Add(bytesFromPDVs(pdu.PDV{ContextID: 1, Command: true, Last: true, Data: echo}))
	f.Add(bytesFromPDVs(
		pdu.PDV{ContextID: 3, Command: true, Data: store[:20]},
		pdu.PDV{ContextID: 3, Command: true, Last: true, Data: store[20:]},
		pdu.PDV{ContextID: 3, Data: pattern(200)},
		pdu.PDV{ContextID: 3, Data: pattern(200)},
		pdu.PDV{ContextID: 3, Last: true, Data: pattern(150)},
		pdu.PDV{ContextID: 5, Command: true, Last: true, Data: find},
		pdu.PDV{ContextID: 5, Last: true, Data: pattern(90)},
		pdu.PDV{ContextID: 5, Command: true, Last: true, Data: NewCCancelRQ(3).Encode()},
	))
	f.Add(bytesFromPDVs(pdu.PDV{ContextID: 1, Data: []byte{1}}))
	f.Add(bytesFromPDVs(pdu.PDV{ContextID: 1, Command: true, Last: true, Data: store}, pdu.PDV{ContextID: 3, Last: true}))

	dir := f.TempDir() // each execution must leave it empty
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxCommandSize: 1024, MaxIdentifierSize: 300, MaxDataSetSize: 600,
			MaxFragments: 100, SpoolThreshold: 256, SpoolDir: dir}
		src := &script{pdus: pdvsFromBytes(b)}
		mr := &MessageReader{R: src, Limits: lim}
		for i := 0; ; i++ {
			if i > len(b) {
				t.Fatal("more messages than input bytes")
			}
			msg, err := mr.ReadMessage(context.Background())
			if msg != nil {
				if cap := lim.maxDataSetSize(msg.Command.CommandField); msg.Data.Size() > cap {
					t.Fatalf("data set of %d bytes over cap %d", msg.Data.Size(), cap)
				}
				if (msg.Data != nil) && !msg.Command.HasDataSet {
					t.Fatal("data set on a command announcing none")
				}
				msg.Close()
			}
			if err != nil && !errors.Is(err, ErrDataSetTooLarge) && !errors.Is(err, ErrSpool) {
				break
			}
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("spool files left: %v", left)
		}
	})
}
