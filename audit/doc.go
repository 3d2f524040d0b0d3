// Package audit writes the node's security audit trail: the events of the
// DICOM Audit Trail Message Format Profile (PS3.15 A.5), one JSON object per
// line, to a file of its own, separate from the operational log.
//
// # What is recorded
//
// The event kinds of PS3.15 A.5.3 that a DICOM archive produces, each built
// by a constructor of this package (the node calls them):
//
//	ApplicationStart, ApplicationStop  110100 Application Activity (A.5.3.1)
//	InstancesStored                    110104 DICOM Instances Transferred, C (A.5.3.7)
//	InstancesTransferred               110104 DICOM Instances Transferred, R (C-MOVE, C-GET)
//	InstancesAccessed                  110103 DICOM Instances Accessed (A.5.3.6)
//	StudyDeleted                       110105 DICOM Study Deleted (A.5.3.8)
//	Query                              110112 Query (A.5.3.10)
//	AssociationRejected, NodeAuthFailure  110113 Security Alert / 110126 Node Authentication (A.5.3.11)
//	RestrictedFunction                 110113 Security Alert / 110132 Use of Restricted Function
//	SecurityConfigChange, KeyRotation  110113 Security Alert / 110129 Security Configuration
//	AssociationAborted, IntegrityAlert 110113 Security Alert / local codes (99SHARDPACS)
//
// Event, Action and Outcome follow the DICOM audit message schema (derived
// from RFC 3881, PS3.15 A.5.1): JSON member names are the schema's element
// and attribute names (EventID, EventActionCode, EventOutcomeIndicator,
// ActiveParticipant, ParticipantObjectIdentification, ...), so a converter
// to the schema's XML or to syslog (PS3.15 A.6, RFC 5424) is mechanical.
// Coded values carry "csd-code", "codeSystemName" and "originalText". Where
// the XML schema uses base64 (ParticipantObjectDetail values), the JSON
// carries the text itself. Codes are from PS3.16 CID 400 (event IDs), CID
// 401 and CID 403 (event types, security alert types), CID 402 (role IDs)
// and CID 404 (participant object ID types); the two local codes use the
// private coding scheme designator "99SHARDPACS" (PS3.16 8.2).
//
// # Patient data
//
// The audit trail MAY and does contain patient identifiers (Patient ID in
// the Patient participant object, the keys of a C-FIND query): recording
// who accessed which patient's data is its purpose (PS3.15 A.5). That is
// why it is a separate file, created with mode 0600 and refused when group
// or others may access it, and why the operational log holds no patient
// data at all. Protect and retain it like the index (see docs/security.md).
//
// # Escaping
//
// Every string that a peer supplies (AE titles, UIDs, patient IDs, query
// values, reasons) is stored as a JSON string — encoding/json escapes
// control characters, so CR, LF, NUL and ANSI escape sequences cannot break
// or forge a line — after invalid UTF-8 is replaced by U+FFFD and the value
// is cut to MaxField bytes (MaxQueryValue for query values). EscapeForLog
// does the same job for the operational log, whose console format does not
// escape.
//
// # Durability
//
// Each event is one write(2) of one line on a file opened with O_APPEND, so
// lines never interleave, also with another process (a CLI command)
// appending to the same file. Events that must survive a power loss — every
// Security Alert, Application Activity (start/stop) and Study Deleted — are
// fsynced before Log returns. The others (stores, transfers, queries: the
// high-volume kinds) reach the kernel at once and are fsynced together at
// most SyncInterval (1 s) later, and at Close: a process crash loses
// nothing, a power loss at most the last second of routine events.
package audit
