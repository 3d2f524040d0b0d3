package index

import (
	"strings"

	"github.com/shardpacs/shardpacs/dcm"
)

// sqlCond is one WHERE term with its bound parameters. An empty text means
// "matches everything" (universal matching); "0" means "matches nothing".
type sqlCond struct {
	text string
	args []any
}

var (
	universal = sqlCond{}
	never     = sqlCond{text: "0"}
)

// keyCond translates one matching key (a cleaned, non-empty value that is
// not only '*') on column c into SQL. Values only ever reach SQLite as bound
// parameters; the SQL text is built from our own column names.
func keyCond(c *column, v string) (sqlCond, error) {
	switch c.kind {
	case kCount:
		// Computed counts are return keys only (PS3.4 C.6.1.1.x tables):
		// a matching value is ignored.
		return universal, nil
	case kText:
		if wildcardVR(c.vr) && hasWildcard(v) {
			return globCond(c.tag, c.qual(), v)
		}
		return sqlCond{c.qual() + " = ?", []any{v}}, nil
	case kExact:
		return sqlCond{c.qual() + " = ?", []any{v}}, nil
	case kUI:
		return uidListCond(c, c.qual(), v)
	case kDA:
		return dateCond(c.qual(), v), nil
	case kTM:
		return timeCond(c.qual()+"_n", v), nil
	case kPN:
		return pnCond(c, v)
	case kModalities:
		vals := splitList(v)
		if len(vals) == 0 {
			return universal, nil
		}
		if len(vals) > MaxListValues {
			return never, queryErr(c.tag, "more than %d values", MaxListValues)
		}
		for _, e := range vals {
			if hasWildcard(e) && len(e) > MaxPatternLen {
				return never, queryErr(c.tag, "wildcard pattern longer than %d bytes", MaxPatternLen)
			}
		}
		for _, e := range vals {
			if onlyStars(e) {
				return universal, nil
			}
		}
		var terms []string
		var args []any
		for _, e := range vals {
			var t sqlCond
			if hasWildcard(e) {
				var err error
				if t, err = globCond(c.tag, "m.modality", e); err != nil {
					return never, err
				}
			} else {
				t = sqlCond{"m.modality = ?", []any{e}}
			}
			terms = append(terms, t.text)
			args = append(args, t.args...)
		}
		return sqlCond{"EXISTS (SELECT 1 FROM study_modality m WHERE m.study_pk = s.pk AND (" +
			strings.Join(terms, " OR ") + "))", args}, nil
	case kSOPClasses:
		t, err := uidListCond(c, "sc.sop_class_uid", v)
		if err != nil || t.text == "" {
			return t, err
		}
		return sqlCond{"EXISTS (SELECT 1 FROM study_sop_class sc WHERE sc.study_pk = s.pk AND " +
			t.text + ")", t.args}, nil
	}
	return universal, nil
}

// globCond is wildcard matching (PS3.4 C.2.2.2.4) with GLOB: case-sensitive,
// '?' is one character, '*' any run of characters. tag names the key in
// the *QueryError of a pattern that is too long.
func globCond(tag dcm.Tag, col, v string) (sqlCond, error) {
	if len(v) > MaxPatternLen {
		return never, queryErr(tag, "wildcard pattern longer than %d bytes", MaxPatternLen)
	}
	return sqlCond{col + " GLOB ?", []any{globPattern(v)}}, nil
}

