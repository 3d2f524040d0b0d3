package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/shardpacs/shardpacs/archive/store/fsstore"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// advExplicit encodes one Explicit VR Little Endian element (PS3.5 7.1.2).
func advExplicit(group, elem uint16, vr string, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, group)
	b = binary.LittleEndian.AppendUint16(b, elem)
	b = append(b, vr...)
	switch vr {
	case "OB", "OW", "SQ", "UN", "UT":
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	default:
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	}
	return append(b, v...)
}

func advItemHdr(elem uint16, length uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, 0xFFFE)
	b = binary.LittleEndian.AppendUint16(b, elem)
	return binary.LittleEndian.AppendUint32(b, length)
}

// advUI pads a UID to even length with NUL (PS3.5 6.2).
func advUI(s string) []byte {
	if len(s)%2 == 1 {
		return append([]byte(s), 0)
	}
	return []byte(s)
}

// advPixelBomb is a JPEG 2000 Lossless data set whose attributes and
// codestream SIZ segments (ISO/IEC 15444-1 A.5.1) claim 1,000 frames of
// 65535 x 65535 x 3 x 16 bits, in about 120 KB of fragments.
func advPixelBomb(sop string) []byte {
	var ds []byte
	for _, e := range [][]byte{
		advExplicit(0x0008, 0x0016, "UI", advUI(uid.CTImageStorage)),
		advExplicit(0x0008, 0x0018, "UI", advUI(sop)),
		advExplicit(0x0008, 0x0060, "CS", []byte("CT")),
		advExplicit(0x0010, 0x0020, "LO", []byte("BOMB")),
		advExplicit(0x0020, 0x000D, "UI", advUI(sop+".1")),
		advExplicit(0x0020, 0x000E, "UI", advUI(sop+".2")),
		advExplicit(0x0028, 0x0002, "US", []byte{3, 0}),
		advExplicit(0x0028, 0x0008, "IS", []byte("1000")),
		advExplicit(0x0028, 0x0010, "US", []byte{0xFF, 0xFF}),
		advExplicit(0x0028, 0x0011, "US", []byte{0xFF, 0xFF}),
		advExplicit(0x0028, 0x0100, "US", []byte{16, 0}),
	} {
		ds = append(ds, e...)
	}
	ds = append(ds, 0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF) // Pixel Data, undefined length
	ds = append(ds, advItemHdr(0xE000, 0)...)                                       // empty Basic Offset Table
	cs := []byte{0xFF, 0x4F, 0xFF, 0x51, 0, 47, 0, 0}                               // SOC, SIZ, Lsiz, Rsiz
	for _, v := range []uint32{65535, 65535, 0, 0, 65535, 65535, 0, 0} {
		cs = binary.BigEndian.AppendUint32(cs, v)
	}
	cs = append(cs, 0, 3, 15, 1, 1, 15, 1, 1, 15, 1, 1)
	cs = append(cs, bytes.Repeat([]byte{0xA5}, 64)...)
	for range 1000 {
		ds = append(ds, advItemHdr(0xE000, uint32(len(cs)))...)
		ds = append(ds, cs...)
	}
	return append(ds, advItemHdr(0xE0DD, 0)...)
}

// TestAdversarialPixelBombByteExact is adversarial row 24 through the
// archive façade: a compressed-pixel bomb is stored as sent, never decoded
// (storing it allocates a small multiple of its size, not the 25 TB it
// claims), indexed with its dimensions as written, and read back
// byte-exact.
func TestAdversarialPixelBombByteExact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kr, err := crypto.CreateKeyring(filepath.Join(dir, "master.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{IndexPath: filepath.Join(dir, "index.db"), Keyring: kr, SpoolDir: filepath.Join(dir, "tmp")}
	for i := range opts.Stores {
		if opts.Stores[i], err = fsstore.Open(filepath.Join(dir, fmt.Sprint("store", i))); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	const sop = "1.2.826.0.1.3680043.10.1397.24"
	ds := advPixelBomb(sop)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out, err := a.Store(ctx, &Instance{TransferSyntaxUID: uid.JPEG2000Lossless, DataSet: bytes.NewReader(ds), Size: int64(len(ds)), SourceAE: "BOMB"})
	runtime.ReadMemStats(&after)
	if err != nil || out != Stored {
		t.Fatalf("Store = %v, %v", out, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("storing a %d-byte data set allocated %d bytes", len(ds), n)
	}
	rec, err := a.Lookup(ctx, sop)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Attrs[dcm.TagRows] != "65535" || rec.Attrs[dcm.TagColumns] != "65535" || rec.Attrs[dcm.TagNumberOfFrames] != "1000" ||
		rec.TransferSyntaxUID != uid.JPEG2000Lossless {
		t.Fatalf("indexed as %q in %s", rec.Attrs, rec.TransferSyntaxUID)
	}
	obj, err := a.Open(ctx, sop)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj.DataSet())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ds) {
		t.Fatalf("data set read back differs (%d bytes, sent %d)", len(got), len(ds))
	}
}
