package pdu

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// countingReader serves data and counts the bytes handed out.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestReadPDUHeaderChecksFirst: an unknown type or an over-limit length is
// refused after the 6-byte header, before the body is read or allocated.
func TestReadPDUHeaderChecksFirst(t *testing.T) {
	tests := []struct {
		name   string
		header []byte
		reason AbortReason
	}{
		{"length 0xFFFFFFFF", []byte{0x01, 0, 0xFF, 0xFF, 0xFF, 0xFF}, AbortInvalidParameterValue},
		{"P-DATA 0xFFFFFFFF", []byte{0x04, 0, 0xFF, 0xFF, 0xFF, 0xFF}, AbortInvalidParameterValue},
		{"P-DATA 1 MiB over 16 KiB", []byte{0x04, 0, 0x00, 0x10, 0x00, 0x00}, AbortInvalidParameterValue},
		{"TLS ClientHello on a plain port", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, AbortUnrecognizedPDU},
		{"type 0x08", []byte{0x08, 0, 0, 0, 0, 4}, AbortUnrecognizedPDU},
		{"type 0xFF", []byte{0xFF, 0, 0, 0, 0, 4}, AbortUnrecognizedPDU},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The "body" that follows is large; it must not be consumed.
			cr := &countingReader{r: io.MultiReader(bytes.NewReader(tc.header), bytes.NewReader(make([]byte, 1<<16)))}
			_, err := ReadPDU(cr, Limits{MaxPDataLength: 16384})
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != tc.reason {
				t.Fatalf("ReadPDU: %v, want DecodeError reason %v", err, tc.reason)
			}
			if cr.n != 6 {
				t.Fatalf("read %d bytes, want 6", cr.n)
			}
		})
	}
}

// TestReadPDUNoAllocationOnLengthLie: 0xFFFFFFFF costs no allocation of
// the declared size (adversarial test 10).
func TestReadPDUNoAllocationOnLengthLie(t *testing.T) {
	lie := []byte{0x01, 0, 0xFF, 0xFF, 0xFF, 0xFF}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const rounds = 100
	for range rounds {
		if _, err := ReadPDU(bytes.NewReader(lie), Limits{}); err == nil {
			t.Fatal("accepted")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / rounds; per > 4096 {
		t.Fatalf("%d bytes allocated per rejected header, want < 4 KiB", per)
	}
}

// stallReader serves data then blocks until released, like a peer that
// declares a big PDU and stops sending.
type stallReader struct {
	data    []byte
	release chan struct{}
}

func (s *stallReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		<-s.release
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestReadPDUGrowsWithData: a declared 1 MiB P-DATA-TF whose peer stalls
// after 100 bytes costs one 64 KiB chunk, not 1 MiB.
func TestReadPDUGrowsWithData(t *testing.T) {
	hdr := []byte{0x04, 0, 0x00, 0x10, 0x00, 0x00} // 1 MiB, within the default limit
	sr := &stallReader{data: append(hdr, make([]byte, 100)...), release: make(chan struct{})}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() { _, err := ReadPDU(sr, Limits{}); done <- err }()
	time.Sleep(50 * time.Millisecond)
	runtime.ReadMemStats(&after)
	close(sr.release)
	if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadPDU: %v, want io.ErrUnexpectedEOF", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<10 {
		t.Fatalf("%d bytes allocated while the peer stalled, want about 64 KiB", grew)
	}
}

// TestReadPDULarge: a P-DATA-TF larger than the read chunk arrives whole.
func TestReadPDULarge(t *testing.T) {
	data := make([]byte, 1<<20-6)
	for i := range data {
		data[i] = byte(i * 7)
	}
	in := &PDataTF{Items: []PDV{{ContextID: 1, Last: true, Data: data}}}
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	// iotest.OneByteReader would be slow on 1 MiB; a 1000-byte reader
	// still forces many partial reads across chunk boundaries.
	got, err := ReadPDU(&chunkReader{b: b, n: 1000}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalPDU(got, in) {
		t.Fatal("1 MiB P-DATA-TF changed on the way")
	}
	if _, err := ReadPDU(bytes.NewReader(b), Limits{MaxPDataLength: 1<<20 - 1}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("over MaxPDataLength by one byte: %v", err)
	}
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// TestReadPDUWrapsTransportErrors: errors other than EOF are wrapped, not
// replaced.
func TestReadPDUWrapsTransportErrors(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := ReadPDU(io.MultiReader(bytes.NewReader([]byte{0x05, 0}), errReader{boom}), Limits{})
	if !errors.Is(err, boom) {
		t.Fatalf("header: %v does not wrap the transport error", err)
	}
	_, err = ReadPDU(io.MultiReader(bytes.NewReader([]byte{0x05, 0, 0, 0, 0, 4, 0}), errReader{boom}), Limits{})
	if !errors.Is(err, boom) {
		t.Fatalf("body: %v does not wrap the transport error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// writeCounter records each Write call.
type writeCounter struct{ writes [][]byte }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestWritePDUSingleWrite(t *testing.T) {
	for _, tc := range samplePDUs() {
		var w writeCounter
		if err := WritePDU(&w, tc.pdu); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, _ := Encode(tc.pdu)
		if len(w.writes) != 1 || !bytes.Equal(w.writes[0], want) {
			t.Fatalf("%s: %d writes, want 1 with the encoding", tc.name, len(w.writes))
		}
	}
	var w writeCounter
	if err := WritePDU(&w, &PDataTF{}); !errors.Is(err, ErrInvalid) || len(w.writes) != 0 {
		t.Fatalf("empty P-DATA-TF: %v, %d writes", err, len(w.writes))
	}
	boom := errors.New("broken pipe")
	if err := WritePDU(errWriter{boom}, &ReleaseRQ{}); !errors.Is(err, boom) {
		t.Fatalf("write error: %v", err)
	}
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

// TestReaderReusesBuffer: Reader decodes the same values as ReadPDU, and
// reuses its buffer for PDUs that fit it.
func TestReaderReusesBuffer(t *testing.T) {
	var stream bytes.Buffer
	big := &PDataTF{Items: []PDV{{ContextID: 1, Data: bytes.Repeat([]byte{7}, 100<<10)}}}
	small := &PDataTF{Items: []PDV{{ContextID: 3, Command: true, Last: true, Data: []byte("small")}}}
	seq := []PDU{big, small, big}
	for _, tc := range samplePDUs() {
		seq = append(seq, tc.pdu)
	}
	for _, p := range seq {
		if err := WritePDU(&stream, p); err != nil {
			t.Fatal(err)
		}
	}
	r := &Reader{R: &stream}
	var firstBig []byte
	for i, want := range seq {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("PDU %d: %v", i, err)
		}
		if !equalPDU(got, want) {
			t.Fatalf("PDU %d: got %#v", i, got)
		}
		if i == 0 {
			firstBig = got.(*PDataTF).Items[0].Data
		}
		if i == 2 && &got.(*PDataTF).Items[0].Data[0] != &firstBig[0] {
			t.Fatal("buffer not reused for a PDU of the same size")
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	// Errors are those of ReadPDU.
	r = &Reader{R: bytes.NewReader([]byte{0x04, 0, 0, 0x10, 0, 0}), Limits: Limits{MaxPDataLength: 16384}}
	if _, err := r.Next(); !errors.Is(err, ErrTooLong) {
		t.Fatalf("over limit: %v", err)
	}
}
