package dimse

import "fmt"

// Status is the value of Status (0000,0900) in a DIMSE response (PS3.7
// Annex C; service-specific meanings in PS3.4 B.2.3 for C-STORE, C.4.1.1.4,
// C.4.2.1.5 and C.4.3.1.4 for C-FIND, C-MOVE and C-GET).
//
// Status implements error so that a handler can return one directly, but it
// is only meant to be used as an error when it is not a success: see
// [Status.Err]. Use [StatusError] to add an Error Comment or Offending
// Element list.
type Status uint16

// Standard statuses (PS3.7 Annex C and PS3.4). Some codes mean different
// things in different services; [Status.Meaning] gives the service-specific
// wording, [Status.String] a service-neutral one.
const (
	StatusSuccess Status = 0x0000 // PS3.7 C.1.1

	// General warnings and failures (PS3.7 C.3, C.4, C.5).
	StatusWarning                  Status = 0x0001
	StatusAttributeListError       Status = 0x0107 // warning
	StatusAttributeValueOutOfRange Status = 0x0116 // warning
	StatusProcessingFailure        Status = 0x0110
	StatusDuplicateSOPInstance     Status = 0x0111
	StatusNoSuchSOPInstance        Status = 0x0112
	StatusInvalidObjectInstance    Status = 0x0117
	StatusNoSuchSOPClass           Status = 0x0118
	StatusMissingAttribute         Status = 0x0120
	StatusMissingAttributeValue    Status = 0x0121
	StatusSOPClassNotSupported     Status = 0x0122 // "Refused: SOP Class not supported"
	StatusNotAuthorized            Status = 0x0124 // "Refused: Not authorized"
	StatusDuplicateInvocation      Status = 0x0210
	StatusUnrecognizedOperation    Status = 0x0211
	StatusMistypedArgument         Status = 0x0212
	StatusResourceLimitation       Status = 0x0213

	// Service-class statuses (PS3.4).
	StatusOutOfResources                 Status = 0xA700 // C-STORE, C-FIND, C-MOVE, C-GET
	StatusOutOfResourcesMatches          Status = 0xA701 // C-MOVE, C-GET: unable to calculate number of matches
	StatusOutOfResourcesSubops           Status = 0xA702 // C-MOVE, C-GET: unable to perform sub-operations
	StatusMoveDestinationUnknown         Status = 0xA801 // C-MOVE
	StatusDataSetDoesNotMatchSOPClass    Status = 0xA900 // C-STORE: error
	StatusIdentifierDoesNotMatchSOPClass Status = 0xA900 // C-FIND, C-MOVE, C-GET: same code
	StatusCoercionOfDataElements         Status = 0xB000 // C-STORE: warning
	StatusSubopsCompleteWithFailures     Status = 0xB000 // C-MOVE, C-GET: same code
	StatusElementsDiscarded              Status = 0xB006 // C-STORE: warning (PS3.4 B.2.3)
	StatusDataSetDoesNotMatchWarning     Status = 0xB007 // C-STORE: warning (PS3.4 B.2.3)
	StatusCannotUnderstand               Status = 0xC000 // C-STORE: "Error: Cannot understand" (0xCxxx)
	StatusUnableToProcess                Status = 0xC000 // C-FIND, C-MOVE, C-GET: "Failed: Unable to process" (0xCxxx)
	StatusCancel                         Status = 0xFE00 // PS3.7 C.2
	StatusPending                        Status = 0xFF00 // PS3.7 C.6
	StatusPendingWarning                 Status = 0xFF01 // C-FIND: optional keys not supported
)

// Implementation-specific statuses of shardpacs, all in the 0xC0xx range
// that PS3.4 leaves to implementations ("Error: Cannot understand" for
// C-STORE, "Failed: Unable to process" for query/retrieve). They are listed
// in docs/conformance.md; keep the two in step.
//
//	0xC001  data set could not be parsed (truncated, bad lengths, bad VR)
//	0xC002  data set nested deeper than the configured limit
//	0xC003  invalid attribute value (for example a malformed UID)
//	0xC010  SOP Instance UID already stored with different content
//	0xC020  instance unavailable: too few shares readable
//	0xC0FF  internal error (handler failure); details only in the log
const (
	StatusDataSetUnparsable         Status = 0xC001
	StatusNestingTooDeep            Status = 0xC002
	StatusInvalidAttributeValue     Status = 0xC003
	StatusDuplicateDifferentContent Status = 0xC010
	StatusInstanceUnavailable       Status = 0xC020
	StatusInternalError             Status = 0xC0FF
)

