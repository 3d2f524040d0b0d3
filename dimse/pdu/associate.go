package pdu

import (
	"encoding/binary"
	"fmt"
)

// Item types of the variable part of A-ASSOCIATE-RQ/AC (PS3.8 9.3.2, 9.3.3)
// and of the presentation context sub-items.
const (
	itemApplicationContext = 0x10
	itemPresentationRQ     = 0x20
	itemPresentationAC     = 0x21
	itemAbstractSyntax     = 0x30
	itemTransferSyntax     = 0x40
	itemUserInfo           = 0x50
)

// associateCommon is what A-ASSOCIATE-RQ and -AC share.
type associateCommon struct {
	version    uint16
	called     string
	calling    string
	appContext string
	userInfo   UserInfo
	contextsRQ []PresentationContextRQ
	contextsAC []PresentationContextAC
}

func decodeAssociateRQ(body []byte, lim Limits) (*AssociateRQ, error) {
	c, err := decodeAssociate(body, lim, false)
	if err != nil {
		return nil, err
	}
	return &AssociateRQ{
		ProtocolVersion:      c.version,
		CalledAETitle:        c.called,
		CallingAETitle:       c.calling,
		ApplicationContext:   c.appContext,
		PresentationContexts: c.contextsRQ,
		UserInfo:             c.userInfo,
	}, nil
}

func decodeAssociateAC(body []byte, lim Limits) (*AssociateAC, error) {
	c, err := decodeAssociate(body, lim, true)
	if err != nil {
		return nil, err
	}
	return &AssociateAC{
		ProtocolVersion:      c.version,
		CalledAETitle:        c.called,
		CallingAETitle:       c.calling,
		ApplicationContext:   c.appContext,
		PresentationContexts: c.contextsAC,
		UserInfo:             c.userInfo,
	}, nil
}

// decodeAssociate decodes the body of an A-ASSOCIATE-RQ (ac false) or -AC
// (PS3.8 Tables 9-11 and 9-17). checkHeader guaranteed the fixed part.
func decodeAssociate(body []byte, lim Limits, ac bool) (associateCommon, error) {
	var c associateCommon
	name := "A-ASSOCIATE-RQ"
	if ac {
		name = "A-ASSOCIATE-AC"
	}
	c.version = binary.BigEndian.Uint16(body[0:2])
	c.called = decodeAETitle(body[4:20])
	c.calling = decodeAETitle(body[20:36])
	var (
		seenApp, seenUser bool
		seenID            [256]bool
		maxContexts       = lim.maxContexts()
	)
	rest := body[associateFixedLen:]
	for len(rest) > 0 {
		typ, item, r, err := nextItem(rest, name)
		if err != nil {
			return c, err
		}
		rest = r
		switch typ {
		case itemApplicationContext:
			if seenApp {
				return c, unexpected(name + ": second application context item")
			}
			seenApp = true
			if c.appContext, err = decodeUID(item, name+" application context"); err != nil {
				return c, err
			}
		case itemPresentationRQ, itemPresentationAC:
			if (typ == itemPresentationAC) != ac {
				return c, unexpected(fmt.Sprintf("%s: presentation context item of type 0x%02X", name, typ))
			}
			if len(c.contextsRQ)+len(c.contextsAC) >= maxContexts {
				return c, tooLong(fmt.Sprintf("%s: more than %d presentation contexts", name, maxContexts))
			}
			if len(item) < 4 {
				return c, malformed(fmt.Sprintf("%s: presentation context item of %d bytes", name, len(item)))
			}
			id := item[0]
			if id%2 == 0 {
				return c, malformed(fmt.Sprintf("%s: presentation context ID %d is even", name, id))
			}
			if seenID[id] {
				return c, malformed(fmt.Sprintf("%s: presentation context ID %d repeated", name, id))
			}
			seenID[id] = true
			if ac {
				pc, err := decodeContextAC(item)
				if err != nil {
					return c, err
				}
				c.contextsAC = append(c.contextsAC, pc)
			} else {
				pc, err := decodeContextRQ(item, lim)
				if err != nil {
					return c, err
				}
				c.contextsRQ = append(c.contextsRQ, pc)
			}
		case itemUserInfo:
			if seenUser {
				return c, unexpected(name + ": second user information item")
			}
			seenUser = true
			if c.userInfo, err = decodeUserInfo(item, ac); err != nil {
				return c, err
			}
		default:
			// PS3.8 9.3.1: items of unrecognized types are ignored and skipped.
		}
	}
	if !seenApp {
		return c, malformed(name + ": no application context item")
	}
	return c, nil
}

