package pdu

import (
	"encoding/binary"
	"fmt"
)

// User information sub-item types (PS3.8 Annex D, PS3.7 Annex D.3.3).
const (
	subMaxLength         = 0x51
	subImplClassUID      = 0x52
	subAsyncOps          = 0x53
	subRoleSelection     = 0x54
	subImplVersionName   = 0x55
	subSOPClassExtended  = 0x56
	subSOPClassCommonExt = 0x57
	subUserIdentityRQ    = 0x58
	subUserIdentityAC    = 0x59
)

// decodeUserInfo decodes the sub-items of a user information item (0x50).
// Unknown sub-items, and the user identity sub-item of the other direction,
// are skipped. A single-valued sub-item given twice is reason 5.
func decodeUserInfo(item []byte, ac bool) (UserInfo, error) {
	var (
		u    UserInfo
		seen [256]bool
	)
	const where = "user information"
	rest := item
	for len(rest) > 0 {
		typ, sub, r, err := nextItem(rest, where)
		if err != nil {
			return u, err
		}
		rest = r
		if (typ == subUserIdentityRQ && ac) || (typ == subUserIdentityAC && !ac) {
			continue // the other direction's sub-item: skipped
		}
		switch typ {
		case subMaxLength, subImplClassUID, subAsyncOps, subImplVersionName, subUserIdentityRQ, subUserIdentityAC:
			if seen[typ] {
				return u, unexpected(fmt.Sprintf("%s: sub-item 0x%02X repeated", where, typ))
			}
			seen[typ] = true
		}
		switch typ {
		case subMaxLength:
			if len(sub) != 4 {
				return u, malformed(fmt.Sprintf("%s: maximum length sub-item of %d bytes, not 4", where, len(sub)))
			}
			u.MaxLength = binary.BigEndian.Uint32(sub)
		case subImplClassUID:
			if u.ImplementationClassUID, err = decodeUID(sub, "implementation class"); err != nil {
				return u, err
			}
		case subImplVersionName:
			u.ImplementationVersionName = string(sub)
		case subAsyncOps:
			if len(sub) != 4 {
				return u, malformed(fmt.Sprintf("%s: asynchronous operations window sub-item of %d bytes, not 4", where, len(sub)))
			}
			u.AsyncOps = &AsyncOpsWindow{
				MaxInvoked:   binary.BigEndian.Uint16(sub[0:2]),
				MaxPerformed: binary.BigEndian.Uint16(sub[2:4]),
			}
		case subRoleSelection:
			rs, err := decodeRoleSelection(sub)
			if err != nil {
				return u, err
			}
			u.RoleSelections = append(u.RoleSelections, rs)
		case subSOPClassExtended:
			uid, info, err := lv16(sub, "SOP class extended negotiation")
			if err != nil {
				return u, err
			}
			e := SOPClassExtended{Info: bytesOrNil(info)}
			if e.SOPClassUID, err = decodeUID(uid, "SOP class extended negotiation"); err != nil {
				return u, err
			}
			u.SOPClassExtended = append(u.SOPClassExtended, e)
		case subSOPClassCommonExt:
			e, err := decodeCommonExtended(sub)
			if err != nil {
				return u, err
			}
			u.SOPClassCommonExtended = append(u.SOPClassCommonExtended, e)
		case subUserIdentityRQ:
			id, err := decodeUserIdentityRQ(sub)
			if err != nil {
				return u, err
			}
			u.UserIdentityRQ = id
		case subUserIdentityAC:
			resp, tail, err := lv16(sub, "user identity server response")
			if err != nil {
				return u, err
			}
			if len(tail) != 0 {
				return u, malformed(fmt.Sprintf("%s: %d bytes after the user identity server response", where, len(tail)))
			}
			u.UserIdentityAC = &UserIdentityAC{ServerResponse: bytesOrNil(resp)}
		default:
			// PS3.8 9.3.1: unrecognized sub-items are skipped.
		}
	}
	return u, nil
}

