package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile peer-supplied strings, as AE titles or patient IDs.
var hostile = []struct {
	name, in string
}{
	{"CRLF forged entry", "EVIL\r\n{\"EventID\":\"fake\"}"},
	{"LF", "A\nB"},
	{"NUL", "A\x00B"},
	{"ANSI clear screen", "\x1b[2J\x1b[1;31mEVIL"},
	{"invalid UTF-8", "A\xff\xfeB\xc3"},
	{"C1 NEL and CSI", "A\u0085B\u009bC"},
	{"line separator", "A\u2028B\u2029C"},
	{"bidi override", "A\u202eGNP.exe"},
	{"backslash", `C:\x0a`},
	{"long", strings.Repeat("X", 5000)},
	{"long multibyte", strings.Repeat("é", 3000)},
}

func TestEscapeForLog(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"SHARDPACS", "SHARDPACS"},
		{"MR 1 ÄÖ", "MR 1 ÄÖ"},
		{"A\r\nB", `A\x0d\x0aB`},
		{"A\x00B", `A\x00B`},
		{"\x1b[31m", `\x1b[31m`},
		{"A\x7fB", `A\x7fB`},
		{"A\xffB", `A\xffB`},
		{"A\xc3", `A\xc3`},
		{"A\u0085B", `A\u0085B`},
		{"A\u2028B", `A\u2028B`},
		{"A\u202eB", `A\u202eB`},
		{"A\uFEFF", `A\ufeff`},
		{`A\B`, `A\\B`},
		{strings.Repeat("a", MaxLogField), strings.Repeat("a", MaxLogField)},
		{strings.Repeat("a", MaxLogField+1), strings.Repeat("a", MaxLogField-3) + "…"},
		{strings.Repeat("\n", 100), strings.Repeat(`\x0a`, (MaxLogField-3)/4) + "…"},
	}
	for _, tc := range tests {
		if got := EscapeForLog(tc.in); got != tc.want {
			t.Errorf("EscapeForLog(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, h := range hostile {
		checkEscaped(t, h.in, EscapeForLog(h.in))
	}
}

// checkEscaped asserts the contract of EscapeForLog on one result, and
// that a result that was not cut unescapes back to the input.
func checkEscaped(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("EscapeForLog(%q) = %q: invalid UTF-8", in, out)
	}
	if len(out) > MaxLogField {
		t.Fatalf("EscapeForLog(%q): %d bytes, max %d", in, len(out), MaxLogField)
	}
	for _, r := range out {
		if r < 0x20 || r == 0x7f || escapeRune(r) {
			t.Fatalf("EscapeForLog(%q) = %q holds %U", in, out, r)
		}
	}
	if prefix, ok := strings.CutSuffix(out, "…"); ok {
		if back, ok := unescape(prefix); ok && len(back) < len(in) && strings.HasPrefix(in, back) {
			return // cut: what is kept is a faithful prefix
		}
	}
	back, ok := unescape(out)
	if !ok || back != in {
		t.Fatalf("EscapeForLog(%q) = %q does not unescape back (got %q, ok=%v)", in, out, back, ok)
	}
}

// unescape reverses EscapeForLog (test only).
func unescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch s[i+1] {
		case '\\':
			b.WriteByte('\\')
			i++
		case 'x':
			if i+4 > len(s) {
				return "", false
			}
			var v byte
			for _, c := range []byte(s[i+2 : i+4]) {
				v <<= 4
				switch {
				case c >= '0' && c <= '9':
					v |= c - '0'
				case c >= 'a' && c <= 'f':
					v |= c - 'a' + 10
				default:
					return "", false
				}
			}
			b.WriteByte(v)
			i += 3
		case 'u':
			if i+6 > len(s) {
				return "", false
			}
			var r rune
			for _, c := range []byte(s[i+2 : i+6]) {
				r <<= 4
				switch {
				case c >= '0' && c <= '9':
					r |= rune(c - '0')
				case c >= 'a' && c <= 'f':
					r |= rune(c-'a') + 10
				default:
					return "", false
				}
			}
			b.WriteRune(r)
			i += 5
		default:
			return "", false
		}
	}
	return b.String(), true
}

func FuzzEscapeForLog(f *testing.F) {
	for _, h := range hostile {
		f.Add(h.in)
	}
	f.Add("")
	f.Add(`\\x0a`)
	f.Add(strings.Repeat("y", MaxLogField) + "…")
	f.Fuzz(func(t *testing.T, in string) {
		checkEscaped(t, in, EscapeForLog(in))
	})
}

// TestAuditLineEscaping: hostile strings in every peer-supplied field of
// an event give exactly one line that parses, holds no raw control byte,
// and caps each value.
func TestAuditLineEscaping(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			addr := tcpAddr("127.0.0.1:1")
			events := []*Event{
				AssociationRejected(h.in, h.in, addr, h.in),
				InstancesStored(h.in, addr, h.in, h.in, h.in, 1),
				Query(h.in, addr, h.in, h.in, map[string]string{h.in: h.in}),
				InstancesTransferred(RetrieveMove, h.in, addr, h.in, addr, h.in, h.in, h.in, 1),
			}
			for _, ev := range events {
				line, _ := logOne(t, ev)
				for i := 0; i < len(line); i++ {
					if c := line[i]; c < 0x20 || c == 0x7f {
						t.Fatalf("raw control byte %#x in line %q", c, line)
					}
				}
				if !utf8.ValidString(line) {
					t.Fatalf("invalid UTF-8 in line %q", line)
				}
				var back Event
				if err := json.Unmarshal([]byte(line), &back); err != nil {
					t.Fatal(err)
				}
				for _, p := range back.ActiveParticipant {
					if len(p.UserID) > MaxField || len(p.AlternativeUserID) > MaxField {
						t.Errorf("participant field over %d bytes: %d", MaxField, len(p.UserID))
					}
				}
				for _, o := range back.ParticipantObjectIdentification {
					if len(o.ParticipantObjectID) > MaxField {
						t.Errorf("ParticipantObjectID over %d bytes", MaxField)
					}
					for _, d := range o.ParticipantObjectDetail {
						if len(d.Type) > MaxField || len(d.Value) > MaxQueryValue {
							t.Errorf("detail over its cap: %d/%d bytes", len(d.Type), len(d.Value))
						}
					}
				}
			}
		})
	}
	// An invalid byte becomes U+FFFD, not dropped silently.
	_, got := logOne(t, InstancesStored("A\xffB", nil, "1", "P", "1.2", 1))
	if v := path(got, "ActiveParticipant", 0, "UserID"); v != "A\uFFFDB" {
		t.Errorf("UserID = %q, want A\\uFFFDB", v)
	}
	// Control characters survive JSON escaping and decode back.
	_, got = logOne(t, InstancesStored("A\r\nB", nil, "1", "P", "1.2", 1))
	if v := path(got, "ActiveParticipant", 0, "UserID"); v != "A\r\nB" {
		t.Errorf("UserID = %q, want A\\r\\nB", v)
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "…"},
		{"abcdef", 5, "ab…"},
		{"ééé", 6, "ééé"},
		{"éééé", 6, "é…"},
		{"aéééé", 7, "aé…"},
		{"a\xffb", 10, "a\uFFFDb"},
	}
	for _, tc := range tests {
		got := clean(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
		if len(got) > tc.max || !utf8.ValidString(got) {
			t.Errorf("clean(%q, %d) = %q breaks its contract", tc.in, tc.max, got)
		}
	}
}
