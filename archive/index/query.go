package index

import (
	"context"
	"strconv"
	"strings"

	"github.com/shardpacs/shardpacs/dcm"
)

// Limits on a query, checked before any SQL runs (adversarial tests rows 29
// and 30). Exceeding one is a *QueryError.
const (
	MaxQueryKeys  = 512      // keys in one identifier
	MaxValueLen   = 64 << 10 // bytes in one matching value
	MaxPatternLen = 1024     // bytes in one wildcard pattern
	MaxListValues = 1000     // values in a List of UID (or ModalitiesInStudy) match
)

// Key is one attribute of a C-FIND identifier.
type Key struct {
	Tag dcm.Tag
	// Value is the UTF-8 matching value; "" requests the attribute as a
	// return key (universal matching).
	Value string
	// VR is the VR from the identifier or the dictionary. For attributes
	// the index stores, matching follows the VR of PS3.6 (the index's own
	// column type), never a VR claimed by the peer.
	VR string
}

// Query is one C-FIND request, already decoded to UTF-8. The zero Root is
// PatientRoot.
type Query struct {
	Root  Root
	Level Level
	Keys  []Key
	// Limit caps the number of matches; 0 = unlimited. With more matches
	// than Limit, Query returns ErrTooManyMatches and streams nothing.
	Limit int
}

// Match is one C-FIND response identifier: every requested key (empty when
// unknown or below the level), computed keys filled, the unique keys of the
// level and the levels above it (PatientID in Patient Root,
// StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID as applicable), and
// QueryRetrieveLevel.
type Match map[dcm.Tag]string

// Query runs q and calls fn for each match, in insertion order of the
// matched entities. It stops at fn's first error and returns it, and stops
// with ctx's error when ctx is done (C-CANCEL, PS3.4 C.4.1.2.2.3).
//
// With Limit > 0 the (at most Limit) matches are collected first, so fn
// runs with no database connection held. With Limit == 0 matches stream
// while a read connection is held: fn must then not wait on another query
// of the same DB when the read pool is small.
//
// Matching rules (conformance statement, PS3.4 C.2.2.2 and C.4.1.2):
//
//   - Relational-lenient: at a level, keys of that level and of the levels
//     above may carry matching values (like Orthanc and dcm4chee); every
//     condition must hold. A key of a level below the query level with a
//     non-universal value is a *QueryError; as a return key it comes back
//     empty. Missing or unknown level, a level not in the model (Study Root
//     has no PATIENT level), or more than MaxQueryKeys keys: *QueryError.
//   - Universal matching: an empty value, or a value of only '*' for any
//     VR, matches every entity, including those with no value.
//   - Single value matching: exact and case-sensitive, after trimming
//     leading and trailing spaces of both sides; except PN (below).
//     Numeric VRs (IS, DS, US) and AS compare as trimmed strings. An
//     empty stored value matches only universal matching.
//   - Wildcard matching ('*' any run, '?' exactly one character, counted in
//     characters not bytes) on AE, CS, LO, LT, PN, SH, ST, UC, UR, UT only.
//     On UI, DA, TM, DT and numeric VRs '*' and '?' are literal characters
//     (so match nothing) unless the whole value is '*'.
//   - PN: case-insensitive (Unicode upper-casing of both sides). A value
//     without '=' matches if it matches any component group (alphabetic,
//     ideographic, phonetic); with '=' each non-empty query group must match
//     the same group.
//   - List of UID matching for UI keys: backslash-separated values, match if
//     any is equal (at most MaxListValues).
//   - Range matching for DA and TM: "a-b", "-b", "a-" and single values; an
//     empty stored value never matches a range. DA compares YYYYMMDD
//     strings. TM uses prefix semantics: a partial time covers every time
//     it is a prefix of ("10" = 10:00–10:59:59.999999), fractions up to 6
//     digits; an unparsable TM bound matches nothing. Combined date-time
//     matching of StudyDate+StudyTime (C.2.2.2.5.1) is NOT applied: the two
//     keys are matched independently.
//   - ModalitiesInStudy: backslash-separated values, each single or
//     wildcard; matches if any modality of the study matches any value.
//     SOPClassesInStudy: List of UID matching against the study's classes.
//   - Computed keys (NumberOf*Related*, ModalitiesInStudy,
//     SOPClassesInStudy) are returned at their level and below; a matching
//     value on a NumberOf* key is ignored.
//   - Multi-valued stored attributes other than the two above (e.g.
//     OtherPatientIDs) are matched as their whole backslash-joined string.
//   - Sequence matching is not supported: a sequence key is a return key and
//     comes back empty. So do attributes the index does not store; a
//     matching value on one is ignored.
//   - SpecificCharacterSet, RetrieveAETitle, InstanceAvailability and
//     TimezoneOffsetFromUTC are left empty for the C-FIND service to fill;
//     QueryRetrieveLevel is set to the query level.
//   - Limits: MaxValueLen per value, MaxPatternLen per wildcard pattern.
func (db *DB) Query(ctx context.Context, q *Query, fn func(Match) error) error {
	if err := db.readable(); err != nil {
		return err
	}
	p, err := plan(q)
	if err != nil {
		return err
	}
	rows, err := db.r.QueryContext(ctx, p.sql, p.args...)
	if err != nil {
		return db.queryErr(ctx, err)
	}
	defer rows.Close()
	dest := make([]string, len(p.sel))
	ptrs := make([]any, len(p.sel))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	var buf []Match
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return db.queryErr(ctx, err)
		}
		m := p.match(dest)
		if q.Limit > 0 {
			if len(buf) == q.Limit {
				return ErrTooManyMatches
			}
			buf = append(buf, m)
			continue
		}
		if err := fn(m); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return db.queryErr(ctx, err)
	}
	rows.Close()
	for _, m := range buf {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// queryErr prefers the context's error over the driver's (a cancelled
// query fails in SQLite with "interrupted").
func (db *DB) queryErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return db.wrapErr("query", err)
}

