package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

var (
	testKey = bytes.Repeat([]byte{0x42}, 32)
	testAAD = []byte("shardpacs object header v1")
)

func testPlaintext(n int) []byte {
	p := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(p)
	return p
}

func seal(t testing.TB, plain, key, aad []byte, seg int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewSealWriter(&buf, key, aad, seg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// open reads a whole sealed stream and returns what it released and the error.
func open(t testing.TB, sealed, key, aad []byte, seg int) ([]byte, error) {
	t.Helper()
	r, err := NewOpenReader(bytes.NewReader(sealed), key, aad, seg)
	if err != nil {
		t.Fatal(err)
	}
	return io.ReadAll(r)
}

// segmentSizes is the table the round-trip tests run over.
func sizesFor(seg int) []int {
	return []int{0, 1, seg - 1, seg, seg + 1, 2 * seg, 3*seg + 17}
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, seg := range []int{1, 16, 64, DefaultSegmentSize} {
		for _, n := range sizesFor(seg) {
			if n < 0 {
				continue
			}
			plain := testPlaintext(n)
			sealed := seal(t, plain, testKey, testAAD, seg)
			if want := SealedSize(int64(n), seg); int64(len(sealed)) != want {
				t.Errorf("seg %d, n %d: sealed %d bytes, SealedSize says %d", seg, n, len(sealed), want)
			}
			got, err := open(t, sealed, testKey, testAAD, seg)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("seg %d, n %d: round trip failed: %d bytes, %v", seg, n, len(got), err)
			}
		}
	}
}

func TestSealedSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		seg  int
		want int64
	}{
		{0, 64, 16},
		{1, 64, 17},
		{64, 64, 80},
		{65, 64, 97},
		{3*64 + 17, 64, 3*80 + 33},
		{0, 0, 16},
		{1 << 20, 0, 1<<20 + 16},
		{1<<20 + 1, 0, 1<<20 + 1 + 32},
		{-1, 64, -1},
		{1, -1, -1},
		{1, MaxSegmentSize + 1, -1},
		{1<<63 - 1, 1, -1},
	} {
		if got := SealedSize(tc.n, tc.seg); got != tc.want {
			t.Errorf("SealedSize(%d, %d) = %d, want %d", tc.n, tc.seg, got, tc.want)
		}
	}
}

// TestSealFormat opens segments with the standard library's GCM and the
// documented nonces, so the wire format is pinned independently of the reader.
func TestSealFormat(t *testing.T) {
	const seg = 64
	plain := testPlaintext(seg + 10)
	sealed := seal(t, plain, testKey, testAAD, seg)
	block, _ := aes.NewCipher(testKey)
	gcm, _ := cipher.NewGCM(block)
	nonce0 := make([]byte, 12)
	p0, err := gcm.Open(nil, nonce0, sealed[:seg+16], testAAD)
	if err != nil || !bytes.Equal(p0, plain[:seg]) {
		t.Fatalf("segment 0 with nonce 0^12: %v", err)
	}
	nonce1 := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1} // counter 1, last
	p1, err := gcm.Open(nil, nonce1, sealed[seg+16:], testAAD)
	if err != nil || !bytes.Equal(p1, plain[seg:]) {
		t.Fatalf("final segment with nonce 0^10 01 01: %v", err)
	}
	// The empty plaintext is one empty final segment: a lone tag.
	empty := seal(t, nil, testKey, testAAD, seg)
	if _, err := gcm.Open(nil, []byte{11: 1}, empty, testAAD); err != nil || len(empty) != 16 {
		t.Fatalf("empty stream: %d bytes, %v", len(empty), err)
	}
}

