package dcm

import (
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
)

// Limits bounds the work and memory Scan and DecodeIdentifier spend on one
// data set. The zero value gives the defaults documented on each field.
type Limits struct {
	// MaxDepth is the deepest allowed nesting of sequences (PS3.5 §7.5);
	// 0 means 32. Exceeding it is a *LimitError "sequence depth > N" matching ErrDepth.
	MaxDepth int
	// MaxElementLength caps every defined element, item and fragment
	// length; 0 means 0xFFFFFFFE (any defined length).
	MaxElementLength uint32
	// MaxDataSetSize caps the size of the data set as stored (for the
	// deflated transfer syntax: compressed); 0 means 4 GiB, negative means
	// no cap. Scan checks it against its size argument up front.
	MaxDataSetSize int64
	// MaxInflatedSize caps the inflated size of a Deflated Explicit VR
	// Little Endian data set (PS3.5 A.5); 0 means 1 GiB, negative means no
	// cap. There is no separate ratio cap: deflate cannot exceed about
	// 1032:1, legitimate blank images come close to it, and this byte cap
	// bounds the work anyway; memory stays flat because inflation streams.
	MaxInflatedSize int64
}

func (l Limits) maxDepth() int {
	if l.MaxDepth <= 0 {
		return 32
	}
	return l.MaxDepth
}

func (l Limits) maxElementLength() uint32 {
	if l.MaxElementLength == 0 {
		return 0xFFFFFFFE
	}
	return l.MaxElementLength
}

func (l Limits) maxDataSetSize() int64 {
	if l.MaxDataSetSize == 0 {
		return 4 << 30
	}
	return l.MaxDataSetSize
}

func (l Limits) maxInflatedSize() int64 {
	if l.MaxInflatedSize == 0 {
		return 1 << 30
	}
	return l.MaxInflatedSize
}

// maxIndexValue caps the length of an index attribute's value. The longest
// VR among IndexTags allows 64 characters per value (LO, PN per component
// group); anything past 64 KiB is an attack, not a name.
const maxIndexValue = 64 << 10

// undefinedLength is the value of a length field meaning "undefined"
// (PS3.5 §7.1.1).
const undefinedLength = 0xFFFFFFFF

// Summary is what Scan extracts from a data set for the index.
type Summary struct {
	SOPClassUID, SOPInstanceUID, StudyInstanceUID, SeriesInstanceUID, PatientID string
	// SpecificCharacterSet is the (0008,0005) value, terms trimmed and
	// joined by '\' ("" when absent).
	SpecificCharacterSet string
	// Attrs holds the top-level values of the IndexTags present in the
	// data set, decoded to UTF-8 and trimmed (see trimValue: PS3.5 §6.2),
	// multiple values joined by '\', binary numbers (US) in decimal. An
	// attribute absent from the data set is not in the map; one present with
	// an empty value maps to "". When an attribute occurs twice the first
	// occurrence wins.
	Attrs map[Tag]string
	// Warnings lists problems that did not stop the scan, such as a
	// *CharsetError for an unknown Specific Character Set term.
	Warnings []error
}

// frameKind is the kind of container a scan frame walks.
type frameKind uint8

const (
	frameDataSet   frameKind = iota // the top-level data set or an item's data set
	frameSequence                   // the items of an SQ (or UN-as-SQ) element
	frameFragments                  // the items of encapsulated pixel data (PS3.5 A.4)
)

// frame is one open container during the walk.
type frame struct {
	kind  frameKind
	enc   dsEncoding
	tag   Tag   // the element or item that opened the frame
	start int64 // offset of its header
	end   int64 // end offset for a defined length, -1 for undefined
	bound int64 // nearest enclosing defined end (own end if defined), -1 for none
	item  bool  // frameDataSet of an item (not the top level)
}

