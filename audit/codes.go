package audit

import "strconv"

// Code is a coded value of the audit message schema (PS3.15 A.5.1,
// CodedValueType): the code value, its coding scheme and its meaning.
type Code struct {
	Code    string `json:"csd-code"`
	Scheme  string `json:"codeSystemName"`
	Meaning string `json:"originalText"`
}

// Coding scheme designators.
const (
	SchemeDCM     = "DCM"         // DICOM Controlled Terminology (PS3.16 Annex D)
	SchemeRFC3881 = "RFC-3881"    // codes inherited from RFC 3881
	SchemeLocal   = "99SHARDPACS" // this implementation's private codes (PS3.16 8.2)
)

func dcm(code, meaning string) Code { return Code{Code: code, Scheme: SchemeDCM, Meaning: meaning} }

// Event IDs, PS3.16 CID 400 "Audit Event ID".
var (
	EventApplicationActivity = dcm("110100", "Application Activity")
	EventAuditLogUsed        = dcm("110101", "Audit Log Used")
	EventInstancesAccessed   = dcm("110103", "DICOM Instances Accessed")
	EventInstancesTransfer   = dcm("110104", "DICOM Instances Transferred")
	EventStudyDeleted        = dcm("110105", "DICOM Study Deleted")
	EventExport              = dcm("110106", "Export")
	EventImport              = dcm("110107", "Import")
	EventQuery               = dcm("110112", "Query")
	EventSecurityAlert       = dcm("110113", "Security Alert")
	EventUserAuthentication  = dcm("110114", "User Authentication")
)

// Event type codes, PS3.16 CID 401 "Audit Event Type Code" and CID 403
// "Security Alert Type Code".
var (
	TypeApplicationStart      = dcm("110120", "Application Start")
	TypeApplicationStop       = dcm("110121", "Application Stop")
	TypeLogin                 = dcm("110122", "Login")
	TypeLogout                = dcm("110123", "Logout")
	TypeNodeAuthentication    = dcm("110126", "Node Authentication")
	TypeNetworkConfiguration  = dcm("110128", "Network Configuration")
	TypeSecurityConfiguration = dcm("110129", "Security Configuration")
	TypeSoftwareConfiguration = dcm("110131", "Software Configuration")
	TypeRestrictedFunction    = dcm("110132", "Use of Restricted Function")
	TypeAuditRecordingStopped = dcm("110133", "Audit Recording Stopped")
	TypeAuditRecordingStarted = dcm("110134", "Audit Recording Started")

	// Local Security Alert types (no code of CID 403 fits them).
	TypeAssociationAborted = Code{Code: "ASSOC-ABORT", Scheme: SchemeLocal, Meaning: "Association Aborted"}
	TypeIntegrityFailure   = Code{Code: "INTEGRITY", Scheme: SchemeLocal, Meaning: "Stored Data Integrity Failure"}
)

// Active participant role IDs, PS3.16 CID 402 "Audit Active Participant
// Role ID Code".
var (
	RoleApplication         = dcm("110150", "Application")
	RoleApplicationLauncher = dcm("110151", "Application Launcher")
	RoleDestination         = dcm("110152", "Destination Role ID")
	RoleSource              = dcm("110153", "Source Role ID")
)

// Participant object ID types, PS3.16 CID 404 "Audit Participant Object ID
// Type Code", and RFC 3881's.
var (
	IDTypeStudyUID    = dcm("110180", "Study Instance UID")
	IDTypeSOPClassUID = dcm("110181", "SOP Class UID")
	IDTypeNodeID      = dcm("110182", "Node ID")
	IDTypePatient     = Code{Code: "2", Scheme: SchemeRFC3881, Meaning: "Patient Number"}
	IDTypeURI         = Code{Code: "12", Scheme: SchemeRFC3881, Meaning: "URI"}
)

// Action is the EventActionCode (PS3.15 A.5.2): what was done to the data.
type Action string

// EventActionCode values.
const (
	ActionCreate  Action = "C"
	ActionRead    Action = "R" // read, view, print, query
	ActionUpdate  Action = "U"
	ActionDelete  Action = "D"
	ActionExecute Action = "E" // a system or application function
)

// Outcome is the EventOutcomeIndicator (PS3.15 A.5.2). For a Security
// Alert (A.5.3.11) Success is an informative alert, Minor and Serious
// failures mean mitigation worked, Major that it may not have.
type Outcome int

// EventOutcomeIndicator values.
const (
	OutcomeSuccess        Outcome = 0
	OutcomeMinorFailure   Outcome = 4
	OutcomeSeriousFailure Outcome = 8
	OutcomeMajorFailure   Outcome = 12
)

func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeMinorFailure:
		return "minor failure"
	case OutcomeSeriousFailure:
		return "serious failure"
	case OutcomeMajorFailure:
		return "major failure"
	}
	return "outcome " + strconv.Itoa(int(o))
}

// Participant object type codes and roles (PS3.15 A.5.1.2, RFC 3881 5.5).
const (
	ObjectPerson = 1 // ParticipantObjectTypeCode
	ObjectSystem = 2

	RolePatient        = 1 // ParticipantObjectTypeCodeRole
	RoleReport         = 3
	RoleSecurityObject = 13
	RoleQuery          = 24
)

// Network access point types (PS3.15 A.5.2.4).
const (
	NAPMachineName = 1
	NAPIPAddress   = 2
)

// AuditSourceTypeCode 4: application server process (RFC 3881 5.4).
const sourceTypeApplicationServer = "4"
