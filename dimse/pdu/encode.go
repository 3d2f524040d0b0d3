package pdu

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Encode returns the wire form of p: the 6-byte header and the variable
// part (PS3.8 9.3). Fields are written as given (see each type for what is
// checked); reserved fields are written as zero. Errors wrap ErrInvalid.
func Encode(p PDU) ([]byte, error) {
	return AppendEncode(nil, p)
}

// AppendEncode appends the wire form of p to dst and returns the extended
// slice. On error it returns dst unchanged (same length) and an error
// wrapping ErrInvalid.
func AppendEncode(dst []byte, p PDU) ([]byte, error) {
	start := len(dst)
	out, err := appendPDU(dst, p)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func appendPDU(dst []byte, p PDU) ([]byte, error) {
	if p == nil {
		return dst, fmt.Errorf("pdu: encoding a nil PDU: %w", ErrInvalid)
	}
	start := len(dst)
	header := func(t Type) {
		dst = append(dst, byte(t), 0, 0, 0, 0, 0)
	}
	var err error
	switch v := p.(type) {
	case *PDataTF:
		if v == nil {
			break
		}
		n, err := pdataBodyLen(v)
		if err != nil {
			return dst, err
		}
		dst = slices.Grow(dst, PDUHeaderLen+n)
		dst = append(dst, byte(TypePDataTF), 0)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		return appendPDataTF(dst, v), nil
	case *AssociateRQ:
		if v == nil {
			break
		}
		header(TypeAssociateRQ)
		c := associateCommon{version: v.ProtocolVersion, called: v.CalledAETitle, calling: v.CallingAETitle,
			appContext: v.ApplicationContext, contextsRQ: v.PresentationContexts, userInfo: v.UserInfo}
		if dst, err = appendAssociate(dst, &c, false); err != nil {
			return dst, err
		}
		return closePDU(dst, start)
	case *AssociateAC:
		if v == nil {
			break
		}
		header(TypeAssociateAC)
		c := associateCommon{version: v.ProtocolVersion, called: v.CalledAETitle, calling: v.CallingAETitle,
			appContext: v.ApplicationContext, contextsAC: v.PresentationContexts, userInfo: v.UserInfo}
		if dst, err = appendAssociate(dst, &c, true); err != nil {
			return dst, err
		}
		return closePDU(dst, start)
	case *AssociateRJ:
		if v == nil {
			break
		}
		return append(dst, byte(TypeAssociateRJ), 0, 0, 0, 0, 4, 0, byte(v.Result), byte(v.Source), byte(v.Reason)), nil
	case *ReleaseRQ:
		if v == nil {
			break
		}
		return append(dst, byte(TypeReleaseRQ), 0, 0, 0, 0, 4, 0, 0, 0, 0), nil
	case *ReleaseRP:
		if v == nil {
			break
		}
		return append(dst, byte(TypeReleaseRP), 0, 0, 0, 0, 4, 0, 0, 0, 0), nil
	case *Abort:
		if v == nil {
			break
		}
		return append(dst, byte(TypeAbort), 0, 0, 0, 0, 4, 0, 0, byte(v.Source), byte(v.Reason)), nil
	default:
		return dst, fmt.Errorf("pdu: cannot encode %T: %w", p, ErrInvalid)
	}
	return dst, fmt.Errorf("pdu: encoding a nil %T: %w", p, ErrInvalid)
}

// closePDU writes the PDU-length of the PDU whose header starts at
// dst[start].
func closePDU(dst []byte, start int) ([]byte, error) {
	n := len(dst) - start - PDUHeaderLen
	if uint64(n) > math.MaxUint32 {
		return dst, fmt.Errorf("pdu: PDU of %d bytes: %w", n, ErrInvalid)
	}
	binary.BigEndian.PutUint32(dst[start+2:], uint32(n))
	return dst, nil
}