// StatusType is the class of a status (PS3.7 Annex C): success, warning,
// failure, cancel or pending.
type StatusType uint8

// Status classes. The zero value is StatusTypeSuccess.
const (
	StatusTypeSuccess StatusType = iota
	StatusTypeWarning
	StatusTypeFailure
	StatusTypeCancel
	StatusTypePending
)

// String returns "Success", "Warning", "Failure", "Cancel" or "Pending".
func (t StatusType) String() string {
	switch t {
	case StatusTypeSuccess:
		return "Success"
	case StatusTypeWarning:
		return "Warning"
	case StatusTypeFailure:
		return "Failure"
	case StatusTypeCancel:
		return "Cancel"
	case StatusTypePending:
		return "Pending"
	}
	return fmt.Sprintf("StatusType(%d)", uint8(t))
}

// Type classifies s (PS3.7 Annex C): 0x0000 success; 0x0001, 0x0107, 0x0116
// and 0xBxxx warning; 0xFE00 cancel; 0xFF00 and 0xFF01 pending; every other
// value, including unknown ones, failure.
func (s Status) Type() StatusType {
	switch {
	case s == StatusSuccess:
		return StatusTypeSuccess
	case s == StatusWarning, s == StatusAttributeListError, s == StatusAttributeValueOutOfRange, s.InRange(0xB000):
		return StatusTypeWarning
	case s == StatusCancel:
		return StatusTypeCancel
	case s == StatusPending, s == StatusPendingWarning:
		return StatusTypePending
	}
	return StatusTypeFailure
}

// InRange reports whether s shares the high byte of prefix (0xA700 matches
// 0xA7xx), or its high nibble when prefix is one of 0xB000, 0xC000 (0xBxxx,
// 0xCxxx): the ranges PS3.4 defines statuses by.
func (s Status) InRange(prefix Status) bool {
	if prefix == 0xB000 || prefix == 0xC000 {
		return s&0xF000 == prefix
	}
	return s&0xFF00 == prefix&0xFF00
}

// IsOutOfResources reports whether s is in 0xA7xx.
func (s Status) IsOutOfResources() bool { return s.InRange(0xA700) }

// IsDataSetMismatch reports whether s is in 0xA9xx.
func (s Status) IsDataSetMismatch() bool { return s.InRange(0xA900) }

// IsCannotUnderstand reports whether s is in 0xCxxx.
func (s Status) IsCannotUnderstand() bool { return s.InRange(0xC000) }

// Err returns nil for success and pending statuses and s otherwise, so that
// warnings, failures and cancels can travel as errors.
func (s Status) Err() error {
	switch s.Type() {
	case StatusTypeSuccess, StatusTypePending:
		return nil
	}
	return s
}

// Error implements error: "dimse: status 0xA700 (Refused: Out of Resources)".
func (s Status) Error() string {
	return fmt.Sprintf("dimse: status 0x%04X (%s)", uint16(s), s.String())
}

// String returns the service-neutral PS3.4 / PS3.7 meaning of s. Codes that
// mean different things in different services (0xA900, 0xB000, 0xC000,
// 0xFE00, 0xFF00) get a wording that covers all of them; use
// [Status.Meaning] for the wording of one service.
func (s Status) String() string { return s.Meaning(0) }

