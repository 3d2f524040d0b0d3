package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/shardpacs/shardpacs/crypto"
)

// BenchmarkStages measures each stage of Encode and Decode on its own, per
// input (the CT slice, 5.dcm, the synthetic 1024×1024 image), on the bytes
// that stage really sees: SHA-256 over the plaintext; the default codec
// (zstd fastest, byte shuffle when shuffleHelps says so) over the
// plaintext; AES-256-GCM seal/open and Reed–Solomon 2+2 over the
// compressed bytes. SetBytes is always the plaintext size, so MB/s figures
// add up to the instance's throughput per core. rs-reconstruct rebuilds
// both data shards of every stripe from the two parity shards (the worst
// case of a read with two stores down).
func BenchmarkStages(b *testing.B) {
	in := benchInputs(b)
	for _, name := range benchOrder {
		data := in[name]
		shuffled := shuffleHelps(data[:min(len(data), probeSize)], CodecZstd)
		comp := stageCompress(b, data, shuffled, nil)
		key := make([]byte, crypto.DataKeySize)
		aad := make([]byte, CommonHeaderSize)
		sealed := stageSeal(b, comp, key, aad)
		plain := int64(len(data))

		b.Run(name+"/sha256", func(b *testing.B) {
			defer reportCPU(b, cpuTime())
			b.SetBytes(plain)
			for b.Loop() {
				sha256.Sum256(data)
			}
		})
		b.Run(name+"/codec-encode", func(b *testing.B) {
			b.SetBytes(plain)
			defer reportCPU(b, cpuTime())
			dst := make([]byte, 0, 2*len(comp))
			for b.Loop() {
				dst = stageCompress(b, data, shuffled, dst[:0])
			}
			b.ReportMetric(float64(len(data))/float64(len(comp)), "ratio")
			if shuffled {
				b.ReportMetric(1, "shuffled")
			}
		})
		b.Run(name+"/codec-decode", func(b *testing.B) {
			b.SetBytes(plain)
			defer reportCPU(b, cpuTime())
			dec, err := getDecoder()
			if err != nil {
				b.Fatal(err)
			}
			defer putDecoder(dec)
			for b.Loop() {
				if err := dec.Reset(bytes.NewReader(comp)); err != nil {
					b.Fatal(err)
				}
				var r io.Reader = writerOnlyReader{dec}
				var u *unshuffleReader
				if shuffled {
					u = newUnshuffleReader(r)
					r = u
				}
				n, err := io.Copy(io.Discard, r)
				if u != nil {
					u.release()
				}
				if err != nil || n != plain {
					b.Fatal(n, err)
				}
			}
		})
		b.Run(name+"/aead-seal", func(b *testing.B) {
			b.SetBytes(plain)
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				w, err := crypto.NewSealWriter(io.Discard, key, aad, 0)
				if err != nil {
					b.Fatal(err)
				}
				w.Write(comp)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/aead-open", func(b *testing.B) {
			b.SetBytes(plain)
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				r, err := crypto.NewOpenReader(bytes.NewReader(sealed), key, aad, 0)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(comp)) {
					b.Fatal(n, err)
				}
			}
		})
		b.Run(name+"/rs-encode", func(b *testing.B) {
			b.SetBytes(plain)
			defer reportCPU(b, cpuTime())
			o := &outs{k: 2}
			for i := range o.o {
				o.o[i].w = io.Discard
			}
			sw, err := newStripeWriter(2, crypto.DefaultSegmentSize+crypto.TagSize, o)
			if err != nil {
				b.Fatal(err)
			}
			defer sw.release()
			for b.Loop() {
				sw.Write(sealed)
				if err := sw.flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/rs-reconstruct", func(b *testing.B) {
			b.SetBytes(plain)
			defer reportCPU(b, cpuTime())
			rs, err := rsCoder(2)
			if err != nil {
				b.Fatal(err)
			}
			// The stripes of the sealed stream, encoded once.
			size := crypto.DefaultSegmentSize + crypto.TagSize
			var stripes [][][]byte
			for rest := sealed; len(rest) > 0; {
				m := min(len(rest), size)
				sh, err := rs.Split(bytes.Clone(rest[:m]))
				if err != nil {
					b.Fatal(err)
				}
				if err := rs.Encode(sh); err != nil {
					b.Fatal(err)
				}
				stripes = append(stripes, sh)
				rest = rest[m:]
			}
			work := make([][]byte, N)
			for b.Loop() {
				for _, sh := range stripes {
					copy(work, sh)
					work[0], work[1] = sh[0][:0], sh[1][:0] // lost; rebuilt in place
					if err := rs.ReconstructData(work); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// stageCompress compresses data as Encode's default codec does: the byte
// shuffle of every 1 MiB block when shuffled, then zstd at its fastest
// level (one EncodeAll up to 1 MiB, the streaming encoder beyond). The
// result is appended to dst.
func stageCompress(b *testing.B, data []byte, shuffled bool, dst []byte) []byte {
	enc, err := getEncoder(zstd.SpeedFastest)
	if err != nil {
		b.Fatal(err)
	}
	defer putEncoder(zstd.SpeedFastest, enc)
	sbp := getBuf(shuffleBlock)
	defer putBuf(sbp)
	block := func(p []byte) []byte {
		if shuffled {
			return shuffle2(*sbp, p)
		}
		return p
	}
	if len(data) <= probeSize {
		return enc.EncodeAll(block(data), dst)
	}
	out := bytes.NewBuffer(dst)
	enc.Reset(out)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), shuffleBlock)
		if _, err := enc.Write(block(rest[:n])); err != nil {
			b.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := enc.Close(); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

func stageSeal(b *testing.B, comp, key, aad []byte) []byte {
	var out bytes.Buffer
	w, err := crypto.NewSealWriter(&out, key, aad, 0)
	if err != nil {
		b.Fatal(err)
	}
	w.Write(comp)
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

// BenchmarkEncodeCPU is BenchmarkEncode's codec table (the rows marked
// cpu) with the process's CPU time per Encode (cpu-ms/op) next to the wall
// time: on a loaded machine the wall time includes the time other
// processes held the core, the CPU time much less so (it includes this
// process's GC workers).
func BenchmarkEncodeCPU(b *testing.B) { benchEncode(b, true) }

// reportCPU reports the process's CPU time (user + system) since start
// per iteration, as cpu-ms/op. Call it after the loop (or deferred).
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/1e6/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkDecodeCPU is BenchmarkDecode (default codec) with cpu-ms/op:
// from the two data shares, and from the two parity shares (both data
// shards rebuilt).
func BenchmarkDecodeCPU(b *testing.B) {
	kr, _ := newKeyring(b)
	in := benchInputs(b)
	for _, name := range benchOrder {
		data := in[name]
		shares, res := encodeBytes(b, Params{Keyring: kr}, data)
		for _, sub := range []struct {
			label string
			idx   []int
		}{{"data-shares", []int{0, 1}}, {"parity-shares", []int{2, 3}}} {
			b.Run(name+"/"+sub.label, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				defer reportCPU(b, cpuTime())
				for b.Loop() {
					if _, err := Decode(context.Background(), kr, readers(shares, sub.idx...), io.Discard, &res.PlainSHA256); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
