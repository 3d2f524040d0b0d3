package dcm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// Adversarial rows 19-24 through Scan (docs/adversarial.md); the cases
// that existed before (TestScanTruncatedEveryOffset, TestScanMalformed,
// TestScanDepth, TestScanDeflateBomb, FuzzScan) are mapped there. These add
// the memory assertions and the compressed-pixel bomb.

// advAllocs runs f and returns the bytes allocated meanwhile (process-wide).
func advAllocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// advStream hides every method but Read, so Scan cannot seek or learn the
// size.
type advStream struct{ r io.Reader }

func (s advStream) Read(p []byte) (int, error) { return s.r.Read(p) }

// TestAdversarialHugeDeclaredLength is row 20: a private OB element that
// declares 0xFFFFFFF0 bytes and carries 16 is a FormatError, from a sized
// reader, a seekable one and a bare stream, without allocating anything near
// the declared size.
func TestAdversarialHugeDeclaredLength(t *testing.T) {
	ds := cat(
		el(TagSOPInstanceUID, "UI", padValue([]byte("1.2.3"), "UI")),
		longHdr(0x00091010, "OB", 0xFFFFFFF0), make([]byte, 16),
	)
	for name, scan := range map[string]func() error{
		"sized": func() error {
			_, err := Scan(bytes.NewReader(ds), int64(len(ds)), uid.ExplicitVRLittleEndian, Limits{})
			return err
		},
		"seekable": func() error {
			_, err := Scan(bytes.NewReader(ds), -1, uid.ExplicitVRLittleEndian, Limits{})
			return err
		},
		"stream": func() error {
			_, err := Scan(advStream{bytes.NewReader(ds)}, -1, uid.ExplicitVRLittleEndian, Limits{})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			if n := advAllocs(func() { err = scan() }); n > 1<<20 {
				t.Errorf("allocated %d bytes", n)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FormatError", err)
			}
		})
	}
	// The same element with its bytes present but over a configured
	// element cap is a LimitError (0xA700 at the C-STORE boundary).
	if _, err := Scan(advStream{bytes.NewReader(ds)}, -1, uid.ExplicitVRLittleEndian, Limits{MaxElementLength: 1 << 20}); !errors.Is(err, ErrLimit) {
		t.Fatalf("over MaxElementLength: %v", err)
	}
}

// TestAdversarialDeepNestingMemory is row 21: 10,000 nested sequences, of
// undefined and of defined lengths, stop at the depth cap with a
// LimitError, use bounded memory and never recurse (a Go stack overflow is
// fatal, not recoverable).
func TestAdversarialDeepNestingMemory(t *testing.T) {
	const depth = 10000
	undefined := nestedSQ(depth, func(tag Tag, l uint32) []byte { return longHdr(tag, "SQ", l) })
	defined := advDefinedNesting(depth)
	ok := advDefinedNesting(32)
	if _, err := Scan(bytes.NewReader(ok), int64(len(ok)), uid.ExplicitVRLittleEndian, Limits{}); err != nil {
		t.Fatalf("defined-length depth 32 (at the cap) refused: %v", err)
	}
	for name, ds := range map[string][]byte{"undefined": undefined, "defined": defined} {
		t.Run(name, func(t *testing.T) {
			var err error
			n := advAllocs(func() {
				_, err = Scan(advStream{bytes.NewReader(ds)}, -1, uid.ExplicitVRLittleEndian, Limits{})
			})
			var le *LimitError
			if !errors.As(err, &le) || le.What != "sequence depth > 32" {
				t.Fatalf("got %v, want the depth LimitError", err)
			}
			if n > 1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte data set", n, len(ds))
			}
		})
	}
}

// advDefinedNesting nests depth sequences of defined length: each level is
// a 12-byte SQ header and an 8-byte item header whose lengths cover every
// level below.
func advDefinedNesting(depth int) []byte {
	var b []byte
	for k := range depth {
		below := uint32(20 * (depth - k))
		b = append(b, longHdr(0x00081140, "SQ", below-12)...)
		b = append(b, itemHdr(TagItem, below-20)...)
	}
	return b
}

