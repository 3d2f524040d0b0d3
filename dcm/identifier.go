package dcm

import (
	"encoding/binary"
	"errors"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Element is one attribute of a C-FIND identifier (PS3.4 C.4.1.1.3).
//
// Value is the UTF-8 string form: text decoded per Specific Character Set
// and trimmed (PS3.5 §6.2), numbers of binary VRs (US, UL, SS, SL, FL, FD,
// SV, UV) in decimal, AT as "GGGGEEEE" hex, multiple values joined by '\'.
// An empty Value is a zero-length attribute: in a C-FIND request, "return
// this key" (universal matching, PS3.4 C.2.2.2.3), so no separate "empty"
// flag is needed. Bytes holds the value of OB, OD, OF, OL, OV, OW and UN
// elements, in little-endian byte order. Items holds the items of an SQ
// element: nil or empty means a zero-length sequence, one item with no
// elements is an empty item.
type Element struct {
	Tag   Tag
	VR    string // "" in EncodeIdentifier means: from the data dictionary
	Value string
	Bytes []byte
	Items [][]Element
}

// maxIdentifierSize caps DecodeIdentifier's input when lim.MaxDataSetSize
// is 0: identifiers are small; 16 MiB is far above any real one.
const maxIdentifierSize = 16 << 20

// DecodeIdentifier decodes a C-FIND (or C-MOVE / C-GET) identifier, a
// complete small data set (PS3.4 C.4.1.1.3) in the uncompressed transfer
// syntax transferSyntaxUID (Implicit VR LE, Explicit VR LE or BE; the
// deflated syntax is refused with an error matching ErrTransferSyntax).
// Elements come back in the order encoded; values as described on Element,
// decoded with the Specific Character Set of their data set (an item's own
// (0008,0005), else its parent's; unknown terms are read as ISO_IR 100
// without error). UN elements of tags the dictionary knows are converted to
// the dictionary VR. Sequences are decoded with their items, nested at most
// lim.MaxDepth deep. The input is capped at lim.MaxDataSetSize (0: 16 MiB).
// Errors are *FormatError or *LimitError, as for Scan.
func DecodeIdentifier(b []byte, transferSyntaxUID string, lim Limits) ([]Element, error) {
	enc, err := encodingOf(transferSyntaxUID)
	if err != nil {
		return nil, err
	}
	if enc.deflated {
		return nil, errors.New("dcm: deflated identifiers are not supported: " + ErrTransferSyntax.Error())
	}
	max := lim.MaxDataSetSize
	if max == 0 {
		max = maxIdentifierSize
	}
	if max > 0 && int64(len(b)) > max {
		return nil, &LimitError{What: "identifier size " + strconv.Itoa(len(b)) + " > " + strconv.FormatInt(max, 10)}
	}
	d := idDecoder{buf: b, maxDepth: lim.maxDepth(), maxLen: lim.maxElementLength()}
	elems, err := d.dataSet(len(b), enc, false, 0, "")
	if err != nil {
		return nil, err
	}
	return elems, nil
}

// idDecoder decodes an identifier held in memory.
type idDecoder struct {
	buf      []byte
	pos      int
	maxDepth int
	maxLen   uint32
}

func (d *idDecoder) fail(off int, t Tag, msg string) error {
	return &FormatError{Offset: int64(off), Tag: t, Msg: msg}
}

// rawElem is an element before its value is converted.
type rawElem struct {
	tag   Tag
	vr    string
	value []byte
	items [][]rawElem
}

// dataSet decodes the elements from d.pos to end (for an item of undefined
// length: up to its delimiter, which it consumes) and converts them with
// their Specific Character Set (inherited: parentCS).
func (d *idDecoder) dataSet(end int, enc dsEncoding, undefinedItem bool, depth int, parentCS string) ([]Element, error) {
	raws, err := d.rawDataSet(end, enc, undefinedItem, depth)
	if err != nil {
		return nil, err
	}
	return convert(raws, enc, parentCS)
}

func (d *idDecoder) rawDataSet(end int, enc dsEncoding, undefinedItem bool, depth int) ([]rawElem, error) {
	var out []rawElem
	for {
		if d.pos == end {
			if undefinedItem {
				return nil, d.fail(d.pos, 0, "item without delimiter")
			}
			return out, nil
		}
		off := d.pos
		t, vr, length, err := d.header(end, enc)
		if err != nil {
			return nil, err
		}
		switch t {
		case TagItemDelimitationItem:
			if !undefinedItem || length != 0 {
				return nil, d.fail(off, t, "unexpected item delimiter")
			}
			return out, nil
		case TagItem, TagSequenceDelimitationItem:
			return nil, d.fail(off, t, "item or sequence delimiter outside a sequence")
		}
		if t.Group() == 0xFFFE {
			return nil, d.fail(off, t, "unknown item or delimitation tag")
		}
		e := rawElem{tag: t, vr: vr}
		if length == undefinedLength || vr == "SQ" {
			if vr != "SQ" && vr != "UN" {
				return nil, d.fail(off, t, "undefined length on a "+vr+" element")
			}
			if depth+1 > d.maxDepth {
				return nil, depthError(d.maxDepth)
			}
			senc := enc
			if vr == "UN" {
				senc = implicitLE
			}
			e.vr = "SQ"
			e.items, err = d.sequence(end, length, senc, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
			continue
		}
		if length > d.maxLen {
			return nil, &LimitError{What: "element " + t.String() + " length " + strconv.FormatUint(uint64(length), 10)}
		}
		if int64(length) > int64(end-d.pos) {
			return nil, d.fail(off, t, "length runs past the end of its container")
		}
		e.value = d.buf[d.pos : d.pos+int(length)]
		d.pos += int(length)
		out = append(out, e)
	}
}

// sequence decodes the items of a sequence of the given length
// (undefinedLength: up to its delimiter) within end.
func (d *idDecoder) sequence(end int, length uint32, enc dsEncoding, depth int) ([][]rawElem, error) {
	send := end
	if length != undefinedLength {
		if int64(length) > int64(end-d.pos) {
			return nil, d.fail(d.pos, 0, "sequence length runs past the end of its container")
		}
		send = d.pos + int(length)
	}
	var items [][]rawElem
	for {
		if length != undefinedLength && d.pos == send {
			return items, nil
		}
		off := d.pos
		t, _, ilen, err := d.header(send, enc)
		if err != nil {
			return nil, err
		}
		switch {
		case t == TagSequenceDelimitationItem && length == undefinedLength && ilen == 0:
			return items, nil
		case t != TagItem:
			return nil, d.fail(off, t, "expected an item in a sequence")
		}
		var item []rawElem
		if ilen == undefinedLength {
			item, err = d.rawDataSet(send, enc, true, depth)
		} else {
			if int64(ilen) > int64(send-d.pos) {
				return nil, d.fail(off, t, "item length runs past the end of its sequence")
			}
			item, err = d.rawDataSet(d.pos+int(ilen), enc, false, depth)
		}
		if err != nil {
			return nil, err
		}
		if item == nil {
			item = []rawElem{}
		}
		items = append(items, item)
	}
}

// header decodes an element header at d.pos (not past end).
func (d *idDecoder) header(end int, enc dsEncoding) (Tag, string, uint32, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if enc.bigEndian {
		bo = binary.BigEndian
	}
	off := d.pos
	if end-off < 8 {
		return 0, "", 0, d.fail(off, 0, "truncated element header")
	}
	b := d.buf[off:end]
	t := Tag(uint32(bo.Uint16(b))<<16 | uint32(bo.Uint16(b[2:])))
	if t.Group() == 0xFFFE || !enc.explicit {
		d.pos += 8
		return t, DictionaryVR(t), bo.Uint32(b[4:]), nil
	}
	vr := internVR(b[4], b[5])
	if vr == "" {
		return 0, "", 0, d.fail(off, t, "invalid VR")
	}
	if !longVR(vr) {
		d.pos += 8
		return t, vr, uint32(bo.Uint16(b[6:])), nil
	}
	if end-off < 12 {
		return 0, "", 0, d.fail(off, t, "truncated element header")
	}
	d.pos += 12
	return t, vr, bo.Uint32(b[8:]), nil
}

// convert turns raw elements into Elements, decoding text with the data
// set's own Specific Character Set or parentCS.
func convert(raws []rawElem, enc dsEncoding, parentCS string) ([]Element, error) {
	cs := parentCS
	for _, r := range raws {
		if r.tag == TagSpecificCharacterSet {
			cs = string(r.value)
		}
	}
	out := make([]Element, 0, len(raws))
	for _, r := range raws {
		e := Element{Tag: r.tag, VR: r.vr}
		if e.VR == "UN" {
			if dv := DictionaryVR(r.tag); dv != "UN" && dv != "" {
				e.VR = dv // PS3.5 §6.2.2: the value is as in Implicit VR Little Endian
			}
		}
		bigEndian := enc.bigEndian && r.vr != "UN"
		switch {
		case e.VR == "SQ":
			e.Items = make([][]Element, 0, len(r.items))
			for _, it := range r.items {
				ce, err := convert(it, enc, cs)
				if err != nil {
					return nil, err
				}
				e.Items = append(e.Items, ce)
			}
		case isBytesVR(e.VR):
			e.Bytes = append([]byte(nil), r.value...)
			if bigEndian {
				swapBytes(e.Bytes, e.VR)
			}
		default:
			v, err := formatValue(r.value, e.VR, bigEndian, cs)
			if errors.Is(err, errValueLength) {
				return nil, &FormatError{Tag: r.tag, Msg: err.Error()}
			}
			e.Value = v // a charset warning does not fail the identifier
		}
		out = append(out, e)
	}
	return out, nil
}

// swapBytes converts the words of an OW, OL, OF, OD or OV value between
// little- and big-endian in place.
func swapBytes(b []byte, vr string) {
	size := map[string]int{"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}[vr]
	if size == 0 {
		return
	}
	for i := 0; i+size <= len(b); i += size {
		for j, k := i, i+size-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}

// EncodeIdentifier encodes elems as a data set in the uncompressed transfer
// syntax transferSyntaxUID (PS3.4 C.4.1.1.3), elements sorted by tag (items'
// elements too). When any value is not ASCII, (0008,0005) is written as
// "ISO_IR 192" (UTF-8), replacing a given one, and items' own (0008,0005)
// are dropped; otherwise a given (0008,0005) is kept. Values are padded to
// even length per VR (UI with NUL, OB/UN with 0x00, text with a space);
// numbers of binary VRs are parsed from their decimal (AT: hex) strings;
// sequences and items are written with undefined length and delimiters.
// An empty VR is taken from the data dictionary. Errors: duplicate tags,
// unparsable numbers, invalid UTF-8, values too long for their VR's length
// field, and item or delimiter tags as elements.
func EncodeIdentifier(elems []Element, transferSyntaxUID string) ([]byte, error) {
	enc, err := encodingOf(transferSyntaxUID)
	if err != nil {
		return nil, err
	}
	if enc.deflated {
		return nil, errors.New("dcm: deflated identifiers are not supported: " + ErrTransferSyntax.Error())
	}
	utf := !allASCII(elems)
	if utf {
		out := make([]Element, 0, len(elems)+1)
		for _, e := range elems {
			if e.Tag != TagSpecificCharacterSet {
				out = append(out, e)
			}
		}
		elems = append(out, Element{Tag: TagSpecificCharacterSet, VR: "CS", Value: "ISO_IR 192"})
	}
	return appendDataSet(nil, elems, enc, utf, true)
}

func allASCII(elems []Element) bool {
	for _, e := range elems {
		if !isASCII(e.Value) {
			return false
		}
		for _, it := range e.Items {
			if !allASCII(it) {
				return false
			}
		}
	}
	return true
}

func appendDataSet(dst []byte, elems []Element, enc dsEncoding, dropCS, top bool) ([]byte, error) {
	sorted := make([]Element, 0, len(elems))
	for _, e := range elems {
		if dropCS && !top && e.Tag == TagSpecificCharacterSet {
			continue
		}
		sorted = append(sorted, e)
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Tag < sorted[j].Tag })
	var err error
	for i, e := range sorted {
		if i > 0 && sorted[i-1].Tag == e.Tag {
			return nil, errors.New("dcm: duplicate element " + e.Tag.String() + " in identifier")
		}
		if dst, err = appendElement(dst, e, enc, dropCS); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func appendElement(dst []byte, e Element, enc dsEncoding, dropCS bool) ([]byte, error) {
	if e.Tag.Group() == 0xFFFE || e.Tag.Group() == 0x0002 {
		return nil, errors.New("dcm: element " + e.Tag.String() + " cannot be part of an identifier")
	}
	vr := e.VR
	if vr == "" {
		vr = DictionaryVR(e.Tag)
	}
	if !knownVR(vr) {
		return nil, errors.New("dcm: element " + e.Tag.String() + " has unknown VR " + strconv.Quote(vr))
	}
	if vr == "SQ" {
		dst = appendHeader(dst, e.Tag, vr, undefinedLength, enc)
		for _, it := range e.Items {
			dst = appendHeader(dst, TagItem, "", undefinedLength, enc)
			var err error
			if dst, err = appendDataSet(dst, it, enc, dropCS, false); err != nil {
				return nil, err
			}
			dst = appendHeader(dst, TagItemDelimitationItem, "", 0, enc)
		}
		return appendHeader(dst, TagSequenceDelimitationItem, "", 0, enc), nil
	}
	var v []byte
	switch {
	case binarySize(vr) > 0:
		var err error
		if v, err = appendBinary(nil, e.Value, vr, enc.bigEndian); err != nil {
			return nil, errors.New("dcm: element " + e.Tag.String() + ": bad " + vr + " value: " + err.Error())
		}
	case isBytesVR(vr):
		v = append([]byte(nil), e.Bytes...)
		if enc.bigEndian {
			swapBytes(v, vr)
		}
	default:
		if !utf8.ValidString(e.Value) {
			return nil, errors.New("dcm: element " + e.Tag.String() + ": value is not valid UTF-8")
		}
		v = []byte(e.Value)
	}
	v = padValue(v, vr)
	if enc.explicit && !longVR(vr) && len(v) > 0xFFFF {
		return nil, errors.New("dcm: element " + e.Tag.String() + ": value too long for " + vr)
	}
	dst = appendHeader(dst, e.Tag, vr, uint32(len(v)), enc)
	return append(dst, v...), nil
}

// appendHeader appends an element, item or delimiter header.
func appendHeader(dst []byte, t Tag, vr string, length uint32, enc dsEncoding) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if enc.bigEndian {
		bo = binary.BigEndian
	}
	dst = bo.AppendUint16(dst, t.Group())
	dst = bo.AppendUint16(dst, t.Element())
	if t.Group() == 0xFFFE || !enc.explicit {
		return bo.AppendUint32(dst, length)
	}
	dst = append(dst, vr...)
	if longVR(vr) {
		dst = append(dst, 0, 0)
		return bo.AppendUint32(dst, length)
	}
	return bo.AppendUint16(dst, uint16(length))
}
