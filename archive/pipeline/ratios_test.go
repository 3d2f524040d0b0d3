package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// ratioColumns are the codec configurations of TestCorpusCompressionRatios
// besides the archive's default and gzip.
var ratioColumns = []struct {
	label string
	p     Params
}{
	{"auto", Params{}},                         // CodecAuto on the content alone, whatever the transfer syntax
	{"zstd-fastest", Params{Codec: CodecZstd}}, // no shuffle: the old default
	{"s2+shuffle", Params{Codec: CodecS2Shuffle}},
}

// ratioRow is one file's sizes: the original and, per column, what the
// codec produced (Result.CompressedSize, i.e. before AEAD tags, headers
// and Reed–Solomon).
type ratioRow struct {
	name      string
	size      int64
	encap     bool    // encapsulated transfer syntax: the archive stores it as is
	codec     Codec   // what the archive's default chose
	archive   int64   // compressed size with the archive's default
	shares    int64   // bytes of the four shares with the archive's default
	cols      []int64 // ratioColumns
	autoCodec Codec   // what CodecAuto chose on the content alone
	gzipSize  int64
}

// TestCorpusCompressionRatios prints, for every corpus file and pydicom's
// CT/MR test files, the compression ratio of the archive's default codec
// (CodecAuto with zstd, byte shuffle when shuffleHelps says so; CodecNone
// for encapsulated transfer syntaxes, as archive.Store does), of zstd
// fastest without shuffle, of s2+shuffle and of gzip -6, then the corpus
// totals and the on-disk factor with RS 2+2. Ratios are deterministic.
// Off by default (~10 s): SHARDPACS_RATIOS=1 go test -run
// TestCorpusCompressionRatios -v ./archive/pipeline/
func TestCorpusCompressionRatios(t *testing.T) {
	if os.Getenv("SHARDPACS_RATIOS") != "1" {
		t.Skip("set SHARDPACS_RATIOS=1 to print the corpus compression-ratio table")
	}
	kr, _ := newKeyring(t)
	corpus := testutil.CorpusDir(t)
	files := testutil.CorpusFiles(t)
	pyd := testutil.PydicomTestFiles(t)
	for _, f := range testutil.DICOMFiles(t, pyd) {
		if b := filepath.Base(f); strings.HasPrefix(b, "CT_") || strings.HasPrefix(b, "MR_") {
			files = append(files, f)
		}
	}

	var rows []ratioRow
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, err := filepath.Rel(corpus, f)
		if err != nil || strings.HasPrefix(name, "..") {
			name = "pydicom/" + filepath.Base(f)
		}
		row := ratioRow{name: name, size: int64(len(data))}
		p := Params{Keyring: kr}
		if ts, ok := uid.LookupTransferSyntax(metaTransferSyntax(data)); ok && ts.Encapsulated {
			row.encap = true
			p.Codec = CodecNone
		}
		res := encodeDiscard(t, p, data)
		row.codec, row.archive = res.Codec, res.CompressedSize
		for _, s := range res.ShareSize {
			row.shares += s
		}
		for i, c := range ratioColumns {
			p := c.p
			p.Keyring = kr
			res := encodeDiscard(t, p, data)
			row.cols = append(row.cols, res.CompressedSize)
			if i == 0 {
				row.autoCodec = res.Codec
			}
		}
		row.gzipSize = gzipSize(t, data)
		rows = append(rows, row)
	}

	ratio := func(orig, comp int64) string { return fmt.Sprintf("%.2f", float64(orig)/float64(comp)) }
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| file | bytes | archive default (codec) | CodecAuto on content (codec) | zstd fastest | s2+shuffle | gzip -6 |\n|---|---|---|---|---|---|---|\n")
	var tot, native ratioRow // all corpus files; those not encapsulated
	tot.cols = make([]int64, len(ratioColumns))
	native.cols = make([]int64, len(ratioColumns))
	add := func(t *ratioRow, r ratioRow) {
		t.size += r.size
		t.archive += r.archive
		t.shares += r.shares
		t.gzipSize += r.gzipSize
		for i, c := range r.cols {
			t.cols[i] += c
		}
	}
	line := func(r ratioRow, label string) {
		fmt.Fprintf(&sb, "| %s | %d | %s (%v) | %s (%v) | %s | %s | %s |\n", label, r.size, ratio(r.size, r.archive), r.codec,
			ratio(r.size, r.cols[0]), r.autoCodec, ratio(r.size, r.cols[1]), ratio(r.size, r.cols[2]), ratio(r.size, r.gzipSize))
	}
	inCorpus, inNative := 0, 0
	for _, r := range rows {
		label := r.name
		if r.encap {
			label += " †"
		}
		line(r, label)
		if !strings.HasPrefix(r.name, "pydicom/") {
			add(&tot, r)
			inCorpus++
			if !r.encap {
				add(&native, r)
				inNative++
			}
		}
	}
	tot.codec, tot.autoCodec = CodecAuto, CodecAuto
	native.codec, native.autoCodec = CodecAuto, CodecAuto
	line(native, fmt.Sprintf("**corpus, native transfer syntaxes (%d files)**", inNative))
	line(tot, fmt.Sprintf("**corpus total (%d files)**", inCorpus))
	disk := func(c int64) float64 { return 2 * float64(c) / float64(tot.size) }
	fmt.Fprintf(&sb, "\non disk with RS 2+2, corpus: 2 × compressed / original = %.3f (archive default), %.3f (CodecAuto on content), "+
		"%.3f (zstd fastest), %.3f (s2+shuffle), %.3f (gzip -6); the four shares as written (headers, AEAD tags) = %.4f × original, "+
		"%.3f%% over 2 × compressed\n",
		disk(tot.archive), disk(tot.cols[0]), disk(tot.cols[1]), disk(tot.cols[2]), disk(tot.gzipSize), float64(tot.shares)/float64(tot.size),
		100*(float64(tot.shares)/float64(2*tot.archive)-1))
	t.Log(sb.String())

	// Guards, so that the table cannot silently drift: the archive's default
	// never expands a file beyond the codec-none size, and on the 16-bit CT
	// the shuffle is chosen and beats plain zstd fastest.
	for _, r := range rows {
		if r.archive > r.size {
			t.Errorf("%s: archive default stored %d bytes of %d", r.name, r.archive, r.size)
		}
		if r.name == filepath.Join("grailbio-examples", "CT-MONO2-16-ort.dcm") {
			if r.codec != CodecZstdShuffle || r.archive >= r.cols[1] {
				t.Errorf("%s: default codec %v, %d bytes; zstd fastest %d bytes: want zstd+shuffle and smaller", r.name, r.codec, r.archive, r.cols[1])
			}
		}
	}
}

