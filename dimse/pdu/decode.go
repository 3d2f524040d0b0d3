package pdu

import (
	"encoding/binary"
	"fmt"
)

// Decode decodes one whole PDU: b holds the 6-byte header and exactly the
// PDU-length bytes it declares. Errors are *DecodeError values.
//
// Byte slices of the result (PDV data, extended negotiation information,
// user identity fields) alias b: keep b unchanged while they are in use.
// Strings are copies.
//
// Leniency, per PS3.8 9.3.1: reserved fields are not tested; items and
// sub-items of unrecognized types are skipped; items may come in any order.
// A presentation context item of the other direction (0x21 in an RQ, 0x20
// in an AC) is an unexpected parameter (reason 5); duplicate single items
// (application context, user information, or any single-valued user
// information sub-item) are reason 5 too; everything else that is wrong is
// reason 6 (invalid-PDU-parameter-value), an unknown PDU type reason 1.
func Decode(b []byte, lim Limits) (PDU, error) {
	if len(b) < PDUHeaderLen {
		return nil, malformed(fmt.Sprintf("PDU of %d bytes is shorter than its 6-byte header", len(b)))
	}
	t := Type(b[0])
	length := binary.BigEndian.Uint32(b[2:6])
	if err := checkHeader(t, length, lim); err != nil {
		return nil, err
	}
	if uint64(len(b)-PDUHeaderLen) != uint64(length) {
		return nil, malformed(fmt.Sprintf("%v PDU-length is %d but %d bytes follow the header", t, length, len(b)-PDUHeaderLen))
	}
	return decodeBody(t, b[PDUHeaderLen:], lim)
}

// associateFixedLen is the fixed part of an A-ASSOCIATE-RQ/AC after the PDU
// header: protocol version, reserved, two AE titles, 32 reserved bytes.
const associateFixedLen = 2 + 2 + 16 + 16 + 32

// checkHeader validates a PDU header before the body is read or allocated.
func checkHeader(t Type, length uint32, lim Limits) error {
	switch t {
	case TypeAssociateRQ, TypeAssociateAC:
		if max := lim.maxAssociateLength(); length > max {
			return tooLong(fmt.Sprintf("%v PDU-length %d exceeds the limit of %d", t, length, max))
		}
		if length < associateFixedLen {
			return malformed(fmt.Sprintf("%v PDU-length %d is shorter than its %d-byte fixed part", t, length, associateFixedLen))
		}
	case TypePDataTF:
		if max := lim.maxPDataLength(); length > max {
			return tooLong(fmt.Sprintf("P-DATA-TF PDU-length %d exceeds the maximum length %d", length, max))
		}
		if length < PDVHeaderLen {
			return malformed(fmt.Sprintf("P-DATA-TF PDU-length %d cannot hold a PDV item", length))
		}
	case TypeAssociateRJ, TypeReleaseRQ, TypeReleaseRP, TypeAbort:
		if length != 4 {
			return malformed(fmt.Sprintf("%v PDU-length is %d, not 4", t, length))
		}
	default:
		return &DecodeError{Reason: AbortUnrecognizedPDU, Msg: fmt.Sprintf("unrecognized PDU type 0x%02X", uint8(t)), Err: ErrUnknownPDUType}
	}
	return nil
}

// decodeBody decodes the variable part of a PDU whose header checkHeader
// accepted.
func decodeBody(t Type, body []byte, lim Limits) (PDU, error) {
	switch t {
	case TypeAssociateRQ:
		return decodeAssociateRQ(body, lim)
	case TypeAssociateAC:
		return decodeAssociateAC(body, lim)
	case TypePDataTF:
		return decodePDataTF(body, lim)
	case TypeAssociateRJ:
		return &AssociateRJ{Result: RejectResult(body[1]), Source: RejectSource(body[2]), Reason: RejectReason(body[3])}, nil
	case TypeReleaseRQ:
		return &ReleaseRQ{}, nil
	case TypeReleaseRP:
		return &ReleaseRP{}, nil
	case TypeAbort:
		return &Abort{Source: AbortSource(body[2]), Reason: AbortReason(body[3])}, nil
	}
	// Unreachable: checkHeader rejected every other type.
	return nil, &DecodeError{Reason: AbortUnrecognizedPDU, Msg: fmt.Sprintf("unrecognized PDU type 0x%02X", uint8(t)), Err: ErrUnknownPDUType}
}

// nextItem splits the first item (1-byte type, 1 reserved, 2-byte length)
// off b. It fails when the header or the declared length runs past b.
func nextItem(b []byte, where string) (typ byte, body, rest []byte, err error) {
	if len(b) < 4 {
		return 0, nil, nil, malformed(fmt.Sprintf("%s: %d trailing bytes cannot hold an item header", where, len(b)))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n > len(b)-4 {
		return 0, nil, nil, malformed(fmt.Sprintf("%s: item 0x%02X declares %d bytes but %d remain", where, b[0], n, len(b)-4))
	}
	return b[0], b[4 : 4+n : 4+n], b[4+n:], nil
}

// lv16 splits a 2-byte-length-prefixed field off b.
func lv16(b []byte, where string) (field, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, malformed(where + ": length field truncated")
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > len(b)-2 {
		return nil, nil, malformed(fmt.Sprintf("%s: declares %d bytes but %d remain", where, n, len(b)-2))
	}
	return b[2 : 2+n : 2+n], b[2+n:], nil
}

// decodeUID returns a UID of a UL item (PS3.8 Annex F: no padding). Trailing
// NUL bytes, which some implementations add as if it were a data element,
// are stripped; the rest must be at most 64 bytes.
func decodeUID(b []byte, where string) (string, error) {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if len(b) > MaxUIDLen {
		return "", malformed(fmt.Sprintf("%s: UID of %d bytes exceeds %d", where, len(b), MaxUIDLen))
	}
	return string(b), nil
}

// decodeAETitle trims the space padding of a 16-byte AE title field.
func decodeAETitle(b []byte) string {
	i, j := 0, len(b)
	for i < j && b[i] == ' ' {
		i++
	}
	for j > i && b[j-1] == ' ' {
		j--
	}
	return string(b[i:j])
}

// bytesOrNil returns nil for an empty field so that decoded values compare
// equal to values built with nil slices.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func unexpected(msg string) *DecodeError {
	return &DecodeError{Reason: AbortUnexpectedParameter, Msg: msg, Err: ErrUnexpectedItem}
}
