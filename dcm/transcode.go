package dcm

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/shardpacs/shardpacs/dcm/uid"
)

// ErrNotNative is returned by Transcode and TranscodedSize when either
// transfer syntax is not one of the three native ones: Implicit VR Little
// Endian (PS3.5 A.1), Explicit VR Little Endian (A.2) and Explicit VR Big
// Endian (A.3, retired). Deflated and encapsulated (compressed) syntaxes
// are never converted.
var ErrNotNative = errors.New("dcm: transcoding needs native transfer syntaxes (implicit VR LE, explicit VR LE or BE)")

// Transcode re-encodes a data set (without File Meta Information) from one
// native transfer syntax to another and writes it to w, returning the
// number of bytes written. r supplies exactly size bytes (size < 0: read to
// io.EOF, or to the end when r is an io.Seeker) in fromTS; the output is in
// toTS. fromTS == toTS copies the data set unchanged after validating it.
//
// What changes (PS3.5 §7.1, §7.3, Annex A):
//
//   - Element headers. Implicit → explicit: the VR comes from the data
//     dictionary (DictionaryVR), except that private creators (gggg,0010-00FF)
//     are LO (PS3.5 §7.8.1), Pixel Data is OB when Bits Allocated ≤ 8 and OW
//     otherwise and other "OB or OW" attributes are OW (PS3.5 A.1), and a
//     value longer than 65535 bytes under a VR with a 16-bit length is
//     written as UN (PS3.5 §6.2.2) — as OW/OL/OF/OD instead when the target
//     is big endian and the value is binary, so it can still be swapped.
//     Explicit → implicit: the VR is dropped.
//   - Byte order. Between little and big endian, values are swapped per VR:
//     US, SS, OW and AT (as two 16-bit halves) in 2-byte units; UL, SL, FL,
//     OF, OL in 4; FD, SV, UV, OD, OV in 8. OB, UN and text are copied as
//     they are; tags and lengths follow the target's order.
//   - Sequences (PS3.5 §7.5). Items, delimiters and undefined lengths are
//     kept; nested data sets are converted the same way, nesting limited by
//     lim.MaxDepth as in Scan. A defined length that the conversion changes
//     (implicit ↔ explicit) is recomputed by measuring the converted content
//     first, which needs random access: when r is an io.ReaderAt and an
//     io.Seeker (an *os.File, *bytes.Reader, *io.SectionReader), reading at
//     its current position. Otherwise such sequences and items are written
//     with undefined length and delimiters, and group lengths (gggg,0000),
//     retired outside group 0002, are dropped; with random access a right
//     one is recomputed and a wrong one kept as it is. A length that would
//     exceed 32 bits also becomes undefined.
//   - A UN element of undefined length holds Implicit VR Little Endian
//     whatever the transfer syntax (PS3.5 §6.2.2): its content is copied
//     byte for byte, as is the value of any UN element.
//
// Encapsulated pixel data (undefined-length Pixel Data, PS3.5 A.4) cannot
// occur in a native syntax and is a *FormatError. So is, towards Implicit
// VR, an element whose explicit VR contradicts the data dictionary so that
// an implicit reader would misread the structure: a non-empty non-SQ value
// of a sequence attribute, or an undefined-length sequence under an
// attribute that is neither SQ nor unknown. Values are not checked
// against their VR; odd lengths are kept.
//
// Transcode streams: it holds a 4 KiB read buffer, a 32 KiB write buffer
// and a stack of at most 2·MaxDepth+1 frames, whatever the size of the data
// set; values are copied in chunks. Measuring defined lengths re-reads
// headers (never values) through r's io.ReaderAt, at most once per
// enclosing defined-length container.
//
// Errors: ErrNotNative, ErrTransferSyntax for an invalid UID, *FormatError
// (errors.Is ErrFormat) for malformed or truncated input, *LimitError
// (errors.Is ErrLimit) for exceeded limits, or an I/O error from r or w.
// On error, part of the output may have been written. Transcode never
// panics on hostile input and is safe for concurrent use on distinct
// readers.
func Transcode(w io.Writer, r io.Reader, size int64, fromTS, toTS string, lim Limits) (int64, error) {
	t, err := newTranscoder(r, size, fromTS, toTS, lim)
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: w}
	t.out = bufio.NewWriterSize(cw, 32<<10)
	if err := t.run(); err != nil {
		_ = t.out.Flush()
		return cw.n, err
	}
	err = t.out.Flush()
	return cw.n, err
}

