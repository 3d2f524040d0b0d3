package audit

import (
	"fmt"
	"unicode/utf8"
)

// MaxLogField is the longest string EscapeForLog returns, in bytes.
const MaxLogField = 128

// EscapeForLog makes a peer-supplied string (AE title, UID, status text)
// safe to put in an operational log line, whatever the log's format: the
// result is valid UTF-8, at most MaxLogField bytes, and holds no character
// that could end a line, forge another entry or drive a terminal.
//
//   - bytes 0x00–0x1F and 0x7F (CR, LF, NUL, ESC of ANSI sequences...) and
//     bytes that are not valid UTF-8 become \xNN (two lower-case hex digits);
//   - C1 controls (U+0080–U+009F), the line and paragraph separators
//     (U+2028, U+2029), bidirectional controls (U+061C, U+200E, U+200F,
//     U+202A–U+202E, U+2066–U+2069) and U+FEFF become \uNNNN;
//   - a backslash becomes \\, so the escaping can be undone unambiguously;
//   - a longer result is cut at an escape or character boundary and ends
//     in "…".
//
// It never panics and does not allocate for strings that need nothing.
// It is no substitute for keeping patient data out of the operational
// log: escape only what may be logged.
func EscapeForLog(s string) string {
	if len(s) <= MaxLogField && !needsEscape(s) {
		return s
	}
	out := make([]byte, 0, min(len(s)+8, MaxLogField))
	limit := MaxLogField - len(ellipsis)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size <= 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			piece = fmt.Sprintf(`\x%02x`, r)
		case r == '\\':
			piece = `\\`
		case escapeRune(r):
			piece = fmt.Sprintf(`\u%04x`, r)
		default:
			piece = s[i : i+size]
		}
		// Cut when the rest cannot fit: the final piece may use the
		// ellipsis' room only if it is the very last.
		if len(out)+len(piece) > limit && !(i+size == len(s) && len(out)+len(piece) <= MaxLogField) {
			return string(append(out, ellipsis...))
		}
		out = append(out, piece...)
		i += size
	}
	return string(out)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || escapeRune(r) {
			return true
		}
		i += size
	}
	return false
}

// escapeRune reports the non-ASCII characters EscapeForLog writes as \uNNNN.
func escapeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f, // C1 controls (NEL, CSI...)
		r == 0x2028, r == 0x2029, // line and paragraph separators
		r == 0x061c, r == 0x200e, r == 0x200f, // bidi marks
		r >= 0x202a && r <= 0x202e, // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0xfeff:                // byte order mark
		return true
	}
	return false
}
