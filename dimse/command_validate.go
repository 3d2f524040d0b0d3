package dimse

import (
	"fmt"
	"unicode/utf8"
)

// Validate checks c against the PS3.7 §9.3 table for its command field and
// against the value rules of PS3.5 §6.2. It returns nil or the first
// problem, in tag order, as an *[ElementError] naming the element and
// wrapping ErrMissingElement, ErrInvalidElement or ErrUnexpectedElement.
//
// Checked for every command: UIDs (1..64 characters, digits and dots, no
// empty component, no leading zero, PS3.5 §9.1); AE titles (at most 16
// characters, printable ASCII without backslash, not blank); Error Comment
// (LO: at most 64 characters, no control characters or backslash); Priority
// 0..2 where defined; Extra elements in group 0000, not modelled, even
// length. Per message (Cmd = command field):
//
//	C-ECHO-RQ    Affected SOP Class UID; no data set
//	C-STORE-RQ   Affected SOP Class UID, Affected SOP Instance UID; data set
//	C-FIND-RQ    Affected SOP Class UID; data set (the identifier)
//	C-GET-RQ     Affected SOP Class UID; data set
//	C-MOVE-RQ    Affected SOP Class UID, Move Destination; data set
//	C-CANCEL-RQ  no data set
//	C-ECHO-RSP, C-STORE-RSP   no data set
//	C-FIND-RSP   data set when Status is pending
//	C-GET-RSP, C-MOVE-RSP     Number of Remaining Sub-operations when pending
//
// An unknown command field is reported as ErrInvalidElement on
// (0000,0100). Validate does not check Status values: any 16-bit status is
// legal on the wire.
func (c *Command) Validate() error {
	cf := c.CommandField
	fail := func(t Tag, err error, detail string) error {
		return &ElementError{Command: cf, Tag: t, Err: err, Detail: detail}
	}
	need := func(t Tag, s string) error {
		if s == "" {
			return fail(t, ErrMissingElement, "")
		}
		return nil
	}
	uid := func(t Tag, s string) error {
		if s == "" {
			return nil
		}
		if d := checkUID(s); d != "" {
			return fail(t, ErrInvalidElement, d)
		}
		return nil
	}
	ae := func(t Tag, s string) error {
		if s == "" {
			return nil
		}
		if d := checkAE(s); d != "" {
			return fail(t, ErrInvalidElement, d)
		}
		return nil
	}
	pending := c.Status.Type() == StatusTypePending

	// Required elements per message, in tag order, then value checks in
	// tag order; the first failure wins.
	var required []Tag
	dataSet := 0 // 1 required, -1 forbidden, 0 either
	switch cf {
	case CEchoRQ:
		required, dataSet = []Tag{TagAffectedSOPClassUID}, -1
	case CStoreRQ:
		required, dataSet = []Tag{TagAffectedSOPClassUID, TagAffectedSOPInstanceUID}, 1
	case CFindRQ, CGetRQ:
		required, dataSet = []Tag{TagAffectedSOPClassUID}, 1
	case CMoveRQ:
		required, dataSet = []Tag{TagAffectedSOPClassUID, TagMoveDestination}, 1
	case CCancelRQ, CEchoRSP, CStoreRSP:
		dataSet = -1
	case CFindRSP:
		if pending {
			dataSet = 1
		}
	case CGetRSP, CMoveRSP:
		if pending && c.NumberOfRemainingSuboperations == nil {
			return fail(TagNumberOfRemainingSuboperations, ErrMissingElement, "required while pending")
		}
	default:
		return fail(TagCommandField, ErrInvalidElement, fmt.Sprintf("unknown command field 0x%04X", uint16(cf)))
	}
	for _, t := range required {
		var err error
		switch t {
		case TagAffectedSOPClassUID:
			err = need(t, c.AffectedSOPClassUID)
		case TagAffectedSOPInstanceUID:
			err = need(t, c.AffectedSOPInstanceUID)
		case TagMoveDestination:
			err = need(t, c.MoveDestination)
		}
		if err != nil {
			return err
		}
	}

	if err := uid(TagAffectedSOPClassUID, c.AffectedSOPClassUID); err != nil {
		return err
	}
	if err := uid(TagRequestedSOPClassUID, c.RequestedSOPClassUID); err != nil {
		return err
	}
	if err := ae(TagMoveDestination, c.MoveDestination); err != nil {
		return err
	}
	if cf.hasPriority() && c.Priority > PriorityLow {
		return fail(TagPriority, ErrInvalidElement, fmt.Sprintf("0x%04X, want 0, 1 or 2", uint16(c.Priority)))
	}
	switch {
	case dataSet == 1 && !c.HasDataSet:
		return fail(TagCommandDataSetType, ErrUnexpectedElement, "data set required, 0x0101 given")
	case dataSet == -1 && c.HasDataSet:
		return fail(TagCommandDataSetType, ErrUnexpectedElement, "no data set allowed")
	}
	if d := checkLO(c.ErrorComment); d != "" {
		return fail(TagErrorComment, ErrInvalidElement, d)
	}
	if err := uid(TagAffectedSOPInstanceUID, c.AffectedSOPInstanceUID); err != nil {
		return err
	}
	if err := uid(TagRequestedSOPInstanceUID, c.RequestedSOPInstanceUID); err != nil {
		return err
	}
	if err := ae(TagMoveOriginatorApplicationEntityTitle, c.MoveOriginatorApplicationEntityTitle); err != nil {
		return err
	}
	for _, e := range c.Extra {
		switch {
		case e.Tag.Group() != 0:
			return fail(e.Tag, ErrUnexpectedElement, "not a command element (group 0000)")
		case isModelled(e.Tag):
			return fail(e.Tag, ErrUnexpectedElement, "modelled element given in Extra")
		case len(e.Value)%2 != 0:
			return fail(e.Tag, ErrInvalidElement, fmt.Sprintf("odd length %d", len(e.Value)))
		}
	}
	return nil
}

