package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// benchInputs: a real 512×512 16-bit CT (526 KB), a multi-frame file, and a
// synthetic 1024×1024 16-bit image (2 MiB; the papers XOR-encrypt one in 80 ms).
func benchInputs(b *testing.B) map[string][]byte {
	dir := testutil.CorpusDir(b)
	in := map[string][]byte{}
	for name, rel := range map[string]string{
		"CT512":      "grailbio-examples/CT-MONO2-16-ort.dcm",
		"MultiFrame": "suyashkumar-testdata/5.dcm",
	} {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			testutil.SkipOrFail(b, "corpus file %s: %v", rel, err)
		}
		in[name] = data
	}
	in["Synthetic1024"] = phantom1024()
	return in
}

// phantom1024 is a synthetic 1024×1024 16-bit little-endian image shaped
// like a CT slice: air (0) outside a disc, tissue inside with 3 bits of noise.
func phantom1024() []byte {
	const n = 1024
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 2*n*n)
	for y := range n {
		for x := range n {
			dx, dy := x-n/2, y-n/2
			if d2 := dx*dx + dy*dy; d2 < 480*480 {
				v := 1000 + 50*((d2/9000)%3) + r.IntN(8)
				b[2*(y*n+x)], b[2*(y*n+x)+1] = byte(v), byte(v>>8)
			}
		}
	}
	return b
}

var benchOrder = []string{"CT512", "MultiFrame", "Synthetic1024"}

func discards() [N]io.Writer { return [N]io.Writer{io.Discard, io.Discard, io.Discard, io.Discard} }

// encodeConfigs is BenchmarkEncode's codec table; BenchmarkEncodeCPU runs
// the rows marked cpu.
var encodeConfigs = []struct {
	label string
	p     Params
	cpu   bool
}{
	{"auto", Params{}, true},
	{"auto-s2", Params{Compressor: CodecS2}, true},
	{"zstd-fastest", Params{Codec: CodecZstd}, true},
	{"zstd-default", Params{Codec: CodecZstd, Level: zstd.SpeedDefault}, false},
	{"zstd+shuffle", Params{Codec: CodecZstdShuffle}, false},
	{"s2", Params{Codec: CodecS2}, true},
	{"s2+shuffle", Params{Codec: CodecS2Shuffle}, true},
	{"none", Params{Codec: CodecNone}, true},
}

// BenchmarkEncode: the whole Encode (hash, codec, AEAD, Reed–Solomon) per
// input and codec configuration; "auto" is the default (zstd fastest, with
// the byte shuffle when a sample says it pays), "auto-s2" the fast option.
func BenchmarkEncode(b *testing.B) { benchEncode(b, false) }

// benchEncode runs Encode over every input and codec configuration (with
// withCPU, the rows marked cpu, also reporting cpu-ms/op and the codec
// chosen) and reports the compression ratio.
func benchEncode(b *testing.B, withCPU bool) {
	kr, _ := newKeyring(b)
	in := benchInputs(b)
	for _, name := range benchOrder {
		for _, c := range encodeConfigs {
			if withCPU && !c.cpu {
				continue
			}
			b.Run(name+"/"+c.label, func(b *testing.B) {
				data := in[name]
				p := c.p
				p.Keyring = kr
				b.SetBytes(int64(len(data)))
				start := cpuTime()
				var res *Result
				for b.Loop() {
					var err error
					if res, err = Encode(context.Background(), p, bytes.NewReader(data), discards()); err != nil {
						b.Fatal(err)
					}
				}
				if withCPU {
					reportCPU(b, start)
					b.ReportMetric(float64(res.Codec), "codec")
				}
				b.ReportMetric(float64(res.PlainSize)/float64(res.CompressedSize), "ratio")
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	kr, _ := newKeyring(b)
	in := benchInputs(b)
	for _, name := range benchOrder {
		for _, sub := range [][]int{{0, 1}, {1, 3}} {
			label := "data-shards"
			if sub[1] == 3 {
				label = "with-reconstruction"
			}
			b.Run(name+"/"+label, func(b *testing.B) {
				data := in[name]
				shares, res := encodeBytes(b, Params{Keyring: kr}, data)
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := Decode(context.Background(), kr, readers(shares, sub...), io.Discard, &res.PlainSHA256); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkStageZstd(b *testing.B) {
	data := benchInputs(b)["CT512"]
	for _, lv := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		b.Run("encode/"+lv.String(), func(b *testing.B) {
			enc, _ := getEncoder(lv)
			dst := make([]byte, 0, len(data))
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				dst = enc.EncodeAll(data, dst[:0])
			}
			b.ReportMetric(float64(len(data))/float64(len(dst)), "ratio")
		})
	}
	b.Run("decode", func(b *testing.B) {
		enc, _ := getEncoder(zstd.SpeedFastest)
		comp := enc.EncodeAll(data, nil)
		dec, _ := getDecoder()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			dec.Reset(bytes.NewReader(comp))
			if _, err := io.Copy(io.Discard, writerOnlyReader{dec}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type writerOnlyReader struct{ r io.Reader }

func (r writerOnlyReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func BenchmarkStageSeal(b *testing.B) {
	data := benchInputs(b)["CT512"][:263000] // about the compressed size of the CT
	key := make([]byte, crypto.DataKeySize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w, _ := crypto.NewSealWriter(io.Discard, key, make([]byte, CommonHeaderSize), 0)
		w.Write(data)
		w.Close()
	}
}

func BenchmarkStageRS(b *testing.B) {
	data := random(263000, 1)
	b.SetBytes(int64(len(data)))
	var ws [N]bytes.Buffer
	o := &outs{k: 2}
	for i := range ws {
		o.o[i].w = &ws[i]
	}
	sw, _ := newStripeWriter(2, crypto.DefaultSegmentSize+crypto.TagSize, o)
	for b.Loop() {
		for i := range ws {
			ws[i].Reset()
		}
		sw.Write(data)
		sw.flush()
	}
}

func BenchmarkStageSHA256(b *testing.B) {
	data := benchInputs(b)["CT512"]
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}
