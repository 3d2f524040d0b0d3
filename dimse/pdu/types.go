// Package pdu encodes and decodes the DICOM Upper Layer protocol data units
// of PS3.8 §9.3: A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF, A-RELEASE-RQ/RP and
// A-ABORT.
//
// It is a codec only: no association state, no timers, no logging and no
// goroutines. Decoding is hostile-input safe: every declared length is
// checked against the enclosing structure and against [Limits] before
// anything is allocated, and malformed input yields a [*DecodeError] that
// carries the [AbortReason] a state machine should send (PS3.8 9.3.8).
//
// All types are plain values: a PDU is safe to read from several goroutines
// and must not be mutated while being encoded.
package pdu

// Type is the PDU-type field, the first byte of every PDU (PS3.8 9.3.1).
type Type uint8

// PDU types of PS3.8 Table 9-11.
const (
	TypeAssociateRQ Type = 0x01 // A-ASSOCIATE-RQ, PS3.8 9.3.2
	TypeAssociateAC Type = 0x02 // A-ASSOCIATE-AC, PS3.8 9.3.3
	TypeAssociateRJ Type = 0x03 // A-ASSOCIATE-RJ, PS3.8 9.3.4
	TypePDataTF     Type = 0x04 // P-DATA-TF, PS3.8 9.3.5
	TypeReleaseRQ   Type = 0x05 // A-RELEASE-RQ, PS3.8 9.3.6
	TypeReleaseRP   Type = 0x06 // A-RELEASE-RP, PS3.8 9.3.7
	TypeAbort       Type = 0x07 // A-ABORT, PS3.8 9.3.8
)

// PDU is one decoded protocol data unit. It is implemented by *AssociateRQ,
// *AssociateAC, *AssociateRJ, *PDataTF, *ReleaseRQ, *ReleaseRP and *Abort.
type PDU interface {
	PDUType() Type
}

// DICOMApplicationContext is the only application context name defined by
// DICOM (PS3.7 A.2.1).
const DICOMApplicationContext = "1.2.840.10008.3.1.1.1"

// ProtocolVersion1 is the protocol-version field value of DICOM UL version 1
// (bit 0 set, PS3.8 9.3.2). A receiver tests only bit 0.
const ProtocolVersion1 uint16 = 0x0001

// AssociateRQ is the A-ASSOCIATE-RQ PDU (PS3.8 9.3.2).
//
// Encode writes the fields as given: set ProtocolVersion to
// [ProtocolVersion1] and ApplicationContext to [DICOMApplicationContext].
// AE titles are at most 16 bytes; they are padded with spaces to 16 bytes on
// encode and trimmed of leading and trailing spaces on decode.
type AssociateRQ struct {
	ProtocolVersion      uint16
	CalledAETitle        string
	CallingAETitle       string
	ApplicationContext   string // item 0x10
	PresentationContexts []PresentationContextRQ
	UserInfo             UserInfo // item 0x50
}

// AssociateAC is the A-ASSOCIATE-AC PDU (PS3.8 9.3.3). The AE titles are
// echoed from the request; PS3.8 says the receiver shall not test them.
type AssociateAC struct {
	ProtocolVersion      uint16
	CalledAETitle        string
	CallingAETitle       string
	ApplicationContext   string // item 0x10
	PresentationContexts []PresentationContextAC
	UserInfo             UserInfo // item 0x50
}

// PresentationContextRQ is a presentation context item of an
// A-ASSOCIATE-RQ (item 0x20, PS3.8 9.3.2.2) with its abstract syntax
// (sub-item 0x30) and one or more transfer syntaxes (sub-items 0x40).
// ID is odd, 1..255.
type PresentationContextRQ struct {
	ID               uint8
	AbstractSyntax   string
	TransferSyntaxes []string
}

// PresentationContextAC is a presentation context item of an
// A-ASSOCIATE-AC (item 0x21, PS3.8 9.3.3.2). TransferSyntax is significant
// only when Result is [ContextAccepted]; otherwise it may be empty.
type PresentationContextAC struct {
	ID             uint8
	Result         ContextResult
	TransferSyntax string
}

// ContextResult is the Result/Reason field of a presentation context item
// of an A-ASSOCIATE-AC (PS3.8 9.3.3.2, Table 9-18).
type ContextResult uint8

