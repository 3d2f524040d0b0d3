package index

import (
	"context"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
)

// fuzzTags are the keys FuzzQuery and TestQueryAgainstReference draw from:
// every indexed attribute, the service keys and an attribute the index does
// not store.
var fuzzTags = func() []dcm.Tag {
	var ts []dcm.Tag
	for _, c := range columns {
		ts = append(ts, c.tag)
	}
	return append(ts, dcm.TagSpecificCharacterSet, dcm.TagQueryRetrieveLevel, dcm.TagRetrieveAETitle, dcm.NewTag(0x0009, 0x1001), dcm.NewTag(0x0040, 0x0275))
}()

var fuzzLevels = []Level{LevelPatient, LevelStudy, LevelSeries, LevelImage, "", "FRAME", " STUDY "}

// checkAgainstReference runs q on db and on ref and reports any difference.
func checkAgainstReference(t *testing.T, db *DB, ref *refDB, q *Query) {
	t.Helper()
	got, err := runQuery(t, db, q)
	want, rerr := ref.query(q)
	if (err != nil) != (rerr != nil) {
		t.Fatalf("query %+v: index error %v, reference error %v", q, err, rerr)
	}
	if err != nil {
		var qe *QueryError
		if !errorsAs(err, &qe) {
			t.Fatalf("query %+v: error %v is not a *QueryError", q, err)
		}
		return
	}
	g, w := canon(got), canon(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("query %+v:\nindex     (%d) %q\nreference (%d) %q", q, len(g), g, len(w), w)
	}
}

// newRefPair loads the dataset into a fresh index and into the reference.
func newRefPair(t testing.TB) (*DB, *refDB) {
	db := openTest(t)
	ref := &refDB{}
	for i, s := range dataset {
		rec := s.record(i)
		if err := db.Insert(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if err := ref.insert(rec); err != nil {
			t.Fatal(err)
		}
	}
	return db, ref
}

func FuzzQuery(f *testing.F) {
	type seed struct {
		root, level uint8
		k1          uint8
		v1          string
		k2          uint8
		v2          string
	}
	idx := func(t dcm.Tag) uint8 {
		for i, x := range fuzzTags {
			if x == t {
				return uint8(i)
			}
		}
		panic("tag")
	}
	seeds := []seed{
		{0, 1, idx(dcm.TagPatientName), "doe*", idx(dcm.TagModalitiesInStudy), ""},
		{0, 0, idx(dcm.TagPatientName), "山?^*", idx(dcm.TagPatientID), ""},
		{1, 1, idx(dcm.TagStudyDate), "20200101-20201231", idx(dcm.TagStudyTime), "10-"},
		{1, 2, idx(dcm.TagModality), "C?", idx(dcm.TagStudyInstanceUID), `1.2.3.1\1.2.3.3`},
		{0, 3, idx(dcm.TagSeriesInstanceUID), "1.2.3.1.1", idx(dcm.TagContentTime), "103016"},
		{1, 1, idx(dcm.TagModalitiesInStudy), `CT\MR`, idx(dcm.TagNumberOfStudyRelatedInstances), "3"},
		{0, 1, idx(dcm.TagAccessionNumber), "ACC%2", idx(dcm.TagPatientID), "' OR 1=1 --"},
		{0, 1, idx(dcm.TagAccessionNumber), "ACC[*", idx(dcm.TagStudyDescription), "*_*"},
		{0, 0, idx(dcm.TagPatientName), "=山田^*", idx(dcm.TagPatientBirthDate), "-19800202"},
		{1, 3, idx(dcm.TagSOPClassUID), "1.2.840.10008.5.1.4.1.1.*", idx(dcm.TagInstanceNumber), "1"},
		{1, 1, idx(dcm.TagSOPClassesInStudy), ctImage + `\` + srDoc, idx(dcm.TagReferringPhysicianName), "smith*"},
		{0, 1, idx(dcm.TagStudyTime), "2359-", idx(dcm.TagSeriesDescription), "x"},
		{0, 2, idx(dcm.TagPatientID), "x'); DROP TABLE instances;--", idx(dcm.TagSeriesTime), "*"},
		{0, 1, idx(dcm.TagPatientID), "", idx(dcm.TagStudyID), "%"},
		{1, 0, idx(dcm.TagPatientName), "", 0, ""},
		{0, 4, 0, "", 0, ""},
	}
	for _, s := range seeds {
		f.Add(s.root, s.level, s.k1, s.v1, s.k2, s.v2)
	}
	db, ref := newRefPair(f)
	f.Fuzz(func(t *testing.T, root, level, k1 uint8, v1 string, k2 uint8, v2 string) {
		q := &Query{
			Root:  Root(root % 3),
			Level: fuzzLevels[int(level)%len(fuzzLevels)],
			Keys: []Key{
				{Tag: fuzzTags[int(k1)%len(fuzzTags)], Value: v1},
				{Tag: fuzzTags[int(k2)%len(fuzzTags)], Value: v2},
				{Tag: dcm.TagStudyInstanceUID},
			},
		}
		checkAgainstReference(t, db, ref, q)
	})
}

// TestQueryAgainstReference runs a few thousand generated queries built
// from the data set's own values, mutated into wildcards, ranges, lists
// and case variants, through both the index and the reference matcher.
func TestQueryAgainstReference(t *testing.T) {
	db, ref := newRefPair(t)
	rng := rand.New(rand.NewSource(1))
	var pool []string
	for i, s := range dataset {
		rec := s.record(i)
		for _, v := range rec.Attrs {
			pool = append(pool, v)
		}
	}
	mutate := func(v string) string {
		r := []rune(v)
		switch rng.Intn(12) {
		case 0:
			return ""
		case 1:
			return "*"
		case 2:
			if len(r) > 1 {
				return string(r[:rng.Intn(len(r))]) + "*"
			}
		case 3:
			if len(r) > 0 {
				r[rng.Intn(len(r))] = '?'
			}
			return string(r)
		case 4:
			return strings.ToLower(v)
		case 5:
			return v + `\` + pool[rng.Intn(len(pool))]
		case 6:
			return v + "-"
		case 7:
			return "-" + v
		case 8:
			return v + "-" + pool[rng.Intn(len(pool))]
		case 9:
			if len(r) > 1 {
				return "*" + string(r[rng.Intn(len(r)):])
			}
		case 10:
			return " " + v + " "
		}
		return v
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		q := &Query{Root: Root(rng.Intn(2)), Level: fuzzLevels[rng.Intn(4)]}
		for k := rng.Intn(4); k >= 0; k-- {
			q.Keys = append(q.Keys, Key{Tag: fuzzTags[rng.Intn(len(fuzzTags))], Value: mutate(pool[rng.Intn(len(pool))])})
		}
		checkAgainstReference(t, db, ref, q)
	}
}
