package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/shardpacs/shardpacs/dcm"
)

// Transfer syntaxes the rewriter understands: every little-endian,
// non-deflated one (PS3.5 A.1, A.2, A.4).
const (
	tsImplicitLE = "1.2.840.10008.1.2"
	tsExplicitBE = "1.2.840.10008.1.2.2"
	tsDeflatedLE = "1.2.840.10008.1.2.1.99"
)

// errRewrite is the sentinel of every error of parsePart10 and encode.
var errRewrite = errors.New("bench: cannot rewrite DICOM file")

// Tags the ingest-set generator reads or replaces (PS3.6).
const (
	tagSOPInstanceUID    uint32 = 0x00080018
	tagAccessionNumber   uint32 = 0x00080050
	tagPatientName       uint32 = 0x00100010
	tagPatientID         uint32 = 0x00100020
	tagStudyInstanceUID  uint32 = 0x0020000D
	tagSeriesInstanceUID uint32 = 0x0020000E
	tagStudyID           uint32 = 0x00200010
	tagSeriesNumber      uint32 = 0x00200011
	tagInstanceNumber    uint32 = 0x00200013
	tagNumberOfFrames    uint32 = 0x00280008
	tagRows              uint32 = 0x00280010
	tagColumns           uint32 = 0x00280011
	tagPixelData         uint32 = 0x7FE00010

	tagItem          uint32 = 0xFFFEE000
	tagItemDelim     uint32 = 0xFFFEE00D
	tagSequenceDelim uint32 = 0xFFFEE0DD
	undefinedLength  uint32 = 0xFFFFFFFF
	maxNesting              = 64
)

// rawElement is one top-level element of a data set, kept as its encoded
// bytes so that it can be copied unchanged.
type rawElement struct {
	tag uint32
	vr  string // "" in Implicit VR Little Endian
	raw []byte // the whole element: header and value
	val []byte // the value; nil when the length is undefined
}

// part10 is a parsed DICOM file: its File Meta Information and the
// top-level elements of its data set. Nested sequences and encapsulated
// pixel data are walked to find their end, never interpreted.
type part10 struct {
	meta     *dcm.FileMeta
	implicit bool
	elems    []rawElement
}

// parsePart10 splits a Part-10 file (PS3.10 §7.1) into its meta information
// and top-level elements. Big-endian and deflated data sets are refused.
// Every length is checked against the bytes left; hostile input gives an
// error wrapping errRewrite, never a panic.
func parsePart10(b []byte) (*part10, error) {
	meta, off, err := dcm.ReadPart10Header(bytes.NewReader(b), 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRewrite, err)
	}
	switch meta.TransferSyntaxUID {
	case "", tsExplicitBE, tsDeflatedLE:
		return nil, fmt.Errorf("%w: unsupported transfer syntax %q", errRewrite, meta.TransferSyntaxUID)
	}
	p := &part10{meta: meta, implicit: meta.TransferSyntaxUID == tsImplicitLE}
	w := walker{b: b, pos: int(off), implicit: p.implicit}
	for w.pos < len(b) {
		e, err := w.element(0)
		if err != nil {
			return nil, err
		}
		p.elems = append(p.elems, e)
	}
	return p, nil
}

// value returns the value of a top-level element with a defined length.
func (p *part10) value(tag uint32) ([]byte, bool) {
	for _, e := range p.elems {
		if e.tag == tag && e.val != nil {
			return e.val, true
		}
	}
	return nil, false
}

// frames returns Number of Frames (0028,0008), 1 when absent or unreadable.
func (p *part10) frames() int {
	v, ok := p.value(tagNumberOfFrames)
	if !ok {
		return 1
	}
	n := 0
	for _, c := range bytes.TrimSpace(bytes.TrimRight(v, "\x00")) {
		if c < '0' || c > '9' {
			return 1
		}
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			return 1
		}
	}
	if n < 1 {
		return 1
	}
	return n
}

