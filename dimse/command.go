package dimse

import (
	"encoding/binary"
	"slices"
)

// Command is one decoded DIMSE command set (PS3.7 §6.3, §9.3, Annex E):
// the group 0000 elements of a request or response, always encoded in
// Implicit VR Little Endian with Command Group Length (0000,0000) first.
//
// The zero value is an (invalid) command with every element absent. A
// string field is absent when empty. The US elements Message ID, Message ID
// Being Responded To, Priority and Status are written by Encode exactly for
// the command fields PS3.7 defines them for (see [CommandField]); the other
// US elements, whose mere presence matters, are pointers (nil = absent).
//
// Command does no I/O and holds no references to decoded input. It is a
// plain value: not safe for concurrent mutation.
type Command struct {
	CommandField CommandField // (0000,0100)

	AffectedSOPClassUID  string // (0000,0002) UI
	RequestedSOPClassUID string // (0000,0003) UI

	MessageID                 uint16 // (0000,0110), requests except C-CANCEL-RQ
	MessageIDBeingRespondedTo uint16 // (0000,0120), responses and C-CANCEL-RQ

	MoveDestination string   // (0000,0600) AE, C-MOVE-RQ
	Priority        Priority // (0000,0700), C-STORE/C-FIND/C-GET/C-MOVE requests

	// HasDataSet is Command Data Set Type (0000,0800): false is encoded as
	// 0x0101 ("no data set"), true as 0x0001; on decode any value other
	// than 0x0101 means a data set follows (PS3.7 Annex E).
	HasDataSet bool

	Status           Status // (0000,0900), responses
	OffendingElement []Tag  // (0000,0901) AT, multi-valued
	ErrorComment     string // (0000,0902) LO, at most 64 characters
	ErrorID          *uint16

	AffectedSOPInstanceUID  string // (0000,1000) UI
	RequestedSOPInstanceUID string // (0000,1001) UI

	NumberOfRemainingSuboperations *uint16 // (0000,1020)
	NumberOfCompletedSuboperations *uint16 // (0000,1021)
	NumberOfFailedSuboperations    *uint16 // (0000,1022)
	NumberOfWarningSuboperations   *uint16 // (0000,1023)

	MoveOriginatorApplicationEntityTitle string  // (0000,1030) AE, C-STORE-RQ under C-MOVE
	MoveOriginatorMessageID              *uint16 // (0000,1031)

	// Extra holds group 0000 elements this package does not model (N-service
	// elements, retired ones...), with their raw little-endian values. They
	// are kept on decode (except the retired Command Length to End
	// (0000,0001), whose value would be stale) and re-encoded in tag order.
	// Entries whose tag is modelled above, or not in group 0000, are ignored
	// by Encode and reported by Validate.
	Extra []Element
}

// Element is a raw command element: a tag and its value bytes as they
// appear on the wire (Implicit VR Little Endian, PS3.5 §7.1.3).
type Element struct {
	Tag   Tag
	Value []byte
}

// Uint16 returns a pointer to v, for the optional US fields of [Command].
func Uint16(v uint16) *uint16 { return &v }

// Command Data Set Type values (PS3.7 Annex E).
const (
	dataSetPresent uint16 = 0x0001
	dataSetAbsent  uint16 = 0x0101
)

// modelled lists, in ascending order, the tags Command has fields for (plus
// the group length and the retired length-to-end it drops).
var modelled = [...]Tag{
	TagCommandGroupLength, TagCommandLengthToEnd,
	TagAffectedSOPClassUID, TagRequestedSOPClassUID,
	TagCommandField, TagMessageID, TagMessageIDBeingRespondedTo,
	TagMoveDestination, TagPriority, TagCommandDataSetType,
	TagStatus, TagOffendingElement, TagErrorComment, TagErrorID,
	TagAffectedSOPInstanceUID, TagRequestedSOPInstanceUID,
	TagNumberOfRemainingSuboperations, TagNumberOfCompletedSuboperations,
	TagNumberOfFailedSuboperations, TagNumberOfWarningSuboperations,
	TagMoveOriginatorApplicationEntityTitle, TagMoveOriginatorMessageID,
}

func isModelled(t Tag) bool {
	_, found := slices.BinarySearch(modelled[:], t)
	return found
}

// Encode returns the command set's bytes: see [Command.AppendEncode].
func (c *Command) Encode() []byte { return c.AppendEncode(nil) }