// queryPlan is a query translated to SQL.
type queryPlan struct {
	sql   string
	args  []any
	sel   []dcm.Tag // selected tags, in SELECT order
	empty []dcm.Tag // requested tags returned empty
	level Level
}

func (p *queryPlan) match(vals []string) Match {
	m := make(Match, len(p.sel)+len(p.empty)+1)
	for _, t := range p.empty {
		m[t] = ""
	}
	for i, t := range p.sel {
		m[t] = vals[i]
	}
	m[dcm.TagQueryRetrieveLevel] = string(p.level)
	return m
}

// plan validates q and translates it to one SELECT with bound parameters.
func plan(q *Query) (*queryPlan, error) {
	if q == nil {
		return nil, queryErr(0, "no query")
	}
	lv := Level(strings.Trim(string(q.Level), " "))
	rank := lv.rank()
	switch {
	case lv == "":
		return nil, queryErr(dcm.TagQueryRetrieveLevel, "missing QueryRetrieveLevel")
	case rank < 0:
		return nil, queryErr(dcm.TagQueryRetrieveLevel, "unknown QueryRetrieveLevel %q", truncate(string(q.Level)))
	case q.Root != PatientRoot && q.Root != StudyRoot:
		return nil, queryErr(0, "unknown information model %d", int(q.Root))
	case q.Root == StudyRoot && lv == LevelPatient:
		return nil, queryErr(dcm.TagQueryRetrieveLevel, "no PATIENT level in the Study Root model")
	case len(q.Keys) > MaxQueryKeys:
		return nil, queryErrKind(ErrTooManyKeys, 0, "%d keys, more than %d", len(q.Keys), MaxQueryKeys)
	case q.Limit < 0:
		return nil, queryErr(0, "negative limit")
	}
	p := &queryPlan{level: lv}
	selected := map[dcm.Tag]bool{}
	empty := map[dcm.Tag]bool{}
	var cols []string
	var where []string
	addSel := func(c *column) {
		if !selected[c.tag] {
			selected[c.tag] = true
			p.sel = append(p.sel, c.tag)
			cols = append(cols, c.qual())
		}
	}
	for _, k := range q.Keys {
		if len(k.Value) > MaxValueLen {
			return nil, queryErr(k.Tag, "value longer than %d bytes", MaxValueLen)
		}
		v := cleanValue(k.Value)
		isUniversal := v == "" || onlyStars(v)
		c := columnByTag[k.Tag]
		if serviceKey(k.Tag) || c == nil {
			if k.Tag != dcm.TagQueryRetrieveLevel {
				empty[k.Tag] = true
			}
			continue
		}
		if c.level.rank() > rank {
			if !isUniversal {
				return nil, queryErrKind(ErrKeyBelowLevel, k.Tag, "matching key below the %s level", lv)
			}
			empty[k.Tag] = true
			continue
		}
		addSel(c)
		if isUniversal {
			continue
		}
		t, err := keyCond(c, v)
		if err != nil {
			return nil, err
		}
		if t.text != "" {
			where = append(where, "("+t.text+")")
			p.args = append(p.args, t.args...)
		}
	}
	for _, t := range uniqueKeys(q.Root, lv) {
		addSel(columnByTag[t])
	}
	for t := range empty {
		if !selected[t] {
			p.empty = append(p.empty, t)
		}
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(" FROM ")
	b.WriteString(fromClause(lv))
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(levelAlias(lv))
	b.WriteString(".pk")
	if q.Limit > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(q.Limit + 1))
	}
	p.sql = b.String()
	return p, nil
}

// fromClause joins a level's table to the tables of the levels above it.
func fromClause(l Level) string {
	const (
		pat = "patient p"
		stu = "study s JOIN patient p ON p.pk = s.patient_pk"
		ser = "series se JOIN study s ON s.pk = se.study_pk JOIN patient p ON p.pk = s.patient_pk"
		ins = "instance i JOIN series se ON se.pk = i.series_pk JOIN study s ON s.pk = se.study_pk JOIN patient p ON p.pk = s.patient_pk"
	)
	switch l {
	case LevelPatient:
		return pat
	case LevelStudy:
		return stu
	case LevelSeries:
		return ser
	}
	return ins
}

// truncate shortens peer-supplied text quoted in an error.
func truncate(s string) string {
	if len(s) > 32 {
		return strings.ToValidUTF8(s[:32], "") + "…"
	}
	return strings.ToValidUTF8(s, "")
}
