package dimse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// frag is one data fragment handed to a spooler: n bytes, in a pooled
// buffer of bufLen bytes when pooled (the PDV data then fill its start).
type frag struct {
	n      int
	pooled bool
	bufLen int
}

// TestSpoolerChunks: whatever the fragment sizes, the data set reads back
// byte for byte through ReadAt at every alignment, Bytes and NewReader,
// in memory and spooled; fragments filling at least half their pooled
// buffer are kept in place, smaller ones copied.
func TestSpoolerChunks(t *testing.T) {
	plans := map[string][]frag{
		"one adopted":      {{n: 131060, pooled: true, bufLen: 131066}},
		"adopted run":      {{131060, true, 131066}, {131060, true, 131066}, {5000, true, 5006}, {1, false, 0}},
		"small copied":     {{10, true, 16}, {3000, true, 3006}, {100, false, 0}, {2, true, 8}},
		"mixed":            {{9000, true, 9006}, {300, true, 306}, {70000, true, 70006}, {1, true, 7}, {65536, false, 0}, {40000, true, 40006}},
		"many small":       manySmall(300, 700),
		"half-empty class": {{2100, true, 2106}, {4000, true, 8000}}, // 2100 of 4096 kept, 4000 of 8192 copied
	}
	for name, plan := range plans {
		for _, threshold := range []int64{-1, 100000} {
			t.Run(fmt.Sprintf("%s/threshold%d", name, threshold), func(t *testing.T) {
				sp := newSpooler(threshold, t.TempDir())
				var want []byte
				var adopted, copied [][]byte // source PDV data, to tell aliasing apart
				for i, f := range plan {
					data := pattern(f.n + i)[i:] // differs per fragment
					var buf *pdu.Buffer
					p := data
					if f.pooled {
						buf = pdu.GetBuffer(f.bufLen)
						copy(buf.Bytes(), data)
						p = buf.Bytes()[:f.n]
					}
					if err := sp.write(p, buf); err != nil {
						t.Fatal(err)
					}
					if f.pooled && 2*f.n >= cap(buf.Bytes()) {
						adopted = append(adopted, p)
					} else {
						copied = append(copied, p)
					}
					// Our reference is dropped only at the end, so that the
					// buffers of copied fragments are not recycled meanwhile.
					defer buf.Release()
					want = append(want, data...)
				}
				ds, err := sp.finish()
				if err != nil {
					t.Fatal(err)
				}
				defer ds.Close()
				spooled := threshold >= 0 && int64(len(want)) > threshold
				if ds.Spooled() != spooled || ds.Size() != int64(len(want)) {
					t.Fatalf("spooled %v size %d, want %v %d", ds.Spooled(), ds.Size(), spooled, len(want))
				}
				checkDataSet(t, ds, want)
				if spooled {
					return
				}
				// Kept fragments alias the pooled buffers; copied ones do not.
				for _, p := range copied {
					if len(p) > 0 {
						p[0] ^= 0xFF
					}
				}
				checkDataSet(t, ds, want)
				for _, p := range adopted {
					p[0] ^= 0xFF
				}
				if got, _ := ds.Bytes(); len(adopted) > 0 && len(ds.chunks) == 1 && bytes.Equal(got, want) {
					t.Error("a fragment filling its buffer was copied, not kept")
				}
			})
		}
	}
}

func manySmall(n, size int) []frag {
	out := make([]frag, n)
	for i := range out {
		out[i] = frag{n: size, pooled: true, bufLen: size + 6}
	}
	return out
}