// advJ2KCodestream is the start of a JPEG 2000 codestream (ISO/IEC 15444-1
// A.5.1): SOC, then a SIZ marker segment claiming a 65535 x 65535 image of
// three 16-bit components, then garbage instead of tiles.
func advJ2KCodestream() []byte {
	b := []byte{0xFF, 0x4F, 0xFF, 0x51} // SOC, SIZ
	siz := binary.BigEndian.AppendUint16(nil, 0)
	for _, v := range []uint32{65535, 65535, 0, 0, 65535, 65535, 0, 0} { // Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz
		siz = binary.BigEndian.AppendUint32(siz, v)
	}
	siz = binary.BigEndian.AppendUint16(siz, 3)
	for range 3 {
		siz = append(siz, 15, 1, 1) // Ssiz (16 bits), XRsiz, YRsiz
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(siz)+2))
	b = append(b, siz...)
	return append(b, bytes.Repeat([]byte{0xA5}, 64)...)
}

// advJ2KBomb returns a data set in JPEG 2000 (lossless) whose
// attributes and codestream headers claim 1,000 frames of 65535 x 65535 x
// 3 x 16 bits (about 25 TB decoded), in a few kilobytes: one fragment per
// frame, each a codestream header and garbage.
func advJ2KBomb() []byte {
	ds := cat(
		el(TagSOPClassUID, "UI", padValue([]byte(uid.CTImageStorage), "UI")),
		el(TagSOPInstanceUID, "UI", padValue([]byte("1.2.826.0.1.3680043.10.1397.24.1"), "UI")),
		el(TagStudyInstanceUID, "UI", padValue([]byte("1.2.826.0.1.3680043.10.1397.24.2"), "UI")),
		el(TagSeriesInstanceUID, "UI", padValue([]byte("1.2.826.0.1.3680043.10.1397.24.3"), "UI")),
		el(0x00280002, "US", []byte{3, 0}), // Samples per Pixel
		el(TagNumberOfFrames, "IS", []byte("1000")),
		el(TagRows, "US", []byte{0xFF, 0xFF}),
		el(TagColumns, "US", []byte{0xFF, 0xFF}),
		el(0x00280100, "US", []byte{16, 0}), // Bits Allocated
		longHdr(TagPixelData, "OB", undefinedLength),
		itemHdr(TagItem, 0), // empty Basic Offset Table
	)
	cs := advJ2KCodestream()
	for range 1000 {
		ds = append(append(ds, itemHdr(TagItem, uint32(len(cs)))...), cs...)
	}
	return cat(ds, itemHdr(TagSequenceDelimitationItem, 0))
}

// TestAdversarialCompressedPixelBomb is row 24 at the scanner: the bomb is
// a valid data set (its fragments are walked, never decoded), its
// dimensions are indexed as written, and scanning it allocates a small
// multiple of its own size at most. The archive stores it byte-exact
// (archive/pipeline TestAdversarialPixelBombByteExact).
func TestAdversarialCompressedPixelBomb(t *testing.T) {
	ds := advJ2KBomb()
	var s *Summary
	var err error
	n := advAllocs(func() {
		s, err = Scan(advStream{bytes.NewReader(ds)}, -1, uid.JPEG2000Lossless, Limits{})
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if s.Attrs[TagRows] != "65535" || s.Attrs[TagColumns] != "65535" || s.Attrs[TagNumberOfFrames] != "1000" {
		t.Fatalf("attributes %q", s.Attrs)
	}
	if n > 1<<20 {
		t.Errorf("Scan of a %d-byte data set allocated %d bytes", len(ds), n)
	}
}

// TestAdversarialNoPixelDecoder backs row 24's "never decoded": no
// non-test Go file of the module imports an image or pixel-data decoder.
// The one dependency that can decode pixel data (github.com/suyashkumar/dicom,
// whose Parse expands native frames) may only be used for its tag
// dictionary. Whoever adds a decode path must add the dimension cap of row
// 24 and then widen this list.
func TestAdversarialNoPixelDecoder(t *testing.T) {
	root := testutil.RepoRoot(t)
	allowed := map[string]bool{"github.com/suyashkumar/dicom/pkg/tag": true}
	banned := func(path string) bool {
		switch {
		case allowed[path]:
			return false
		case strings.HasPrefix(path, "image/"), path == "image",
			strings.HasPrefix(path, "github.com/suyashkumar/dicom"),
			strings.HasPrefix(path, "github.com/grailbio/go-dicom"),
			strings.Contains(path, "jpeg"), strings.Contains(path, "j2k"),
			strings.Contains(path, "jpeg2000"), strings.Contains(path, "openjpeg"),
			strings.Contains(path, "charls"), strings.Contains(path, "/webp"):
			return true
		}
		return false
	}
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || strings.HasPrefix(name, "bench-out")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if banned(path) {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s imports %s: a pixel-data decode path needs row 24's dimension cap", rel, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files seen under %s", files, root)
	}
}
