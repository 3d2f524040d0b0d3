package dcm

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// csKind says how a character set is decoded.
type csKind uint8

const (
	csASCII    csKind = iota // default repertoire (ISO-IR 6); stray high bytes read as ISO 8859-1
	csSingle                 // ISO 8859 part or TIS 620: G0 ASCII, G1 from a charmap
	csKatakana               // JIS X 0201: G0 romaji (read as ASCII), G1 half-width katakana
	csUTF8                   // ISO_IR 192
	csGB18030                // GB18030 (no code extensions)
	csGBK                    // GBK (no code extensions)
	csJIS0208                // ISO 2022 IR 87, a G0 multi-byte set
	csJIS0212                // ISO 2022 IR 159, a G0 multi-byte set
	csKSX1001                // ISO 2022 IR 149, a G1 multi-byte set
	csGB2312                 // ISO 2022 IR 58, a G1 multi-byte set
)

// charset is one defined term of Specific Character Set (PS3.3 C.12.1.1.2).
type charset struct {
	kind csKind
	cm   *charmap.Charmap // csSingle only
}

// charsets maps the defined terms of PS3.3 Tables C.12-2 to C.12-5, after
// normalizeTerm, to their decoding. The "ISO 2022 ..." forms are the code
// extension forms (PS3.5 §6.1.2.5).
var charsets = map[string]charset{
	"":                {kind: csASCII},
	"ISO IR 6":        {kind: csASCII},
	"ISO 2022 IR 6":   {kind: csASCII},
	"ISO IR 100":      {csSingle, charmap.ISO8859_1},
	"ISO 2022 IR 100": {csSingle, charmap.ISO8859_1},
	"ISO IR 101":      {csSingle, charmap.ISO8859_2},
	"ISO 2022 IR 101": {csSingle, charmap.ISO8859_2},
	"ISO IR 109":      {csSingle, charmap.ISO8859_3},
	"ISO 2022 IR 109": {csSingle, charmap.ISO8859_3},
	"ISO IR 110":      {csSingle, charmap.ISO8859_4},
	"ISO 2022 IR 110": {csSingle, charmap.ISO8859_4},
	"ISO IR 144":      {csSingle, charmap.ISO8859_5},
	"ISO 2022 IR 144": {csSingle, charmap.ISO8859_5},
	"ISO IR 127":      {csSingle, charmap.ISO8859_6},
	"ISO 2022 IR 127": {csSingle, charmap.ISO8859_6},
	"ISO IR 126":      {csSingle, charmap.ISO8859_7},
	"ISO 2022 IR 126": {csSingle, charmap.ISO8859_7},
	"ISO IR 138":      {csSingle, charmap.ISO8859_8},
	"ISO 2022 IR 138": {csSingle, charmap.ISO8859_8},
	"ISO IR 148":      {csSingle, charmap.ISO8859_9},
	"ISO 2022 IR 148": {csSingle, charmap.ISO8859_9},
	"ISO IR 203":      {csSingle, charmap.ISO8859_15},
	"ISO 2022 IR 203": {csSingle, charmap.ISO8859_15},
	// TIS 620-2533; Windows-874 is a superset that only adds 0x80-0x9F.
	"ISO IR 166":      {csSingle, charmap.Windows874},
	"ISO 2022 IR 166": {csSingle, charmap.Windows874},
	"ISO IR 13":       {kind: csKatakana},
	"ISO 2022 IR 13":  {kind: csKatakana},
	"ISO IR 192":      {kind: csUTF8},
	"GB18030":         {kind: csGB18030},
	"GBK":             {kind: csGBK},
	"ISO 2022 IR 87":  {kind: csJIS0208},
	"ISO 2022 IR 159": {kind: csJIS0212},
	"ISO 2022 IR 149": {kind: csKSX1001},
	"ISO 2022 IR 58":  {kind: csGB2312},
}

// normalizeTerm maps common misspellings of a defined term ("ISO_IR100",
// "iso-ir 100", "ISO_2022_IR_87") to the spelling used as key of charsets:
// upper case, '_' and '-' as spaces, single spaces, and a space between
// "IR" and its number.
func normalizeTerm(s string) string {
	s = strings.TrimSpace(s)
	if s == "ISO_IR 100" || s == "ISO_IR 192" || s == "" { // the common cases, without allocating
		return strings.Replace(s, "_", " ", 1)
	}
	s = strings.ToUpper(s)
	s = strings.NewReplacer("_", " ", "-", " ").Replace(s)
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, "IR"); i >= 0 && i+2 < len(s) && s[i+2] >= '0' && s[i+2] <= '9' {
		s = s[:i+2] + " " + s[i+2:]
	}
	return s
}

