package pdu

import (
	"bytes"
	"testing"
)

func pdataOfLength(pduLength int) *PDataTF {
	return &PDataTF{Items: []PDV{{ContextID: 1, Last: true, Data: make([]byte, MaxPDVData(uint32(pduLength)))}}}
}

func benchSizes() []struct {
	name string
	n    int
} {
	return []struct {
		name string
		n    int
	}{{"16KiB", 16 << 10}, {"1MiB", 1 << 20}}
}

func BenchmarkDecodePDataTF(b *testing.B) {
	for _, s := range benchSizes() {
		b.Run(s.name, func(b *testing.B) {
			enc, err := Encode(pdataOfLength(s.n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(enc, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadPDUPDataTF(b *testing.B) {
	for _, s := range benchSizes() {
		b.Run(s.name, func(b *testing.B) {
			enc, err := Encode(pdataOfLength(s.n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			r := bytes.NewReader(enc)
			for b.Loop() {
				r.Reset(enc)
				if _, err := ReadPDU(r, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodePDataTF(b *testing.B) {
	for _, s := range benchSizes() {
		b.Run(s.name, func(b *testing.B) {
			p := pdataOfLength(s.n)
			buf := make([]byte, 0, s.n+PDUHeaderLen)
			b.SetBytes(int64(s.n + PDUHeaderLen))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = AppendEncode(buf[:0], p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeAssociateRQ(b *testing.B) {
	enc, err := Encode(fullRQ())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReaderPDataTF(b *testing.B) {
	for _, s := range benchSizes() {
		b.Run(s.name, func(b *testing.B) {
			enc, err := Encode(pdataOfLength(s.n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			br := bytes.NewReader(enc)
			r := &Reader{R: br}
			for b.Loop() {
				br.Reset(enc)
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPooledReaderPDataTF: what ul's reader goroutine does per PDU
// (the buffer released as a consumer would).
func BenchmarkPooledReaderPDataTF(b *testing.B) {
	for _, s := range benchSizes() {
		b.Run(s.name, func(b *testing.B) {
			enc, err := Encode(pdataOfLength(s.n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			br := bytes.NewReader(enc)
			r := &PooledReader{R: br}
			for b.Loop() {
				br.Reset(enc)
				_, buf, _, err := r.Next()
				if err != nil {
					b.Fatal(err)
				}
				buf.Release()
			}
		})
	}
}