// Scan walks a whole data set (without File Meta Information) once,
// validates its structure, and returns the index attributes of its top
// level. r supplies exactly size bytes (size < 0: read to io.EOF; when r is
// an io.Seeker the size is then taken from it) encoded in the transfer
// syntax transferSyntaxUID: Implicit VR Little Endian, Explicit VR Little
// Endian, Explicit VR Big Endian (retired, PS3.5 A.3), Deflated Explicit VR
// Little Endian (PS3.5 A.5: inflated through a counting reader capped at
// lim.MaxInflatedSize) and every encapsulated transfer syntax (PS3.5 A.4:
// pixel data fragments are walked, never decoded). A valid but unknown
// transfer syntax UID is read as Explicit VR Little Endian; an empty or
// invalid one is an error matching ErrTransferSyntax.
//
// Scan streams: it holds a 4 KiB buffer, a stack of at most 2·MaxDepth+1
// frames and the index values (each at most 64 KiB); other values are
// skipped by seeking when r is an io.Seeker, by discarding otherwise.
//
// It checks (PS3.5 §7.1, §7.5): every defined length fits in its enclosing
// item, sequence or data set; undefined lengths occur only on SQ, on UN
// (read as a sequence in Implicit VR Little Endian, PS3.5 §6.2.2) and on
// pixel data (7FE0,0010) (fragments, or private/unknown tags in Implicit VR,
// read as sequences); items occur only inside sequences and delimiters
// match the open container; explicit VRs are known ones; nesting is at most
// lim.MaxDepth. Odd lengths, unordered tags and repeated tags are
// tolerated, as many devices write them. Values are not checked against
// their VR (use ValidUID on the UIDs).
//
// Errors: *FormatError (errors.Is ErrFormat) for malformed or truncated
// input, *LimitError (errors.Is ErrLimit) for exceeded limits, or an I/O
// error from r. Scan never panics on hostile input.
func Scan(r io.Reader, size int64, transferSyntaxUID string, lim Limits) (*Summary, error) {
	enc, err := encodingOf(transferSyntaxUID)
	if err != nil {
		return nil, err
	}
	seeker, _ := r.(io.Seeker)
	if size < 0 && seeker != nil {
		if size, err = remaining(seeker); err != nil {
			seeker, size = nil, -1
		}
	}
	if max := lim.maxDataSetSize(); max >= 0 && size > max {
		return nil, &LimitError{What: "data set size " + strconv.FormatInt(size, 10) + " > " + strconv.FormatInt(max, 10)}
	}
	var sr *scanReader
	if enc.deflated {
		src := r
		if size >= 0 {
			src = io.LimitReader(r, size)
		} else if max := lim.maxDataSetSize(); max >= 0 {
			src = &cappedReader{r: r, left: max, what: "data set size > " + strconv.FormatInt(max, 10)}
		}
		fr := flate.NewReader(src)
		defer fr.Close()
		var inflated io.Reader = fr
		if max := lim.maxInflatedSize(); max >= 0 {
			inflated = &cappedReader{r: fr, left: max, what: "inflated size > " + strconv.FormatInt(max, 10)}
		}
		sr = newScanReader(inflated, nil)
		size = -1
	} else {
		if size < 0 {
			if max := lim.maxDataSetSize(); max >= 0 {
				r = &cappedReader{r: r, left: max, what: "data set size > " + strconv.FormatInt(max, 10)}
			}
		}
		sr = newScanReader(r, seeker)
	}
	w := walker{sr: sr, lim: lim, maxDepth: lim.maxDepth(), maxLen: lim.maxElementLength()}
	if err := w.walk(enc, size); err != nil {
		return nil, err
	}
	return w.summary(), nil
}

// remaining returns the number of bytes from s's position to its end,
// leaving the position unchanged.
func remaining(s io.Seeker) (int64, error) {
	cur, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	end, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if _, err := s.Seek(cur, io.SeekStart); err != nil {
		return 0, err
	}
	return end - cur, nil
}

// cappedReader fails with a *LimitError once more than left bytes are read.
type cappedReader struct {
	r    io.Reader
	left int64
	what string
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, &LimitError{What: c.what}
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, &LimitError{What: c.what}
	}
	return n, err
}