// TranscodedSize validates a data set as Transcode would and returns the
// number of bytes Transcode would write, without copying any value: values
// are skipped by seeking r. Callers use it to refuse a malformed data set
// before they start sending its conversion. Its arguments and errors are
// Transcode's.
func TranscodedSize(r io.ReadSeeker, size int64, fromTS, toTS string, lim Limits) (int64, error) {
	t, err := newTranscoder(r, size, fromTS, toTS, lim)
	if err != nil {
		return 0, err
	}
	if err := t.run(); err != nil {
		return 0, err
	}
	return t.n, nil
}

// nativeEncoding returns the encoding of a native transfer syntax.
func nativeEncoding(ts string) (dsEncoding, error) {
	ts = strings.TrimRight(ts, "\x00 ")
	if !ValidUID(ts) {
		return dsEncoding{}, ErrTransferSyntax
	}
	s, ok := uid.LookupTransferSyntax(ts)
	if !ok || !s.Native() {
		return dsEncoding{}, ErrNotNative
	}
	return dsEncoding{explicit: s.ExplicitVR, bigEndian: s.BigEndian}, nil
}

func newTranscoder(r io.Reader, size int64, fromTS, toTS string, lim Limits) (*transcoder, error) {
	in, err := nativeEncoding(fromTS)
	if err != nil {
		return nil, err
	}
	out, err := nativeEncoding(toTS)
	if err != nil {
		return nil, err
	}
	seeker, _ := r.(io.Seeker)
	ra, _ := r.(io.ReaderAt)
	var base int64
	if seeker != nil {
		if base, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker, ra = nil, nil
		}
	}
	if size < 0 && seeker != nil {
		if size, err = remaining(seeker); err != nil {
			seeker, ra, size = nil, nil, -1
		}
	}
	if seeker == nil || size < 0 {
		ra = nil
	}
	if max := lim.maxDataSetSize(); max >= 0 && size > max {
		return nil, &LimitError{What: "data set size " + strconv.FormatInt(size, 10) + " > " + strconv.FormatInt(max, 10)}
	}
	if size < 0 {
		if max := lim.maxDataSetSize(); max >= 0 {
			r = &cappedReader{r: r, left: max, what: "data set size > " + strconv.FormatInt(max, 10)}
		}
	}
	t := &transcoder{
		sr: newScanReader(r, seeker), ra: ra, base: base,
		lim: lim, maxDepth: lim.maxDepth(), maxLen: lim.maxElementLength(),
		stopGroup: -1,
	}
	t.stack = append(t.stack, tframe{kind: frameDataSet, in: in, out: out, end: size, bound: size})
	return t, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tframe is one open container while transcoding.
type tframe struct {
	kind    frameKind // frameDataSet or frameSequence (fragments are an error)
	in, out dsEncoding
	tag     Tag
	end     int64 // input end offset for a defined length, -1 for undefined
	bound   int64 // nearest enclosing defined input end, -1 for none
	item    bool  // an item's data set (not the top level)
	// closeWith is the delimiter to write when this defined-length input
	// container ends because its output was made undefined-length; 0 for
	// none.
	closeWith Tag
}

// resizes reports whether converting between in and out changes header
// sizes (implicit ↔ explicit).
func (f *tframe) resizes() bool { return f.in.explicit != f.out.explicit }

// transcoder is the state of one Transcode, TranscodedSize or measurement.
type transcoder struct {
	sr  *scanReader
	out *bufio.Writer // nil: count only, skip values (measuring)
	n   int64         // bytes written or counted
	// ra gives random access to the input for measuring; base is the
	// offset in ra of sr's offset 0; origin is the offset of sr's offset 0
	// in the whole data set (for error messages). ra is nil without random
	// access.
	ra           io.ReaderAt
	base, origin int64
	lim          Limits
	maxDepth     int
	maxLen       uint32
	stack        []tframe
	depth        int
	// stopGroup ≥ 0 stops the walk before the first top-level element of
	// another group (measuring a group length).
	stopGroup           int32
	pixelRepresentation uint16 // top-level (0028,0103), 0 until seen
	hdr                 [12]byte
	werr                error // first write error

}

func (t *transcoder) formatErr(off int64, tag Tag, msg string) error {
	return &FormatError{Offset: t.origin + off, Tag: tag, Msg: msg}
}

