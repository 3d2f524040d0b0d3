package pdu

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// TestPooledReaderSequence reads every PDU type from one stream, through
// reads of 1000 bytes at most, then a clean EOF; the bytes counted match
// the encodings.
func TestPooledReaderSequence(t *testing.T) {
	var stream bytes.Buffer
	pdus := samplePDUs()
	big := &PDataTF{Items: []PDV{{ContextID: 3, Last: true, Data: pattern(200 << 10)}}}
	pdus = append(pdus, struct {
		name string
		pdu  PDU
	}{"pdata-200KiB", big})
	var lens []int
	for _, tc := range pdus {
		n := stream.Len()
		if err := WritePDU(&stream, tc.pdu); err != nil {
			t.Fatal(err)
		}
		lens = append(lens, stream.Len()-n)
	}
	r := &PooledReader{R: &chunkReader{b: stream.Bytes(), n: 1000}}
	var held []PDU
	for i, tc := range pdus {
		got, buf, n, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if buf == nil {
			t.Fatalf("%s: no buffer", tc.name)
		}
		if !reflect.DeepEqual(got, tc.pdu) {
			t.Fatalf("%s: got %#v", tc.name, got)
		}
		if n != lens[i] {
			t.Errorf("%s: %d bytes counted, encoding has %d", tc.name, n, lens[i])
		}
		held = append(held, got) // buffers not released: must stay intact
	}
	for i, tc := range pdus {
		if !reflect.DeepEqual(held[i], tc.pdu) {
			t.Errorf("%s changed while later PDUs were read", tc.name)
		}
	}
	if _, buf, _, err := r.Next(); err != io.EOF || buf != nil {
		t.Fatalf("after the last PDU: %v, %v, want io.EOF", buf, err)
	}
}

// TestPooledReaderStrictPrefixes: every strict prefix of an encoding fails
// to decode, with io.ErrUnexpectedEOF once the first byte was read.
func TestPooledReaderStrictPrefixes(t *testing.T) {
	for _, tc := range samplePDUs() {
		b, err := Encode(tc.pdu)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(b) {
			r := &PooledReader{R: bytes.NewReader(b[:n])}
			_, buf, _, err := r.Next()
			switch {
			case n == 0 && err != io.EOF:
				t.Errorf("%s: empty stream: %v, want io.EOF", tc.name, err)
			case n > 0 && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Errorf("%s: prefix of %d/%d bytes: %v, want io.ErrUnexpectedEOF", tc.name, n, len(b), err)
			}
			if buf != nil {
				t.Errorf("%s: prefix of %d bytes returned a buffer", tc.name, n)
			}
		}
	}
}

// TestPooledReaderHostile: header checks happen before any body is read,
// decode errors are *DecodeError values, and Read drains what follows.
func TestPooledReaderHostile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		reason AbortReason
	}{
		{"unknown type", []byte{0x08, 0, 0, 0, 0, 4, 1, 2, 3, 4}, AbortUnrecognizedPDU},
		{"length lie", []byte{0x04, 0, 0xFF, 0xFF, 0xFF, 0xFF}, AbortInvalidParameterValue},
		{"PDV past PDU end", []byte{0x04, 0, 0, 0, 0, 6, 0, 0, 0, 9, 1, 3}, AbortInvalidParameterValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest := []byte("rest of the stream")
			r := &PooledReader{R: bytes.NewReader(append(append([]byte(nil), tc.in...), rest...))}
			_, buf, _, err := r.Next()
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != tc.reason || buf != nil {
				t.Fatalf("Next: %v, %v; want a DecodeError with reason %v", buf, err, tc.reason)
			}
			drained, _ := io.ReadAll(r)
			if len(drained) == 0 {
				t.Error("Read returned nothing after the error")
			}
		})
	}
}

// TestPooledReaderStall: a declared 1 MiB P-DATA-TF whose peer stalls
// after 100 bytes takes no 1 MiB buffer (and allocates about 64 KiB at
// most); once all of it arrives it decodes.
func TestPooledReaderStall(t *testing.T) {
	for bufferPools[8].Get() != nil { // empty the 1 MiB class: a take would allocate
	}
	hdr := []byte{0x04, 0, 0x00, 0x10, 0x00, 0x00}
	sr := &stallReader{data: append(hdr, make([]byte, 100)...), release: make(chan struct{})}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() { _, _, _, err := (&PooledReader{R: sr}).Next(); done <- err }()
	time.Sleep(50 * time.Millisecond)
	runtime.ReadMemStats(&after)
	close(sr.release)
	if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Next: %v, want io.ErrUnexpectedEOF", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<10 {
		t.Fatalf("%d bytes allocated while the peer stalled, want about 64 KiB", grew)
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}