func TestSealWriterChunking(t *testing.T) {
	const seg = 64
	plain := testPlaintext(5*seg + 3)
	want := seal(t, plain, testKey, testAAD, seg)
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		var buf bytes.Buffer
		w, _ := NewSealWriter(&buf, testKey, testAAD, seg)
		for p := plain; len(p) > 0; {
			n := min(len(p), r.IntN(2*seg+2))
			if m, err := w.Write(p[:n]); err != nil || m != n {
				t.Fatalf("Write = %d, %v", m, err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatal("ciphertext depends on how writes were split")
		}
	}
}

func TestSealWriterErrors(t *testing.T) {
	if _, err := NewSealWriter(io.Discard, testKey[:16], nil, 64); !errors.Is(err, ErrKeySize) {
		t.Errorf("16-byte key: %v", err)
	}
	for _, seg := range []int{-1, MaxSegmentSize + 1} {
		if _, err := NewSealWriter(io.Discard, testKey, nil, seg); err == nil {
			t.Errorf("segment size %d accepted", seg)
		}
		if _, err := NewOpenReader(bytes.NewReader(nil), testKey, nil, seg); err == nil {
			t.Errorf("reader segment size %d accepted", seg)
		}
	}
	if _, err := NewOpenReader(bytes.NewReader(nil), nil, nil, 64); !errors.Is(err, ErrKeySize) {
		t.Errorf("reader nil key: %v", err)
	}
	w, _ := NewSealWriter(io.Discard, testKey, nil, 64)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	// A failing underlying writer: the error is returned and sticky.
	boom := errors.New("disk full")
	w, _ = NewSealWriter(failWriter{boom}, testKey, nil, 4)
	_, err := w.Write(make([]byte, 9))
	if !errors.Is(err, boom) {
		t.Errorf("Write to failing writer: %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close after failure: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// checkFailClosed checks that opening a damaged stream failed with ErrAuth
// and released only whole segments of the original plaintext that precede
// the first damaged segment (firstBad, counted in segments).
func checkFailClosed(t *testing.T, what string, got []byte, err error, plain []byte, seg, firstBad int) {
	t.Helper()
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("%s: err = %v, want ErrAuth", what, err)
	}
	if len(got)%seg != 0 || !bytes.HasPrefix(plain, got) {
		t.Fatalf("%s: released %d bytes that are not whole authentic segments", what, len(got))
	}
	if len(got) > firstBad*seg {
		t.Fatalf("%s: released %d bytes, damage starts in segment %d", what, len(got), firstBad)
	}
}

func TestOpenEveryBitFlip(t *testing.T) {
	for _, seg := range []int{16, 64} {
		for _, n := range []int{0, 1, seg, 3*seg + 17} {
			plain := testPlaintext(n)
			sealed := seal(t, plain, testKey, testAAD, seg)
			for i := 0; i < len(sealed)*8; i++ {
				bad := bytes.Clone(sealed)
				bad[i/8] ^= 1 << (i % 8)
				got, err := open(t, bad, testKey, testAAD, seg)
				checkFailClosed(t, "bit flip", got, err, plain, seg, i/8/(seg+TagSize))
			}
		}
	}
}

func TestOpenTruncation(t *testing.T) {
	const seg = 64
	for _, n := range []int{0, 1, seg, 3*seg + 17, 4 * seg} {
		plain := testPlaintext(n)
		sealed := seal(t, plain, testKey, testAAD, seg)
		for cut := 0; cut < len(sealed); cut++ {
			got, err := open(t, sealed[:cut], testKey, testAAD, seg)
			checkFailClosed(t, "truncation", got, err, plain, seg, cut/(seg+TagSize))
			if cut%(seg+TagSize) == 0 && !errors.Is(err, ErrTruncated) {
				t.Errorf("n %d, cut at segment boundary %d: err = %v, want ErrTruncated", n, cut, err)
			}
		}
	}
}

func TestOpenExtension(t *testing.T) {
	const seg = 64
	for _, n := range []int{0, 1, seg, 2*seg + 5} {
		plain := testPlaintext(n)
		sealed := seal(t, plain, testKey, testAAD, seg)
		// Any trailing data, a replay of the last segment, a whole second stream.
		last := len(sealed) - (len(sealed)-1)%(seg+TagSize) - 1
		for _, extra := range [][]byte{{0}, sealed[last:], sealed, make([]byte, seg+TagSize)} {
			bad := append(bytes.Clone(sealed), extra...)
			got, err := open(t, bad, testKey, testAAD, seg)
			checkFailClosed(t, "extension", got, err, plain, seg, len(sealed)/(seg+TagSize))
			if len(got) >= len(plain) && len(plain) > 0 {
				t.Fatalf("n %d: extended stream released all %d bytes", n, len(got))
			}
		}
	}
}

func TestOpenReorderDuplicate(t *testing.T) {
	const seg = 64
	const full = seg + TagSize
	plain := testPlaintext(4*seg + 9) // segments 0..3 full, 4 final
	sealed := seal(t, plain, testKey, testAAD, seg)
	segs := [][]byte{}
	for p := sealed; len(p) > 0; p = p[min(full, len(p)):] {
		segs = append(segs, p[:min(full, len(p))])
	}
	join := func(idx ...int) []byte {
		var b []byte
		for _, i := range idx {
			b = append(b, segs[i]...)
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		order    []int
		firstBad int
	}{
		{"swap 0,1", []int{1, 0, 2, 3, 4}, 0},
		{"swap 2,3", []int{0, 1, 3, 2, 4}, 2},
		{"duplicate 1", []int{0, 1, 1, 2, 3, 4}, 2},
		{"drop 2", []int{0, 1, 3, 4}, 2},
		{"final early", []int{0, 4}, 1},
		{"final first", []int{4}, 0},
		{"drop final", []int{0, 1, 2, 3}, 4},
	} {
		got, err := open(t, join(tc.order...), testKey, testAAD, seg)
		checkFailClosed(t, tc.name, got, err, plain, seg, tc.firstBad)
	}
	// A segment taken from another stream under the same key (key misuse)
	// at the same position still fails: its last flag or aad differs.
	other := seal(t, testPlaintext(seg+1), testKey, []byte("other header"), seg)
	bad := append(join(0), other[full:]...)
	got, err := open(t, bad, testKey, testAAD, seg)
	checkFailClosed(t, "foreign segment", got, err, plain, seg, 1)
}

func TestOpenWrongKeyAADSegmentSize(t *testing.T) {
	const seg = 64
	plain := testPlaintext(2*seg + 3)
	sealed := seal(t, plain, testKey, testAAD, seg)
	wrongKey := bytes.Clone(testKey)
	wrongKey[31] ^= 1
	for _, tc := range []struct {
		name     string
		key, aad []byte
		seg      int
	}{
		{"wrong key", wrongKey, testAAD, seg},
		{"wrong aad", testKey, []byte("shardpacs object header v2"), seg},
		{"nil aad", testKey, nil, seg},
		{"other segment size", testKey, testAAD, seg + 1},
	} {
		got, err := open(t, sealed, tc.key, tc.aad, tc.seg)
		if !errors.Is(err, ErrAuth) || len(got) != 0 {
			t.Errorf("%s: released %d bytes, err %v", tc.name, len(got), err)
		}
	}
}

func TestOpenReaderBehaviour(t *testing.T) {
	const seg = 64
	plain := testPlaintext(3*seg + 17)
	sealed := seal(t, plain, testKey, testAAD, seg)
	// One-byte reads from a one-byte-at-a-time source.
	r, _ := NewOpenReader(iotest.OneByteReader(bytes.NewReader(sealed)), testKey, testAAD, seg)
	if err := iotest.TestReader(r, plain); err != nil {
		t.Error(err)
	}
	// A source returning data together with io.EOF.
	r, _ = NewOpenReader(iotest.DataErrReader(bytes.NewReader(sealed)), testKey, testAAD, seg)
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("DataErrReader: %v", err)
	}
	// A read error of the source is returned (wrapped), not ErrAuth.
	boom := errors.New("store offline")
	r, _ = NewOpenReader(io.MultiReader(bytes.NewReader(sealed[:100]), iotest.ErrReader(boom)), testKey, testAAD, seg)
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) || errors.Is(err, ErrAuth) || !bytes.Equal(got, plain[:seg]) {
		t.Errorf("source error: got %d bytes, %v", len(got), err)
	}
	// Errors are sticky; EOF is repeated.
	r, _ = NewOpenReader(bytes.NewReader(sealed[:10]), testKey, testAAD, seg)
	for range 2 {
		if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, ErrAuth) {
			t.Errorf("short stream Read = %d, %v", n, err)
		}
	}
	r, _ = NewOpenReader(bytes.NewReader(seal(t, nil, testKey, testAAD, seg)), testKey, testAAD, seg)
	for range 2 {
		if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Errorf("empty stream Read = %d, %v", n, err)
		}
	}
	// An empty source is a truncated stream.
	if _, err := open(t, nil, testKey, testAAD, seg); !errors.Is(err, ErrTruncated) {
		t.Errorf("empty source: %v", err)
	}
}