// textVR reports whether values of vr are encoded in the Specific Character
// Set (PS3.5 §6.1.2.3: SH, LO, UC, ST, LT, UT, PN); all other string VRs use
// the default repertoire. An empty vr counts as a text VR.
func textVR(vr string) bool {
	switch vr {
	case "SH", "LO", "UC", "ST", "LT", "UT", "PN", "":
		return true
	}
	return false
}

// DecodeText decodes a string value to UTF-8 according to the Specific
// Character Set value specificCharacterSet (the raw (0008,0005) value, its
// terms separated by '\', PS3.3 C.12.1.1.2) and the value's VR. Padding is
// not removed. The result is always valid UTF-8.
//
// Supported: the default repertoire (ISO_IR 6), ISO_IR 100, 101, 109, 110,
// 144, 127, 126, 138, 148, 203, 166, 13, ISO_IR 192 (UTF-8), GB18030 and GBK,
// and the code extension forms "ISO 2022 IR 6/100/101/109/110/144/127/126/
// 138/148/203/166/13/87/159/149/58", whose escape sequences may switch G0
// and G1 anywhere in a value (PS3.5 §6.1.2.5). After a delimiter the
// initial code elements are active again (PS3.5 §6.1.2.5.3): for PN at '^',
// '=' and '\', for other VRs at '\', CR, LF, FF and TAB.
//
// Only SH, LO, UC, ST, LT, UT and PN (and an empty vr) use the Specific
// Character Set (PS3.5 §6.1.2.3); other VRs are read as the default
// repertoire. Outside its character set a byte never makes DecodeText
// fail: bytes above 0x7F where no G1 set is active are read as ISO 8859-1,
// invalid sequences become U+FFFD. When a term is not known the value is
// decoded as ISO_IR 100 (ISO 8859-1, the most common repertoire) and the
// error is a *CharsetError, a warning the caller may ignore or record.
func DecodeText(value []byte, specificCharacterSet string, vr string) (string, error) {
	plain := true
	for _, b := range value {
		if b >= 0x80 || b == 0x1B {
			plain = false
			break
		}
	}
	if plain {
		return string(value), nil
	}
	if !textVR(vr) {
		return decodeLatin1(value), nil
	}
	terms := specificCharacterSet
	first, rest, multi := strings.Cut(terms, `\`)
	cs, known := charsets[normalizeTerm(first)]
	var warn error
	if !known {
		warn = &CharsetError{Charset: strings.TrimSpace(first)}
		cs = charset{csSingle, charmap.ISO8859_1}
	}
	if multi || strings.HasPrefix(normalizeTerm(first), "ISO 2022") || cs.kind >= csJIS0208 {
		s, err := decodeISO2022(value, cs, rest, vr)
		if warn == nil {
			warn = err
		}
		return s, warn
	}
	return decodeSingle(value, cs), warn
}

// decodeSingle decodes value in one character set without code extensions.
func decodeSingle(value []byte, cs charset) string {
	switch cs.kind {
	case csUTF8:
		if utf8.Valid(value) {
			return string(value)
		}
		return strings.ToValidUTF8(string(value), "\uFFFD")
	case csGB18030:
		return decodeMulti(simplifiedchinese.GB18030, value)
	case csGBK:
		return decodeMulti(simplifiedchinese.GBK, value)
	}
	var sb strings.Builder
	sb.Grow(len(value) + len(value)/2)
	for _, b := range value {
		writeG1(&sb, b, cs)
	}
	return sb.String()
}

// writeG1 writes byte b read with cs as the single-byte set in G1 (and
// ASCII in G0).
func writeG1(sb *strings.Builder, b byte, cs charset) {
	switch {
	case b < 0x80:
		sb.WriteByte(b)
	case cs.kind == csSingle:
		sb.WriteRune(cs.cm.DecodeByte(b))
	case cs.kind == csKatakana:
		if b >= 0xA1 && b <= 0xDF {
			sb.WriteRune(0xFF61 + rune(b-0xA1))
		} else {
			sb.WriteRune(utf8.RuneError)
		}
	default: // no G1 set: ISO 8859-1
		sb.WriteRune(rune(b))
	}
}

// decodeLatin1 reads value as ISO 8859-1.
func decodeLatin1(value []byte) string {
	var sb strings.Builder
	sb.Grow(len(value) * 2)
	for _, b := range value {
		sb.WriteRune(rune(b))
	}
	return sb.String()
}

// decodeMulti decodes value with a multi-byte encoding from x/text, which
// replaces invalid sequences with U+FFFD.
func decodeMulti(enc encoding.Encoding, value []byte) string {
	out, err := enc.NewDecoder().Bytes(value)
	if err != nil {
		return strings.ToValidUTF8(decodeLatin1(value), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// Multi-byte decoders for the ISO 2022 code elements.
var (
	encEUCJP = japanese.EUCJP
	encEUCKR = korean.EUCKR
	encGBK   = simplifiedchinese.GBK
)