// encodeDiscard runs the whole Encode of data with p (shares discarded).
func encodeDiscard(t testing.TB, p Params, data []byte) *Result {
	t.Helper()
	res, err := Encode(context.Background(), p, bytes.NewReader(data), discards())
	if err != nil {
		t.Fatalf("Encode %v: %v", p.Codec, err)
	}
	return res
}

// gzipSize is the size of data compressed by compress/gzip at level 6
// (the gzip command's default).
func gzipSize(t testing.TB, data []byte) int64 {
	t.Helper()
	var c bytes.Buffer
	zw, err := gzip.NewWriterLevel(&c, 6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return int64(c.Len())
}

// metaTransferSyntax returns the Transfer Syntax UID (0002,0010) of a Part
// 10 file's File Meta Information (explicit VR little endian, after the
// 128-byte preamble and "DICM"), or "" when there is none. Enough for the
// ratio table; the archive itself uses dcm.ReadPart10Header.
func metaTransferSyntax(data []byte) string {
	if len(data) < 132 || string(data[128:132]) != "DICM" {
		return ""
	}
	b := data[132:]
	for len(b) >= 8 {
		group := binary.LittleEndian.Uint16(b)
		if group != 0x0002 {
			return ""
		}
		elem := binary.LittleEndian.Uint16(b[2:])
		vr := string(b[4:6])
		var n, hdr int
		switch vr {
		case "OB", "OW", "OF", "SQ", "UT", "UN":
			if len(b) < 12 {
				return ""
			}
			n, hdr = int(binary.LittleEndian.Uint32(b[8:])), 12
		default:
			n, hdr = int(binary.LittleEndian.Uint16(b[6:])), 8
		}
		if n < 0 || n > len(b)-hdr {
			return ""
		}
		if elem == 0x0010 {
			return strings.TrimRight(string(b[hdr:hdr+n]), "\x00 ")
		}
		b = b[hdr+n:]
	}
	return ""
}

func TestMetaTransferSyntax(t *testing.T) {
	el := func(elem uint16, vr, val string) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 2)
		b = binary.LittleEndian.AppendUint16(b, elem)
		b = append(b, vr...)
		if vr == "OB" {
			b = append(b, 0, 0)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(val)))
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
		}
		return append(b, val...)
	}
	file := func(els ...[]byte) []byte {
		b := append(make([]byte, 128), "DICM"...)
		for _, e := range els {
			b = append(b, e...)
		}
		return b
	}
	const jpeg = "1.2.840.10008.1.2.4.50"
	good := file(el(0x0001, "OB", "\x00\x01"), el(0x0002, "UI", "1.2.3\x00"), el(0x0010, "UI", jpeg+"\x00"))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"meta", good, jpeg},
		{"no DICM", append(make([]byte, 132), good[132:]...), ""},
		{"no (0002,0010)", file(el(0x0001, "OB", "\x00\x01")), ""},
		{"short", good[:140], ""},
		{"length past the end", good[:len(good)-3], ""},
	} {
		if got := metaTransferSyntax(tc.data); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