// walker holds the state of one Scan.
type walker struct {
	sr       *scanReader
	lim      Limits
	maxDepth int
	maxLen   uint32
	stack    []frame
	depth    int // open sequences
	raw      [len(indexSlots)]rawValue
}

// rawValue is an index attribute's value as read, before decoding.
type rawValue struct {
	present   bool
	vr        string
	bigEndian bool
	b         []byte
}

func (w *walker) formatErr(off int64, t Tag, msg string) error {
	return &FormatError{Offset: off, Tag: t, Msg: msg}
}

// ioErr converts a read failure at offset off into the error Scan returns.
func (w *walker) ioErr(off int64, t Tag, err error) error {
	var le *LimitError
	var ce flate.CorruptInputError
	switch {
	case errors.As(err, &le):
		return le
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return w.formatErr(off, t, "truncated data set")
	case errors.As(err, &ce):
		return w.formatErr(off, t, "corrupt deflate stream: "+ce.Error())
	}
	return err
}

func (w *walker) walk(enc dsEncoding, size int64) error {
	w.stack = append(w.stack[:0], frame{kind: frameDataSet, enc: enc, end: size, bound: size})
	sr := w.sr
	for {
		top := &w.stack[len(w.stack)-1]
		off := sr.off
		if top.end >= 0 && off >= top.end {
			if off > top.end { // cannot happen: every length is checked against bound
				return w.formatErr(off, top.tag, "container overrun")
			}
			if len(w.stack) == 1 {
				return nil
			}
			w.pop()
			continue
		}
		if top.end < 0 && len(w.stack) == 1 && sr.atEOF() {
			return nil
		}
		if sr.err != nil {
			return w.ioErr(off, 0, sr.err)
		}
		h, err := w.header(top, off)
		if err != nil {
			return err
		}
		if err := w.element(top, h, off); err != nil {
			return err
		}
	}
}

// header is one element, item or delimiter header.
type header struct {
	tag    Tag
	vr     string // "" for items and delimiters, dictionary VR in Implicit VR
	length uint32
}

// header reads the header at off in the encoding of top.
func (w *walker) header(top *frame, off int64) (header, error) {
	sr := w.sr
	var bo binary.ByteOrder = binary.LittleEndian
	if top.enc.bigEndian {
		bo = binary.BigEndian
	}
	if top.bound >= 0 && top.bound-off < 8 {
		return header{}, w.formatErr(off, 0, "truncated element header")
	}
	b, err := sr.next(8)
	if err != nil {
		return header{}, w.ioErr(off, 0, err)
	}
	t := Tag(uint32(bo.Uint16(b))<<16 | uint32(bo.Uint16(b[2:])))
	if t.Group() == 0xFFFE || !top.enc.explicit {
		return header{tag: t, vr: DictionaryVR(t), length: bo.Uint32(b[4:])}, nil
	}
	vr := internVR(b[4], b[5])
	if vr == "" {
		return header{}, w.formatErr(off, t, "invalid VR "+strconv.Quote(string(b[4:6])))
	}
	if !longVR(vr) {
		return header{tag: t, vr: vr, length: uint32(bo.Uint16(b[6:]))}, nil
	}
	if top.bound >= 0 && top.bound-off < 12 {
		return header{}, w.formatErr(off, t, "truncated element header")
	}
	b, err = sr.next(4)
	if err != nil {
		return header{}, w.ioErr(off, t, err)
	}
	return header{tag: t, vr: vr, length: bo.Uint32(b)}, nil
}