// Presentation context results.
const (
	ContextAccepted                     ContextResult = 0 // acceptance
	ContextUserRejection                ContextResult = 1 // user-rejection
	ContextNoReason                     ContextResult = 2 // no-reason (provider rejection)
	ContextAbstractSyntaxNotSupported   ContextResult = 3 // abstract-syntax-not-supported (provider rejection)
	ContextTransferSyntaxesNotSupported ContextResult = 4 // transfer-syntaxes-not-supported (provider rejection)
)

// UserInfo is the User Information item (0x50, PS3.8 9.3.2.3 and PS3.7
// Annex D.3.3). Absent optional sub-items are nil or empty. Unknown
// sub-items are skipped on decode and not kept.
type UserInfo struct {
	MaxLength                 uint32                   // 0x51, PS3.8 D.1; 0 = unlimited
	ImplementationClassUID    string                   // 0x52, PS3.7 D.3.3.2
	ImplementationVersionName string                   // 0x55, PS3.7 D.3.3.2
	AsyncOps                  *AsyncOpsWindow          // 0x53, PS3.7 D.3.3.3; nil = absent
	RoleSelections            []RoleSelection          // 0x54, PS3.7 D.3.3.4
	SOPClassExtended          []SOPClassExtended       // 0x56, PS3.7 D.3.3.5
	SOPClassCommonExtended    []SOPClassCommonExtended // 0x57, PS3.7 D.3.3.6
	UserIdentityRQ            *UserIdentityRQ          // 0x58, PS3.7 D.3.3.7 (A-ASSOCIATE-RQ only)
	UserIdentityAC            *UserIdentityAC          // 0x59, PS3.7 D.3.3.7 (A-ASSOCIATE-AC only)
}

// AsyncOpsWindow is the Asynchronous Operations Window sub-item (0x53,
// PS3.7 D.3.3.3). 0 means unlimited.
type AsyncOpsWindow struct {
	MaxInvoked   uint16
	MaxPerformed uint16
}

// RoleSelection is an SCP/SCU Role Selection sub-item (0x54, PS3.7
// D.3.3.4). On decode any non-zero role byte reads as true.
type RoleSelection struct {
	SOPClassUID string
	SCU         bool
	SCP         bool
}

// SOPClassExtended is an SOP Class Extended Negotiation sub-item (0x56,
// PS3.7 D.3.3.5). Info is the opaque service-class-application-information.
type SOPClassExtended struct {
	SOPClassUID string
	Info        []byte
}

// SOPClassCommonExtended is an SOP Class Common Extended Negotiation
// sub-item (0x57, PS3.7 D.3.3.6), sub-item version 0.
type SOPClassCommonExtended struct {
	SOPClassUID              string
	ServiceClassUID          string
	RelatedGeneralSOPClasses []string
}

// User identity types of the User Identity Negotiation sub-item (PS3.7
// D.3.3.7, Table D.3-14).
const (
	UserIdentityUsername         uint8 = 1
	UserIdentityUsernamePasscode uint8 = 2
	UserIdentityKerberos         uint8 = 3
	UserIdentitySAML             uint8 = 4
	UserIdentityJWT              uint8 = 5
)

// UserIdentityRQ is the User Identity Negotiation sub-item of an
// A-ASSOCIATE-RQ (0x58, PS3.7 D.3.3.7.1). Secondary is used only with
// [UserIdentityUsernamePasscode]. The fields are credentials: never log them.
type UserIdentityRQ struct {
	Type                      uint8
	PositiveResponseRequested bool
	Primary                   []byte
	Secondary                 []byte
}

// UserIdentityAC is the User Identity Negotiation sub-item of an
// A-ASSOCIATE-AC (0x59, PS3.7 D.3.3.7.2).
type UserIdentityAC struct {
	ServerResponse []byte
}

// AssociateRJ is the A-ASSOCIATE-RJ PDU (PS3.8 9.3.4). It is also the error
// a requestor returns when its association is rejected.
type AssociateRJ struct {
	Result RejectResult
	Source RejectSource
	Reason RejectReason // meaning depends on Source
}

// RejectResult is the Result field of an A-ASSOCIATE-RJ (PS3.8 9.3.4).
type RejectResult uint8

// Reject results.
const (
	RejectPermanent RejectResult = 1 // rejected-permanent
	RejectTransient RejectResult = 2 // rejected-transient
)

// RejectSource is the Source field of an A-ASSOCIATE-RJ (PS3.8 9.3.4).
type RejectSource uint8

