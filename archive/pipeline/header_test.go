package pipeline

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func sampleHeader() *Header {
	h := &Header{K: 2, Codec: CodecZstd, SegmentSize: 1 << 20, StripeSize: 1<<20 + 16,
		KeyX: [N]byte{1, 2, 3, 4}, Index: 3, KEKVersion: 7, WrappedKey: bytes.Repeat([]byte{0x5a}, WrappedKeySize)}
	copy(h.ObjectID[:], "0123456789abcdef")
	return h
}

func TestHeaderRoundTrip(t *testing.T) {
	h := sampleHeader()
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != HeaderSize || !strings.HasPrefix(string(b), Magic) || !bytes.Equal(b[:CommonHeaderSize], h.Common()) {
		t.Fatalf("encoding %x", b)
	}
	// Golden: the documented layout, byte by byte.
	want := "5350533101040202" + "30313233343536373839616263646566" + "00100000" + "00100010" + "01020304" + "00000000" +
		"03" + "00000007" + "003c" + strings.Repeat("5a", WrappedKeySize)
	if got := bytesHex(b); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	r := bytes.NewReader(append(b, "body"...))
	got, err := ParseHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 4 {
		t.Fatalf("ParseHeader consumed %d bytes, want %d", HeaderSize+4-r.Len(), HeaderSize)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatal("re-encoding differs")
	}
	for n := range len(b) {
		if _, err := ParseHeader(bytes.NewReader(b[:n])); !errors.Is(err, ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
}

func bytesHex(b []byte) string {
	const hexd = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(hexd[c>>4])
		s.WriteByte(hexd[c&15])
	}
	return s.String()
}

func TestParseHeaderRejects(t *testing.T) {
	good, _ := sampleHeader().MarshalBinary()
	tests := []struct {
		name string
		off  int
		val  byte
	}{
		{"magic", 0, 'D'},
		{"version 0", 4, 0},
		{"version 2", 4, 2},
		{"n 3", 5, 3},
		{"k 1", 6, 1},
		{"k 5", 6, 5},
		{"codec 0 (auto is never stored)", 7, 0},
		{"codec 6", 7, 6},
		{"codec 255", 7, 255},
		{"segment size too large", 24, 0x10},
		{"segment size too small", 25, 0},
		{"stripe size", 31, 0x11},
		{"X zero", 32, 0},
		{"X repeated", 33, 1},
		{"reserved", 39, 1},
		{"reserved after flags", 37, 1},
		{"unknown flag", 36, 0x02},
		{"shred flag on a 60-byte key", 36, FlagShredSealed},
		{"index 4", 40, 4},
		{"wrapped key length", 46, 0x3d},
		{"wrapped key length high", 45, 1},
	}
	for _, tc := range tests {
		b := bytes.Clone(good)
		b[tc.off] = tc.val
		if _, err := ParseHeader(bytes.NewReader(b)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", tc.name, err)
		}
	}
	for _, h := range []*Header{{}, {K: 2, Codec: CodecNone, SegmentSize: 1 << 20, StripeSize: 1<<20 + 16, KeyX: [N]byte{1, 2, 3, 4}}} {
		if _, err := h.MarshalBinary(); !errors.Is(err, ErrFormat) {
			t.Errorf("MarshalBinary(%+v) = %v", h, err)
		}
	}
}

// TestShredHeaderRoundTrip: FlagShredSealed is byte 36, the wrapped key is
// 88 bytes, the header 95; every prefix and a flag/length disagreement fail.
func TestShredHeaderRoundTrip(t *testing.T) {
	h := sampleHeader()
	h.ShredSealed, h.WrappedKey = true, bytes.Repeat([]byte{0xa5}, ShredWrappedKeySize)
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := "5350533101040202" + "30313233343536373839616263646566" + "00100000" + "00100010" + "01020304" + "01000000" +
		"03" + "00000007" + "0058" + strings.Repeat("a5", ShredWrappedKeySize)
	if got := bytesHex(b); got != want || len(b) != ShredHeaderSize || h.Size() != ShredHeaderSize {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	r := bytes.NewReader(append(b, "body"...))
	got, err := ParseHeader(r)
	if err != nil || r.Len() != 4 || !got.ShredSealed {
		t.Fatalf("ParseHeader = %+v, %v (left %d)", got, err, r.Len())
	}
	for n := range len(b) {
		if _, err := ParseHeader(bytes.NewReader(b[:n])); !errors.Is(err, ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
	cleared := bytes.Clone(b)
	cleared[36] = 0 // flag gone, 88-byte key left: refused, not misread
	if _, err := ParseHeader(bytes.NewReader(cleared)); !errors.Is(err, ErrFormat) {
		t.Fatalf("flag cleared: %v", err)
	}
	h.WrappedKey = h.WrappedKey[:WrappedKeySize]
	if _, err := h.MarshalBinary(); !errors.Is(err, ErrFormat) {
		t.Fatalf("MarshalBinary with a 60-byte key and the flag: %v", err)
	}
}

func FuzzParseHeader(f *testing.F) {
	good, _ := sampleHeader().MarshalBinary()
	f.Add(good)
	f.Add(good[:HeaderSize-1])
	f.Add([]byte("SPS1"))
	f.Add([]byte{})
	h := sampleHeader()
	h.K, h.Codec, h.SegmentSize, h.StripeSize, h.Index = 4, CodecNone, MinSegmentSize, MinSegmentSize+16, 0
	b, _ := h.MarshalBinary()
	f.Add(b)
	h.ShredSealed, h.WrappedKey = true, bytes.Repeat([]byte{1}, ShredWrappedKeySize)
	b, _ = h.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error not wrapping ErrFormat: %v", err)
			}
			return
		}
		// Accepted headers re-encode to the bytes read.
		out, err := h.MarshalBinary()
		if err != nil || !bytes.Equal(out, data[:h.Size()]) {
			t.Fatalf("accepted header does not round-trip: %v", err)
		}
	})
}
