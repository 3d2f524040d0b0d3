package index

// The reference matcher: a plain in-memory implementation of the index's
// entity model (first arrival wins, gaps filled, counts, ModalitiesInStudy)
// and of the PS3.4 C.2.2.2 rules documented on (*DB).Query. FuzzQuery checks
// that the SQL translation returns exactly what this returns. It shares with
// the package only the tag→level map and value cleaning; the matching rules
// (wildcards by rune, PN groups, times as microseconds) are written anew.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shardpacs/shardpacs/dcm"
)

type refEntity struct {
	level    Level
	vals     map[dcm.Tag]string
	parent   *refEntity
	children int             // direct children
	counts   [3]int          // studies, series, instances below
	mods     map[string]bool // study: modalities of its series
	classes  map[string]bool // study: SOP classes of its instances
}

type refDB struct {
	patients, studies, series, instances []*refEntity
}

func (r *refDB) find(list []*refEntity, t dcm.Tag, v string) *refEntity {
	for _, e := range list {
		if e.vals[t] == v {
			return e
		}
	}
	return nil
}

func (r *refDB) newEntity(l Level, p *prepared, parent *refEntity) *refEntity {
	e := &refEntity{level: l, vals: map[dcm.Tag]string{}, parent: parent, mods: map[string]bool{}, classes: map[string]bool{}}
	for _, c := range storedColumns[l] {
		e.vals[c.tag] = p.vals[c.tag]
	}
	return e
}

func (r *refDB) fill(e *refEntity, p *prepared, ok bool) {
	if !ok {
		return
	}
	for _, c := range storedColumns[e.level] {
		if e.vals[c.tag] == "" {
			e.vals[c.tag] = p.vals[c.tag]
		}
	}
}

func (r *refDB) insert(rec *InstanceRecord) error {
	p, err := prepare(rec)
	if err != nil {
		return err
	}
	if r.find(r.instances, dcm.TagSOPInstanceUID, p.vals[dcm.TagSOPInstanceUID]) != nil {
		return ErrDuplicate
	}
	se := r.find(r.series, dcm.TagSeriesInstanceUID, p.vals[dcm.TagSeriesInstanceUID])
	var st, pa *refEntity
	newSeries, newStudy := se == nil, false
	if se != nil {
		st = se.parent
		r.fill(se, p, true)
		r.fill(st, p, st.vals[dcm.TagStudyInstanceUID] == p.vals[dcm.TagStudyInstanceUID])
	} else if st = r.find(r.studies, dcm.TagStudyInstanceUID, p.vals[dcm.TagStudyInstanceUID]); st != nil {
		r.fill(st, p, true)
	}
	if st != nil {
		pa = st.parent
		r.fill(pa, p, pa.vals[dcm.TagPatientID] == p.vals[dcm.TagPatientID] && pa.vals[dcm.TagIssuerOfPatientID] == p.vals[dcm.TagIssuerOfPatientID])
	} else {
		newStudy = true
		for _, e := range r.patients {
			if e.vals[dcm.TagPatientID] == p.vals[dcm.TagPatientID] && e.vals[dcm.TagIssuerOfPatientID] == p.vals[dcm.TagIssuerOfPatientID] {
				pa = e
			}
		}
		if pa == nil {
			pa = r.newEntity(LevelPatient, p, nil)
			r.patients = append(r.patients, pa)
		} else {
			r.fill(pa, p, true)
		}
		st = r.newEntity(LevelStudy, p, pa)
		r.studies = append(r.studies, st)
	}
	if se == nil {
		se = r.newEntity(LevelSeries, p, st)
		r.series = append(r.series, se)
	}
	in := r.newEntity(LevelImage, p, se)
	r.instances = append(r.instances, in)
	if newStudy {
		pa.counts[0]++
	}
	if newSeries {
		pa.counts[1]++
		st.counts[1]++
	}
	pa.counts[2]++
	st.counts[2]++
	se.counts[2]++
	if m := se.vals[dcm.TagModality]; m != "" {
		st.mods[m] = true
	}
	if c := in.vals[dcm.TagSOPClassUID]; c != "" {
		st.classes[c] = true
	}
	return nil
}

// value returns an entity's value (or its ancestor's) for a column.
func (e *refEntity) value(c *column) string {
	for e != nil && e.level != c.level {
		e = e.parent
	}
	if e == nil {
		return ""
	}
	switch c.kind {
	case kCount:
		switch c.tag {
		case dcm.TagNumberOfPatientRelatedStudies:
			return strconv.Itoa(e.counts[0])
		case dcm.TagNumberOfPatientRelatedSeries, dcm.TagNumberOfStudyRelatedSeries:
			return strconv.Itoa(e.counts[1])
		}
		return strconv.Itoa(e.counts[2])
	case kModalities:
		return joinSet(e.mods)
	case kSOPClasses:
		return joinSet(e.classes)
	}
	return e.vals[c.tag]
}

