package index

import "github.com/shardpacs/shardpacs/dcm"

// Level is a Query/Retrieve level, the value of (0008,0052)
// QueryRetrieveLevel (PS3.4 C.6.1.1, C.6.2.1).
type Level string

// The four levels of the Patient Root model; Study Root has no PATIENT level.
const (
	LevelPatient Level = "PATIENT"
	LevelStudy   Level = "STUDY"
	LevelSeries  Level = "SERIES"
	LevelImage   Level = "IMAGE"
)

// rank orders the levels from the top of the hierarchy (0) down; -1 for an
// unknown level.
func (l Level) rank() int {
	switch l {
	case LevelPatient:
		return 0
	case LevelStudy:
		return 1
	case LevelSeries:
		return 2
	case LevelImage:
		return 3
	}
	return -1
}

// Root is the information model of a query (PS3.4 C.6.1 Patient Root,
// C.6.2 Study Root). The zero value is PatientRoot.
type Root int

const (
	PatientRoot Root = iota
	StudyRoot
)

func (r Root) String() string {
	switch r {
	case PatientRoot:
		return "PatientRoot"
	case StudyRoot:
		return "StudyRoot"
	}
	return "Root(?)"
}

// kind says how a column is stored and matched.
type kind uint8

const (
	kText       kind = iota // string; wildcard matching when the VR allows it
	kPN                     // person name: upper-cased companions per component group
	kDA                     // date: single value or range, string order
	kTM                     // time: companion column normalised to HHMMSS.FFFFFF
	kUI                     // UID: single value or list of UIDs
	kExact                  // IS, DS, US, AS: single value matching only
	kCount                  // computed NumberOf*Related*: return key only
	kModalities             // computed ModalitiesInStudy (helper table study_modality)
	kSOPClasses             // computed SOPClassesInStudy (helper table study_sop_class)
)

// column maps one attribute to its place in the schema.
type column struct {
	tag   dcm.Tag
	level Level
	name  string // column name in the level's table
	vr    string // VR of the attribute (PS3.6), the VR used for matching
	kind  kind
}

// computed reports whether the index derives the value rather than storing
// what an instance carried.
func (c *column) computed() bool {
	return c.kind == kCount || c.kind == kModalities || c.kind == kSOPClasses
}

// qual returns the qualified column name ("p.patient_id").
func (c *column) qual() string { return levelAlias(c.level) + "." + c.name }

// levelTable and levelAlias name each level's table and its alias in queries.
func levelTable(l Level) string {
	switch l {
	case LevelPatient:
		return "patient"
	case LevelStudy:
		return "study"
	case LevelSeries:
		return "series"
	}
	return "instance"
}

func levelAlias(l Level) string {
	switch l {
	case LevelPatient:
		return "p"
	case LevelStudy:
		return "s"
	case LevelSeries:
		return "se"
	}
	return "i"
}

