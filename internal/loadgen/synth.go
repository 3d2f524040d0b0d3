package loadgen

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// DefaultMatrix is the Rows and Columns of a zero [Synth]'s images.
const DefaultMatrix = 64

// Synth makes small synthetic CT Image Storage instances (PS3.3 A.3) in
// Explicit VR Little Endian: a Rows×Columns 16-bit monochrome image of a
// round phantom with noise, so that every instance differs and compresses
// a little, like a real CT slice. Instance n of series s of worker w is a
// pure function of (Root, w, s, n): a test can keep a digest instead of the
// bytes and rebuild them at will.
//
// UIDs: study Root.w, series Root.w.s, instance Root.w.s.n (PS3.5 9.1).
// The zero value is not usable: Root is required ([NewRoot]).
type Synth struct {
	// Root is the UID prefix of everything generated, unique per run.
	Root string
	// Rows and Columns of the image; 0 means DefaultMatrix.
	Rows, Columns int
}

// NewRoot returns a fresh UID root under 2.25 (PS3.5 B.2) made of 64
// random bits read from r (crypto/rand when nil).
func NewRoot(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("loadgen: UID root: %w", err)
	}
	return "2.25." + strconv.FormatUint(binary.BigEndian.Uint64(b[:])|1<<63, 10), nil
}

// Instance is one generated instance.
type Instance struct {
	SOPClassUID, SOPInstanceUID string
	StudyInstanceUID            string
	SeriesInstanceUID           string
	TransferSyntaxUID           string
	// DataSet is the encoded data set, without File Meta Information.
	DataSet []byte
}

func (s Synth) rows() int {
	if s.Rows <= 0 {
		return DefaultMatrix
	}
	return s.Rows
}

func (s Synth) columns() int {
	if s.Columns <= 0 {
		return DefaultMatrix
	}
	return s.Columns
}

// StudyUID is worker w's Study Instance UID.
func (s Synth) StudyUID(w int) string { return s.Root + "." + strconv.Itoa(w) }

// SeriesUID is the Series Instance UID of worker w's series sr.
func (s Synth) SeriesUID(w, sr int) string { return s.StudyUID(w) + "." + strconv.Itoa(sr) }

// Instance builds instance n of worker w's series sr. An error means the
// Root is not a valid UID prefix or the UIDs grew past 64 characters.
func (s Synth) Instance(w, sr, n int) (Instance, error) {
	in := Instance{
		SOPClassUID:       uid.CTImageStorage,
		StudyInstanceUID:  s.StudyUID(w),
		SeriesInstanceUID: s.SeriesUID(w, sr),
		TransferSyntaxUID: uid.ExplicitVRLittleEndian,
	}
	in.SOPInstanceUID = in.SeriesInstanceUID + "." + strconv.Itoa(n)
	if !dcm.ValidUID(in.SOPInstanceUID) {
		return Instance{}, fmt.Errorf("loadgen: generated UID %q is not valid (PS3.5 9.1)", in.SOPInstanceUID)
	}
	rows, cols := s.rows(), s.columns()
	us := func(v int) string { return strconv.Itoa(v) }
	elems := []dcm.Element{
		{Tag: dcm.TagSOPClassUID, Value: in.SOPClassUID},
		{Tag: dcm.TagSOPInstanceUID, Value: in.SOPInstanceUID},
		{Tag: dcm.TagStudyDate, Value: "20250101"},
		{Tag: dcm.TagStudyTime, Value: "120000"},
		{Tag: dcm.TagAccessionNumber, Value: "LOAD" + strconv.Itoa(w)},
		{Tag: dcm.TagModality, Value: "CT"},
		{Tag: dcm.TagPatientName, Value: "LOAD^WORKER" + strconv.Itoa(w)},
		{Tag: dcm.TagPatientID, Value: "LOAD-" + strconv.Itoa(w)},
		{Tag: dcm.TagStudyInstanceUID, Value: in.StudyInstanceUID},
		{Tag: dcm.TagSeriesInstanceUID, Value: in.SeriesInstanceUID},
		{Tag: dcm.TagStudyID, Value: strconv.Itoa(w)},
		{Tag: dcm.TagSeriesNumber, Value: strconv.Itoa(sr + 1)},
		{Tag: dcm.TagInstanceNumber, Value: strconv.Itoa(n + 1)},
		{Tag: dcm.NewTag(0x0028, 0x0002), VR: "US", Value: "1"},           // Samples per Pixel
		{Tag: dcm.NewTag(0x0028, 0x0004), VR: "CS", Value: "MONOCHROME2"}, // Photometric Interpretation
		{Tag: dcm.TagRows, VR: "US", Value: us(rows)},
		{Tag: dcm.TagColumns, VR: "US", Value: us(cols)},
		{Tag: dcm.NewTag(0x0028, 0x0100), VR: "US", Value: "16"}, // Bits Allocated
		{Tag: dcm.NewTag(0x0028, 0x0101), VR: "US", Value: "12"}, // Bits Stored
		{Tag: dcm.NewTag(0x0028, 0x0102), VR: "US", Value: "11"}, // High Bit
		{Tag: dcm.NewTag(0x0028, 0x0103), VR: "US", Value: "0"},  // Pixel Representation
		{Tag: dcm.TagPixelData, VR: "OW", Bytes: phantom(rows, cols, uint64(w)<<40^uint64(sr)<<24^uint64(n))},
	}
	ds, err := dcm.EncodeIdentifier(elems, in.TransferSyntaxUID)
	if err != nil {
		return Instance{}, fmt.Errorf("loadgen: encoding instance %s: %w", in.SOPInstanceUID, err)
	}
	in.DataSet = ds
	return in, nil
}

// phantom draws a disc of soft tissue in air with 12-bit noise from a
// xorshift generator seeded by seed, little-endian 16-bit samples.
func phantom(rows, cols int, seed uint64) []byte {
	out := make([]byte, 2*rows*cols)
	x := seed*0x9E3779B97F4A7C15 | 1
	cr, cc, r2 := rows/2, cols/2, (min(rows, cols)*2/5)*(min(rows, cols)*2/5)
	for i := range rows {
		for j := range cols {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			v := 24 + int(x&15) // air
			if d := (i-cr)*(i-cr) + (j-cc)*(j-cc); d <= r2 {
				v = 1040 + int(x&63) - d/8 // tissue, darker to the edge
			}
			binary.LittleEndian.PutUint16(out[2*(i*cols+j):], uint16(v&0x0FFF))
		}
	}
	return out
}
