package index

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
)

// idTag identifies a match at each level in the table tests.
var idTag = map[Level]dcm.Tag{
	LevelPatient: dcm.TagPatientName,
	LevelStudy:   dcm.TagStudyInstanceUID,
	LevelSeries:  dcm.TagSeriesInstanceUID,
	LevelImage:   dcm.TagSOPInstanceUID,
}

func k(t dcm.Tag, v string) Key { return Key{Tag: t, Value: v} }

// TestQueryMatching holds one row per matching kind and level, in both
// models, on the synthetic data set.
func TestQueryMatching(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	const (
		john = "Doe^John"
		jane = "doe^jane"
		yam  = "Yamada^Tarou=山田^太郎=やまだ^たろう"
		anon = "Anonymous"
		obr  = "O'Brien^Mary"
	)
	all := func(l Level) []string {
		switch l {
		case LevelPatient:
			return []string{john, yam, anon, obr, jane}
		case LevelStudy:
			return []string{"1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4", "1.2.3.5", "1.2.3.6"}
		}
		return nil
	}
	tests := []struct {
		name  string
		root  Root
		level Level
		keys  []Key
		want  []string // ids; nil with wantErr
		err   bool
	}{
		// PATIENT level (Patient Root only).
		{"patient universal", PatientRoot, LevelPatient, nil, all(LevelPatient), false},
		{"PN wildcard case-insensitive", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "doe*")}, []string{john, jane}, false},
		{"PN single value case-insensitive", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "DOE^JOHN")}, []string{john}, false},
		{"PN ? one char", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "Doe^J?hn")}, []string{john}, false},
		{"PN ideographic ? is one character", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "山?^*")}, []string{yam}, false},
		{"PN ideographic ? not zero characters", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "山^*")}, nil, false},
		{"PN ideographic two ?", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "山??^*")}, nil, false},
		{"PN phonetic group", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "やまだ*")}, []string{yam}, false},
		{"PN ideographic group only", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "=山田^太郎")}, []string{yam}, false},
		{"PN two groups", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "yamada^tarou=山田^太郎")}, []string{yam}, false},
		{"PN two groups mismatch", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "yamada^tarou=山田^次郎")}, nil, false},
		{"PN whole value", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "Yamada^Tarou=山田^太郎=やまだ^たろう")}, []string{yam}, false},
		{"PN four groups", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "a=b=c=d")}, nil, true},
		{"PN *^*", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "*^*")}, []string{john, yam, obr, jane}, false},
		{"PN quote", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "o'brien*")}, []string{obr}, false},
		{"only stars is universal", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "***")}, all(LevelPatient), false},
		{"LO exact", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientID, "PID001")}, []string{john, jane}, false},
		{"LO exact with spaces", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientID, " PID001 ")}, []string{john, jane}, false},
		{"issuer", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientID, "PID001"), k(dcm.TagIssuerOfPatientID, "OTHER")}, []string{jane}, false},
		{"LO case-sensitive", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientID, "pid001")}, nil, false},
		{"LO wildcard", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientID, "PID00?")}, []string{john, yam, jane}, false},
		{"DA single", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientBirthDate, "19700101")}, []string{john, jane}, false},
		{"DA range", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientBirthDate, "19800101-19991231")}, []string{yam, obr}, false},
		{"DA open start", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientBirthDate, "-19800202")}, []string{john, yam, jane}, false},
		{"DA open end, filled later", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientBirthDate, "20000101-")}, []string{anon}, false},
		{"DA * is literal", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientBirthDate, "1970*")}, nil, false},
		{"CS", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientSex, "F")}, []string{obr, jane}, false},
		{"empty PatientID is a patient", PatientRoot, LevelPatient, []Key{k(dcm.TagPatientName, "anon*")}, []string{anon}, false},
		{"key below level with value", PatientRoot, LevelPatient, []Key{k(dcm.TagStudyDate, "20200115")}, nil, true},
		{"key below level as return key", PatientRoot, LevelPatient, []Key{k(dcm.TagStudyDate, "")}, all(LevelPatient), false},
		{"unknown tag value ignored", PatientRoot, LevelPatient, []Key{k(dcm.NewTag(0x0009, 0x0010), "zzz")}, all(LevelPatient), false},
		{"sequence key ignored", PatientRoot, LevelPatient, []Key{k(dcm.NewTag(0x0008, 0x1120), "x")}, all(LevelPatient), false},
		{"count value ignored", PatientRoot, LevelPatient, []Key{k(dcm.TagNumberOfPatientRelatedStudies, "99")}, all(LevelPatient), false},
		{"study root has no patient level", StudyRoot, LevelPatient, nil, nil, true},
		{"missing level", PatientRoot, "", nil, nil, true},
		{"unknown level", PatientRoot, "FRAME", nil, nil, true},
		{"unknown root", Root(7), LevelStudy, nil, nil, true},

		// STUDY level, both roots.
		{"study universal", StudyRoot, LevelStudy, nil, all(LevelStudy), false},
		{"study date single", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyDate, "20200115")}, []string{"1.2.3.1", "1.2.3.6"}, false},
		{"study date range", PatientRoot, LevelStudy, []Key{k(dcm.TagStudyDate, "20200101-20200131")}, []string{"1.2.3.1", "1.2.3.3", "1.2.3.6"}, false},
		{"study date before", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyDate, "-20000101")}, []string{"1.2.3.5"}, false},
		{"study date after, filled later", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyDate, "20210101-")}, []string{"1.2.3.2", "1.2.3.4"}, false},
		{"study date - is universal", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyDate, "-")}, all(LevelStudy), false},
		{"TM hour prefix", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "10")}, []string{"1.2.3.1", "1.2.3.6"}, false},
		{"TM minute prefix", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "1030")}, []string{"1.2.3.1", "1.2.3.6"}, false},
		{"TM seconds", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "103015")}, []string{"1.2.3.1"}, false},
		{"TM fraction", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "103015.2")}, []string{"1.2.3.1"}, false},
		{"TM fraction miss", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "103015.3")}, nil, false},
		{"TM colons", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "10:30")}, []string{"1.2.3.1", "1.2.3.6"}, false},
		{"TM before", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "-0900")}, []string{"1.2.3.2"}, false},
		{"TM after", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "2359-")}, []string{"1.2.3.3"}, false},
		{"TM range, stored hour only", PatientRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "1159-1300")}, []string{"1.2.3.5"}, false},
		{"TM range end inclusive by prefix", PatientRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "1000-1030")}, []string{"1.2.3.1", "1.2.3.6"}, false},
		{"TM * is literal", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "10*")}, nil, false},
		{"TM garbage", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyTime, "99")}, nil, false},
		{"SH % literal", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "ACC%2")}, []string{"1.2.3.2"}, false},
		{"SH % alone", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "%")}, nil, false},
		{"SH _ alone", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "ACC_")}, nil, false},
		{"SH ? matches %", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "ACC?2")}, []string{"1.2.3.2"}, false},
		{"SH [ literal", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "ACC[3]")}, []string{"1.2.3.3"}, false},
		{"SH [ in wildcard", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "ACC[*")}, []string{"1.2.3.3"}, false},
		{"SH [ class is not a class", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "ACC[0-9]*")}, nil, false},
		{"SH backslash", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, `ACC\4`)}, []string{"1.2.3.4"}, false},
		{"SH injection", PatientRoot, LevelStudy, []Key{k(dcm.TagAccessionNumber, "' OR 1=1 --")}, []string{"1.2.3.5"}, false},
		{"LO _ literal in wildcard", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyDescription, "*_*")}, []string{"1.2.3.2", "1.2.3.5"}, false},
		{"LO case-sensitive", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyDescription, "ct chest")}, []string{"1.2.3.6"}, false},
		{"LO UTF-8 wildcard", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyDescription, "?? MR")}, []string{"1.2.3.3"}, false},
		{"ModalitiesInStudy single", StudyRoot, LevelStudy, []Key{k(dcm.TagModalitiesInStudy, "CT")}, []string{"1.2.3.1", "1.2.3.3", "1.2.3.6"}, false},
		{"ModalitiesInStudy of later series", StudyRoot, LevelStudy, []Key{k(dcm.TagModalitiesInStudy, "PT")}, []string{"1.2.3.2"}, false},
		{"ModalitiesInStudy list", StudyRoot, LevelStudy, []Key{k(dcm.TagModalitiesInStudy, `SR\PT`)}, []string{"1.2.3.1", "1.2.3.2"}, false},
		{"ModalitiesInStudy wildcard", StudyRoot, LevelStudy, []Key{k(dcm.TagModalitiesInStudy, "?T")}, []string{"1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4", "1.2.3.6"}, false},
		{"SOPClassesInStudy", StudyRoot, LevelStudy, []Key{k(dcm.TagSOPClassesInStudy, srDoc)}, []string{"1.2.3.1"}, false},
		{"PN referring filled later", StudyRoot, LevelStudy, []Key{k(dcm.TagReferringPhysicianName, "late*")}, []string{"1.2.3.2"}, false},
		{"PN referring", StudyRoot, LevelStudy, []Key{k(dcm.TagReferringPhysicianName, "SMITH^ANNA")}, []string{"1.2.3.5"}, false},
		{"patient key at study level, patient root", PatientRoot, LevelStudy, []Key{k(dcm.TagPatientName, "doe*")}, []string{"1.2.3.1", "1.2.3.2", "1.2.3.6"}, false},
		{"patient key at study level, study root", StudyRoot, LevelStudy, []Key{k(dcm.TagPatientName, "doe*")}, []string{"1.2.3.1", "1.2.3.2", "1.2.3.6"}, false},
		{"first arrival's name wins", StudyRoot, LevelStudy, []Key{k(dcm.TagPatientName, "different*")}, nil, false},
		{"UID list", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyInstanceUID, `1.2.3.1\1.2.3.5\9.9`)}, []string{"1.2.3.1", "1.2.3.5"}, false},
		{"UID * is literal", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyInstanceUID, "1.2.3.*")}, nil, false},
		{"UID only * universal", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyInstanceUID, "*")}, all(LevelStudy), false},
		{"UID with trailing NUL", StudyRoot, LevelStudy, []Key{k(dcm.TagStudyInstanceUID, "1.2.3.1\x00")}, []string{"1.2.3.1"}, false},
		{"PatientID injection", PatientRoot, LevelStudy, []Key{k(dcm.TagPatientID, "x'); DROP TABLE instances;--")}, []string{"1.2.3.5"}, false},
		{"two conditions", PatientRoot, LevelStudy, []Key{k(dcm.TagPatientID, "PID001"), k(dcm.TagModalitiesInStudy, "MR")}, []string{"1.2.3.2"}, false},
		{"series key at study level", StudyRoot, LevelStudy, []Key{k(dcm.TagModality, "CT")}, nil, true},

		// SERIES level.
		{"modality", StudyRoot, LevelSeries, []Key{k(dcm.TagModality, "CT")}, []string{"1.2.3.1.1", "1.2.3.3.2", "1.2.3.6.1"}, false},
		{"CS case-sensitive", StudyRoot, LevelSeries, []Key{k(dcm.TagModality, "ct")}, nil, false},
		{"series description brackets", StudyRoot, LevelSeries, []Key{k(dcm.TagSeriesDescription, "chest [pa]")}, []string{"1.2.3.5.1"}, false},
		{"series description bracket wildcard", StudyRoot, LevelSeries, []Key{k(dcm.TagSeriesDescription, "*[pa]")}, []string{"1.2.3.5.1"}, false},
		{"series of a study", PatientRoot, LevelSeries, []Key{k(dcm.TagStudyInstanceUID, "1.2.3.1")}, []string{"1.2.3.1.1", "1.2.3.1.2"}, false},
		{"IS exact, filled later", StudyRoot, LevelSeries, []Key{k(dcm.TagSeriesNumber, "5")}, []string{"1.2.3.4.1"}, false},
		{"IS * literal", StudyRoot, LevelSeries, []Key{k(dcm.TagSeriesNumber, "9*")}, nil, false},
		{"patient name at series level", PatientRoot, LevelSeries, []Key{k(dcm.TagPatientName, "山?^*")}, []string{"1.2.3.3.1", "1.2.3.3.2"}, false},
		{"image key at series level", StudyRoot, LevelSeries, []Key{k(dcm.TagSOPInstanceUID, "1.2.3.1.1.1")}, nil, true},

		// IMAGE level.
		{"images of a series", PatientRoot, LevelImage, []Key{k(dcm.TagSeriesInstanceUID, "1.2.3.1.1")}, []string{"1.2.3.1.1.1", "1.2.3.1.1.2"}, false},
		{"content time range", StudyRoot, LevelImage, []Key{k(dcm.TagContentTime, "1030-1031")}, []string{"1.2.3.1.1.1", "1.2.3.1.1.2", "1.2.3.6.1.1"}, false},
		{"SOP class list", StudyRoot, LevelImage, []Key{k(dcm.TagSOPClassUID, srDoc+`\`+"1.2.840.10008.5.1.4.1.1.1")}, []string{"1.2.3.1.2.1", "1.2.3.5.1.1"}, false},
		{"instance number", StudyRoot, LevelImage, []Key{k(dcm.TagInstanceNumber, "7")}, []string{"1.2.3.5.1.1"}, false},
		{"instance uid", StudyRoot, LevelImage, []Key{k(dcm.TagSOPInstanceUID, "1.2.3.4.1.2")}, []string{"1.2.3.4.1.2"}, false},
		{"all keys of all levels", PatientRoot, LevelImage, []Key{k(dcm.TagPatientName, "*jo*"), k(dcm.TagStudyDate, "2020-"), k(dcm.TagModality, "SR"), k(dcm.TagInstanceNumber, "1")}, []string{"1.2.3.1.2.1"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := append([]Key{{Tag: idTag[tc.level]}}, tc.keys...)
			if tc.level.rank() < 0 {
				keys = tc.keys
			}
			ms, err := runQuery(t, db, &Query{Root: tc.root, Level: tc.level, Keys: keys})
			if tc.err {
				var qe *QueryError
				if !errors.As(err, &qe) || !errors.Is(err, ErrInvalidQuery) {
					t.Fatalf("err = %v, want a *QueryError wrapping ErrInvalidQuery", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m[idTag[tc.level]])
			}
			sort.Strings(got)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
		})
	}
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestQueryReturnKeys checks the content of matches: requested keys,
// computed keys, unique keys of the levels above, service keys and unknown
// keys.
func TestQueryReturnKeys(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	private := dcm.NewTag(0x0009, 0x1001)
	ms, err := runQuery(t, db, &Query{Root: PatientRoot, Level: LevelStudy, Keys: []Key{
		k(dcm.TagStudyInstanceUID, "1.2.3.2"), k(dcm.TagPatientName, ""), k(dcm.TagModalitiesInStudy, ""),
		k(dcm.TagSOPClassesInStudy, ""), k(dcm.TagNumberOfStudyRelatedSeries, ""), k(dcm.TagNumberOfStudyRelatedInstances, ""),
		k(dcm.TagNumberOfPatientRelatedStudies, ""), k(dcm.TagNumberOfPatientRelatedSeries, ""), k(dcm.TagNumberOfPatientRelatedInstances, ""),
		k(dcm.TagReferringPhysicianName, ""), k(dcm.TagSpecificCharacterSet, ""), k(dcm.TagQueryRetrieveLevel, "STUDY"),
		k(dcm.TagRetrieveAETitle, ""), k(private, ""), k(dcm.TagModality, ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := Match{
		dcm.TagStudyInstanceUID: "1.2.3.2", dcm.TagPatientName: "Doe^John", dcm.TagPatientID: "PID001",
		dcm.TagModalitiesInStudy: `MR\PT`, dcm.TagSOPClassesInStudy: "1.2.840.10008.5.1.4.1.1.128\\" + mrImage,
		dcm.TagNumberOfStudyRelatedSeries: "2", dcm.TagNumberOfStudyRelatedInstances: "2",
		dcm.TagNumberOfPatientRelatedStudies: "2", dcm.TagNumberOfPatientRelatedSeries: "4", dcm.TagNumberOfPatientRelatedInstances: "5",
		dcm.TagReferringPhysicianName: "Late^Filled", dcm.TagSpecificCharacterSet: "", dcm.TagQueryRetrieveLevel: "STUDY",
		dcm.TagRetrieveAETitle: "", private: "", dcm.TagModality: "",
	}
	if len(ms) != 1 || !reflect.DeepEqual(ms[0], want) {
		t.Fatalf("got %v\nwant %v", ms, want)
	}

	// Study Root carries no PatientID unless asked; image level carries the
	// UIDs of every level.
	ms, err = runQuery(t, db, &Query{Root: StudyRoot, Level: LevelImage, Keys: []Key{k(dcm.TagSOPInstanceUID, "1.2.3.1.1.2"), k(dcm.TagNumberOfSeriesRelatedInstances, "")}})
	if err != nil {
		t.Fatal(err)
	}
	want = Match{dcm.TagSOPInstanceUID: "1.2.3.1.1.2", dcm.TagSeriesInstanceUID: "1.2.3.1.1", dcm.TagStudyInstanceUID: "1.2.3.1",
		dcm.TagNumberOfSeriesRelatedInstances: "2", dcm.TagQueryRetrieveLevel: "IMAGE"}
	if len(ms) != 1 || !reflect.DeepEqual(ms[0], want) {
		t.Fatalf("got %v\nwant %v", ms, want)
	}
}

// TestQueryInjection: SQL-looking keys are literals (adversarial test 28),
// and the file is intact afterwards.
func TestQueryInjection(t *testing.T) {
	db := openTest(t)
	loadDataset(t, db)
	values := []string{
		"' OR 1=1 --", "x'); DROP TABLE instances;--", "x'); DROP TABLE instance;--", "\"; DROP TABLE patient; --",
		"%", "_", "[", "]", `\`, "[*]", "*' OR '1'='1", "1.2.3.1' OR '1'='1", "?%", "%*", "*%*", "*_*", "*[*", "*\\*",
		"1; ATTACH DATABASE '/tmp/x' AS x; --", "\x00' OR 1=1", "$1", "?1", ":name", "@p",
	}
	tags := []dcm.Tag{dcm.TagPatientName, dcm.TagPatientID, dcm.TagStudyInstanceUID, dcm.TagAccessionNumber,
		dcm.TagStudyDate, dcm.TagStudyTime, dcm.TagModalitiesInStudy, dcm.TagSOPClassesInStudy, dcm.TagStudyDescription}
	ref := &refDB{}
	for i, s := range dataset {
		ref.insert(s.record(i))
	}
	for _, tag := range tags {
		for _, v := range values {
			q := &Query{Root: StudyRoot, Level: LevelStudy, Keys: []Key{{Tag: dcm.TagStudyInstanceUID}, {Tag: tag, Value: v}}}
			ms, err := runQuery(t, db, q)
			if err != nil {
				t.Fatalf("%v=%q: %v", tag, v, err)
			}
			want, _ := ref.query(q)
			if !reflect.DeepEqual(canon(ms), canon(want)) {
				t.Errorf("%v=%q: got %d matches, want %d", tag, v, len(ms), len(want))
			}
			// A list of only empty (or '*') values is universal by design.
			listUniversal := (tag == dcm.TagStudyInstanceUID || tag == dcm.TagModalitiesInStudy || tag == dcm.TagSOPClassesInStudy) &&
				(v == `\` || v == `*\*`)
			if len(ms) == 6 && !onlyStars(strings.Trim(v, " ")) && !listUniversal {
				t.Errorf("%v=%q matched every study", tag, v)
			}
		}
	}
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms, err := runQuery(t, db, &Query{Level: LevelImage})
	if err != nil || len(ms) != len(dataset) {
		t.Fatalf("after injection attempts: %d instances, %v", len(ms), err)
	}
}