// decodeContextRQ decodes a presentation context item 0x20 (PS3.8 9.3.2.2)
// whose ID decodeAssociate checked.
func decodeContextRQ(item []byte, lim Limits) (PresentationContextRQ, error) {
	pc := PresentationContextRQ{ID: item[0]}
	where := fmt.Sprintf("presentation context %d", pc.ID)
	maxTS := lim.maxTransferSyntaxes()
	seenAbstract := false
	rest := item[4:]
	for len(rest) > 0 {
		typ, sub, r, err := nextItem(rest, where)
		if err != nil {
			return pc, err
		}
		rest = r
		switch typ {
		case itemAbstractSyntax:
			if seenAbstract {
				return pc, unexpected(where + ": second abstract syntax")
			}
			seenAbstract = true
			if pc.AbstractSyntax, err = decodeUID(sub, where+" abstract syntax"); err != nil {
				return pc, err
			}
		case itemTransferSyntax:
			if len(pc.TransferSyntaxes) >= maxTS {
				return pc, tooLong(fmt.Sprintf("%s: more than %d transfer syntaxes", where, maxTS))
			}
			ts, err := decodeUID(sub, where+" transfer syntax")
			if err != nil {
				return pc, err
			}
			pc.TransferSyntaxes = append(pc.TransferSyntaxes, ts)
		default:
			// PS3.8 9.3.1: skipped.
		}
	}
	if !seenAbstract {
		return pc, malformed(where + ": no abstract syntax sub-item")
	}
	if len(pc.TransferSyntaxes) == 0 {
		return pc, malformed(where + ": no transfer syntax sub-item")
	}
	return pc, nil
}

// decodeContextAC decodes a presentation context item 0x21 (PS3.8
// 9.3.3.2). The transfer syntax sub-item may be missing when the context is
// rejected (its value is then not significant).
func decodeContextAC(item []byte) (PresentationContextAC, error) {
	pc := PresentationContextAC{ID: item[0], Result: ContextResult(item[2])}
	where := fmt.Sprintf("presentation context %d", pc.ID)
	if pc.Result > ContextTransferSyntaxesNotSupported {
		return pc, malformed(fmt.Sprintf("%s: result %d is undefined", where, item[2]))
	}
	seenTS := false
	rest := item[4:]
	for len(rest) > 0 {
		typ, sub, r, err := nextItem(rest, where)
		if err != nil {
			return pc, err
		}
		rest = r
		if typ != itemTransferSyntax {
			continue // PS3.8 9.3.1: skipped.
		}
		if seenTS {
			return pc, unexpected(where + ": second transfer syntax")
		}
		seenTS = true
		if pc.TransferSyntax, err = decodeUID(sub, where+" transfer syntax"); err != nil {
			return pc, err
		}
	}
	if !seenTS && pc.Result == ContextAccepted {
		return pc, malformed(where + ": accepted without a transfer syntax")
	}
	return pc, nil
}