// decodeRoleSelection decodes sub-item 0x54 (PS3.7 D.3.3.4).
func decodeRoleSelection(sub []byte) (RoleSelection, error) {
	const where = "SCP/SCU role selection"
	uid, tail, err := lv16(sub, where)
	if err != nil {
		return RoleSelection{}, err
	}
	if len(tail) != 2 {
		return RoleSelection{}, malformed(fmt.Sprintf("%s: %d bytes after the UID, not 2", where, len(tail)))
	}
	rs := RoleSelection{SCU: tail[0] != 0, SCP: tail[1] != 0}
	rs.SOPClassUID, err = decodeUID(uid, where)
	return rs, err
}

// decodeCommonExtended decodes sub-item 0x57 (PS3.7 D.3.3.6). The
// sub-item-version byte is not tested; bytes after the related general SOP
// class identification are reserved and ignored.
func decodeCommonExtended(sub []byte) (SOPClassCommonExtended, error) {
	const where = "SOP class common extended negotiation"
	var e SOPClassCommonExtended
	sop, rest, err := lv16(sub, where)
	if err != nil {
		return e, err
	}
	svc, rest, err := lv16(rest, where)
	if err != nil {
		return e, err
	}
	related, _, err := lv16(rest, where)
	if err != nil {
		return e, err
	}
	if e.SOPClassUID, err = decodeUID(sop, where); err != nil {
		return e, err
	}
	if e.ServiceClassUID, err = decodeUID(svc, where); err != nil {
		return e, err
	}
	for len(related) > 0 {
		var uid []byte
		if uid, related, err = lv16(related, where+" related general SOP class"); err != nil {
			return e, err
		}
		s, err := decodeUID(uid, where+" related general SOP class")
		if err != nil {
			return e, err
		}
		e.RelatedGeneralSOPClasses = append(e.RelatedGeneralSOPClasses, s)
	}
	return e, nil
}

// decodeUserIdentityRQ decodes sub-item 0x58 (PS3.7 D.3.3.7.1).
func decodeUserIdentityRQ(sub []byte) (*UserIdentityRQ, error) {
	const where = "user identity"
	if len(sub) < 2 {
		return nil, malformed(fmt.Sprintf("%s: sub-item of %d bytes", where, len(sub)))
	}
	id := &UserIdentityRQ{Type: sub[0], PositiveResponseRequested: sub[1] != 0}
	primary, rest, err := lv16(sub[2:], where+" primary field")
	if err != nil {
		return nil, err
	}
	secondary, rest, err := lv16(rest, where+" secondary field")
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, malformed(fmt.Sprintf("%s: %d bytes after the secondary field", where, len(rest)))
	}
	id.Primary, id.Secondary = bytesOrNil(primary), bytesOrNil(secondary)
	return id, nil
}

