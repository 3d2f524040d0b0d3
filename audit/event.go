package audit

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Field caps applied by Logger.Log to every string of an event.
const (
	// MaxField is the longest string field written, in bytes; longer values
	// are cut at a character boundary and end in "…".
	MaxField = 256
	// MaxQueryValue caps each query key value (Query).
	MaxQueryValue = 1024
	// MaxQueryKeys caps how many query keys are recorded.
	MaxQueryKeys = 64
)

// Event is one audit message (PS3.15 A.5.1): one line of the audit log.
// The constructors of this package fill it; callers may adjust fields
// afterwards (e.g. EventActionCode R for an identical resend, an
// EventOutcomeIndicator of partial failure) before Logger.Log.
//
// Logger.Log fills EventDateTime when zero, AuditSourceIdentification when
// empty, and the identity of the participants marked as this node.
type Event struct {
	EventID                 Code      `json:"EventID"`
	EventActionCode         Action    `json:"EventActionCode"`
	EventDateTime           time.Time `json:"EventDateTime"`
	EventOutcomeIndicator   Outcome   `json:"EventOutcomeIndicator"`
	EventOutcomeDescription string    `json:"EventOutcomeDescription,omitempty"`
	EventTypeCode           []Code    `json:"EventTypeCode,omitempty"`

	ActiveParticipant               []ActiveParticipant `json:"ActiveParticipant"`
	AuditSourceIdentification       AuditSource         `json:"AuditSourceIdentification"`
	ParticipantObjectIdentification []ParticipantObject `json:"ParticipantObjectIdentification,omitempty"`
}

// ActiveParticipant is a user, process or node taking part in the event
// (PS3.15 A.5.2.1–A.5.2.4). For a DICOM application AlternativeUserID is
// "AETITLES=" and its AE title.
type ActiveParticipant struct {
	UserID                     string `json:"UserID"`
	AlternativeUserID          string `json:"AlternativeUserID,omitempty"`
	UserName                   string `json:"UserName,omitempty"`
	UserIsRequestor            bool   `json:"UserIsRequestor"`
	RoleIDCode                 []Code `json:"RoleIDCode,omitempty"`
	NetworkAccessPointTypeCode int    `json:"NetworkAccessPointTypeCode,omitempty"`
	NetworkAccessPointID       string `json:"NetworkAccessPointID,omitempty"`

	// Self marks this node's own participant: Logger.Log fills UserID
	// (process ID), AlternativeUserID (our AE title) and the network
	// access point (host name) from its Source. Not written.
	Self bool `json:"-"`
}

// AuditSource identifies the system that reports the event (PS3.15 A.5.1,
// AuditSourceIdentification).
type AuditSource struct {
	AuditSourceID         string `json:"AuditSourceID"`
	AuditEnterpriseSiteID string `json:"AuditEnterpriseSiteID,omitempty"`
	AuditSourceTypeCode   string `json:"AuditSourceTypeCode,omitempty"`
}

// ParticipantObject is a thing the event touched: a study, a patient, a
// query, the subject of a security alert (PS3.15 A.5.1).
type ParticipantObject struct {
	ParticipantObjectID           string   `json:"ParticipantObjectID"`
	ParticipantObjectTypeCode     int      `json:"ParticipantObjectTypeCode"`
	ParticipantObjectTypeCodeRole int      `json:"ParticipantObjectTypeCodeRole,omitempty"`
	ParticipantObjectIDTypeCode   Code     `json:"ParticipantObjectIDTypeCode"`
	ParticipantObjectName         string   `json:"ParticipantObjectName,omitempty"`
	ParticipantObjectDetail       []Detail `json:"ParticipantObjectDetail,omitempty"`
	// ParticipantObjectDescription's DICOM content (PS3.15 A.5.1).
	SOPClass []SOPClass `json:"SOPClass,omitempty"`
}