// columns is the tag→level map: every attribute the index stores in a
// column of its own and can match on. The level follows the query keys of
// PS3.4 C.6.1.1.2–C.6.1.1.5 (Patient Root): Patient's Age, Size and Weight
// are study-level (Patient Study module); the NumberOfPatientRelated* keys
// are patient-level and therefore also returned at lower levels. Attributes
// not listed here are kept per instance (InstanceRecord.Attrs round-trips
// them) but cannot be matched on.
var columns = []column{
	{dcm.TagPatientName, LevelPatient, "patient_name", "PN", kPN},
	{dcm.TagPatientID, LevelPatient, "patient_id", "LO", kText},
	{dcm.TagIssuerOfPatientID, LevelPatient, "issuer", "LO", kText},
	{dcm.TagPatientBirthDate, LevelPatient, "birth_date", "DA", kDA},
	{dcm.TagPatientBirthTime, LevelPatient, "birth_time", "TM", kTM},
	{dcm.TagPatientSex, LevelPatient, "sex", "CS", kText},
	{dcm.TagOtherPatientIDs, LevelPatient, "other_ids", "LO", kText},
	{dcm.TagNumberOfPatientRelatedStudies, LevelPatient, "num_studies", "IS", kCount},
	{dcm.TagNumberOfPatientRelatedSeries, LevelPatient, "num_series", "IS", kCount},
	{dcm.TagNumberOfPatientRelatedInstances, LevelPatient, "num_instances", "IS", kCount},

	{dcm.TagStudyInstanceUID, LevelStudy, "study_uid", "UI", kUI},
	{dcm.TagStudyDate, LevelStudy, "study_date", "DA", kDA},
	{dcm.TagStudyTime, LevelStudy, "study_time", "TM", kTM},
	{dcm.TagAccessionNumber, LevelStudy, "accession", "SH", kText},
	{dcm.TagStudyID, LevelStudy, "study_id", "SH", kText},
	{dcm.TagStudyDescription, LevelStudy, "description", "LO", kText},
	{dcm.TagReferringPhysicianName, LevelStudy, "referring", "PN", kPN},
	{dcm.TagNameOfPhysiciansReadingStudy, LevelStudy, "reading", "PN", kPN},
	{dcm.TagPatientAge, LevelStudy, "patient_age", "AS", kExact},
	{dcm.TagPatientSize, LevelStudy, "patient_size", "DS", kExact},
	{dcm.TagPatientWeight, LevelStudy, "patient_weight", "DS", kExact},
	{dcm.TagModalitiesInStudy, LevelStudy, "modalities", "CS", kModalities},
	{dcm.TagSOPClassesInStudy, LevelStudy, "sop_classes", "UI", kSOPClasses},
	{dcm.TagNumberOfStudyRelatedSeries, LevelStudy, "num_series", "IS", kCount},
	{dcm.TagNumberOfStudyRelatedInstances, LevelStudy, "num_instances", "IS", kCount},

	{dcm.TagSeriesInstanceUID, LevelSeries, "series_uid", "UI", kUI},
	{dcm.TagModality, LevelSeries, "modality", "CS", kText},
	{dcm.TagSeriesNumber, LevelSeries, "series_number", "IS", kExact},
	{dcm.TagSeriesDescription, LevelSeries, "description", "LO", kText},
	{dcm.TagBodyPartExamined, LevelSeries, "body_part", "CS", kText},
	{dcm.TagSeriesDate, LevelSeries, "series_date", "DA", kDA},
	{dcm.TagSeriesTime, LevelSeries, "series_time", "TM", kTM},
	{dcm.TagProtocolName, LevelSeries, "protocol", "LO", kText},
	{dcm.TagInstitutionName, LevelSeries, "institution", "LO", kText},
	{dcm.TagStationName, LevelSeries, "station", "SH", kText},
	{dcm.TagManufacturer, LevelSeries, "manufacturer", "LO", kText},
	{dcm.TagPerformedProcedureStepStartDate, LevelSeries, "pps_start_date", "DA", kDA},
	{dcm.TagNumberOfSeriesRelatedInstances, LevelSeries, "num_instances", "IS", kCount},

	{dcm.TagSOPInstanceUID, LevelImage, "sop_uid", "UI", kUI},
	{dcm.TagSOPClassUID, LevelImage, "sop_class_uid", "UI", kUI},
	{dcm.TagInstanceNumber, LevelImage, "instance_number", "IS", kExact},
	{dcm.TagContentDate, LevelImage, "content_date", "DA", kDA},
	{dcm.TagContentTime, LevelImage, "content_time", "TM", kTM},
	{dcm.TagNumberOfFrames, LevelImage, "number_of_frames", "IS", kExact},
	{dcm.TagRows, LevelImage, "n_rows", "US", kExact},
	{dcm.TagColumns, LevelImage, "n_columns", "US", kExact},
}

// columnByTag indexes columns.
var columnByTag = func() map[dcm.Tag]*column {
	m := make(map[dcm.Tag]*column, len(columns))
	for i := range columns {
		m[columns[i].tag] = &columns[i]
	}
	return m
}()

// levelColumns returns the stored (non-computed) columns of one level, in
// table order.
func levelColumns(l Level) []*column {
	var out []*column
	for i := range columns {
		if c := &columns[i]; c.level == l && !c.computed() {
			out = append(out, c)
		}
	}
	return out
}

var storedColumns = map[Level][]*column{
	LevelPatient: levelColumns(LevelPatient),
	LevelStudy:   levelColumns(LevelStudy),
	LevelSeries:  levelColumns(LevelSeries),
	LevelImage:   levelColumns(LevelImage),
}

// serviceKey reports whether t is a key the C-FIND service, not the index,
// answers: the index never matches on it and returns it empty, except
// QueryRetrieveLevel which it sets to the query's level (PS3.4 C.4.1.2.3).
func serviceKey(t dcm.Tag) bool {
	switch t {
	case dcm.TagQueryRetrieveLevel, dcm.TagSpecificCharacterSet, dcm.TagRetrieveAETitle,
		dcm.TagInstanceAvailability, dcm.TagTimezoneOffsetFromUTC:
		return true
	}
	return false
}

// uniqueKeys returns the unique keys (PS3.4 C.6.1.1 / C.6.2.1) of a level
// and the levels above it in the given model, which every Match carries.
func uniqueKeys(r Root, l Level) []dcm.Tag {
	var out []dcm.Tag
	if r == PatientRoot {
		out = append(out, dcm.TagPatientID)
	}
	if l.rank() >= 1 {
		out = append(out, dcm.TagStudyInstanceUID)
	}
	if l.rank() >= 2 {
		out = append(out, dcm.TagSeriesInstanceUID)
	}
	if l.rank() >= 3 {
		out = append(out, dcm.TagSOPInstanceUID)
	}
	return out
}