// appendUserInfo appends the user information item. The maximum length
// sub-item is always written (0 = unlimited); the others when set.
func appendUserInfo(dst []byte, u *UserInfo, ac bool) ([]byte, error) {
	if ac && u.UserIdentityRQ != nil {
		return dst, fmt.Errorf("pdu: user identity RQ sub-item in an A-ASSOCIATE-AC: %w", ErrInvalid)
	}
	if !ac && u.UserIdentityAC != nil {
		return dst, fmt.Errorf("pdu: user identity AC sub-item in an A-ASSOCIATE-RQ: %w", ErrInvalid)
	}
	start := len(dst)
	dst = append(dst, itemUserInfo, 0, 0, 0)
	dst = append(dst, subMaxLength, 0, 0, 4)
	dst = binary.BigEndian.AppendUint32(dst, u.MaxLength)
	var err error
	if u.ImplementationClassUID != "" {
		if dst, err = appendUIDItem(dst, subImplClassUID, u.ImplementationClassUID, "implementation class"); err != nil {
			return dst, err
		}
	}
	if w := u.AsyncOps; w != nil {
		dst = append(dst, subAsyncOps, 0, 0, 4)
		dst = binary.BigEndian.AppendUint16(dst, w.MaxInvoked)
		dst = binary.BigEndian.AppendUint16(dst, w.MaxPerformed)
	}
	for _, rs := range u.RoleSelections {
		s := len(dst)
		dst = append(dst, subRoleSelection, 0, 0, 0)
		if dst, err = appendLV16UID(dst, rs.SOPClassUID, "role selection"); err != nil {
			return dst, err
		}
		dst = append(dst, boolByte(rs.SCU), boolByte(rs.SCP))
		if dst, err = closeItem(dst, s, "role selection"); err != nil {
			return dst, err
		}
	}
	if u.ImplementationVersionName != "" {
		if len(u.ImplementationVersionName) > 0xFFFF-4 {
			return dst, fmt.Errorf("pdu: implementation version name too long: %w", ErrInvalid)
		}
		dst = append(dst, subImplVersionName, 0)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(u.ImplementationVersionName)))
		dst = append(dst, u.ImplementationVersionName...)
	}
	for _, e := range u.SOPClassExtended {
		s := len(dst)
		dst = append(dst, subSOPClassExtended, 0, 0, 0)
		if dst, err = appendLV16UID(dst, e.SOPClassUID, "SOP class extended negotiation"); err != nil {
			return dst, err
		}
		dst = append(dst, e.Info...)
		if dst, err = closeItem(dst, s, "SOP class extended negotiation"); err != nil {
			return dst, err
		}
	}
	for _, e := range u.SOPClassCommonExtended {
		if dst, err = appendCommonExtended(dst, &e); err != nil {
			return dst, err
		}
	}
	if id := u.UserIdentityRQ; id != nil {
		s := len(dst)
		dst = append(dst, subUserIdentityRQ, 0, 0, 0, id.Type, boolByte(id.PositiveResponseRequested))
		if dst, err = appendLV16(dst, id.Primary, "user identity primary field"); err != nil {
			return dst, err
		}
		if dst, err = appendLV16(dst, id.Secondary, "user identity secondary field"); err != nil {
			return dst, err
		}
		if dst, err = closeItem(dst, s, "user identity"); err != nil {
			return dst, err
		}
	}
	if id := u.UserIdentityAC; id != nil {
		s := len(dst)
		dst = append(dst, subUserIdentityAC, 0, 0, 0)
		if dst, err = appendLV16(dst, id.ServerResponse, "user identity server response"); err != nil {
			return dst, err
		}
		if dst, err = closeItem(dst, s, "user identity"); err != nil {
			return dst, err
		}
	}
	return closeItem(dst, start, "user information")
}

func appendCommonExtended(dst []byte, e *SOPClassCommonExtended) ([]byte, error) {
	const what = "SOP class common extended negotiation"
	s := len(dst)
	dst = append(dst, subSOPClassCommonExt, 0, 0, 0) // sub-item version 0
	var err error
	if dst, err = appendLV16UID(dst, e.SOPClassUID, what); err != nil {
		return dst, err
	}
	if dst, err = appendLV16UID(dst, e.ServiceClassUID, what); err != nil {
		return dst, err
	}
	r := len(dst)
	dst = append(dst, 0, 0)
	for _, uid := range e.RelatedGeneralSOPClasses {
		if dst, err = appendLV16UID(dst, uid, what); err != nil {
			return dst, err
		}
	}
	n := len(dst) - r - 2
	if n > 0xFFFF {
		return dst, fmt.Errorf("pdu: %s related classes of %d bytes: %w", what, n, ErrInvalid)
	}
	binary.BigEndian.PutUint16(dst[r:], uint16(n))
	return closeItem(dst, s, what)
}

func appendLV16UID(dst []byte, uid, what string) ([]byte, error) {
	if len(uid) > MaxUIDLen {
		return dst, fmt.Errorf("pdu: %s UID of %d bytes exceeds %d: %w", what, len(uid), MaxUIDLen, ErrInvalid)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(uid)))
	return append(dst, uid...), nil
}

func appendLV16(dst, field []byte, what string) ([]byte, error) {
	if len(field) > 0xFFFF {
		return dst, fmt.Errorf("pdu: %s of %d bytes exceeds 65535: %w", what, len(field), ErrInvalid)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(field)))
	return append(dst, field...), nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
