package dimse

import "fmt"

// CommandField is the value of Command Field (0000,0100): which DIMSE
// operation a message carries, and whether it is a request or a response
// (PS3.7 §9.3 and Annex E, Table E.1-1). Responses have bit 15 set.
type CommandField uint16

// The DIMSE-C command fields shardpacs speaks (PS3.7 §9.3).
const (
	CStoreRQ  CommandField = 0x0001 // PS3.7 §9.3.1.1
	CStoreRSP CommandField = 0x8001 // PS3.7 §9.3.1.2
	CGetRQ    CommandField = 0x0010 // PS3.7 §9.3.3.1
	CGetRSP   CommandField = 0x8010 // PS3.7 §9.3.3.2
	CFindRQ   CommandField = 0x0020 // PS3.7 §9.3.2.1
	CFindRSP  CommandField = 0x8020 // PS3.7 §9.3.2.2
	CMoveRQ   CommandField = 0x0021 // PS3.7 §9.3.4.1
	CMoveRSP  CommandField = 0x8021 // PS3.7 §9.3.4.2
	CEchoRQ   CommandField = 0x0030 // PS3.7 §9.3.5.1
	CEchoRSP  CommandField = 0x8030 // PS3.7 §9.3.5.2
	CCancelRQ CommandField = 0x0FFF // PS3.7 §9.3.2.3, §9.3.3.3, §9.3.4.3
)

// String returns the standard's name ("C-STORE-RQ"), or
// "CommandField(0x0100)" for a value this package does not know.
func (c CommandField) String() string {
	switch c {
	case CStoreRQ:
		return "C-STORE-RQ"
	case CStoreRSP:
		return "C-STORE-RSP"
	case CGetRQ:
		return "C-GET-RQ"
	case CGetRSP:
		return "C-GET-RSP"
	case CFindRQ:
		return "C-FIND-RQ"
	case CFindRSP:
		return "C-FIND-RSP"
	case CMoveRQ:
		return "C-MOVE-RQ"
	case CMoveRSP:
		return "C-MOVE-RSP"
	case CEchoRQ:
		return "C-ECHO-RQ"
	case CEchoRSP:
		return "C-ECHO-RSP"
	case CCancelRQ:
		return "C-CANCEL-RQ"
	}
	return fmt.Sprintf("CommandField(0x%04X)", uint16(c))
}

// Known reports whether c is one of the command fields declared above.
func (c CommandField) Known() bool {
	switch c {
	case CStoreRQ, CStoreRSP, CGetRQ, CGetRSP, CFindRQ, CFindRSP,
		CMoveRQ, CMoveRSP, CEchoRQ, CEchoRSP, CCancelRQ:
		return true
	}
	return false
}

// IsResponse reports whether c denotes a response (bit 15 set, PS3.7 Annex E).
func (c CommandField) IsResponse() bool { return c&0x8000 != 0 }

// Response returns the response command field answering request c
// (C-STORE-RQ → C-STORE-RSP). A response, and C-CANCEL-RQ which has no
// response, are returned unchanged.
func (c CommandField) Response() CommandField {
	if c.IsResponse() || c == CCancelRQ {
		return c
	}
	return c | 0x8000
}

// hasPriority reports whether PS3.7 defines Priority (0000,0700) for c:
// the C-STORE, C-FIND, C-GET and C-MOVE requests.
func (c CommandField) hasPriority() bool {
	switch c {
	case CStoreRQ, CFindRQ, CGetRQ, CMoveRQ:
		return true
	}
	return false
}

// hasMessageID reports whether c carries Message ID (0000,0110): every
// request except C-CANCEL-RQ.
func (c CommandField) hasMessageID() bool { return !c.IsResponse() && c != CCancelRQ }

// hasRespondedTo reports whether c carries Message ID Being Responded To
// (0000,0120): every response, and C-CANCEL-RQ.
func (c CommandField) hasRespondedTo() bool { return c.IsResponse() || c == CCancelRQ }

// hasStatus reports whether c carries Status (0000,0900): every response.
func (c CommandField) hasStatus() bool { return c.IsResponse() }

// Priority is the value of Priority (0000,0700) (PS3.7 Annex E, Table E.1-1).
type Priority uint16

// Priority values (PS3.7 Annex E, Table E.1-1). The zero value is Medium.
const (
	PriorityMedium Priority = 0x0000
	PriorityHigh   Priority = 0x0001
	PriorityLow    Priority = 0x0002
)

// String returns "MEDIUM", "HIGH", "LOW" or "Priority(0x0003)".
func (p Priority) String() string {
	switch p {
	case PriorityMedium:
		return "MEDIUM"
	case PriorityHigh:
		return "HIGH"
	case PriorityLow:
		return "LOW"
	}
	return fmt.Sprintf("Priority(0x%04X)", uint16(p))
}