// Detail is a ParticipantObjectDetail: a type and a value (plain text
// here, base64 in the XML schema).
type Detail struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// SOPClass counts the instances of one SOP class in a study object.
type SOPClass struct {
	UID               string `json:"UID"`
	NumberOfInstances int    `json:"NumberOfInstances"`
}

// sanitized returns a deep copy of ev whose strings are valid UTF-8 and
// capped (MaxField, or MaxQueryValue for query details).
func (ev *Event) sanitized() *Event {
	c := *ev
	c.EventID = cleanCode(c.EventID)
	c.EventActionCode = Action(clean(string(c.EventActionCode), MaxField))
	c.EventOutcomeDescription = clean(c.EventOutcomeDescription, MaxField)
	c.EventTypeCode = cleanCodes(c.EventTypeCode)
	c.ActiveParticipant = make([]ActiveParticipant, len(ev.ActiveParticipant))
	for i, p := range ev.ActiveParticipant {
		p.UserID = clean(p.UserID, MaxField)
		p.AlternativeUserID = clean(p.AlternativeUserID, MaxField)
		p.UserName = clean(p.UserName, MaxField)
		p.RoleIDCode = cleanCodes(p.RoleIDCode)
		p.NetworkAccessPointID = clean(p.NetworkAccessPointID, MaxField)
		c.ActiveParticipant[i] = p
	}
	s := &c.AuditSourceIdentification
	s.AuditSourceID = clean(s.AuditSourceID, MaxField)
	s.AuditEnterpriseSiteID = clean(s.AuditEnterpriseSiteID, MaxField)
	s.AuditSourceTypeCode = clean(s.AuditSourceTypeCode, MaxField)
	if ev.ParticipantObjectIdentification != nil {
		c.ParticipantObjectIdentification = make([]ParticipantObject, len(ev.ParticipantObjectIdentification))
	}
	for i, o := range ev.ParticipantObjectIdentification {
		o.ParticipantObjectID = clean(o.ParticipantObjectID, MaxField)
		o.ParticipantObjectIDTypeCode = cleanCode(o.ParticipantObjectIDTypeCode)
		o.ParticipantObjectName = clean(o.ParticipantObjectName, MaxField)
		valueCap := MaxField
		if o.ParticipantObjectTypeCodeRole == RoleQuery {
			valueCap = MaxQueryValue
		}
		if o.ParticipantObjectDetail != nil {
			ds := make([]Detail, 0, min(len(o.ParticipantObjectDetail), MaxQueryKeys))
			for j, d := range o.ParticipantObjectDetail {
				if j == MaxQueryKeys {
					break
				}
				ds = append(ds, Detail{Type: clean(d.Type, MaxField), Value: clean(d.Value, valueCap)})
			}
			o.ParticipantObjectDetail = ds
		}
		if o.SOPClass != nil {
			cs := make([]SOPClass, len(o.SOPClass))
			for j, sc := range o.SOPClass {
				cs[j] = SOPClass{UID: clean(sc.UID, MaxField), NumberOfInstances: sc.NumberOfInstances}
			}
			o.SOPClass = cs
		}
		c.ParticipantObjectIdentification[i] = o
	}
	return &c
}

func cleanCode(c Code) Code {
	return Code{Code: clean(c.Code, MaxField), Scheme: clean(c.Scheme, MaxField), Meaning: clean(c.Meaning, MaxField)}
}

func cleanCodes(cs []Code) []Code {
	if cs == nil {
		return nil
	}
	out := make([]Code, len(cs))
	for i, c := range cs {
		out[i] = cleanCode(c)
	}
	return out
}

// ellipsis marks a value cut by clean.
const ellipsis = "…"

// clean makes s valid UTF-8 (invalid bytes become U+FFFD) and at most limit
// bytes long, cutting at a character boundary and ending in "…" when cut.
// Control characters are left to encoding/json, which escapes them.
func clean(s string, limit int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= limit {
		return s
	}
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
