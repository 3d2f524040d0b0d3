package dimse

import "fmt"

// Tag is a data element tag, group in the high 16 bits and element in the
// low 16 bits: 0x00000110 is (0000,0110). Command elements are all in group
// 0000 (PS3.7 §6.3.1).
type Tag uint32

// Command element tags (PS3.7 Annex E, Table E.1-1) used by this package.
const (
	TagCommandGroupLength                   Tag = 0x00000000 // UL
	TagCommandLengthToEnd                   Tag = 0x00000001 // UL, retired (dropped on decode)
	TagAffectedSOPClassUID                  Tag = 0x00000002 // UI
	TagRequestedSOPClassUID                 Tag = 0x00000003 // UI
	TagCommandField                         Tag = 0x00000100 // US
	TagMessageID                            Tag = 0x00000110 // US
	TagMessageIDBeingRespondedTo            Tag = 0x00000120 // US
	TagMoveDestination                      Tag = 0x00000600 // AE
	TagPriority                             Tag = 0x00000700 // US
	TagCommandDataSetType                   Tag = 0x00000800 // US
	TagStatus                               Tag = 0x00000900 // US
	TagOffendingElement                     Tag = 0x00000901 // AT, multi-valued
	TagErrorComment                         Tag = 0x00000902 // LO
	TagErrorID                              Tag = 0x00000903 // US
	TagAffectedSOPInstanceUID               Tag = 0x00001000 // UI
	TagRequestedSOPInstanceUID              Tag = 0x00001001 // UI
	TagNumberOfRemainingSuboperations       Tag = 0x00001020 // US
	TagNumberOfCompletedSuboperations       Tag = 0x00001021 // US
	TagNumberOfFailedSuboperations          Tag = 0x00001022 // US
	TagNumberOfWarningSuboperations         Tag = 0x00001023 // US
	TagMoveOriginatorApplicationEntityTitle Tag = 0x00001030 // AE
	TagMoveOriginatorMessageID              Tag = 0x00001031 // US
)

// Group returns the group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

// Element returns the element number.
func (t Tag) Element() uint16 { return uint16(t) }

// String returns "(gggg,eeee)" in upper-case hexadecimal.
func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.Group(), t.Element()) }

// Name returns the PS3.7 Annex E name of a command element this package
// knows ("Message ID"), or "" for any other tag.
func (t Tag) Name() string {
	switch t {
	case TagCommandGroupLength:
		return "Command Group Length"
	case TagCommandLengthToEnd:
		return "Command Length to End"
	case TagAffectedSOPClassUID:
		return "Affected SOP Class UID"
	case TagRequestedSOPClassUID:
		return "Requested SOP Class UID"
	case TagCommandField:
		return "Command Field"
	case TagMessageID:
		return "Message ID"
	case TagMessageIDBeingRespondedTo:
		return "Message ID Being Responded To"
	case TagMoveDestination:
		return "Move Destination"
	case TagPriority:
		return "Priority"
	case TagCommandDataSetType:
		return "Command Data Set Type"
	case TagStatus:
		return "Status"
	case TagOffendingElement:
		return "Offending Element"
	case TagErrorComment:
		return "Error Comment"
	case TagErrorID:
		return "Error ID"
	case TagAffectedSOPInstanceUID:
		return "Affected SOP Instance UID"
	case TagRequestedSOPInstanceUID:
		return "Requested SOP Instance UID"
	case TagNumberOfRemainingSuboperations:
		return "Number of Remaining Sub-operations"
	case TagNumberOfCompletedSuboperations:
		return "Number of Completed Sub-operations"
	case TagNumberOfFailedSuboperations:
		return "Number of Failed Sub-operations"
	case TagNumberOfWarningSuboperations:
		return "Number of Warning Sub-operations"
	case TagMoveOriginatorApplicationEntityTitle:
		return "Move Originator Application Entity Title"
	case TagMoveOriginatorMessageID:
		return "Move Originator Message ID"
	}
	return ""
}

// label is "Name (gggg,eeee)" or just "(gggg,eeee)", for error messages.
func (t Tag) label() string {
	if n := t.Name(); n != "" {
		return n + " " + t.String()
	}
	return t.String()
}