// element handles one header read inside top.
func (w *walker) element(top *frame, h header, off int64) error {
	switch top.kind {
	case frameSequence, frameFragments:
		switch h.tag {
		case TagItem:
			if h.length == undefinedLength {
				if top.kind == frameFragments {
					return w.formatErr(off, h.tag, "pixel data fragment with undefined length")
				}
				w.push(frame{kind: frameDataSet, enc: top.enc, tag: h.tag, start: off, end: -1, bound: top.bound, item: true})
				return nil
			}
			if err := w.checkLength(top, h, off); err != nil {
				return err
			}
			if top.kind == frameFragments {
				return w.skip(off, h)
			}
			end := w.sr.off + int64(h.length)
			w.push(frame{kind: frameDataSet, enc: top.enc, tag: h.tag, start: off, end: end, bound: end, item: true})
			return nil
		case TagSequenceDelimitationItem:
			if top.end >= 0 {
				return w.formatErr(off, h.tag, "sequence delimiter in a sequence of defined length")
			}
			if h.length != 0 {
				return w.formatErr(off, h.tag, "sequence delimiter with non-zero length")
			}
			w.pop()
			return nil
		}
		return w.formatErr(off, h.tag, "element in a sequence outside an item")
	}
	// frameDataSet: the top level or an item.
	switch h.tag {
	case TagItemDelimitationItem:
		if !top.item || top.end >= 0 {
			return w.formatErr(off, h.tag, "item delimiter outside an item of undefined length")
		}
		if h.length != 0 {
			return w.formatErr(off, h.tag, "item delimiter with non-zero length")
		}
		w.pop()
		return nil
	case TagSequenceDelimitationItem:
		return w.formatErr(off, h.tag, "sequence delimiter outside a sequence")
	case TagItem:
		return w.formatErr(off, h.tag, "item outside a sequence")
	}
	if h.tag.Group() == 0xFFFE {
		return w.formatErr(off, h.tag, "unknown item or delimitation tag")
	}
	if h.length == undefinedLength {
		return w.openUndefined(top, h, off)
	}
	if err := w.checkLength(top, h, off); err != nil {
		return err
	}
	if h.vr == "SQ" {
		end := w.sr.off + int64(h.length)
		return w.openSequence(frame{kind: frameSequence, enc: top.enc, tag: h.tag, start: off, end: end, bound: end})
	}
	if len(w.stack) == 1 {
		if slot := indexSlot(h.tag); slot >= 0 && !w.raw[slot].present {
			if h.length > maxIndexValue {
				return &LimitError{What: "index attribute " + h.tag.String() + " longer than 64 KiB"}
			}
			v, err := w.sr.readValue(int(h.length))
			if err != nil {
				return w.ioErr(off, h.tag, err)
			}
			vr := h.vr
			if vr == "UN" || vr == "" {
				vr = DictionaryVR(h.tag)
			}
			w.raw[slot] = rawValue{present: true, vr: vr, bigEndian: top.enc.bigEndian, b: v}
			return nil
		}
	}
	return w.skip(off, h)
}

// openUndefined opens the container of an element with undefined length.
func (w *walker) openUndefined(top *frame, h header, off int64) error {
	if h.tag == TagPixelData && (h.vr == "OB" || h.vr == "OW" || h.vr == "UN" || !top.enc.explicit) {
		return w.openSequence(frame{kind: frameFragments, enc: top.enc, tag: h.tag, start: off, end: -1, bound: top.bound})
	}
	switch {
	case h.vr == "SQ":
		return w.openSequence(frame{kind: frameSequence, enc: top.enc, tag: h.tag, start: off, end: -1, bound: top.bound})
	case h.vr == "UN":
		// PS3.5 §6.2.2: a UN element of undefined length holds a sequence
		// encoded in Implicit VR Little Endian. In Implicit VR this is a
		// private or unknown tag read the same way.
		return w.openSequence(frame{kind: frameSequence, enc: implicitLE, tag: h.tag, start: off, end: -1, bound: top.bound})
	}
	return w.formatErr(off, h.tag, "undefined length on a "+h.vr+" element")
}

func (w *walker) openSequence(f frame) error {
	if w.depth+1 > w.maxDepth {
		return depthError(w.maxDepth)
	}
	w.depth++
	w.push(f)
	return nil
}

func (w *walker) push(f frame) { w.stack = append(w.stack, f) }

func (w *walker) pop() {
	if k := w.stack[len(w.stack)-1].kind; k == frameSequence || k == frameFragments {
		w.depth--
	}
	w.stack = w.stack[:len(w.stack)-1]
}

