package uid

// TransferSyntax describes how a data set and its pixel data are encoded
// (PS3.5 Section 10; the individual syntaxes in PS3.5 Annex A).
type TransferSyntax struct {
	UID  string // Transfer Syntax UID (PS3.6 Table A-1)
	Name string // the registry name

	// ExplicitVR is true when data elements carry their VR (PS3.5 7.1.2);
	// only Implicit VR Little Endian is false.
	ExplicitVR bool
	// BigEndian is true for Explicit VR Big Endian (retired, PS3.5 A.3)
	// only; every other syntax is little endian.
	BigEndian bool
	// Deflated is true when the whole data set after the File Meta
	// Information is deflated (RFC 1951; PS3.5 A.5), including the JPIP
	// Referenced Deflate syntaxes.
	Deflated bool
	// Encapsulated is true when Pixel Data is encapsulated in fragments
	// (PS3.5 A.4): the compressed syntaxes, RLE, Encapsulated Uncompressed
	// Explicit VR Little Endian and Deflated Image Frame Compression. JPIP
	// syntaxes reference pixel data rather than encapsulate it: false.
	Encapsulated bool
	// Retired is true when PS3.6 marks the transfer syntax retired. Peers
	// still send some of them (Explicit VR Big Endian).
	Retired bool
	// Lossy is true when pixel data in this syntax may have undergone
	// irreversible compression: syntaxes that permit lossy coding count as
	// lossy even when a particular instance was coded reversibly (JPEG 2000,
	// HTJ2K, JPEG XL). JPEG XL JPEG Recompression is lossy because its
	// source is a lossy JPEG bit stream.
	Lossy bool
}

// String returns the transfer syntax name.
func (ts TransferSyntax) String() string { return ts.Name }

// Native reports whether pixel data is stored native (not encapsulated) in
// an uncompressed, non-deflated data set: see NativeTransferSyntaxes.
func (ts TransferSyntax) Native() bool {
	switch ts.UID {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian:
		return true
	}
	return false
}

// TransferSyntaxes lists every transfer syntax a peer may propose, sorted by
// UID (component by component, numerically). It omits the registry's
// document encodings that never appear in a presentation context (RFC 2557
// MIME, XML Encoding, Papyrus 3), which Name still knows.
var TransferSyntaxes = transferSyntaxes[:]

var transferSyntaxIndex = func() map[string]TransferSyntax {
	m := make(map[string]TransferSyntax, len(transferSyntaxes))
	for _, ts := range transferSyntaxes {
		m[ts.UID] = ts
	}
	return m
}()

// LookupTransferSyntax returns the transfer syntax with the given UID. The
// UID must match exactly: trailing NUL or space padding from the wire must
// be removed by the caller (see Trim).
func LookupTransferSyntax(uid string) (TransferSyntax, bool) {
	ts, ok := transferSyntaxIndex[uid]
	return ts, ok
}

// NativeTransferSyntaxes returns, in order of preference for re-sending an
// uncompressed instance, the transfer syntaxes whose pixel data is native
// and whose data set is readable without inflation: Explicit VR Little
// Endian, Implicit VR Little Endian, Explicit VR Big Endian (retired, last).
//
// Deflated Explicit VR Little Endian is deliberately excluded: its pixel data
// is native, but a receiver must inflate the whole data set, many peers do
// not accept it, and re-sending in it is a choice, never a fallback.
// Encapsulated Uncompressed Explicit VR Little Endian is excluded because its
// pixel data is encapsulated. The result is a fresh slice the caller owns.
func NativeTransferSyntaxes() []string {
	return []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian}
}
