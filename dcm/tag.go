package dcm

import "strconv"

// Tag is a DICOM data element tag, group<<16 | element (PS3.5 §7.1).
// The zero value is the tag (0000,0000).
type Tag uint32

// NewTag returns the tag (group,element).
func NewTag(group, element uint16) Tag { return Tag(uint32(group)<<16 | uint32(element)) }

// Group returns the tag's group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

// Element returns the tag's element number.
func (t Tag) Element() uint16 { return uint16(t) }

// IsPrivate reports whether t is a private tag (odd group, PS3.5 §7.8).
func (t Tag) IsPrivate() bool { return t.Group()&1 == 1 }

// String returns the tag as "(gggg,eeee)" with upper-case hex digits.
func (t Tag) String() string {
	const hex = "0123456789ABCDEF"
	var b [11]byte
	b[0], b[5], b[10] = '(', ',', ')'
	for i := 0; i < 4; i++ {
		b[1+i] = hex[(t>>(28-4*uint(i)))&0xF]
		b[6+i] = hex[(t>>(12-4*uint(i)))&0xF]
	}
	return string(b[:])
}

// GoString returns the tag as a Go hex literal, for %#v.
func (t Tag) GoString() string {
	return "dcm.Tag(0x" + strconv.FormatUint(uint64(t)|1<<32, 16)[1:] + ")"
}

// Keyword returns the tag's keyword from the data dictionary (PS3.6), e.g.
// "PatientName", or "" when the tag is not in the dictionary.
func (t Tag) Keyword() string { return dictionaryKeyword(t) }

// Attribute tags used by the index and the query service (PS3.6).
// Group 0002 tags belong to the File Meta Information (PS3.10 §7.1) and the
// FFFE tags are the item and delimitation tags of PS3.5 §7.5.
const (
	TagMediaStorageSOPClassUID    Tag = 0x00020002
	TagMediaStorageSOPInstanceUID Tag = 0x00020003
	TagTransferSyntaxUID          Tag = 0x00020010

	TagSpecificCharacterSet            Tag = 0x00080005
	TagSOPClassUID                     Tag = 0x00080016
	TagSOPInstanceUID                  Tag = 0x00080018
	TagStudyDate                       Tag = 0x00080020
	TagSeriesDate                      Tag = 0x00080021
	TagContentDate                     Tag = 0x00080023
	TagStudyTime                       Tag = 0x00080030
	TagSeriesTime                      Tag = 0x00080031
	TagContentTime                     Tag = 0x00080033
	TagAccessionNumber                 Tag = 0x00080050
	TagQueryRetrieveLevel              Tag = 0x00080052
	TagRetrieveAETitle                 Tag = 0x00080054
	TagInstanceAvailability            Tag = 0x00080056
	TagModality                        Tag = 0x00080060
	TagModalitiesInStudy               Tag = 0x00080061
	TagSOPClassesInStudy               Tag = 0x00080062
	TagManufacturer                    Tag = 0x00080070
	TagInstitutionName                 Tag = 0x00080080
	TagReferringPhysicianName          Tag = 0x00080090
	TagTimezoneOffsetFromUTC           Tag = 0x00080201
	TagStationName                     Tag = 0x00081010
	TagStudyDescription                Tag = 0x00081030
	TagSeriesDescription               Tag = 0x0008103E
	TagNameOfPhysiciansReadingStudy    Tag = 0x00081060
	TagPatientName                     Tag = 0x00100010
	TagPatientID                       Tag = 0x00100020
	TagIssuerOfPatientID               Tag = 0x00100021
	TagPatientBirthDate                Tag = 0x00100030
	TagPatientBirthTime                Tag = 0x00100032
	TagPatientSex                      Tag = 0x00100040
	TagOtherPatientIDs                 Tag = 0x00101000
	TagPatientAge                      Tag = 0x00101010
	TagPatientSize                     Tag = 0x00101020
	TagPatientWeight                   Tag = 0x00101030
	TagBodyPartExamined                Tag = 0x00180015
	TagProtocolName                    Tag = 0x00181030
	TagStudyInstanceUID                Tag = 0x0020000D
	TagSeriesInstanceUID               Tag = 0x0020000E
	TagStudyID                         Tag = 0x00200010
	TagSeriesNumber                    Tag = 0x00200011
	TagInstanceNumber                  Tag = 0x00200013
	TagNumberOfPatientRelatedStudies   Tag = 0x00201200
	TagNumberOfPatientRelatedSeries    Tag = 0x00201202
	TagNumberOfPatientRelatedInstances Tag = 0x00201204
	TagNumberOfStudyRelatedSeries      Tag = 0x00201206
	TagNumberOfStudyRelatedInstances   Tag = 0x00201208
	TagNumberOfSeriesRelatedInstances  Tag = 0x00201209
	TagNumberOfFrames                  Tag = 0x00280008
	TagRows                            Tag = 0x00280010
	TagColumns                         Tag = 0x00280011
	TagPerformedProcedureStepStartDate Tag = 0x00400244
	TagPixelData                       Tag = 0x7FE00010

	TagItem                     Tag = 0xFFFEE000
	TagItemDelimitationItem     Tag = 0xFFFEE00D
	TagSequenceDelimitationItem Tag = 0xFFFEE0DD
)

// IndexTags lists, in ascending order, the attributes Scan extracts from the
// top level of a data set into Summary.Attrs. It holds every attribute tag
// above except the File Meta Information (group 0002), the attributes an
// archive computes or supplies rather than reads from an instance
// (QueryRetrieveLevel, RetrieveAETitle, InstanceAvailability,
// ModalitiesInStudy, SOPClassesInStudy and the NumberOf*Related* counts),
// the item tags and PixelData. Callers must not modify it.
var IndexTags = indexSlots[:]