// checkLength validates a defined length against the enclosing bound and
// MaxElementLength.
func (w *walker) checkLength(top *frame, h header, off int64) error {
	if top.bound >= 0 && int64(h.length) > top.bound-w.sr.off {
		return w.formatErr(off, h.tag, "length "+strconv.FormatUint(uint64(h.length), 10)+" runs past the end of its container")
	}
	if h.length > w.maxLen {
		return &LimitError{What: "element " + h.tag.String() + " length " + strconv.FormatUint(uint64(h.length), 10) + " > " + strconv.FormatUint(uint64(w.maxLen), 10)}
	}
	return nil
}

func (w *walker) skip(off int64, h header) error {
	if err := w.sr.skip(int64(h.length)); err != nil {
		return w.ioErr(off, h.tag, err)
	}
	return nil
}

// summary decodes the collected index values.
func (w *walker) summary() *Summary {
	s := &Summary{Attrs: make(map[Tag]string, len(indexSlots))}
	if rv := w.raw[0]; rv.present { // SpecificCharacterSet
		s.SpecificCharacterSet = trimValue(string(rv.b), "CS")
	}
	for i, rv := range w.raw {
		if !rv.present {
			continue
		}
		v, err := formatValue(rv.b, rv.vr, rv.bigEndian, s.SpecificCharacterSet)
		if err != nil {
			if errors.Is(err, errValueLength) {
				s.Warnings = append(s.Warnings, &FormatError{Tag: indexSlots[i], Msg: err.Error()})
				continue
			}
			if !containsErr(s.Warnings, err) {
				s.Warnings = append(s.Warnings, err)
			}
		}
		s.Attrs[indexSlots[i]] = v
	}
	s.SOPClassUID = s.Attrs[TagSOPClassUID]
	s.SOPInstanceUID = s.Attrs[TagSOPInstanceUID]
	s.StudyInstanceUID = s.Attrs[TagStudyInstanceUID]
	s.SeriesInstanceUID = s.Attrs[TagSeriesInstanceUID]
	s.PatientID = s.Attrs[TagPatientID]
	return s
}

func containsErr(errs []error, err error) bool {
	for _, e := range errs {
		if e.Error() == err.Error() {
			return true
		}
	}
	return false
}

// indexSlots is IndexTags; indexSlot(t) is t's position in it (0 is
// SpecificCharacterSet).
var indexSlots = [...]Tag{
	TagSpecificCharacterSet, TagSOPClassUID, TagSOPInstanceUID, TagStudyDate, TagSeriesDate,
	TagContentDate, TagStudyTime, TagSeriesTime, TagContentTime, TagAccessionNumber, TagModality,
	TagManufacturer, TagInstitutionName, TagReferringPhysicianName, TagTimezoneOffsetFromUTC,
	TagStationName, TagStudyDescription, TagSeriesDescription, TagNameOfPhysiciansReadingStudy,
	TagPatientName, TagPatientID, TagIssuerOfPatientID, TagPatientBirthDate, TagPatientBirthTime,
	TagPatientSex, TagOtherPatientIDs, TagPatientAge, TagPatientSize, TagPatientWeight,
	TagBodyPartExamined, TagProtocolName, TagStudyInstanceUID, TagSeriesInstanceUID, TagStudyID,
	TagSeriesNumber, TagInstanceNumber, TagNumberOfFrames, TagRows, TagColumns,
	TagPerformedProcedureStepStartDate,
}

func indexSlot(t Tag) int {
	if t>>16 > 0x0040 { // every index tag is in groups 0008-0040
		return -1
	}
	for i, it := range indexSlots {
		if it == t {
			return i
		}
		if it > t {
			return -1
		}
	}
	return -1
}

// internVR returns the VR spelled by the two bytes as a constant string, or
// "" when it is not a VR of PS3.5 Table 6.2-1.
func internVR(a, b byte) string {
	for _, vr := range allVRs {
		if vr[0] == a && vr[1] == b {
			return vr
		}
	}
	return ""
}

var allVRs = [...]string{"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS",
	"ST", "TM", "UI", "UL", "US", "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