func joinSet(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, `\`)
}

// query is the reference implementation of (*DB).Query (without Limit).
func (r *refDB) query(q *Query) ([]Match, error) {
	rank := map[Level]int{LevelPatient: 0, LevelStudy: 1, LevelSeries: 2, LevelImage: 3}
	lr, ok := rank[Level(strings.Trim(string(q.Level), " "))]
	if !ok || (q.Root == StudyRoot && lr == 0) || (q.Root != PatientRoot && q.Root != StudyRoot) || len(q.Keys) > MaxQueryKeys {
		return nil, errors.New("bad level")
	}
	lv := Level(strings.Trim(string(q.Level), " "))
	for _, k := range q.Keys {
		c := columnByTag[k.Tag]
		if len(k.Value) > MaxValueLen {
			return nil, errors.New("too long")
		}
		if c == nil || serviceKey(k.Tag) {
			continue
		}
		v := cleanValue(k.Value)
		universal := v == "" || strings.Trim(v, "*") == ""
		if rank[c.level] > lr && !universal {
			return nil, errors.New("below level")
		}
		if err := refValidate(c, v); err != nil && !universal && rank[c.level] <= lr {
			return nil, err
		}
	}
	entities := [][]*refEntity{r.patients, r.studies, r.series, r.instances}[lr]
	var out []Match
	for _, e := range entities {
		m := Match{dcm.TagQueryRetrieveLevel: string(lv)}
		ok := true
		for _, k := range q.Keys {
			c := columnByTag[k.Tag]
			if k.Tag == dcm.TagQueryRetrieveLevel {
				continue
			}
			if c == nil || serviceKey(k.Tag) || rank[c.level] > lr {
				m[k.Tag] = ""
				continue
			}
			m[k.Tag] = e.value(c)
			if !refMatch(c, e, cleanValue(k.Value)) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for _, t := range uniqueKeys(q.Root, lv) {
			m[t] = e.value(columnByTag[t])
		}
		out = append(out, m)
	}
	return out, nil
}

// refValidate mirrors the QueryErrors a matching value can raise.
func refValidate(c *column, v string) error {
	switch c.kind {
	case kUI, kSOPClasses, kModalities:
		if n := len(splitRef(v)); n > MaxListValues {
			return errors.New("too many values")
		}
		if c.kind == kModalities {
			for _, e := range splitRef(v) {
				if strings.ContainsAny(e, "*?") && len(e) > MaxPatternLen {
					return errors.New("pattern too long")
				}
			}
		}
	case kText:
		if wildcardVR(c.vr) && strings.ContainsAny(v, "*?") && len(v) > MaxPatternLen {
			return errors.New("pattern too long")
		}
	case kPN:
		if strings.Count(v, "=") > 2 {
			return errors.New("too many groups")
		}
		groups := []string{strings.ToUpper(v)}
		if strings.Contains(v, "=") {
			groups = strings.Split(strings.ToUpper(v), "=")
		}
		for _, g := range groups {
			if strings.ContainsAny(g, "*?") && strings.Trim(g, "*") != "" && len(g) > MaxPatternLen {
				return errors.New("pattern too long")
			}
		}
	}
	return nil
}

func splitRef(v string) []string {
	var out []string
	for _, e := range strings.Split(v, `\`) {
		if e = strings.Trim(e, " "); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// refMatch applies one key with cleaned value v to entity e.
func refMatch(c *column, e *refEntity, v string) bool {
	if v == "" || strings.Trim(v, "*") == "" {
		return true
	}
	stored := e.value(c)
	switch c.kind {
	case kCount:
		return true
	case kText:
		if wildcardVR(c.vr) && strings.ContainsAny(v, "*?") {
			return wildMatch(v, stored)
		}
		return stored == v
	case kExact:
		return stored == v
	case kUI:
		vals := splitRef(v)
		if len(vals) == 0 {
			return true
		}
		for _, x := range vals {
			if x == stored {
				return true
			}
		}
		return false
	case kDA:
		lo, hi, isRange := strings.Cut(v, "-")
		if !isRange {
			return stored == v
		}
		lo, hi = strings.Trim(lo, " "), strings.Trim(hi, " ")
		if lo == "" && hi == "" {
			return true
		}
		return stored != "" && (lo == "" || stored >= lo) && (hi == "" || stored <= hi)
	case kTM:
		lo, hi, isRange := strings.Cut(v, "-")
		if !isRange {
			hi = lo
		}
		lo, hi = strings.Trim(lo, " "), strings.Trim(hi, " ")
		if lo == "" && hi == "" {
			return true
		}
		s, ok := refMicros(stored, false)
		if !ok {
			return false
		}
		if lo != "" {
			l, ok := refMicros(lo, false)
			if !ok || s < l {
				return false
			}
		}
		if hi != "" {
			h, ok := refMicros(hi, true)
			if !ok || s > h {
				return false
			}
		}
		return true
	case kPN:
		sg := strings.SplitN(strings.ToUpper(stored), "=", 4)
		for len(sg) < 3 {
			sg = append(sg, "")
		}
		one := func(p, s string) bool {
			if strings.ContainsAny(p, "*?") {
				return wildMatch(p, s)
			}
			return p == s
		}
		q := strings.ToUpper(v)
		if !strings.Contains(q, "=") {
			return one(q, sg[0]) || one(q, sg[1]) || one(q, sg[2])
		}
		for i, g := range strings.Split(q, "=") {
			if g == "" || strings.Trim(g, "*") == "" {
				continue
			}
			if !one(g, sg[i]) {
				return false
			}
		}
		return true
	case kModalities, kSOPClasses:
		for e != nil && e.level != LevelStudy {
			e = e.parent
		}
		set := e.mods
		if c.kind == kSOPClasses {
			set = e.classes
		}
		vals := splitRef(v)
		if len(vals) == 0 {
			return true
		}
		for _, x := range vals {
			if c.kind == kModalities && strings.Trim(x, "*") == "" {
				return true
			}
		}
		for _, x := range vals {
			for m := range set {
				if c.kind == kModalities && strings.ContainsAny(x, "*?") {
					if wildMatch(x, m) {
						return true
					}
				} else if x == m {
					return true
				}
			}
		}
		return false
	}
	return true
}

// wildMatch matches DICOM '*' and '?' by character (rune), by dynamic
// programming over pattern and string positions.
func wildMatch(pattern, s string) bool {
	p, r := []rune(pattern), []rune(s)
	// ok[j]: p[:i] matches r[:j]
	ok := make([]bool, len(r)+1)
	ok[0] = true
	for i := 0; i < len(p); i++ {
		next := make([]bool, len(r)+1)
		switch p[i] {
		case '*':
			any := false
			for j := 0; j <= len(r); j++ {
				any = any || ok[j]
				next[j] = any
			}
		default:
			for j := 1; j <= len(r); j++ {
				next[j] = ok[j-1] && (p[i] == '?' || p[i] == r[j-1])
			}
		}
		ok = next
	}
	return ok[len(r)]
}

// refMicros parses a TM value to microseconds since midnight: the start of
// the period it names, or (upper) its last microsecond.
func refMicros(v string, upper bool) (int64, bool) {
	v = strings.ReplaceAll(v, ":", "")
	main, frac, dot := strings.Cut(v, ".")
	if !utf8.ValidString(v) || (len(main) != 2 && len(main) != 4 && len(main) != 6) || (dot && (len(main) != 6 || frac == "" || len(frac) > 6)) {
		return 0, false
	}
	num := func(s string) (int64, bool) {
		if s == "" {
			return 0, true
		}
		for _, ch := range s {
			if ch < '0' || ch > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	h, ok1 := num(main[:2])
	var m, sec int64
	ok2, ok3 := true, true
	if len(main) >= 4 {
		m, ok2 = num(main[2:4])
	}
	if len(main) == 6 {
		sec, ok3 = num(main[4:6])
	}
	f, ok4 := num(frac)
	if !ok1 || !ok2 || !ok3 || !ok4 || h > 23 || m > 59 || sec > 60 {
		return 0, false
	}
	for i := len(frac); i < 6; i++ {
		f *= 10
	}
	t := ((h*60+m)*60+sec)*1_000_000 + f
	if upper {
		switch {
		case len(main) == 2:
			t += 3600*1_000_000 - 1
		case len(main) == 4:
			t += 60*1_000_000 - 1
		default:
			span := int64(1)
			for i := len(frac); i < 6; i++ {
				span *= 10
			}
			t += span - 1
		}
	}
	return t, true
}

// canon renders matches as sorted strings for comparison.
func canon(ms []Match) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		tags := make([]dcm.Tag, 0, len(m))
		for t := range m {
			tags = append(tags, t)
		}
		sort.Slice(tags, func(i, j int) bool { return tags[i] < tags[j] })
		var b strings.Builder
		for _, t := range tags {
			fmt.Fprintf(&b, "%v=%q ", t, m[t])
		}
		out = append(out, b.String())
	}
	sort.Strings(out)
	return out
}
