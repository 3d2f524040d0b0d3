package dcm

import (
	"strings"
	"unicode/utf8"
)

// iso2022State is the pair of code elements active while decoding a value
// with code extensions (PS3.5 §6.1.2.5): G0 (bytes 0x21-0x7E) and G1
// (bytes 0xA0-0xFF).
type iso2022State struct {
	g0 csKind  // csASCII, csKatakana (JIS X 0201 romaji), csJIS0208 or csJIS0212
	g1 charset // kind csASCII means "no G1 set"
}

// designate returns st with the code element of cs designated, as value 1
// of Specific Character Set does for the initial state.
func (st iso2022State) designate(cs charset) iso2022State {
	switch cs.kind {
	case csJIS0208, csJIS0212:
		st.g0 = cs.kind
	case csKatakana:
		st.g0, st.g1 = csKatakana, cs
	case csASCII:
	default:
		st.g1 = cs
	}
	return st
}

// escapes maps the escape sequences of PS3.3 Tables C.12-3 and C.12-4 (the
// bytes after ESC) to the code element they designate, and whether it goes
// to G0.
var escapes = map[string]struct {
	cs charset
	g0 bool
}{
	"(B":  {charset{kind: csASCII}, true},
	"(J":  {charset{kind: csKatakana}, true}, // JIS X 0201 romaji
	"$B":  {charset{kind: csJIS0208}, true},
	"$@":  {charset{kind: csJIS0208}, true}, // JIS C 6226-1978, read as JIS X 0208
	"$(D": {charset{kind: csJIS0212}, true},
	")I":  {charset{kind: csKatakana}, false},
	"$)C": {charset{kind: csKSX1001}, false},
	"$)A": {charset{kind: csGB2312}, false},
	"-A":  {charsets["ISO IR 100"], false},
	"-B":  {charsets["ISO IR 101"], false},
	"-C":  {charsets["ISO IR 109"], false},
	"-D":  {charsets["ISO IR 110"], false},
	"-L":  {charsets["ISO IR 144"], false},
	"-G":  {charsets["ISO IR 127"], false},
	"-F":  {charsets["ISO IR 126"], false},
	"-H":  {charsets["ISO IR 138"], false},
	"-M":  {charsets["ISO IR 148"], false},
	"-b":  {charsets["ISO IR 203"], false},
	"-T":  {charsets["ISO IR 166"], false},
}

// parseEscape returns the escape sequence starting at v[0] == ESC: its
// length and meaning, or ok false when it is not one DICOM defines.
func parseEscape(v []byte) (n int, cs charset, g0 bool, ok bool) {
	for n = 3; n <= 4 && n <= len(v); n++ {
		if e, found := escapes[string(v[1:n])]; found {
			return n, e.cs, e.g0, true
		}
	}
	return 0, charset{}, false, false
}

// isDelimiter reports whether b ends a component for the purpose of
// resetting the code elements (PS3.5 §6.1.2.5.3).
func isDelimiter(b byte, vr string) bool {
	switch b {
	case '\\', '\r', '\n', '\f', '\t':
		return true
	case '^', '=':
		return vr == "PN"
	}
	return false
}

// decodeISO2022 decodes value with code extensions. first is the charset of
// value 1 of Specific Character Set; rest holds the other values, which
// only declare which escape sequences may occur: any escape DICOM defines
// is honoured. Unknown escapes and invalid bytes become U+FFFD.
func decodeISO2022(value []byte, first charset, rest string, vr string) (string, error) {
	_ = rest
	initial := iso2022State{g0: csASCII}.designate(first)
	st := initial
	var sb strings.Builder
	sb.Grow(len(value) * 2)
	for i := 0; i < len(value); {
		b := value[i]
		switch {
		case b == 0x1B:
			n, cs, g0, ok := parseEscape(value[i:])
			if !ok {
				sb.WriteRune(utf8.RuneError)
				i++
				continue
			}
			if g0 {
				st.g0 = cs.kind
			} else {
				st.g1 = cs
			}
			i += n
		case b < 0x80 && (st.g0 == csJIS0208 || st.g0 == csJIS0212) && b >= 0x21 && b <= 0x7E:
			j := i
			for j < len(value) && value[j] >= 0x21 && value[j] <= 0x7E {
				j++
			}
			decodeJIS(&sb, value[i:j], st.g0 == csJIS0212)
			i = j
		case b < 0x80:
			sb.WriteByte(b)
			if isDelimiter(b, vr) {
				st = initial
			}
			i++
		case st.g1.kind == csKSX1001 || st.g1.kind == csGB2312:
			j := i
			for j < len(value) && value[j] >= 0x80 {
				j++
			}
			if st.g1.kind == csKSX1001 {
				sb.WriteString(decodeMulti(encEUCKR, value[i:j]))
			} else {
				sb.WriteString(decodeMulti(encGBK, value[i:j]))
			}
			i = j
		default:
			writeG1(&sb, b, st.g1)
			i++
		}
	}
	return sb.String(), nil
}

// decodeJIS decodes a run of JIS X 0208 (or 0212) two-byte codes in G0 by
// rewriting them as EUC-JP.
func decodeJIS(sb *strings.Builder, run []byte, x0212 bool) {
	odd := len(run)%2 == 1
	if odd {
		run = run[:len(run)-1]
	}
	per := 2
	if x0212 {
		per = 3
	}
	euc := make([]byte, 0, len(run)/2*per)
	for k := 0; k+1 < len(run); k += 2 {
		if x0212 {
			euc = append(euc, 0x8F)
		}
		euc = append(euc, run[k]|0x80, run[k+1]|0x80)
	}
	sb.WriteString(decodeMulti(encEUCJP, euc))
	if odd {
		sb.WriteRune(utf8.RuneError)
	}
}