// newValue is a replacement value: its VR (used for elements that are added
// in Explicit VR, and to pick the padding) and its bytes before padding.
type newValue struct {
	vr  string
	val []byte
}

// str is a text or UI replacement value.
func str(vr, s string) newValue { return newValue{vr: vr, val: []byte(s)} }

// us is a US replacement value.
func us(v uint16) newValue { return newValue{vr: "US", val: binary.LittleEndian.AppendUint16(nil, v)} }

// padded returns the value padded to an even length: UI with NUL, binary
// VRs with 0x00, text with a space (PS3.5 §6.2).
func (v newValue) padded() []byte {
	if len(v.val)%2 == 0 {
		return v.val
	}
	switch v.vr {
	case "UI", "OB", "OW", "UN":
		return append(append([]byte(nil), v.val...), 0)
	}
	return append(append([]byte(nil), v.val...), ' ')
}

// encode writes the file again with the given top-level values replaced
// (or added, in tag order, when absent). Data set group lengths
// (gggg,0000), retired and invalidated by the new lengths, are dropped.
// The Media Storage SOP Instance UID follows a replaced SOP Instance UID.
func (p *part10) encode(repl map[uint32]newValue) ([]byte, error) {
	meta := *p.meta
	if v, ok := repl[tagSOPInstanceUID]; ok {
		meta.MediaStorageSOPInstanceUID = string(v.val)
	}
	var buf bytes.Buffer
	if _, err := dcm.WritePart10Header(&buf, &meta); err != nil {
		return nil, fmt.Errorf("%w: %w", errRewrite, err)
	}
	added := make([]uint32, 0, len(repl))
	for t := range repl {
		added = append(added, t)
	}
	sort.Slice(added, func(i, j int) bool { return added[i] < added[j] })
	present := make(map[uint32]bool, len(p.elems))
	for _, e := range p.elems {
		present[e.tag] = true
	}
	next := 0 // index in added of the next candidate for insertion
	for _, e := range p.elems {
		for next < len(added) && added[next] < e.tag {
			if !present[added[next]] {
				if err := p.appendElement(&buf, added[next], "", repl[added[next]]); err != nil {
					return nil, err
				}
			}
			next++
		}
		if e.tag&0xFFFF == 0 {
			continue
		}
		if v, ok := repl[e.tag]; ok {
			if err := p.appendElement(&buf, e.tag, e.vr, v); err != nil {
				return nil, err
			}
			continue
		}
		buf.Write(e.raw)
	}
	for ; next < len(added); next++ {
		if !present[added[next]] {
			if err := p.appendElement(&buf, added[next], "", repl[added[next]]); err != nil {
				return nil, err
			}
		}
	}
	return buf.Bytes(), nil
}

// appendElement encodes one element in the file's transfer syntax; vr is
// the VR of the element it replaces ("" to use v's).
func (p *part10) appendElement(buf *bytes.Buffer, tag uint32, vr string, v newValue) error {
	if vr == "" {
		vr = v.vr
	}
	val := v.padded()
	var hdr [12]byte
	binary.LittleEndian.PutUint16(hdr[0:], uint16(tag>>16))
	binary.LittleEndian.PutUint16(hdr[2:], uint16(tag))
	switch {
	case p.implicit:
		binary.LittleEndian.PutUint32(hdr[4:], uint32(len(val)))
		buf.Write(hdr[:8])
	case longLengthVR(vr):
		copy(hdr[4:], vr)
		binary.LittleEndian.PutUint32(hdr[8:], uint32(len(val)))
		buf.Write(hdr[:12])
	default:
		if len(val) > 0xFFFF {
			return fmt.Errorf("%w: value of (%04X,%04X) too long for VR %s", errRewrite, tag>>16, tag&0xFFFF, vr)
		}
		copy(hdr[4:], vr)
		binary.LittleEndian.PutUint16(hdr[6:], uint16(len(val)))
		buf.Write(hdr[:8])
	}
	buf.Write(val)
	return nil
}

