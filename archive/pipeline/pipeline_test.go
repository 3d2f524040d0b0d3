package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/shardpacs/shardpacs/crypto"
)

func TestRoundTrip(t *testing.T) {
	kr, _ := newKeyring(t)
	const seg = MinSegmentSize
	sizes := []int{0, 1, seg - 1, seg, seg + 1, 3*seg + 5}
	for _, k := range []int{2, 3, 4} {
		for _, codec := range []Codec{CodecNone, CodecZstd, CodecS2, CodecZstdShuffle, CodecS2Shuffle, CodecAuto} {
			for _, n := range sizes {
				for _, kind := range []string{"compressible", "random"} {
					t.Run(fmt.Sprintf("k%d/%v/%d/%s", k, codec, n, kind), func(t *testing.T) {
						data := compressible(n, uint64(n))
						if kind == "random" {
							data = random(n, byte(n))
						}
						roundTrip(t, kr, Params{K: k, Codec: codec, SegmentSize: seg, Keyring: kr}, data)
					})
				}
			}
		}
	}
}

// Instances above the 1 MiB probe go through the streaming encoder, with
// the default 1 MiB segments (several stripes).
func TestRoundTripLarge(t *testing.T) {
	kr, _ := newKeyring(t)
	for _, codec := range []Codec{CodecNone, CodecZstd, CodecS2, CodecZstdShuffle, CodecS2Shuffle, CodecAuto} {
		for _, n := range []int{probeSize, probeSize + 1, 3<<20 + 12345} {
			t.Run(fmt.Sprintf("%v/%d", codec, n), func(t *testing.T) {
				data := compressible(n, 7)
				copy(data[n/2:], random(n/4, 3)) // an incompressible middle
				roundTrip(t, kr, Params{Codec: codec, Keyring: kr}, data)
			})
		}
	}
	// CodecAuto with the S2 compressor, whole and streamed.
	for _, n := range []int{100000, 3<<20 + 12345} {
		t.Run(fmt.Sprintf("auto-s2/%d", n), func(t *testing.T) {
			data := compressible(n, 7)
			roundTrip(t, kr, Params{Compressor: CodecS2, Keyring: kr}, data)
		})
	}
}

func roundTrip(t *testing.T, kr KeyWrapper, p Params, data []byte) {
	t.Helper()
	shares, res := encodeBytes(t, p, data)
	sum := sha256.Sum256(data)
	if res.PlainSize != int64(len(data)) || res.PlainSHA256 != sum || res.K != p.k() {
		t.Fatalf("Result %+v", res)
	}
	if p.Codec != CodecAuto && res.Codec != p.Codec {
		t.Fatalf("codec %v, asked %v", res.Codec, p.Codec)
	}
	if res.Codec == CodecNone && res.CompressedSize != res.PlainSize {
		t.Fatalf("codec none but compressed size %d", res.CompressedSize)
	}
	if want := crypto.SealedSize(res.CompressedSize, res.SegmentSize); res.CipherSize != want {
		t.Fatalf("cipher size %d, want %d", res.CipherSize, want)
	}
	idx := make([]int, 0, N)
	for i := range p.k() {
		idx = append(idx, i)
	}
	got, info, err := decodeSubset(kr, shares, &sum, idx...)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("decoded %d bytes differ from the %d encoded", len(got), len(data))
	}
	if info.SHA256 != sum || info.Header.ObjectID != res.ObjectID || info.Trailer.CompressedSize != res.CompressedSize {
		t.Fatalf("Info %+v", info)
	}
	// Share sizes: header + records + end record, each shard 1/k of the stripe.
	stripe := res.SegmentSize + crypto.TagSize
	if res.SegmentSize > p.segmentSize() || (res.SegmentSize < p.segmentSize() && res.PlainSize > probeSize) {
		t.Fatalf("segment size %d (asked %d)", res.SegmentSize, p.segmentSize())
	}
	full, last := res.CipherSize/int64(stripe), res.CipherSize%int64(stripe)
	want := int64(HeaderSize) + full*int64(4+shardLen(stripe, p.k())) + recordHeaderSize + trailerSize
	if last > 0 {
		want += int64(4 + shardLen(int(last), p.k()))
	}
	for i := range shares {
		if int64(len(shares[i])) != want {
			t.Fatalf("share %d: %d bytes, want %d", i, len(shares[i]), want)
		}
	}
}