// appendAssociate appends the body of an A-ASSOCIATE-RQ (ac false) or -AC.
func appendAssociate(dst []byte, c *associateCommon, ac bool) ([]byte, error) {
	dst = binary.BigEndian.AppendUint16(dst, c.version)
	dst = append(dst, 0, 0)
	var err error
	if dst, err = appendAETitle(dst, c.called, "called"); err != nil {
		return dst, err
	}
	if dst, err = appendAETitle(dst, c.calling, "calling"); err != nil {
		return dst, err
	}
	dst = append(dst, make([]byte, 32)...)
	if dst, err = appendUIDItem(dst, itemApplicationContext, c.appContext, "application context"); err != nil {
		return dst, err
	}
	if ac {
		for i := range c.contextsAC {
			if dst, err = appendContextAC(dst, &c.contextsAC[i]); err != nil {
				return dst, err
			}
		}
	} else {
		for i := range c.contextsRQ {
			if dst, err = appendContextRQ(dst, &c.contextsRQ[i]); err != nil {
				return dst, err
			}
		}
	}
	return appendUserInfo(dst, &c.userInfo, ac)
}

func appendAETitle(dst []byte, title, which string) ([]byte, error) {
	if len(title) > MaxAETitleLen {
		return dst, fmt.Errorf("pdu: %s AE title of %d bytes exceeds 16: %w", which, len(title), ErrInvalid)
	}
	dst = append(dst, title...)
	for i := len(title); i < MaxAETitleLen; i++ {
		dst = append(dst, ' ')
	}
	return dst, nil
}

func appendContextRQ(dst []byte, pc *PresentationContextRQ) ([]byte, error) {
	if pc.ID%2 == 0 {
		return dst, fmt.Errorf("pdu: presentation context ID %d is even: %w", pc.ID, ErrInvalid)
	}
	if len(pc.TransferSyntaxes) == 0 {
		return dst, fmt.Errorf("pdu: presentation context %d has no transfer syntax: %w", pc.ID, ErrInvalid)
	}
	start := len(dst)
	dst = append(dst, itemPresentationRQ, 0, 0, 0, pc.ID, 0, 0, 0)
	var err error
	if dst, err = appendUIDItem(dst, itemAbstractSyntax, pc.AbstractSyntax, "abstract syntax"); err != nil {
		return dst, err
	}
	for _, ts := range pc.TransferSyntaxes {
		if dst, err = appendUIDItem(dst, itemTransferSyntax, ts, "transfer syntax"); err != nil {
			return dst, err
		}
	}
	return closeItem(dst, start, "presentation context")
}

func appendContextAC(dst []byte, pc *PresentationContextAC) ([]byte, error) {
	if pc.ID%2 == 0 {
		return dst, fmt.Errorf("pdu: presentation context ID %d is even: %w", pc.ID, ErrInvalid)
	}
	if pc.Result > ContextTransferSyntaxesNotSupported {
		return dst, fmt.Errorf("pdu: presentation context %d result %d is undefined: %w", pc.ID, pc.Result, ErrInvalid)
	}
	start := len(dst)
	dst = append(dst, itemPresentationAC, 0, 0, 0, pc.ID, 0, uint8(pc.Result), 0)
	// One transfer syntax sub-item always (PS3.8 9.3.3.2); empty and not
	// significant when the context is rejected.
	dst, err := appendUIDItem(dst, itemTransferSyntax, pc.TransferSyntax, "transfer syntax")
	if err != nil {
		return dst, err
	}
	return closeItem(dst, start, "presentation context")
}

// appendUIDItem appends an item whose whole value is one UID (PS3.8 Annex
// F: not padded).
func appendUIDItem(dst []byte, typ byte, uid, what string) ([]byte, error) {
	if len(uid) > MaxUIDLen {
		return dst, fmt.Errorf("pdu: %s UID of %d bytes exceeds %d: %w", what, len(uid), MaxUIDLen, ErrInvalid)
	}
	dst = append(dst, typ, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(uid)))
	return append(dst, uid...), nil
}

// closeItem writes the item-length of the item whose header starts at
// dst[start].
func closeItem(dst []byte, start int, what string) ([]byte, error) {
	n := len(dst) - start - 4
	if n > 0xFFFF {
		return dst, fmt.Errorf("pdu: %s item of %d bytes exceeds 65535: %w", what, n, ErrInvalid)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(n))
	return dst, nil
}
