package dcm

// ValidUID reports whether s is a valid UID value (PS3.5 §9.1): 1 to 64
// characters, only digits and '.', components separated by single dots
// (no empty component, no leading or trailing dot), and no component of
// more than one digit starting with '0'. Padding must already be removed
// (a trailing NUL makes s invalid). ValidUID is what keeps UIDs safe to use
// as identifiers: it rejects "../../etc/x", "1.2;rm", NUL bytes and letters.
func ValidUID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	start := 0 // index of the first byte of the current component
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			n := i - start
			if n == 0 || (n > 1 && s[start] == '0') {
				return false
			}
			start = i + 1
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