// splitList splits a backslash-separated value into its trimmed, non-empty
// values.
func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, `\`) {
		if e = strings.Trim(e, " "); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// uidListCond is single value matching or List of UID matching
// (PS3.4 C.2.2.2.1, C.2.2.2.2): exact, no wildcards ('*' and '?' are
// literal characters of a UID and so match nothing).
func uidListCond(c *column, col, v string) (sqlCond, error) {
	vals := splitList(v)
	switch {
	case len(vals) == 0:
		return universal, nil
	case len(vals) == 1:
		return sqlCond{col + " = ?", []any{vals[0]}}, nil
	case len(vals) > MaxListValues:
		return never, queryErr(c.tag, "more than %d UIDs in list", MaxListValues)
	}
	args := make([]any, len(vals))
	for i, e := range vals {
		args[i] = e
	}
	return sqlCond{col + " IN (?" + strings.Repeat(", ?", len(vals)-1) + ")", args}, nil
}

// dateCond is single value or range matching on a DA column
// (PS3.4 C.2.2.2.1, C.2.2.2.5): "a" equals; "a-b", "-b", "a-" compare as
// strings (YYYYMMDD orders as a string) and never match an empty date; "-"
// is universal.
func dateCond(col, v string) sqlCond {
	lo, hi, isRange := strings.Cut(v, "-")
	if !isRange {
		return sqlCond{col + " = ?", []any{v}}
	}
	lo, hi = strings.Trim(lo, " "), strings.Trim(hi, " ")
	if lo == "" && hi == "" {
		return universal
	}
	t := sqlCond{text: col + " <> ''"}
	if lo != "" {
		t.text += " AND " + col + " >= ?"
		t.args = append(t.args, lo)
	}
	if hi != "" {
		t.text += " AND " + col + " <= ?"
		t.args = append(t.args, hi)
	}
	return t
}

// timeCond is single value or range matching on the normalised companion
// of a TM column (PS3.4 C.2.2.2.5). A partial time covers every time it is
// a prefix of: "10" is 10:00:00.000000 to 10:59:59.999999, so a single
// value is itself a range and "-1030" includes 10:30:59. A bound that is
// not a time matches nothing (a '*' there is a literal, per C.2.2.2.4);
// "-" is universal.
func timeCond(col, v string) sqlCond {
	lo, hi, isRange := strings.Cut(v, "-")
	if !isRange {
		hi = lo
	}
	lo, hi = strings.Trim(lo, " "), strings.Trim(hi, " ")
	if lo == "" && hi == "" {
		return universal
	}
	t := sqlCond{text: col + " <> ''"}
	if lo != "" {
		n, ok := normTime(lo, false)
		if !ok {
			return never
		}
		t.text += " AND " + col + " >= ?"
		t.args = append(t.args, n)
	}
	if hi != "" {
		n, ok := normTime(hi, true)
		if !ok {
			return never
		}
		t.text += " AND " + col + " <= ?"
		t.args = append(t.args, n)
	}
	return t
}

// pnCond is PN matching, case-insensitive (both sides upper-cased, Unicode
// simple case mapping). A value without '=' matches when it matches any one
// component group of the stored name (alphabetic, ideographic or
// phonetic), so "山?^*" finds "Yamada^Tarou=山田^太郎". A value with '='
// matches group by group; empty or all-'*' groups of the query are
// universal. Each group is single value or wildcard matching.
func pnCond(c *column, v string) (sqlCond, error) {
	if strings.Count(v, "=") > 2 {
		return never, queryErr(c.tag, "person name with more than 3 component groups")
	}
	v = strings.ToUpper(v)
	one := func(col, g string) (sqlCond, error) {
		if hasWildcard(g) {
			return globCond(c.tag, col, g)
		}
		return sqlCond{col + " = ?", []any{g}}, nil
	}
	suffix := [3]string{"_a", "_i", "_p"}
	var terms []string
	var args []any
	if !strings.Contains(v, "=") {
		for _, s := range suffix {
			t, err := one(c.qual()+s, v)
			if err != nil {
				return never, err
			}
			terms = append(terms, t.text)
			args = append(args, t.args...)
		}
		return sqlCond{"(" + strings.Join(terms, " OR ") + ")", args}, nil
	}
	for i, g := range strings.Split(v, "=") {
		if g == "" || onlyStars(g) {
			continue
		}
		t, err := one(c.qual()+suffix[i], g)
		if err != nil {
			return never, err
		}
		terms = append(terms, t.text)
		args = append(args, t.args...)
	}
	if len(terms) == 0 {
		return universal, nil
	}
	return sqlCond{strings.Join(terms, " AND "), args}, nil
}