// Reject sources.
const (
	SourceServiceUser                 RejectSource = 1 // DICOM UL service-user
	SourceServiceProviderACSE         RejectSource = 2 // DICOM UL service-provider (ACSE related function)
	SourceServiceProviderPresentation RejectSource = 3 // DICOM UL service-provider (presentation related function)
)

// RejectReason is the Reason/Diag. field of an A-ASSOCIATE-RJ (PS3.8
// 9.3.4). Its meaning depends on the [RejectSource]; use
// [RejectReason.String] with the source to name it.
type RejectReason uint8

// Reject reasons, grouped by the source they are valid for.
const (
	// SourceServiceUser
	RejectUserNoReason               RejectReason = 1
	RejectUserAppContextNotSupported RejectReason = 2
	RejectUserCallingAENotRecognized RejectReason = 3
	RejectUserCalledAENotRecognized  RejectReason = 7
	// SourceServiceProviderACSE
	RejectACSENoReason                    RejectReason = 1
	RejectACSEProtocolVersionNotSupported RejectReason = 2
	// SourceServiceProviderPresentation
	RejectPresentationTemporaryCongestion RejectReason = 1
	RejectPresentationLocalLimitExceeded  RejectReason = 2
)

// PDataTF is the P-DATA-TF PDU (PS3.8 9.3.5): one or more presentation data
// value items.
type PDataTF struct {
	Items []PDV
}

// PDV is one presentation data value item of a P-DATA-TF (PS3.8 9.3.5.1)
// with its message control header (PS3.8 E.2): bit 0 set = command
// fragment, bit 1 set = last fragment.
//
// Ownership: a decoded Data aliases the buffer the PDU was decoded from (for
// ReadPDU, a buffer allocated for that PDU alone, which the caller then owns).
type PDV struct {
	ContextID uint8
	Command   bool
	Last      bool
	Data      []byte
}

// ReleaseRQ is the A-RELEASE-RQ PDU (PS3.8 9.3.6).
type ReleaseRQ struct{}

// ReleaseRP is the A-RELEASE-RP PDU (PS3.8 9.3.7).
type ReleaseRP struct{}

// Abort is the A-ABORT PDU (PS3.8 9.3.8). It is also the error returned when
// an association is aborted.
type Abort struct {
	Source AbortSource
	Reason AbortReason // significant only when Source is AbortServiceProvider
}

// AbortSource is the Source field of an A-ABORT (PS3.8 9.3.8).
type AbortSource uint8

// Abort sources (1 is reserved).
const (
	AbortServiceUser     AbortSource = 0 // DICOM UL service-user (initiated abort)
	AbortReserved        AbortSource = 1 // reserved
	AbortServiceProvider AbortSource = 2 // DICOM UL service-provider (initiated abort)
)

// AbortReason is the Reason/Diag. field of an A-ABORT (PS3.8 9.3.8).
type AbortReason uint8

// Abort reasons (3 is reserved).
const (
	AbortNotSpecified          AbortReason = 0 // reason-not-specified
	AbortUnrecognizedPDU       AbortReason = 1 // unrecognized-PDU
	AbortUnexpectedPDU         AbortReason = 2 // unexpected-PDU
	AbortUnrecognizedParameter AbortReason = 4 // unrecognized-PDU-parameter
	AbortUnexpectedParameter   AbortReason = 5 // unexpected-PDU-parameter
	AbortInvalidParameterValue AbortReason = 6 // invalid-PDU-parameter-value
)

// PDUType returns TypeAssociateRQ.
func (*AssociateRQ) PDUType() Type { return TypeAssociateRQ }

// PDUType returns TypeAssociateAC.
func (*AssociateAC) PDUType() Type { return TypeAssociateAC }

// PDUType returns TypeAssociateRJ.
func (*AssociateRJ) PDUType() Type { return TypeAssociateRJ }

// PDUType returns TypePDataTF.
func (*PDataTF) PDUType() Type { return TypePDataTF }

// PDUType returns TypeReleaseRQ.
func (*ReleaseRQ) PDUType() Type { return TypeReleaseRQ }

// PDUType returns TypeReleaseRP.
func (*ReleaseRP) PDUType() Type { return TypeReleaseRP }

// PDUType returns TypeAbort.
func (*Abort) PDUType() Type { return TypeAbort }
