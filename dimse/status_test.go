package dimse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestStatusType(t *testing.T) {
	cases := []struct {
		s    Status
		want StatusType
	}{
		{StatusSuccess, StatusTypeSuccess},
		{StatusWarning, StatusTypeWarning},
		{StatusAttributeListError, StatusTypeWarning},
		{StatusAttributeValueOutOfRange, StatusTypeWarning},
		{StatusCoercionOfDataElements, StatusTypeWarning},
		{StatusElementsDiscarded, StatusTypeWarning},
		{StatusDataSetDoesNotMatchWarning, StatusTypeWarning},
		{0xBFFF, StatusTypeWarning},
		{StatusCancel, StatusTypeCancel},
		{StatusPending, StatusTypePending},
		{StatusPendingWarning, StatusTypePending},
		{StatusSOPClassNotSupported, StatusTypeFailure},
		{StatusNotAuthorized, StatusTypeFailure},
		{StatusOutOfResources, StatusTypeFailure},
		{StatusOutOfResourcesSubops, StatusTypeFailure},
		{StatusMoveDestinationUnknown, StatusTypeFailure},
		{StatusIdentifierDoesNotMatchSOPClass, StatusTypeFailure},
		{StatusCannotUnderstand, StatusTypeFailure},
		{StatusDuplicateDifferentContent, StatusTypeFailure},
		{0xCFFF, StatusTypeFailure},
		{0x1234, StatusTypeFailure}, // unknown: failure
		{0xFE01, StatusTypeFailure},
	}
	for _, tc := range cases {
		if got := tc.s.Type(); got != tc.want {
			t.Errorf("0x%04X.Type() = %v, want %v", uint16(tc.s), got, tc.want)
		}
	}
}

func TestStatusMeaning(t *testing.T) {
	cases := []struct {
		s    Status
		cf   CommandField
		want string
	}{
		{StatusOutOfResources, 0, "Refused: Out of Resources"},
		{0xA7FF, CStoreRSP, "Refused: Out of Resources"},
		{StatusCannotUnderstand, CStoreRQ, "Error: Cannot understand"},
		{0xC123, CStoreRQ, "Error: Cannot understand"},
		{StatusUnableToProcess, CFindRSP, "Failed: Unable to process"},
		{StatusMoveDestinationUnknown, CMoveRSP, "Refused: Move Destination unknown"},
		{StatusSubopsCompleteWithFailures, CMoveRSP, "Warning: Sub-operations Complete - One or more Failures or Warnings"},
		{StatusSubopsCompleteWithFailures, CGetRQ, "Warning: Sub-operations Complete - One or more Failures or Warnings"},
		{StatusCoercionOfDataElements, CStoreRSP, "Warning: Coercion of Data Elements"},
		{StatusCancel, CFindRSP, "Cancel: Matching terminated due to Cancel"},
		{StatusCancel, CMoveRSP, "Cancel: Sub-operations terminated due to Cancel Indication"},
		{StatusPending, CMoveRSP, "Pending: Sub-operations are continuing"},
		{StatusPending, 0, "Pending"},
		{StatusDataSetDoesNotMatchSOPClass, CStoreRSP, "Error: Data Set does not match SOP Class"},
		{StatusIdentifierDoesNotMatchSOPClass, CFindRSP, "Failed: Identifier does not match SOP Class"},
		{StatusElementsDiscarded, CStoreRSP, "Warning: Elements Discarded"},
		{StatusDataSetDoesNotMatchWarning, CStoreRSP, "Warning: Data Set does not match SOP Class"},
		{StatusSOPClassNotSupported, 0, "Refused: SOP Class not supported"},
		{StatusNotAuthorized, 0, "Refused: Not authorized"},
		{StatusOutOfResourcesSubops, 0, "Refused: Out of Resources - Unable to perform sub-operations"},
		{0x1234, 0, "Failure: Status(0x1234)"},
	}
	for _, tc := range cases {
		if got := tc.s.Meaning(tc.cf); got != tc.want {
			t.Errorf("0x%04X.Meaning(%v) = %q, want %q", uint16(tc.s), tc.cf, got, tc.want)
		}
	}
	if s := StatusDuplicateDifferentContent.Meaning(CStoreRSP); !strings.Contains(s, "different content") || !strings.HasPrefix(s, "Error: Cannot understand") {
		t.Errorf("shardpacs status meaning = %q", s)
	}
}

func TestStatusErr(t *testing.T) {
	if StatusSuccess.Err() != nil || StatusPending.Err() != nil || StatusPendingWarning.Err() != nil {
		t.Error("success/pending must not be errors")
	}
	for _, s := range []Status{StatusWarning, StatusCancel, StatusOutOfResources} {
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("0x%04X", uint16(s))) {
			t.Errorf("%v.Err() = %v", s, err)
		}
	}
}

func TestStatusErrorChain(t *testing.T) {
	cause := errors.New("share store 3 unreachable")
	var err error = fmt.Errorf("store: %w", &StatusError{Status: StatusOutOfResources, Comment: "no quorum", Err: cause})
	if !errors.Is(err, StatusOutOfResources) || !errors.Is(err, cause) || errors.Is(err, StatusCancel) {
		t.Error("errors.Is through StatusError wrong")
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Comment != "no quorum" {
		t.Error("errors.As *StatusError failed")
	}
	var st Status
	if !errors.As(err, &st) || st != StatusOutOfResources {
		t.Errorf("errors.As Status = %v", st)
	}
	cases := []struct {
		err  error
		want Status
	}{
		{nil, StatusSuccess},
		{err, StatusOutOfResources},
		{fmt.Errorf("x: %w", StatusMoveDestinationUnknown), StatusMoveDestinationUnknown},
		{errors.New("plain"), StatusInternalError},
	}
	for _, tc := range cases {
		if got := StatusOf(tc.err, StatusInternalError); got != tc.want {
			t.Errorf("StatusOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