func (t *transcoder) ioErr(off int64, tag Tag, err error) error {
	var le *LimitError
	switch {
	case errors.As(err, &le):
		return le
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return t.formatErr(off, tag, "truncated data set")
	}
	return err
}

// run walks the input to the end of its root frame.
func (t *transcoder) run() error {
	sr := t.sr
	for {
		if t.werr != nil {
			return t.werr
		}
		top := &t.stack[len(t.stack)-1]
		off := sr.off
		if top.end >= 0 && off >= top.end {
			if off > top.end {
				return t.formatErr(off, top.tag, "container overrun")
			}
			if len(t.stack) == 1 {
				return nil
			}
			if err := t.pop(); err != nil {
				return err
			}
			continue
		}
		if len(t.stack) == 1 {
			if top.end < 0 && sr.atEOF() {
				return nil
			}
			if t.stopGroup >= 0 {
				if b, err := sr.peek(2); err == nil && int32(byteOrder(top.in).Uint16(b)) != t.stopGroup {
					return nil
				}
			}
		}
		if sr.err != nil {
			return t.ioErr(off, 0, sr.err)
		}
		h, err := t.header(top, off)
		if err != nil {
			return err
		}
		if err := t.element(top, h, off); err != nil {
			return err
		}
	}
}

// header reads the header at off in the input encoding of top. In
// Implicit VR the VR is DictionaryVR's, which decides the structure
// exactly as in Scan.
func (t *transcoder) header(top *tframe, off int64) (header, error) {
	sr := t.sr
	bo := byteOrder(top.in)
	if top.bound >= 0 && top.bound-off < 8 {
		return header{}, t.formatErr(off, 0, "truncated element header")
	}
	b, err := sr.next(8)
	if err != nil {
		return header{}, t.ioErr(off, 0, err)
	}
	tag := Tag(uint32(bo.Uint16(b))<<16 | uint32(bo.Uint16(b[2:])))
	if tag.Group() == 0xFFFE || !top.in.explicit {
		return header{tag: tag, vr: DictionaryVR(tag), length: bo.Uint32(b[4:])}, nil
	}
	vr := internVR(b[4], b[5])
	if vr == "" {
		return header{}, t.formatErr(off, tag, "invalid VR "+strconv.Quote(string(b[4:6])))
	}
	if !longVR(vr) {
		return header{tag: tag, vr: vr, length: uint32(bo.Uint16(b[6:]))}, nil
	}
	if top.bound >= 0 && top.bound-off < 12 {
		return header{}, t.formatErr(off, tag, "truncated element header")
	}
	b, err = sr.next(4)
	if err != nil {
		return header{}, t.ioErr(off, tag, err)
	}
	return header{tag: tag, vr: vr, length: bo.Uint32(b)}, nil
}