// checkDataSet reads ds back every way and compares with want.
func checkDataSet(t *testing.T, ds *DataSet, want []byte) {
	t.Helper()
	if b, ok := ds.Bytes(); ok && !bytes.Equal(b, want) {
		t.Fatalf("Bytes: %d bytes differ from the %d written", len(b), len(want))
	}
	all, err := io.ReadAll(ds.NewReader())
	if err != nil || !bytes.Equal(all, want) {
		t.Fatalf("NewReader: %d bytes, %v", len(all), err)
	}
	for _, off := range []int{0, 1, 4095, 4096, 65535, 65536, 131059, 131060, 131061, len(want) / 2, len(want) - 1} {
		for _, n := range []int{1, 7, 4096, 200000} {
			if off < 0 || off >= len(want) {
				continue
			}
			p := make([]byte, n)
			got, err := ds.ReadAt(p, int64(off))
			wantN := min(n, len(want)-off)
			if got != wantN || !bytes.Equal(p[:got], want[off:off+wantN]) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes", n, off, got, err, wantN)
			}
			if (err == io.EOF) != (wantN < n) {
				t.Fatalf("ReadAt(%d bytes at %d): err %v", n, off, err)
			}
		}
	}
	if _, err := ds.ReadAt(make([]byte, 1), int64(len(want))); err != io.EOF {
		t.Fatalf("ReadAt at the end: %v, want io.EOF", err)
	}
}

// bufScript is a PDataBufferReader replaying P-DATA-TFs, each in a fresh
// pooled buffer, then io.EOF.
type bufScript struct {
	pdus  [][]pdu.PDV
	reads int
}

func (s *bufScript) ReadPData(ctx context.Context) ([]pdu.PDV, error) {
	pdvs, _, err := s.ReadPDataBuffer(ctx)
	return pdvs, err
}

func (s *bufScript) ReadPDataBuffer(ctx context.Context) ([]pdu.PDV, *pdu.Buffer, error) {
	if s.reads >= len(s.pdus) {
		return nil, nil, io.EOF
	}
	in := s.pdus[s.reads]
	s.reads++
	n := 0
	for _, p := range in {
		n += pdu.PDVHeaderLen + len(p.Data)
	}
	buf := pdu.GetBuffer(n)
	b := buf.Bytes()
	out := make([]pdu.PDV, len(in))
	for i, p := range in {
		b = b[pdu.PDVHeaderLen:]
		k := copy(b, p.Data)
		out[i] = p
		out[i].Data = b[:k:k]
		b = b[k:]
	}
	return out, buf, nil
}

// TestReadMessagePooled: messages read from a PDataBufferReader keep their
// data intact while later messages reuse pooled buffers, until Close.
func TestReadMessagePooled(t *testing.T) {
	rec := &recorder{}
	var want [][]byte
	for i, size := range []int{600 << 10, 100, 300 << 10, 0, 70000} {
		data := pattern(size + i)[i:]
		want = append(want, data)
		cmd := NewCStoreRQ(uint16(i+1), ctImageStorage, someInstance, PriorityMedium)
		if err := WriteMessage(context.Background(), rec, 1, cmd, bytes.NewReader(data), 128<<10); err != nil {
			t.Fatal(err)
		}
	}
	// Put the last data fragment of each message and the next command in
	// one P-DATA-TF, as some peers do: both messages then share a buffer.
	var merged [][]pdu.PDV
	for _, p := range rec.pdus {
		if n := len(merged); n > 0 && p[0].Command && merged[n-1][0].Last && !merged[n-1][0].Command {
			merged[n-1] = append(merged[n-1], p...)
			continue
		}
		merged = append(merged, p)
	}
	mr := &MessageReader{R: &bufScript{pdus: merged}, Limits: Limits{SpoolThreshold: -1}}
	var msgs []*Message
	for i := range want {
		msg, err := mr.ReadMessage(context.Background())
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		msgs = append(msgs, msg)
		for j, m := range msgs {
			checkDataSet(t, m.Data, want[j])
		}
	}
	if _, err := mr.ReadMessage(context.Background()); err == nil {
		t.Fatal("read past the script")
	}
	for _, m := range msgs {
		m.Close()
		if _, err := m.Data.ReadAt(make([]byte, 1), 0); err != ErrClosed && m.Data.Size() > 0 {
			t.Fatalf("ReadAt after Close: %v", err)
		}
	}
}