// longLengthVR reports whether an explicit VR has the 2 reserved bytes and a
// 32-bit length (PS3.5 §7.1.2).
func longLengthVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// walker reads elements from b at pos.
type walker struct {
	b        []byte
	pos      int
	implicit bool
}

func (w *walker) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", errRewrite, w.pos, fmt.Sprintf(format, args...))
}

// header reads a tag and, for non-item tags, the VR and length.
func (w *walker) header() (tag uint32, vr string, length uint32, err error) {
	if len(w.b)-w.pos < 8 {
		return 0, "", 0, w.errorf("truncated element header")
	}
	b := w.b[w.pos:]
	tag = uint32(binary.LittleEndian.Uint16(b))<<16 | uint32(binary.LittleEndian.Uint16(b[2:]))
	if w.implicit || tag>>16 == 0xFFFE {
		w.pos += 8
		return tag, "", binary.LittleEndian.Uint32(b[4:]), nil
	}
	vr = string(b[4:6])
	if vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z' {
		return 0, "", 0, w.errorf("invalid VR %q", vr)
	}
	if !longLengthVR(vr) {
		w.pos += 8
		return tag, vr, uint32(binary.LittleEndian.Uint16(b[6:])), nil
	}
	if len(b) < 12 {
		return 0, "", 0, w.errorf("truncated element header")
	}
	w.pos += 12
	return tag, vr, binary.LittleEndian.Uint32(b[8:]), nil
}

// skip advances over n value bytes.
func (w *walker) skip(n uint32) error {
	if uint64(n) > uint64(len(w.b)-w.pos) {
		return w.errorf("length %d exceeds the %d bytes left", n, len(w.b)-w.pos)
	}
	w.pos += int(n)
	return nil
}

// element reads one data element at depth.
func (w *walker) element(depth int) (rawElement, error) {
	start := w.pos
	tag, vr, length, err := w.header()
	if err != nil {
		return rawElement{}, err
	}
	if tag>>16 == 0xFFFE {
		return rawElement{}, w.errorf("item or delimiter (%04X,%04X) outside a sequence", tag>>16, tag&0xFFFF)
	}
	e := rawElement{tag: tag, vr: vr}
	if length == undefinedLength {
		// An undefined-length UN holds Implicit VR Little Endian (PS3.5 §6.2.2).
		saved := w.implicit
		w.implicit = w.implicit || vr == "UN"
		err := w.sequence(depth + 1)
		w.implicit = saved
		if err != nil {
			return rawElement{}, err
		}
	} else {
		vstart := w.pos
		if err := w.skip(length); err != nil {
			return rawElement{}, err
		}
		e.val = w.b[vstart:w.pos]
	}
	e.raw = w.b[start:w.pos]
	return e, nil
}

// sequence walks the items of an undefined-length sequence or encapsulated
// pixel data up to its Sequence Delimitation Item (PS3.5 §7.5, A.4).
func (w *walker) sequence(depth int) error {
	if depth > maxNesting {
		return w.errorf("nesting deeper than %d", maxNesting)
	}
	for {
		tag, _, length, err := w.header()
		if err != nil {
			return err
		}
		switch tag {
		case tagSequenceDelim:
			return nil
		case tagItem:
			if length != undefinedLength {
				if err := w.skip(length); err != nil {
					return err
				}
				continue
			}
			if err := w.item(depth); err != nil {
				return err
			}
		default:
			return w.errorf("(%04X,%04X) where an item was expected", tag>>16, tag&0xFFFF)
		}
	}
}

// item walks the elements of an undefined-length item up to its Item
// Delimitation Item.
func (w *walker) item(depth int) error {
	for {
		if len(w.b)-w.pos >= 4 {
			b := w.b[w.pos:]
			t := uint32(binary.LittleEndian.Uint16(b))<<16 | uint32(binary.LittleEndian.Uint16(b[2:]))
			if t == tagItemDelim {
				_, _, _, err := w.header()
				return err
			}
		}
		if _, err := w.element(depth); err != nil {
			return err
		}
	}
}