// element converts one header read inside top, and its value or container.
func (t *transcoder) element(top *tframe, h header, off int64) error {
	if top.kind == frameSequence {
		switch h.tag {
		case TagItem:
			f := tframe{kind: frameDataSet, in: top.in, out: top.out, tag: h.tag, end: -1, bound: top.bound, item: true}
			length := uint32(undefinedLength)
			if h.length != undefinedLength {
				if err := t.checkLength(top, h, off); err != nil {
					return err
				}
				f.end = t.sr.off + int64(h.length)
				f.bound = f.end
				var err error
				if length, f.closeWith, err = t.outLength(&f, h.length, TagItemDelimitationItem); err != nil {
					return err
				}
			}
			t.putItem(top.out, TagItem, length)
			t.push(f)
			return nil
		case TagSequenceDelimitationItem:
			if top.end >= 0 {
				return t.formatErr(off, h.tag, "sequence delimiter in a sequence of defined length")
			}
			if h.length != 0 {
				return t.formatErr(off, h.tag, "sequence delimiter with non-zero length")
			}
			t.putItem(top.out, h.tag, 0)
			return t.pop()
		}
		return t.formatErr(off, h.tag, "element in a sequence outside an item")
	}
	switch h.tag {
	case TagItemDelimitationItem:
		if !top.item || top.end >= 0 {
			return t.formatErr(off, h.tag, "item delimiter outside an item of undefined length")
		}
		if h.length != 0 {
			return t.formatErr(off, h.tag, "item delimiter with non-zero length")
		}
		t.putItem(top.out, h.tag, 0)
		return t.pop()
	case TagSequenceDelimitationItem:
		return t.formatErr(off, h.tag, "sequence delimiter outside a sequence")
	case TagItem:
		return t.formatErr(off, h.tag, "item outside a sequence")
	}
	if h.tag.Group() == 0xFFFE {
		return t.formatErr(off, h.tag, "unknown item or delimitation tag")
	}
	if h.length == undefinedLength {
		return t.openUndefined(top, h, off)
	}
	if err := t.checkLength(top, h, off); err != nil {
		return err
	}
	if h.vr == "SQ" {
		f := tframe{kind: frameSequence, in: top.in, out: top.out, tag: h.tag, end: t.sr.off + int64(h.length)}
		f.bound = f.end
		if err := t.enterSequence(); err != nil {
			return err
		}
		length, closeWith, err := t.outLength(&f, h.length, TagSequenceDelimitationItem)
		if err != nil {
			return err
		}
		f.closeWith = closeWith
		t.putElement(top.out, h.tag, "SQ", length)
		t.push(f)
		return nil
	}
	if h.tag.Element() == 0 && h.length == 4 && (h.vr == "UL") && top.resizes() {
		return t.groupLength(top, h, off)
	}
	if h.tag == tagPixelRepresentation && len(t.stack) == 1 && h.length == 2 && t.origin == 0 {
		if b, err := t.sr.peek(2); err == nil {
			t.pixelRepresentation = byteOrder(top.in).Uint16(b)
		}
	}
	if top.in.explicit && !top.out.explicit && h.length > 0 && DictionaryVR(h.tag) == "SQ" {
		return t.formatErr(off, h.tag, "a "+h.vr+" value of a sequence attribute cannot be encoded in Implicit VR")
	}
	vr, unit := t.outVR(top, h)
	t.putElement(top.out, h.tag, vr, h.length)
	if top.in.bigEndian == top.out.bigEndian {
		unit = 0
	}
	return t.copyValue(off, h, unit)
}

// tagPixelRepresentation is (0028,0103) Pixel Representation, which decides
// "US or SS" in Implicit VR (PS3.3 C.7.6.3).
const tagPixelRepresentation Tag = 0x00280103

// openUndefined converts an element of undefined length: a sequence (SQ,
// or an unknown or private tag in Implicit VR), or a UN sequence, whose
// content is in Implicit VR Little Endian (PS3.5 §6.2.2) and copied as it
// is. Undefined-length Pixel Data is encapsulated,
// which no native syntax allows.
func (t *transcoder) openUndefined(top *tframe, h header, off int64) error {
	if h.tag == TagPixelData && (h.vr == "OB" || h.vr == "OW" || h.vr == "UN" || !top.in.explicit) {
		return t.formatErr(off, h.tag, "encapsulated pixel data in a native transfer syntax")
	}
	if dv := DictionaryVR(h.tag); top.in.explicit && !top.out.explicit && dv != "SQ" && dv != "UN" {
		return t.formatErr(off, h.tag, "a sequence of undefined length under a "+dv+" attribute cannot be encoded in Implicit VR")
	}
	switch h.vr {
	case "SQ":
		if err := t.enterSequence(); err != nil {
			return err
		}
		t.putElement(top.out, h.tag, "SQ", undefinedLength)
		t.push(tframe{kind: frameSequence, in: top.in, out: top.out, tag: h.tag, end: -1, bound: top.bound})
		return nil
	case "UN":
		if err := t.enterSequence(); err != nil {
			return err
		}
		if !top.in.explicit {
			// An unknown or private sequence: converted as a sequence,
			// as DCMTK does (its elements are UN in explicit VR).
			t.putElement(top.out, h.tag, "SQ", undefinedLength)
			t.push(tframe{kind: frameSequence, in: top.in, out: top.out, tag: h.tag, end: -1, bound: top.bound})
			return nil
		}
		t.putElement(top.out, h.tag, "UN", undefinedLength)
		t.push(tframe{kind: frameSequence, in: implicitLE, out: implicitLE, tag: h.tag, end: -1, bound: top.bound})
		return nil
	}
	return t.formatErr(off, h.tag, "undefined length on a "+h.vr+" element")
}

func (t *transcoder) enterSequence() error {
	if t.depth+1 > t.maxDepth {
		return depthError(t.maxDepth)
	}
	return nil
}

// push opens f; a sequence counts towards the depth (checked by
// enterSequence).
func (t *transcoder) push(f tframe) {
	if f.kind == frameSequence {
		t.depth++
	}
	t.stack = append(t.stack, f)
}