// MaxUIDLen is the longest UID (PS3.5 §9.1).
const MaxUIDLen = 64

// checkUID returns "" when s is a valid UID (PS3.5 §9.1), else why not.
func checkUID(s string) string {
	if len(s) > MaxUIDLen {
		return fmt.Sprintf("%d characters, at most %d", len(s), MaxUIDLen)
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if s[i] < '0' || s[i] > '9' {
				return fmt.Sprintf("character %q at %d: only digits and '.'", s[i], i)
			}
			continue
		}
		switch {
		case i == start:
			return fmt.Sprintf("empty component at %d", i)
		case s[start] == '0' && i-start > 1:
			return fmt.Sprintf("component at %d has a leading zero", start)
		}
		start = i + 1
	}
	return ""
}

// checkAE returns "" when s is a valid AE title (PS3.5 Table 6.2-1):
// 1..16 characters of printable ASCII other than backslash, not blank.
func checkAE(s string) string {
	if len(s) > aeLen {
		return fmt.Sprintf("%d characters, at most %d", len(s), aeLen)
	}
	blank := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E || s[i] == '\\' {
			return fmt.Sprintf("byte 0x%02X at %d not allowed in an AE title", s[i], i)
		}
		if s[i] != ' ' {
			blank = false
		}
	}
	if blank {
		return "blank"
	}
	return ""
}

// MaxErrorCommentLen is the longest Error Comment (LO, PS3.5 Table 6.2-1).
const MaxErrorCommentLen = 64

// checkLO returns "" when s is a valid LO value: at most 64 characters, no
// control character other than ESC, no backslash.
func checkLO(s string) string {
	if n := utf8.RuneCountInString(s); n > MaxErrorCommentLen {
		return fmt.Sprintf("%d characters, at most %d", n, MaxErrorCommentLen)
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 0x20 && s[i] != 0x1B) || s[i] == 0x7F || s[i] == '\\' {
			return fmt.Sprintf("byte 0x%02X at %d not allowed in LO", s[i], i)
		}
	}
	return ""
}