func TestEverySubset(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(5000, 1)
	for _, k := range []int{2, 3, 4} {
		shares, _ := encodeBytes(t, Params{K: k, SegmentSize: MinSegmentSize, Keyring: kr}, data)
		for _, sub := range Subsets(k, []int{0, 1, 2, 3}) {
			got, info, err := decodeSubset(kr, shares, nil, sub...)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("k=%d subset %v: %v", k, sub, err)
			}
			if fmt.Sprint(info.Used) != fmt.Sprint(sub) {
				t.Fatalf("k=%d: Used %v, want %v", k, info.Used, sub)
			}
		}
		for _, sub := range Subsets(k-1, []int{0, 1, 2, 3}) {
			if _, _, err := decodeSubset(kr, shares, nil, sub...); !errors.Is(err, ErrTooFewShares) {
				t.Fatalf("k=%d with %v: %v, want ErrTooFewShares", k, sub, err)
			}
		}
	}
	// More than k shares: the k lowest are read.
	shares, _ := encodeBytes(t, Params{Keyring: kr}, data)
	if _, info, err := decodeSubset(kr, shares, nil, 3, 1, 2); err != nil || fmt.Sprint(info.Used) != "[1 2]" {
		t.Fatalf("3 shares: %v %v", info, err)
	}
}

func TestSubsets(t *testing.T) {
	got := fmt.Sprint(Subsets(2, []int{3, 0, 2, 1, 2}))
	if got != "[[0 1] [0 2] [0 3] [1 2] [1 3] [2 3]]" {
		t.Fatal(got)
	}
	if s := Subsets(3, []int{0, 1}); len(s) != 0 {
		t.Fatal(s)
	}
}

// One flipped byte in one share: every subset holding that share fails
// closed, every other subset decodes.
func TestCorruptShare(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(10000, 2)
	sum := sha256.Sum256(data)
	base, res := encodeBytes(t, Params{SegmentSize: MinSegmentSize, Keyring: kr}, data)
	body := HeaderSize + recordHeaderSize + 10 // inside the first shard
	tests := []struct {
		name   string
		share  int
		offset int
		want   error
	}{
		{"shard byte of data share", 0, body, crypto.ErrAuth},
		{"shard byte of parity share", 3, body, crypto.ErrAuth},
		{"last shard byte", 1, -recordHeaderSize - trailerSize - 1, crypto.ErrAuth},
		{"magic", 1, 0, ErrFormat},
		{"object id", 1, 10, ErrMismatch},
		{"wrapped key share", 2, 60, crypto.ErrUnwrap},
		{"KEK version", 2, 44, crypto.ErrUnknownKEKVersion},
		{"share index", 2, 40, ErrMismatch},
		{"record length", 1, HeaderSize + 3, ErrMismatch},
		{"trailer", 3, -1, ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var shares [N][]byte
			for i := range base {
				shares[i] = bytes.Clone(base[i])
			}
			off := tc.offset
			if off < 0 {
				off += len(shares[tc.share])
			}
			if tc.name == "last shard byte" {
				// Skip the zero padding of the last data shard (one byte
				// when the stripe's ciphertext length is odd): it carries
				// no ciphertext.
				stripe := int64(res.SegmentSize + crypto.TagSize)
				m := int((res.CipherSize-1)%stripe + 1) // ciphertext of the last stripe
				off -= 2*shardLen(m, 2) - m
			}
			shares[tc.share][off] ^= 0x01
			for _, sub := range Subsets(2, []int{0, 1, 2, 3}) {
				got, _, err := decodeSubset(kr, shares, &sum, sub...)
				has := sub[0] == tc.share || sub[1] == tc.share
				switch {
				case has && !errors.Is(err, tc.want):
					t.Errorf("subset %v with the bad share: %v, want %v", sub, err, tc.want)
				case has && got != nil:
					t.Errorf("subset %v: bytes returned on error", sub)
				case !has && (err != nil || !bytes.Equal(got, data)):
					t.Errorf("subset %v without the bad share: %v", sub, err)
				}
			}
		})
	}
}

// The same trailer changed in every share: the sizes no longer match.
func TestTrailerTamperedEverywhere(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(3000, 4)
	for field := range 3 {
		shares, _ := encodeBytes(t, Params{Keyring: kr}, data)
		for i := range shares {
			shares[i][len(shares[i])-trailerSize+8*field+7]++
		}
		if _, _, err := decodeSubset(kr, shares, nil, 0, 1); !errors.Is(err, ErrSize) {
			t.Errorf("trailer field %d: %v, want ErrSize", field, err)
		}
	}
}

