package dcm

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
)

var errValueLength = errors.New("value length is not a multiple of the VR's size")

// binarySize returns the size of one value of a binary number VR (PS3.5
// Table 6.2-1), or 0 when vr is not one.
func binarySize(vr string) int {
	switch vr {
	case "US", "SS":
		return 2
	case "UL", "SL", "FL", "AT":
		return 4
	case "FD", "SV", "UV":
		return 8
	}
	return 0
}

// isBytesVR reports whether vr holds opaque bytes (PS3.5 Table 6.2-1).
func isBytesVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "UN":
		return true
	}
	return false
}

// formatBinary renders the values of a binary number VR as decimal strings
// (AT as 8 upper-case hex digits, "GGGGEEEE", as in PS3.18 F.2.7) joined by
// '\'.
func formatBinary(raw []byte, vr string, bigEndian bool) (string, error) {
	size := binarySize(vr)
	if len(raw)%size != 0 {
		return "", errValueLength
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	var sb strings.Builder
	for i := 0; i < len(raw); i += size {
		if i > 0 {
			sb.WriteByte('\\')
		}
		v := raw[i : i+size]
		switch vr {
		case "US":
			sb.WriteString(strconv.FormatUint(uint64(bo.Uint16(v)), 10))
		case "SS":
			sb.WriteString(strconv.FormatInt(int64(int16(bo.Uint16(v))), 10))
		case "UL":
			sb.WriteString(strconv.FormatUint(uint64(bo.Uint32(v)), 10))
		case "SL":
			sb.WriteString(strconv.FormatInt(int64(int32(bo.Uint32(v))), 10))
		case "UV":
			sb.WriteString(strconv.FormatUint(bo.Uint64(v), 10))
		case "SV":
			sb.WriteString(strconv.FormatInt(int64(bo.Uint64(v)), 10))
		case "FL":
			sb.WriteString(strconv.FormatFloat(float64(math.Float32frombits(bo.Uint32(v))), 'g', -1, 32))
		case "FD":
			sb.WriteString(strconv.FormatFloat(math.Float64frombits(bo.Uint64(v)), 'g', -1, 64))
		case "AT":
			t := uint32(bo.Uint16(v))<<16 | uint32(bo.Uint16(v[2:]))
			s := strconv.FormatUint(uint64(t)|1<<32, 16)[1:]
			sb.WriteString(strings.ToUpper(s))
		}
	}
	return sb.String(), nil
}

// appendBinary parses the '\'-separated decimal strings of s (hex for AT)
// and appends their binary encoding.
func appendBinary(dst []byte, s string, vr string, bigEndian bool) ([]byte, error) {
	if s == "" {
		return dst, nil
	}
	var bo binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	for _, f := range strings.Split(s, `\`) {
		f = strings.TrimSpace(f)
		var err error
		switch vr {
		case "US", "UL", "UV":
			var u uint64
			u, err = strconv.ParseUint(f, 10, binarySize(vr)*8)
			switch vr {
			case "US":
				dst = bo.AppendUint16(dst, uint16(u))
			case "UL":
				dst = bo.AppendUint32(dst, uint32(u))
			default:
				dst = bo.AppendUint64(dst, u)
			}
		case "SS", "SL", "SV":
			var n int64
			n, err = strconv.ParseInt(f, 10, binarySize(vr)*8)
			switch vr {
			case "SS":
				dst = bo.AppendUint16(dst, uint16(n))
			case "SL":
				dst = bo.AppendUint32(dst, uint32(n))
			default:
				dst = bo.AppendUint64(dst, uint64(n))
			}
		case "FL":
			var x float64
			x, err = strconv.ParseFloat(f, 32)
			dst = bo.AppendUint32(dst, math.Float32bits(float32(x)))
		case "FD":
			var x float64
			x, err = strconv.ParseFloat(f, 64)
			dst = bo.AppendUint64(dst, math.Float64bits(x))
		case "AT":
			var u uint64
			u, err = strconv.ParseUint(f, 16, 32)
			dst = bo.AppendUint16(dst, uint16(u>>16))
			dst = bo.AppendUint16(dst, uint16(u))
		}
		if err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// trimValue removes the padding and insignificant spaces of a decoded
// string value (PS3.5 §6.2): for LT, ST, UT and UR trailing spaces only
// (leading spaces are significant, the value is never split); for UI
// trailing NULs; for every other string VR leading and trailing spaces of
// each '\'-separated value. Trailing NULs, a common padding mistake, are
// removed for all VRs.
func trimValue(s string, vr string) string {
	switch vr {
	case "LT", "ST", "UT", "UR":
		return strings.TrimRight(s, " \x00")
	}
	if !strings.Contains(s, `\`) {
		return trimOne(s, vr)
	}
	parts := strings.Split(s, `\`)
	for i, p := range parts {
		parts[i] = trimOne(p, vr)
	}
	return strings.Join(parts, `\`)
}

// trimOne trims one value; for PN it also drops empty trailing components
// and component groups with their delimiters (PS3.5 §6.2.1.1), so that
// "Doe^John^^=" and "Doe^John" index alike.
func trimOne(s string, vr string) string {
	s = strings.Trim(s, " \x00")
	if vr != "PN" || (!strings.HasSuffix(s, "^") && !strings.HasSuffix(s, "=") && !strings.Contains(s, "^=")) {
		return s
	}
	groups := strings.Split(s, "=")
	for i, g := range groups {
		groups[i] = strings.TrimRight(g, "^ ")
	}
	for len(groups) > 0 && groups[len(groups)-1] == "" {
		groups = groups[:len(groups)-1]
	}
	return strings.Join(groups, "=")
}

// formatValue converts the raw bytes of a string or binary-number value to
// its UTF-8 string form: text decoded per specificCharacterSet and trimmed,
// numbers rendered in decimal. Opaque-byte VRs give "".
func formatValue(raw []byte, vr string, bigEndian bool, specificCharacterSet string) (string, error) {
	if binarySize(vr) > 0 {
		return formatBinary(raw, vr, bigEndian)
	}
	if isBytesVR(vr) || vr == "SQ" {
		return "", nil
	}
	s, err := DecodeText(raw, specificCharacterSet, vr)
	return trimValue(s, vr), err
}
