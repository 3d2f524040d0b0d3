package index

import "strings"

// cleanValue is applied to every stored value and every matching value:
// invalid UTF-8 becomes U+FFFD, NUL characters (UI padding) are removed and
// leading and trailing spaces are trimmed (they are not significant for the
// VRs the index matches on, PS3.5 6.2; PS3.4 C.2.2.2).
func cleanValue(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if strings.IndexByte(v, 0) >= 0 {
		v = strings.ReplaceAll(v, "\x00", "")
	}
	return strings.Trim(v, " ")
}

// pnGroups splits a person name into its alphabetic, ideographic and
// phonetic component groups (PS3.5 6.2.1), upper-cased for
// case-insensitive matching. Groups beyond the third are dropped.
func pnGroups(v string) [3]string {
	var g [3]string
	for i, s := range strings.SplitN(strings.ToUpper(v), "=", 4) {
		if i < 3 {
			g[i] = s
		}
	}
	return g
}

// hasWildcard reports whether v holds a wildcard character of PS3.4
// C.2.2.2.4.
func hasWildcard(v string) bool { return strings.ContainsAny(v, "*?") }

// onlyStars reports whether v is non-empty and made only of '*': such a
// value matches everything, like universal matching.
func onlyStars(v string) bool { return v != "" && strings.Trim(v, "*") == "" }

// wildcardVR reports whether the VR allows wildcard matching
// (PS3.4 C.2.2.2.4).
func wildcardVR(vr string) bool {
	switch vr {
	case "AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT":
		return true
	}
	return false
}

// globPattern turns a DICOM wildcard value into an SQLite GLOB pattern: '*'
// and '?' keep their meaning (GLOB '?' is one UTF-8 character, as DICOM's
// '?' is one character), and '[', GLOB's only other special character,
// becomes the one-character class "[[]". No other character is special to
// GLOB, so '%', '_', '\' and quotes are literals.
func globPattern(v string) string { return strings.ReplaceAll(v, "[", "[[]") }

// normTime converts a TM value (PS3.5 6.2: HH, HHMM, HHMMSS or
// HHMMSS.F{1,6}; the ACR-NEMA form with ':' separators is accepted) to
// HHMMSS.FFFFFF, filling missing trailing digits with fill ('0' for a lower
// bound or a stored value, '9' for an upper bound — minutes and seconds are
// then capped to 59). ok is false when v is not a time.
func normTime(v string, upper bool) (string, bool) {
	v = strings.ReplaceAll(v, ":", "")
	hms, frac, hasDot := strings.Cut(v, ".")
	if len(hms) != 2 && len(hms) != 4 && len(hms) != 6 {
		return "", false
	}
	if hasDot && (len(hms) != 6 || len(frac) < 1 || len(frac) > 6) {
		return "", false
	}
	if !allDigits(hms) || !allDigits(frac) {
		return "", false
	}
	if hms[:2] > "23" || (len(hms) >= 4 && hms[2:4] > "59") || (len(hms) == 6 && hms[4:6] > "60") {
		return "", false
	}
	var b strings.Builder
	b.Grow(13)
	b.WriteString(hms)
	for n := len(hms); n < 6; n += 2 {
		if upper {
			b.WriteString("59")
		} else {
			b.WriteString("00")
		}
	}
	b.WriteByte('.')
	b.WriteString(frac)
	fill := "0"
	if upper {
		fill = "9"
	}
	b.WriteString(strings.Repeat(fill, 6-len(frac)))
	return b.String(), true
}

// storedTime is the normalised companion of a stored TM value: "" when it
// is not a time (it then never matches a time range).
func storedTime(v string) string {
	s, _ := normTime(v, false)
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
