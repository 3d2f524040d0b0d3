package dimse

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// DecodeCommand parses a complete command set (PS3.7 §6.3.1): group 0000 in
// Implicit VR Little Endian, Command Group Length (0000,0000) first with a
// value equal to the number of bytes that follow it, then elements in
// strictly ascending tag order, all in group 0000, each with an explicit
// length that fits in b.
//
// It requires Command Field and Command Data Set Type, plus Message ID
// (requests other than C-CANCEL-RQ), Message ID Being Responded To
// (responses and C-CANCEL-RQ) and Status (responses); a missing Priority
// decodes as PriorityMedium. Values of the modelled elements must have the
// length their VR implies (US 2, AT a multiple of 4). String padding (NUL
// or space) is removed; the semantic checks (UID syntax, AE length...) are
// left to [Command.Validate]. Unknown group 0000 elements go to
// Command.Extra (copied); the retired Command Length to End is dropped.
//
// Errors wrap ErrMalformedCommand. DecodeCommand never panics, allocates
// nothing in proportion to a declared length, and keeps no reference to b.
func DecodeCommand(b []byte) (*Command, error) {
	if len(b) < 12 {
		return nil, malformedf("%d bytes, shorter than Command Group Length", len(b))
	}
	if t := readTag(b); t != TagCommandGroupLength {
		return nil, malformedf("first element is %s, want Command Group Length (0000,0000)", t)
	}
	if n := binary.LittleEndian.Uint32(b[4:]); n != 4 {
		return nil, malformedf("Command Group Length has length %d, want 4", n)
	}
	if gl, rest := binary.LittleEndian.Uint32(b[8:]), len(b)-12; uint64(gl) != uint64(rest) {
		return nil, malformedf("Command Group Length is %d but %d bytes follow", gl, rest)
	}

	c := &Command{}
	var have struct{ field, dataSetType, messageID, respondedTo, status bool }
	prev := TagCommandGroupLength
	for p := 12; p < len(b); {
		if len(b)-p < 8 {
			return nil, malformedf("%d stray bytes at offset %d", len(b)-p, p)
		}
		t := readTag(b[p:])
		n := binary.LittleEndian.Uint32(b[p+4:])
		p += 8
		if t.Group() != 0 {
			return nil, malformedf("element %s at offset %d is not in group 0000", t, p-8)
		}
		if t <= prev {
			return nil, malformedf("element %s at offset %d follows %s: tags must ascend", t, p-8, prev)
		}
		prev = t
		if uint64(n) > uint64(len(b)-p) {
			return nil, malformedf("element %s declares %d bytes, %d remain", t, n, len(b)-p)
		}
		v := b[p : p+int(n)]
		p += int(n)

		var err error
		switch t {
		case TagCommandLengthToEnd:
			// retired (PS3.7 Annex E); its value would be stale on re-encode
		case TagAffectedSOPClassUID:
			c.AffectedSOPClassUID = uidString(v)
		case TagRequestedSOPClassUID:
			c.RequestedSOPClassUID = uidString(v)
		case TagCommandField:
			var u uint16
			u, err = us(t, v)
			c.CommandField, have.field = CommandField(u), true
		case TagMessageID:
			c.MessageID, err = us(t, v)
			have.messageID = true
		case TagMessageIDBeingRespondedTo:
			c.MessageIDBeingRespondedTo, err = us(t, v)
			have.respondedTo = true
		case TagMoveDestination:
			c.MoveDestination = textString(v)
		case TagPriority:
			var u uint16 // absent, Priority stays PriorityMedium (lenient)
			u, err = us(t, v)
			c.Priority = Priority(u)
		case TagCommandDataSetType:
			var u uint16
			u, err = us(t, v)
			c.HasDataSet, have.dataSetType = u != dataSetAbsent, true
		case TagStatus:
			var u uint16
			u, err = us(t, v)
			c.Status, have.status = Status(u), true
		case TagOffendingElement:
			if len(v)%4 != 0 {
				return nil, malformedf("Offending Element %s has length %d, not a multiple of 4", t, len(v))
			}
			c.OffendingElement = make([]Tag, 0, len(v)/4)
			for i := 0; i < len(v); i += 4 {
				c.OffendingElement = append(c.OffendingElement, readTag(v[i:]))
			}
		case TagErrorComment:
			c.ErrorComment = textString(v)
		case TagErrorID:
			c.ErrorID, err = optUS(t, v)
		case TagAffectedSOPInstanceUID:
			c.AffectedSOPInstanceUID = uidString(v)
		case TagRequestedSOPInstanceUID:
			c.RequestedSOPInstanceUID = uidString(v)
		case TagNumberOfRemainingSuboperations:
			c.NumberOfRemainingSuboperations, err = optUS(t, v)
		case TagNumberOfCompletedSuboperations:
			c.NumberOfCompletedSuboperations, err = optUS(t, v)
		case TagNumberOfFailedSuboperations:
			c.NumberOfFailedSuboperations, err = optUS(t, v)
		case TagNumberOfWarningSuboperations:
			c.NumberOfWarningSuboperations, err = optUS(t, v)
		case TagMoveOriginatorApplicationEntityTitle:
			c.MoveOriginatorApplicationEntityTitle = textString(v)
		case TagMoveOriginatorMessageID:
			c.MoveOriginatorMessageID, err = optUS(t, v)
		default:
			c.Extra = append(c.Extra, Element{Tag: t, Value: append([]byte(nil), v...)})
		}
		if err != nil {
			return nil, err
		}
	}

	cf := c.CommandField
	switch {
	case !have.field:
		return nil, missing(TagCommandField)
	case !have.dataSetType:
		return nil, missing(TagCommandDataSetType)
	case cf.hasMessageID() && !have.messageID:
		return nil, missing(TagMessageID)
	case cf.hasRespondedTo() && !have.respondedTo:
		return nil, missing(TagMessageIDBeingRespondedTo)
	case cf.hasStatus() && !have.status:
		return nil, missing(TagStatus)
	}
	return c, nil
}

func readTag(b []byte) Tag {
	return Tag(uint32(binary.LittleEndian.Uint16(b))<<16 | uint32(binary.LittleEndian.Uint16(b[2:])))
}

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedCommand, fmt.Sprintf(format, args...))
}

func missing(t Tag) error {
	return malformedf("mandatory element %s absent", t.label())
}

func us(t Tag, v []byte) (uint16, error) {
	if len(v) != 2 {
		return 0, malformedf("%s has length %d, want 2 (US)", t.label(), len(v))
	}
	return binary.LittleEndian.Uint16(v), nil
}

func optUS(t Tag, v []byte) (*uint16, error) {
	u, err := us(t, v)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// uidString removes UI padding: trailing NULs (PS3.5 §6.2) and, leniently,
// trailing spaces.
func uidString(v []byte) string {
	return string(trimRight(v, "\x00 "))
}

// textString removes AE/LO padding: leading and trailing spaces, and
// leniently trailing NULs.
func textString(v []byte) string {
	return strings.TrimLeft(string(trimRight(v, "\x00 ")), " ")
}

func trimRight(v []byte, cut string) []byte {
	for len(v) > 0 && strings.IndexByte(cut, v[len(v)-1]) >= 0 {
		v = v[:len(v)-1]
	}
	return v
}
