package dcm

import (
	"strings"

	"github.com/shardpacs/shardpacs/dcm/uid"
)

// dsEncoding is how a data set's elements are encoded (PS3.5 §7.1, §7.3).
type dsEncoding struct {
	explicit  bool
	bigEndian bool
	deflated  bool
}

var implicitLE = dsEncoding{}

// encodingOf returns the encoding of a transfer syntax (PS3.5 §10, Annex A).
// Transfer syntaxes uid does not know but whose UID is valid are read as
// Explicit VR Little Endian, the encoding of every transfer syntax except
// the three of PS3.5 A.1, A.3 (retired) and A.5. Padding is removed first.
func encodingOf(tsUID string) (dsEncoding, error) {
	tsUID = strings.TrimRight(tsUID, "\x00 ")
	if ts, ok := uid.LookupTransferSyntax(tsUID); ok {
		return dsEncoding{explicit: ts.ExplicitVR, bigEndian: ts.BigEndian, deflated: ts.Deflated}, nil
	}
	if !ValidUID(tsUID) {
		return dsEncoding{}, ErrTransferSyntax
	}
	return dsEncoding{explicit: true}, nil
}

// longVR reports whether vr uses the explicit-VR header with two reserved
// bytes and a 32-bit length (PS3.5 §7.1.2, Table 7.1-1).
func longVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// knownVR reports whether vr is one of the VRs of PS3.5 Table 6.2-1.
func knownVR(vr string) bool {
	switch vr {
	case "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS",
		"ST", "TM", "UI", "UL", "US", "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}