// pop closes the top frame, writing the delimiter of a defined-length
// container whose output was made undefined.
func (t *transcoder) pop() error {
	f := t.stack[len(t.stack)-1]
	if f.kind == frameSequence {
		t.depth--
	}
	t.stack = t.stack[:len(t.stack)-1]
	if f.closeWith != 0 {
		t.putItem(f.out, f.closeWith, 0)
	}
	return nil
}

// checkLength validates a defined length against the enclosing bound and
// MaxElementLength.
func (t *transcoder) checkLength(top *tframe, h header, off int64) error {
	if top.bound >= 0 && int64(h.length) > top.bound-t.sr.off {
		return t.formatErr(off, h.tag, "length "+strconv.FormatUint(uint64(h.length), 10)+" runs past the end of its container")
	}
	if h.length > t.maxLen {
		return &LimitError{What: "element " + h.tag.String() + " length " + strconv.FormatUint(uint64(h.length), 10) + " > " + strconv.FormatUint(uint64(t.maxLen), 10)}
	}
	return nil
}

// outLength returns the output length of the defined-length container f
// (input length inLen, content starting at the current offset), and the
// delimiter to write at its end when the output is undefined-length
// instead. When measuring (t.out == nil) the value is not needed: only
// the header size counts, which does not depend on it.
func (t *transcoder) outLength(f *tframe, inLen uint32, delim Tag) (uint32, Tag, error) {
	if !f.resizes() || t.out == nil {
		return inLen, 0, nil
	}
	if t.ra == nil {
		return undefinedLength, delim, nil
	}
	sub := t.sub(t.sr.off, int64(inLen), tframe{kind: f.kind, in: f.in, out: f.out, tag: f.tag, end: int64(inLen), bound: int64(inLen), item: f.item})
	if f.kind == frameSequence {
		sub.depth++
	}
	if err := sub.run(); err != nil {
		return 0, 0, err
	}
	if sub.n >= undefinedLength {
		return undefinedLength, delim, nil
	}
	return uint32(sub.n), 0, nil
}

// sub returns a measuring transcoder over the n input bytes at off, whose
// root frame is root.
func (t *transcoder) sub(off, n int64, root tframe) *transcoder {
	sec := io.NewSectionReader(t.ra, t.base+off, n)
	return &transcoder{
		sr: newScanReader(sec, sec), ra: t.ra, base: t.base + off, origin: t.origin + off,
		lim: t.lim, maxDepth: t.maxDepth, maxLen: t.maxLen, depth: t.depth,
		stack: []tframe{root}, stopGroup: -1,
	}
}

// groupLength converts a group length (gggg,0000) when header sizes change.
// With random access, a value that is right for the input (the size of the
// elements of its group that follow it in the same data set) is replaced by
// the converted size, and a wrong one is kept as it is, so that conversions
// round-trip; without, the element is dropped (it is retired outside group
// 0002, PS3.5 §7.2).
func (t *transcoder) groupLength(top *tframe, h header, off int64) error {
	if t.ra == nil {
		return t.skipValue(off, h)
	}
	v, err := t.sr.peek(4)
	if err != nil {
		return t.ioErr(off, h.tag, err)
	}
	old := byteOrder(top.in).Uint32(v)
	var nv [4]byte
	byteOrder(top.out).PutUint32(nv[:], old)
	if t.out != nil && top.bound >= 0 { // random access implies a known size
		start := t.sr.off + 4
		root := tframe{kind: frameDataSet, in: top.in, out: top.out, tag: top.tag, end: -1, bound: top.bound - start, item: top.item}
		if top.end >= 0 {
			root.end = top.end - start
		}
		measure := func(out dsEncoding) (int64, error) {
			r := root
			r.out = out
			sub := t.sub(start, r.bound, r)
			sub.stopGroup = int32(h.tag.Group())
			err := sub.run()
			return sub.n, err
		}
		inSize, err := measure(top.in)
		if err != nil {
			return err
		}
		if inSize == int64(old) {
			outSize, err := measure(top.out)
			if err != nil {
				return err
			}
			byteOrder(top.out).PutUint32(nv[:], uint32(min(outSize, 0xFFFFFFFF)))
		}
	}
	t.putElement(top.out, h.tag, "UL", 4)
	t.write(nv[:])
	return t.skipValue(off, h)
}
