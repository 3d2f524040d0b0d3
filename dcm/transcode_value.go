package dcm

import (
	"encoding/binary"
	"io"
	"slices"

	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

// byteOrder is the byte order of an encoding.
func byteOrder(e dsEncoding) binary.ByteOrder {
	if e.bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// swapUnit is the size of the units a value of vr is byte-swapped in
// between little and big endian (PS3.5 §7.3), 0 for none. AT is a pair of
// 16-bit numbers (PS3.5 Table 6.2-1).
func swapUnit(vr string) int {
	switch vr {
	case "US", "SS", "OW", "AT":
		return 2
	case "UL", "SL", "FL", "OF", "OL":
		return 4
	case "FD", "SV", "UV", "OD", "OV":
		return 8
	}
	return 0
}

// wordVR is the long "other" VR holding the same binary units as vr, for a
// value too long for vr's 16-bit length that must still be swapped.
func wordVR(unit int, vr string) string {
	switch {
	case unit == 2:
		return "OW"
	case vr == "FL":
		return "OF"
	case vr == "FD":
		return "OD"
	case unit == 4:
		return "OL"
	}
	return "UN"
}

// outVR returns the VR under which h's value is written (ignored when the
// output is implicit) and the unit its value is swapped in between little
// and big endian.
func (t *transcoder) outVR(top *tframe, h header) (string, int) {
	vr := h.vr
	if !top.in.explicit {
		vr = t.implicitVR(h.tag)
	}
	unit := swapUnit(vr)
	if top.out.explicit && !longVR(vr) && h.length > 0xFFFF {
		// PS3.5 §6.2.2: a value too long for a 16-bit length is UN.
		if unit > 0 && top.out.bigEndian {
			return wordVR(unit, vr), unit
		}
		return "UN", unit
	}
	return vr, unit
}

// implicitVR is the VR given to an element read in Implicit VR (PS3.5
// §7.1.3, Annex A.1): the dictionary's, with private creators LO (PS3.5
// §7.8.1), OW for Pixel Data (PS3.5 §8.2) and the other attributes that
// may be "OB or OW" or "US or OW", and for "US
// or SS" SS when Pixel Representation is 1 (signed, PS3.3 C.7.6.3.1).
// Unknown and private attributes are UN.
func (t *transcoder) implicitVR(tag Tag) string {
	if tag.IsPrivate() && tag.Element() >= 0x10 && tag.Element() <= 0xFF {
		return "LO"
	}
	vr := DictionaryVR(tag)
	if tag == TagPixelData {
		return "OW"
	}
	if vr == "UN" || vr == "UL" || tag.IsPrivate() {
		return vr
	}
	if info, err := dtag.Find(dtag.Tag{Group: tag.Group(), Element: tag.Element()}); err == nil && len(info.VRs) > 1 {
		switch {
		case slices.Contains(info.VRs, "OW"):
			return "OW"
		case slices.Contains(info.VRs, "SS") && t.pixelRepresentation == 1:
			return "SS"
		}
	}
	if !knownVR(vr) {
		return "UN"
	}
	return vr
}

// write writes p to the output, or only counts it when measuring. A write
// error is kept and ends the walk.
func (t *transcoder) write(p []byte) {
	if t.werr != nil {
		return
	}
	if t.out != nil {
		if _, err := t.out.Write(p); err != nil {
			t.werr = err
			return
		}
	}
	t.n += int64(len(p))
}

// putElement writes an element header in enc (PS3.5 §7.1.1-7.1.3).
func (t *transcoder) putElement(enc dsEncoding, tag Tag, vr string, length uint32) {
	bo := byteOrder(enc)
	b := t.hdr[:]
	bo.PutUint16(b, tag.Group())
	bo.PutUint16(b[2:], tag.Element())
	switch {
	case !enc.explicit:
		bo.PutUint32(b[4:], length)
		b = b[:8]
	case longVR(vr):
		b[4], b[5], b[6], b[7] = vr[0], vr[1], 0, 0
		bo.PutUint32(b[8:], length)
	default:
		b[4], b[5] = vr[0], vr[1]
		bo.PutUint16(b[6:], uint16(length))
		b = b[:8]
	}
	t.write(b)
}

// putItem writes an item or delimiter header in enc (PS3.5 §7.5).
func (t *transcoder) putItem(enc dsEncoding, tag Tag, length uint32) {
	bo := byteOrder(enc)
	b := t.hdr[:8]
	bo.PutUint16(b, tag.Group())
	bo.PutUint16(b[2:], tag.Element())
	bo.PutUint32(b[4:], length)
	t.write(b)
}

// copyValue copies h's value to the output, swapping it in units of unit
// bytes (0: as it is; a trailing partial unit is copied as it is). When
// measuring it only counts the value and skips it.
func (t *transcoder) copyValue(off int64, h header, unit int) error {
	n := int64(h.length)
	if t.out == nil {
		t.n += n
		return t.skipValue(off, h)
	}
	sr := t.sr
	if unit == 0 {
		// Drain the buffer, then copy straight from the source.
		k := min(int64(sr.end-sr.pos), n)
		t.write(sr.buf[sr.pos : sr.pos+int(k)])
		sr.pos += int(k)
		sr.off += k
		n -= k
		if n == 0 || t.werr != nil {
			return t.werr
		}
		m, err := io.CopyN(t.out, sr.r, n)
		sr.off += m
		t.n += m
		if err == io.EOF {
			sr.eof = true
			err = io.ErrUnexpectedEOF
		} else if err != nil {
			// A write error or a source error: both end the walk.
			sr.err = err
		}
		if err != nil {
			return t.ioErr(off, h.tag, err)
		}
		return nil
	}
	for n > 0 && t.werr == nil {
		k := int(min(n, int64(len(sr.buf))))
		b, err := sr.next(k)
		if err != nil {
			return t.ioErr(off, h.tag, err)
		}
		swap(b, unit)
		t.write(b)
		n -= int64(k)
	}
	return t.werr
}

// skipValue consumes h's value without writing it.
func (t *transcoder) skipValue(off int64, h header) error {
	if err := t.sr.skip(int64(h.length)); err != nil {
		return t.ioErr(off, h.tag, err)
	}
	return nil
}

// swap reverses the bytes of each whole unit of b in place.
func swap(b []byte, unit int) {
	n := len(b) - len(b)%unit
	switch unit {
	case 2:
		for i := 0; i < n; i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i < n; i += 4 {
			binary.LittleEndian.PutUint32(b[i:], binary.BigEndian.Uint32(b[i:]))
		}
	case 8:
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.BigEndian.Uint64(b[i:]))
		}
	}
}