func TestSwappedShares(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(3000, 5)
	a, _ := encodeBytes(t, Params{Keyring: kr}, data)
	b, _ := encodeBytes(t, Params{Keyring: kr}, data) // same instance, stored again
	mixed := a
	mixed[1] = b[1]
	if _, _, err := decodeSubset(kr, mixed, nil, 0, 1); !errors.Is(err, ErrMismatch) {
		t.Fatalf("share of another object: %v", err)
	}
	// Share 2's object presented as share 1 (a store returning the wrong object).
	m := map[int]io.Reader{0: bytes.NewReader(a[0]), 1: bytes.NewReader(a[2])}
	_, err := Decode(context.Background(), kr, m, io.Discard, nil)
	var se *ShareError
	if !errors.Is(err, ErrMismatch) || !errors.As(err, &se) || se.Index != 1 {
		t.Fatalf("share under the wrong index: %v", err)
	}
	// Even with a forged index byte the key share does not unwrap: the index is in its AAD.
	forged := bytes.Clone(a[2])
	forged[40] = 1
	m = map[int]io.Reader{0: bytes.NewReader(a[0]), 1: bytes.NewReader(forged)}
	if _, err = Decode(context.Background(), kr, m, io.Discard, nil); !errors.Is(err, crypto.ErrUnwrap) {
		t.Fatalf("forged index: %v", err)
	}
}

func TestWrongKEK(t *testing.T) {
	kr, _ := newKeyring(t)
	other, _ := newKeyring(t)
	shares, _ := encodeBytes(t, Params{Keyring: kr}, []byte("hello"))
	if _, _, err := decodeSubset(other, shares, nil, 0, 1); !errors.Is(err, crypto.ErrUnwrap) {
		t.Fatalf("wrong KEK: %v", err)
	}
}

func TestHashMismatch(t *testing.T) {
	kr, _ := newKeyring(t)
	shares, _ := encodeBytes(t, Params{Keyring: kr}, []byte("hello"))
	var wrong [32]byte
	if _, _, err := decodeSubset(kr, shares, &wrong, 0, 1); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeBytesLimit(t *testing.T) {
	kr, _ := newKeyring(t)
	shares, _ := encodeBytes(t, Params{Keyring: kr}, make([]byte, 100000))
	_, _, err := DecodeBytes(context.Background(), kr, readers(shares, 0, 1), nil, 99999)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	if b, _, err := DecodeBytes(context.Background(), kr, readers(shares, 0, 1), nil, 100000); err != nil || len(b) != 100000 {
		t.Fatalf("at the limit: %v", err)
	}
}

// Every strict prefix of a share fails to decode, and so does any byte
// appended.
func TestTruncatedShare(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(3000, 6)
	shares, _ := encodeBytes(t, Params{SegmentSize: MinSegmentSize, Keyring: kr}, data)
	full := shares[1]
	for n := 0; n < len(full); n++ {
		shares[1] = full[:n]
		if _, _, err := decodeSubset(kr, shares, nil, 0, 1); err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded", n, len(full))
		}
	}
	shares[1] = append(bytes.Clone(full), 0)
	if _, _, err := decodeSubset(kr, shares, nil, 0, 1); !errors.Is(err, ErrFormat) {
		t.Fatalf("appended byte: %v", err)
	}
}

// CodecAuto: zstd (or S2 with Compressor) when the probe compresses, with
// the byte shuffle when the sample test says so (16-bit-like data), none
// otherwise.
func TestAutoCodec(t *testing.T) {
	kr, _ := newKeyring(t)
	for _, tc := range []struct {
		data       []byte
		zstd, s2   Codec // with Compressor zstd (default) and s2
		shuffleOff Codec // zstd with NoShuffle
	}{
		{compressible(100000, 1), CodecZstdShuffle, CodecS2, CodecZstd},
		{random(100000, 1), CodecNone, CodecNone, CodecNone},
		{append(compressible(probeSize, 1), random(100000, 1)...), CodecZstdShuffle, CodecS2, CodecZstd},
		{append(random(probeSize, 1), compressible(100000, 1)...), CodecNone, CodecNone, CodecNone},
		{nil, CodecNone, CodecNone, CodecNone},
		{pixels16(100000, 1), CodecZstdShuffle, CodecS2Shuffle, CodecNone},
		{pixels16(3<<20+1, 2), CodecZstdShuffle, CodecS2Shuffle, CodecNone}, // streamed, odd last block
		{text(100000), CodecZstd, CodecS2, CodecZstd},
	} {
		for _, c := range []struct {
			p    Params
			want Codec
		}{
			{Params{Keyring: kr}, tc.zstd},
			{Params{Keyring: kr, Compressor: CodecS2}, tc.s2},
			{Params{Keyring: kr, NoShuffle: true}, tc.shuffleOff},
		} {
			if _, res := encodeBytes(t, c.p, tc.data); res.Codec != c.want {
				t.Errorf("%d bytes, compressor %v, no shuffle %v: codec %v, want %v",
					len(tc.data), c.p.compressor(), c.p.NoShuffle, res.Codec, c.want)
			}
		}
	}
}