// AppendEncode appends the command set in Implicit VR Little Endian to dst
// and returns the extended slice (PS3.7 §6.3.1): Command Group Length
// first, then the present elements in ascending tag order. UIDs are padded
// to even length with NUL, AE titles to 16 characters and other strings to
// even length with spaces (PS3.5 §6.2). AppendEncode does not validate: call
// [Command.Validate] first to get an encoding PS3.7 allows.
func (c *Command) AppendEncode(dst []byte) []byte {
	dst = appendHeader(dst, TagCommandGroupLength, 4)
	dst = append(dst, 0, 0, 0, 0)
	body := len(dst)

	extra := c.Extra
	if !slices.IsSortedFunc(extra, cmpElement) {
		extra = slices.Clone(extra)
		slices.SortStableFunc(extra, cmpElement)
	}
	next := 0
	// flush writes the Extra elements whose tag sorts before t.
	flush := func(t Tag) {
		for ; next < len(extra) && extra[next].Tag < t; next++ {
			e := extra[next]
			if e.Tag.Group() != 0 || isModelled(e.Tag) {
				continue
			}
			dst = appendHeader(dst, e.Tag, len(e.Value))
			dst = append(dst, e.Value...)
		}
	}
	str := func(t Tag, s string, pad byte, min int) {
		if s == "" {
			return
		}
		flush(t)
		dst = appendString(dst, t, s, pad, min)
	}
	us := func(t Tag, v uint16) {
		flush(t)
		dst = appendHeader(dst, t, 2)
		dst = binary.LittleEndian.AppendUint16(dst, v)
	}
	opt := func(t Tag, p *uint16) {
		if p != nil {
			us(t, *p)
		}
	}

	cf := c.CommandField
	str(TagAffectedSOPClassUID, c.AffectedSOPClassUID, 0, 0)
	str(TagRequestedSOPClassUID, c.RequestedSOPClassUID, 0, 0)
	us(TagCommandField, uint16(cf))
	if cf.hasMessageID() {
		us(TagMessageID, c.MessageID)
	}
	if cf.hasRespondedTo() {
		us(TagMessageIDBeingRespondedTo, c.MessageIDBeingRespondedTo)
	}
	str(TagMoveDestination, c.MoveDestination, ' ', aeLen)
	if cf.hasPriority() {
		us(TagPriority, uint16(c.Priority))
	}
	if c.HasDataSet {
		us(TagCommandDataSetType, dataSetPresent)
	} else {
		us(TagCommandDataSetType, dataSetAbsent)
	}
	if cf.hasStatus() {
		us(TagStatus, uint16(c.Status))
	}
	if len(c.OffendingElement) > 0 {
		flush(TagOffendingElement)
		dst = appendHeader(dst, TagOffendingElement, 4*len(c.OffendingElement))
		for _, t := range c.OffendingElement {
			dst = binary.LittleEndian.AppendUint16(dst, t.Group())
			dst = binary.LittleEndian.AppendUint16(dst, t.Element())
		}
	}
	str(TagErrorComment, c.ErrorComment, ' ', 0)
	opt(TagErrorID, c.ErrorID)
	str(TagAffectedSOPInstanceUID, c.AffectedSOPInstanceUID, 0, 0)
	str(TagRequestedSOPInstanceUID, c.RequestedSOPInstanceUID, 0, 0)
	opt(TagNumberOfRemainingSuboperations, c.NumberOfRemainingSuboperations)
	opt(TagNumberOfCompletedSuboperations, c.NumberOfCompletedSuboperations)
	opt(TagNumberOfFailedSuboperations, c.NumberOfFailedSuboperations)
	opt(TagNumberOfWarningSuboperations, c.NumberOfWarningSuboperations)
	str(TagMoveOriginatorApplicationEntityTitle, c.MoveOriginatorApplicationEntityTitle, ' ', aeLen)
	opt(TagMoveOriginatorMessageID, c.MoveOriginatorMessageID)
	flush(0x00010000) // the rest of group 0000

	binary.LittleEndian.PutUint32(dst[body-4:], uint32(len(dst)-body))
	return dst
}

func cmpElement(a, b Element) int {
	switch {
	case a.Tag < b.Tag:
		return -1
	case a.Tag > b.Tag:
		return 1
	}
	return 0
}

// aeLen is the width AE titles are padded to (PS3.5 Table 6.2-1).
const aeLen = 16

func appendHeader(dst []byte, t Tag, n int) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t.Group())
	dst = binary.LittleEndian.AppendUint16(dst, t.Element())
	return binary.LittleEndian.AppendUint32(dst, uint32(n))
}

// appendString writes s padded with pad to at least min bytes and to an
// even length.
func appendString(dst []byte, t Tag, s string, pad byte, min int) []byte {
	n := max(len(s), min)
	n += n & 1
	dst = appendHeader(dst, t, n)
	dst = append(dst, s...)
	for i := len(s); i < n; i++ {
		dst = append(dst, pad)
	}
	return dst
}