// Meaning returns the meaning of s in the service of command field cf (a
// request or a response; 0 for service-neutral), as PS3.4 words it.
func (s Status) Meaning(cf CommandField) string {
	svc := cf &^ 0x8000
	queryRetrieve := svc == CFindRQ || svc == CMoveRQ || svc == CGetRQ
	subops := svc == CMoveRQ || svc == CGetRQ
	switch s {
	case StatusSuccess:
		return "Success"
	case StatusWarning:
		return "Warning"
	case 0x0105:
		return "Failure: No such attribute"
	case 0x0106:
		return "Failure: Invalid attribute value"
	case StatusAttributeListError:
		return "Warning: Attribute list error"
	case StatusProcessingFailure:
		return "Failure: Processing failure"
	case StatusDuplicateSOPInstance:
		return "Failure: Duplicate SOP Instance"
	case StatusNoSuchSOPInstance:
		return "Failure: No such SOP Instance"
	case 0x0113:
		return "Failure: No such event type"
	case 0x0114:
		return "Failure: No such argument"
	case 0x0115:
		return "Failure: Invalid argument value"
	case StatusAttributeValueOutOfRange:
		return "Warning: Attribute value out of range"
	case StatusInvalidObjectInstance:
		return "Failure: Invalid object instance"
	case StatusNoSuchSOPClass:
		return "Failure: No such SOP Class"
	case 0x0119:
		return "Failure: Class-instance conflict"
	case StatusMissingAttribute:
		return "Failure: Missing attribute"
	case StatusMissingAttributeValue:
		return "Failure: Missing attribute value"
	case StatusSOPClassNotSupported:
		return "Refused: SOP Class not supported"
	case 0x0123:
		return "Failure: No such action"
	case StatusNotAuthorized:
		return "Refused: Not authorized"
	case StatusDuplicateInvocation:
		return "Failure: Duplicate invocation"
	case StatusUnrecognizedOperation:
		return "Failure: Unrecognized operation"
	case StatusMistypedArgument:
		return "Failure: Mistyped argument"
	case StatusResourceLimitation:
		return "Failure: Resource limitation"
	case StatusOutOfResourcesMatches:
		return "Refused: Out of Resources - Unable to calculate number of matches"
	case StatusOutOfResourcesSubops:
		return "Refused: Out of Resources - Unable to perform sub-operations"
	case StatusMoveDestinationUnknown:
		return "Refused: Move Destination unknown"
	case StatusCoercionOfDataElements: // == StatusSubopsCompleteWithFailures
		switch {
		case subops:
			return "Warning: Sub-operations Complete - One or more Failures or Warnings"
		case svc == CStoreRQ:
			return "Warning: Coercion of Data Elements"
		}
		return "Warning: Coercion of Data Elements (C-STORE) / Sub-operations Complete - One or more Failures or Warnings (C-MOVE, C-GET)"
	case StatusElementsDiscarded:
		return "Warning: Elements Discarded"
	case StatusDataSetDoesNotMatchWarning:
		return "Warning: Data Set does not match SOP Class"
	case StatusCancel:
		switch {
		case svc == CFindRQ:
			return "Cancel: Matching terminated due to Cancel"
		case subops:
			return "Cancel: Sub-operations terminated due to Cancel Indication"
		}
		return "Cancel"
	case StatusPending:
		switch {
		case svc == CFindRQ:
			return "Pending: Matches are continuing - Current Match is supplied and any Optional Keys were supported in the same manner as Required Keys"
		case subops:
			return "Pending: Sub-operations are continuing"
		}
		return "Pending"
	case StatusPendingWarning:
		return "Pending: Matches are continuing - Warning that one or more Optional Keys were not supported for existence and/or matching for this Identifier"
	case StatusDataSetUnparsable:
		return s.cxxx(queryRetrieve) + " - data set could not be parsed (shardpacs)"
	case StatusNestingTooDeep:
		return s.cxxx(queryRetrieve) + " - data set nested too deeply (shardpacs)"
	case StatusInvalidAttributeValue:
		return s.cxxx(queryRetrieve) + " - invalid attribute value (shardpacs)"
	case StatusDuplicateDifferentContent:
		return s.cxxx(queryRetrieve) + " - SOP Instance UID already stored with different content (shardpacs)"
	case StatusInstanceUnavailable:
		return s.cxxx(queryRetrieve) + " - instance unavailable, too few shares readable (shardpacs)"
	case StatusInternalError:
		return s.cxxx(queryRetrieve) + " - internal error (shardpacs)"
	}
	switch {
	case s.IsOutOfResources():
		return "Refused: Out of Resources"
	case s.IsDataSetMismatch():
		if queryRetrieve {
			return "Failed: Identifier does not match SOP Class"
		}
		if svc == CStoreRQ {
			return "Error: Data Set does not match SOP Class"
		}
		return "Error: Data Set (or Identifier) does not match SOP Class"
	case s.IsCannotUnderstand():
		return s.cxxx(queryRetrieve)
	case s.InRange(0xB000):
		return "Warning"
	}
	return fmt.Sprintf("%s: Status(0x%04X)", s.Type(), uint16(s))
}

// cxxx is the wording of the 0xCxxx range in the service at hand.
func (s Status) cxxx(queryRetrieve bool) string {
	if queryRetrieve {
		return "Failed: Unable to process"
	}
	return "Error: Cannot understand"
}
