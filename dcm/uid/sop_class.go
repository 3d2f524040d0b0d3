package uid

import "strings"

// Service SOP Classes shardpacs implements.
const (
	// VerificationSOPClass is C-ECHO's SOP Class (PS3.4 Annex A).
	VerificationSOPClass = "1.2.840.10008.1.1"

	// Query/Retrieve SOP Classes (PS3.4 C.6.1.3 and C.6.2.3, Table C.4-1).
	PatientRootQRFind = "1.2.840.10008.5.1.4.1.2.1.1"
	PatientRootQRMove = "1.2.840.10008.5.1.4.1.2.1.2"
	PatientRootQRGet  = "1.2.840.10008.5.1.4.1.2.1.3"
	StudyRootQRFind   = "1.2.840.10008.5.1.4.1.2.2.1"
	StudyRootQRMove   = "1.2.840.10008.5.1.4.1.2.2.2"
	StudyRootQRGet    = "1.2.840.10008.5.1.4.1.2.2.3"

	// StorageCommitmentPushModel is the Storage Commitment SOP Class
	// (PS3.4 J.3); it is not a Storage SOP Class.
	StorageCommitmentPushModel = "1.2.840.10008.1.20.1"
)

// SOPClass names a SOP Class of the UID registry (PS3.6 Table A-1).
type SOPClass struct {
	UID     string
	Name    string
	Retired bool // retired in PS3.6; peers may still send instances of it
}

// String returns the SOP Class name.
func (c SOPClass) String() string { return c.Name }

// StorageSOPClasses lists every SOP Class of the Storage Service Class
// (PS3.4 Table B.5-1), plus the retired Storage SOP Classes of earlier
// editions (Retired set; old modalities still send e.g. the retired
// Ultrasound Image Storage), sorted by UID. It excludes the Non-Patient
// Object Storage SOP Classes (see NonPatientStorageSOPClasses), Media Storage
// Directory Storage (PS3.10 DICOMDIR), Storage Commitment, and the retired
// print "Storage" SOP Classes (Stored Print, Hardcopy Grayscale/Color Image).
var StorageSOPClasses = storageSOPClasses[:]

// NonPatientStorageSOPClasses lists the SOP Classes of the Non-Patient Object
// Storage Service Class (PS3.4 Table GG.3-1): Hanging Protocols, Color
// Palettes, implant templates, defined procedure protocols, inventories.
// They are sent with C-STORE but have no Patient IE at their root, so a
// patient/study index cannot file them; IsStorageSOPClass reports false.
var NonPatientStorageSOPClasses = nonPatientStorageSOPClasses[:]

var storageIndex = func() map[string]bool {
	m := make(map[string]bool, len(storageSOPClasses))
	for _, c := range storageSOPClasses {
		m[c.UID] = true
	}
	return m
}()

// IsStorageSOPClass reports whether uid is one of StorageSOPClasses
// (retired ones included). The match is exact.
func IsStorageSOPClass(uid string) bool { return storageIndex[uid] }

// Name returns the registry name of any UID of PS3.6 Table A-1, with
// " (Retired)" appended for retired ones, or "" when the UID is not in the
// registry (private and instance UIDs). For log messages: never parse it.
func Name(uid string) string { return registryNames[uid] }

// Trim removes the padding a UID may carry on the wire: one trailing NUL
// (PS3.5 9.1) and, from lenient peers, spaces.
func Trim(uid string) string { return strings.TrimRight(uid, "\x00 ") }