func TestNewDataKey(t *testing.T) {
	k1, err := NewDataKey(nil)
	if err != nil || len(k1) != 32 {
		t.Fatalf("NewDataKey = %d bytes, %v", len(k1), err)
	}
	k2, _ := NewDataKey(nil)
	if bytes.Equal(k1, k2) {
		t.Error("two data keys are equal")
	}
	if _, err := NewDataKey(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("short random source accepted")
	}
	k3, _ := NewDataKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if !bytes.Equal(k3, bytes.Repeat([]byte{7}, 32)) {
		t.Error("injected random source not used")
	}
}

// TestOpenNonCanonical builds, with the key and the standard library, streams
// that are authentic segment by segment but not what the writer makes; the
// reader refuses them, so one plaintext has exactly one stream (SealedSize).
func TestOpenNonCanonical(t *testing.T) {
	const seg = 16
	block, _ := aes.NewCipher(testKey)
	gcm, _ := cipher.NewGCM(block)
	nonce := func(i byte, last bool) []byte {
		n := make([]byte, 12)
		n[10] = i
		if last {
			n[11] = 1
		}
		return n
	}
	full := make([]byte, seg)
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"empty final segment after a full one",
			gcm.Seal(gcm.Seal(nil, nonce(0, false), full, testAAD), nonce(1, true), nil, testAAD)},
		{"short non-final segment",
			gcm.Seal(gcm.Seal(nil, nonce(0, false), full[:5], testAAD), nonce(1, true), full[:3], testAAD)},
		{"last flag 0x02",
			gcm.Seal(nil, []byte{11: 2}, full[:4], testAAD)},
	} {
		got, err := open(t, tc.stream, testKey, testAAD, seg)
		if !errors.Is(err, ErrAuth) || len(got) > seg {
			t.Errorf("%s: released %d bytes, err %v", tc.name, len(got), err)
		}
	}
}
