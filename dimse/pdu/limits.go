package pdu

// Wire sizes needed to fragment messages into P-DATA-TF PDUs (PS3.8 9.3.5).
const (
	// PDUHeaderLen is the PDU-type, reserved and PDU-length fields that
	// precede every PDU's variable part. PS3.8's Maximum Length counts
	// only what follows them.
	PDUHeaderLen = 6
	// PDVHeaderLen is a PDV item's item-length (4), presentation context ID
	// (1) and message control header (1).
	PDVHeaderLen = 6
	// PDataTFOverhead is the bytes of a P-DATA-TF carrying one PDV that are
	// not PDV data: PDUHeaderLen + PDVHeaderLen.
	PDataTFOverhead = PDUHeaderLen + PDVHeaderLen
	// MaxUIDLen is the longest UID accepted (PS3.5 9.1).
	MaxUIDLen = 64
	// MaxAETitleLen is the length of an AE title field (PS3.8 9.3.2).
	MaxAETitleLen = 16
)

// Defaults used for zero (or negative) fields of Limits.
const (
	DefaultMaxPDataLength                = 1 << 20 // 1 MiB
	DefaultMaxAssociateLength            = 64 << 10
	DefaultMaxContexts                   = 128
	DefaultMaxTransferSyntaxesPerContext = 64
	DefaultMaxPDVsPerPDU                 = 1024
)

// Limits bounds what a decoder accepts. The zero value uses the defaults
// named in each field; Limits are read, never written back.
type Limits struct {
	// MaxPDataLength is the largest PDU-length (bytes after the 6-byte
	// header) of a P-DATA-TF: the Maximum Length we advertised (PS3.8 D.1).
	// 0 means DefaultMaxPDataLength (1 MiB); an advertised "unlimited" still
	// needs a cap here.
	MaxPDataLength uint32
	// MaxAssociateLength is the largest PDU-length of an A-ASSOCIATE-RQ or
	// -AC. 0 means DefaultMaxAssociateLength (64 KiB).
	MaxAssociateLength uint32
	// MaxContexts is the most presentation context items in an
	// A-ASSOCIATE-RQ or -AC. 0 means DefaultMaxContexts (128, the protocol
	// maximum, since IDs are odd numbers 1..255).
	MaxContexts int
	// MaxTransferSyntaxesPerContext bounds the transfer syntax sub-items of
	// one requested presentation context. 0 means 64.
	MaxTransferSyntaxesPerContext int
	// MaxPDVsPerPDU bounds the PDV items in one P-DATA-TF. 0 means 1024
	// (peers normally send one or two).
	MaxPDVsPerPDU int
}

func (l Limits) maxPDataLength() uint32 {
	if l.MaxPDataLength == 0 {
		return DefaultMaxPDataLength
	}
	return l.MaxPDataLength
}

func (l Limits) maxAssociateLength() uint32 {
	if l.MaxAssociateLength == 0 {
		return DefaultMaxAssociateLength
	}
	return l.MaxAssociateLength
}

func (l Limits) maxContexts() int {
	if l.MaxContexts <= 0 {
		return DefaultMaxContexts
	}
	return l.MaxContexts
}

func (l Limits) maxTransferSyntaxes() int {
	if l.MaxTransferSyntaxesPerContext <= 0 {
		return DefaultMaxTransferSyntaxesPerContext
	}
	return l.MaxTransferSyntaxesPerContext
}

func (l Limits) maxPDVs() int {
	if l.MaxPDVsPerPDU <= 0 {
		return DefaultMaxPDVsPerPDU
	}
	return l.MaxPDVsPerPDU
}

// MaxPDVData returns the largest Data of the single PDV of a P-DATA-TF
// whose PDU-length may be at most maxPDULength (the peer's Maximum Length,
// PS3.8 D.1, which excludes the 6-byte PDU header): maxPDULength minus
// PDVHeaderLen, rounded down to an even number so that fragments keep
// DICOM's even lengths. 0 ("unlimited") is read as DefaultMaxPDataLength,
// giving 1048570. The result is 0 when maxPDULength is 1..7: such a
// peer cannot be sent anything and should be rejected before fragmenting.
func MaxPDVData(maxPDULength uint32) int {
	if maxPDULength == 0 {
		maxPDULength = DefaultMaxPDataLength
	}
	if maxPDULength <= PDVHeaderLen {
		return 0
	}
	n := int(maxPDULength - PDVHeaderLen)
	return n &^ 1
}
