package dimse

import "unicode/utf8"

// VerificationSOPClass is the Verification SOP Class UID, the Affected SOP
// Class of C-ECHO (PS3.4 A.4, PS3.6 Annex A).
const VerificationSOPClass = "1.2.840.10008.1.1"

// NewCEchoRQ returns a C-ECHO-RQ (PS3.7 §9.3.5.1) for the Verification SOP
// Class.
func NewCEchoRQ(messageID uint16) *Command {
	return &Command{CommandField: CEchoRQ, MessageID: messageID, AffectedSOPClassUID: VerificationSOPClass}
}

// NewCStoreRQ returns a C-STORE-RQ (PS3.7 §9.3.1.1) announcing a data set.
// For a store done as a C-MOVE sub-operation, set
// MoveOriginatorApplicationEntityTitle and MoveOriginatorMessageID.
func NewCStoreRQ(messageID uint16, sopClassUID, sopInstanceUID string, p Priority) *Command {
	return &Command{CommandField: CStoreRQ, MessageID: messageID, Priority: p,
		AffectedSOPClassUID: sopClassUID, AffectedSOPInstanceUID: sopInstanceUID, HasDataSet: true}
}

// NewCFindRQ returns a C-FIND-RQ (PS3.7 §9.3.2.1); the identifier is the
// data set.
func NewCFindRQ(messageID uint16, sopClassUID string, p Priority) *Command {
	return &Command{CommandField: CFindRQ, MessageID: messageID, Priority: p,
		AffectedSOPClassUID: sopClassUID, HasDataSet: true}
}

// NewCGetRQ returns a C-GET-RQ (PS3.7 §9.3.3.1); the identifier is the data
// set.
func NewCGetRQ(messageID uint16, sopClassUID string, p Priority) *Command {
	return &Command{CommandField: CGetRQ, MessageID: messageID, Priority: p,
		AffectedSOPClassUID: sopClassUID, HasDataSet: true}
}

// NewCMoveRQ returns a C-MOVE-RQ (PS3.7 §9.3.4.1) to the AE title
// destination; the identifier is the data set.
func NewCMoveRQ(messageID uint16, sopClassUID, destination string, p Priority) *Command {
	return &Command{CommandField: CMoveRQ, MessageID: messageID, Priority: p,
		AffectedSOPClassUID: sopClassUID, MoveDestination: destination, HasDataSet: true}
}

// NewCCancelRQ returns a C-CANCEL-RQ (PS3.7 §9.3.2.3) for the request with
// Message ID messageID.
func NewCCancelRQ(messageID uint16) *Command {
	return &Command{CommandField: CCancelRQ, MessageIDBeingRespondedTo: messageID}
}

// NewResponse returns the response to request rq with status s: the
// response command field, Message ID Being Responded To = rq's Message ID,
// Affected SOP Class UID copied (PS3.7 "U(=)"), and for C-STORE the
// Affected SOP Instance UID. It has no data set; a C-FIND pending response
// must set HasDataSet (WriteMessage does so when given data).
func NewResponse(rq *Command, s Status) *Command {
	rsp := &Command{
		CommandField:              rq.CommandField.Response(),
		MessageIDBeingRespondedTo: rq.MessageID,
		AffectedSOPClassUID:       rq.AffectedSOPClassUID,
		Status:                    s,
	}
	if rq.CommandField == CStoreRQ {
		rsp.AffectedSOPInstanceUID = rq.AffectedSOPInstanceUID
	}
	return rsp
}

// SetError sets c's Status from err with [StatusOf] and, when err holds a
// *[StatusError], its Error Comment (cut to 64 characters and stripped of
// characters LO forbids) and Offending Element list. Nothing else of err
// reaches the command: causes stay local.
func (c *Command) SetError(err error, fallback Status) {
	c.Status = StatusOf(err, fallback)
	c.ErrorComment, c.OffendingElement = "", nil
	se := asStatusError(err)
	if se == nil {
		return
	}
	c.ErrorComment = sanitizeLO(se.Comment)
	if len(se.Offending) > 0 {
		c.OffendingElement = append([]Tag(nil), se.Offending...)
	}
}

// SetSuboperations sets the four sub-operation counters of a C-MOVE or
// C-GET response (PS3.7 §9.3.3.2, §9.3.4.2). withRemaining false leaves
// Number of Remaining Sub-operations absent, as in a final response.
func (c *Command) SetSuboperations(remaining, completed, failed, warning uint16, withRemaining bool) {
	c.NumberOfRemainingSuboperations = nil
	if withRemaining {
		c.NumberOfRemainingSuboperations = Uint16(remaining)
	}
	c.NumberOfCompletedSuboperations = Uint16(completed)
	c.NumberOfFailedSuboperations = Uint16(failed)
	c.NumberOfWarningSuboperations = Uint16(warning)
}

// sanitizeLO makes s a valid LO value: invalid UTF-8, control characters
// and backslashes become spaces, the result is cut to 64 characters and
// trimmed of trailing spaces.
func sanitizeLO(s string) string {
	out := make([]rune, 0, min(len(s), MaxErrorCommentLen))
	for _, r := range s {
		if len(out) == MaxErrorCommentLen {
			break
		}
		if r == utf8.RuneError || r < 0x20 || r == 0x7F || r == '\\' {
			r = ' '
		}
		out = append(out, r)
	}
	for len(out) > 0 && out[len(out)-1] == ' ' {
		out = out[:len(out)-1]
	}
	return string(out)
}