func TestParseCodec(t *testing.T) {
	for _, c := range []Codec{CodecNone, CodecZstd, CodecS2, CodecZstdShuffle, CodecS2Shuffle} {
		if got, err := ParseCodec(c.String()); err != nil || got != c {
			t.Errorf("ParseCodec(%q) = %v, %v", c.String(), got, err)
		}
	}
	if _, err := ParseCodec("lz4"); err == nil {
		t.Error("ParseCodec(lz4): want error")
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		return 0, errors.New("store went away")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestShareWriterFails(t *testing.T) {
	kr, _ := newKeyring(t)
	data := compressible(50000, 8)
	var bufs [N]bytes.Buffer
	ws := [N]io.Writer{&bufs[0], &failWriter{after: 200}, &bufs[2], &bufs[3]}
	res, err := Encode(context.Background(), Params{SegmentSize: MinSegmentSize, Keyring: kr}, bytes.NewReader(data), ws)
	if err != nil || res.ShareErr[1] == nil || res.ShareErr[0] != nil {
		t.Fatalf("one failing writer: %v %v", res, err)
	}
	shares := [N][]byte{bufs[0].Bytes(), nil, bufs[2].Bytes(), bufs[3].Bytes()}
	if got, _, err := decodeSubset(kr, shares, nil, 0, 2); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decode from the survivors: %v", err)
	}
	ws = [N]io.Writer{&failWriter{}, &failWriter{after: 500}, &failWriter{after: 5000}, io.Discard}
	if _, err := Encode(context.Background(), Params{Keyring: kr}, bytes.NewReader(data), ws); !errors.Is(err, ErrTooFewShares) {
		t.Fatalf("three failing writers: %v", err)
	}
}

func TestEncodeCancelled(t *testing.T) {
	kr, _ := newKeyring(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ws := [N]io.Writer{io.Discard, io.Discard, io.Discard, io.Discard}
	if _, err := Encode(ctx, Params{Keyring: kr}, bytes.NewReader(make([]byte, 10)), ws); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestEncodeParams(t *testing.T) {
	kr, _ := newKeyring(t)
	ws := [N]io.Writer{io.Discard, io.Discard, io.Discard, io.Discard}
	for _, p := range []Params{
		{K: 1, Keyring: kr}, {K: 5, Keyring: kr}, {SegmentSize: 100, Keyring: kr},
		{SegmentSize: MaxSegmentSize + 1, Keyring: kr}, {Codec: 9, Keyring: kr}, {Compressor: CodecNone, Keyring: kr}, {},
	} {
		if _, err := Encode(context.Background(), p, bytes.NewReader(nil), ws); err == nil {
			t.Errorf("Encode(%+v) accepted", p)
		}
	}
	if _, err := Encode(context.Background(), Params{Keyring: kr}, bytes.NewReader(nil), [N]io.Writer{}); err == nil {
		t.Error("nil writers accepted")
	}
}

// Shares must hold nothing of the instance in clear: no "DICM", no UID,
// no name, whatever the codec.
func TestNoPlaintextInShares(t *testing.T) {
	kr, _ := newKeyring(t)
	planted := [][]byte{[]byte("DICM"), []byte("1.2.826.0.1.3680043.8.498.1234567890"), []byte("DOE^JOHNATHAN"), []byte("PID-00042-XYZ")}
	var data []byte
	data = append(data, make([]byte, 128)...)
	data = append(data, "DICM"...)
	for i := range 200 {
		for _, p := range planted {
			data = append(data, p...)
		}
		data = append(data, compressible(500, uint64(i))...)
	}
	for _, codec := range []Codec{CodecNone, CodecZstd, CodecS2, CodecZstdShuffle, CodecS2Shuffle} {
		for _, k := range []int{2, 4} {
			p := Params{K: k, Codec: codec, Keyring: kr, Rand: detRand(byte(k))}
			shares, _ := encodeBytes(t, p, data)
			for i, s := range shares {
				for _, pl := range planted {
					if bytes.Contains(s, pl) {
						t.Errorf("codec %v k=%d: share %d contains %q", codec, k, i, pl)
					}
				}
			}
		}
	}
}
