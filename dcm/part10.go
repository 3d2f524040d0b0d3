package dcm

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/shardpacs/shardpacs/dcm/uid"
)

// FileMeta is the File Meta Information of a DICOM file (PS3.10 §7.1,
// group 0002). Strings hold values without padding.
type FileMeta struct {
	MediaStorageSOPClassUID      string // (0002,0002)
	MediaStorageSOPInstanceUID   string // (0002,0003)
	TransferSyntaxUID            string // (0002,0010)
	ImplementationClassUID       string // (0002,0012)
	ImplementationVersionName    string // (0002,0013), omitted from the encoding when empty
	SourceApplicationEntityTitle string // (0002,0016), omitted from the encoding when empty
}

// File Meta Information tags written and read besides the Tag constants.
const (
	tagFileMetaGroupLength       Tag = 0x00020000
	tagFileMetaVersion           Tag = 0x00020001
	tagImplementationClassUID    Tag = 0x00020012
	tagImplementationVersionName Tag = 0x00020013
	tagSourceApplicationEntity   Tag = 0x00020016
)

// preambleLen is the length of the preamble plus the "DICM" prefix.
const preambleLen = 128 + 4

// defaultMaxMetaLen caps the File Meta Information group when
// ReadPart10Header is given maxMetaLen ≤ 0.
const defaultMaxMetaLen = 64 << 10

// AppendPart10Header appends the 128-byte zero preamble, "DICM" and the File
// Meta Information of m in Explicit VR Little Endian (PS3.10 §7.1): the group
// length (0002,0000) covering the rest of the group, version 00 01, the
// three UIDs and the Implementation Class UID (always present, NUL-padded to
// even length) and the optional SH and AE values (space-padded, only when not
// empty). The same m always gives the same bytes. Values are not checked;
// WritePart10Header does check them.
func AppendPart10Header(dst []byte, m *FileMeta) []byte {
	dst = append(dst, make([]byte, 128)...)
	dst = append(dst, "DICM"...)
	lenAt := len(dst) + 8
	dst = appendExplicitLE(dst, tagFileMetaGroupLength, "UL", []byte{0, 0, 0, 0})
	start := len(dst)
	dst = appendExplicitLE(dst, tagFileMetaVersion, "OB", []byte{0, 1})
	dst = appendExplicitLE(dst, TagMediaStorageSOPClassUID, "UI", padValue([]byte(m.MediaStorageSOPClassUID), "UI"))
	dst = appendExplicitLE(dst, TagMediaStorageSOPInstanceUID, "UI", padValue([]byte(m.MediaStorageSOPInstanceUID), "UI"))
	dst = appendExplicitLE(dst, TagTransferSyntaxUID, "UI", padValue([]byte(m.TransferSyntaxUID), "UI"))
	dst = appendExplicitLE(dst, tagImplementationClassUID, "UI", padValue([]byte(m.ImplementationClassUID), "UI"))
	if m.ImplementationVersionName != "" {
		dst = appendExplicitLE(dst, tagImplementationVersionName, "SH", padValue([]byte(m.ImplementationVersionName), "SH"))
	}
	if m.SourceApplicationEntityTitle != "" {
		dst = appendExplicitLE(dst, tagSourceApplicationEntity, "AE", padValue([]byte(m.SourceApplicationEntityTitle), "AE"))
	}
	binary.LittleEndian.PutUint32(dst[lenAt:], uint32(len(dst)-start))
	return dst
}

// WritePart10Header writes AppendPart10Header(nil, m) to w and returns the
// number of bytes written. It first checks that the four UIDs are valid
// (ValidUID) and the optional values fit their VR (SH, AE: at most 16
// characters of the default repertoire), returning an error wrapping
// ErrFormat otherwise.
func WritePart10Header(w io.Writer, m *FileMeta) (int64, error) {
	for _, u := range []struct{ name, v string }{
		{"MediaStorageSOPClassUID", m.MediaStorageSOPClassUID},
		{"MediaStorageSOPInstanceUID", m.MediaStorageSOPInstanceUID},
		{"TransferSyntaxUID", m.TransferSyntaxUID},
		{"ImplementationClassUID", m.ImplementationClassUID},
	} {
		if !ValidUID(u.v) {
			return 0, &FormatError{Tag: tagFileMetaGroupLength, Msg: "file meta " + u.name + " is not a valid UID"}
		}
	}
	for _, s := range []string{m.ImplementationVersionName, m.SourceApplicationEntityTitle} {
		if len(s) > 16 || strings.ContainsAny(s, "\\\x00\r\n") || !isASCII(s) {
			return 0, &FormatError{Tag: tagFileMetaGroupLength, Msg: "file meta SH/AE value longer than 16 or not in the default repertoire"}
		}
	}
	n, err := w.Write(AppendPart10Header(nil, m))
	return int64(n), err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// appendExplicitLE appends one element in Explicit VR Little Endian.
func appendExplicitLE(dst []byte, t Tag, vr string, v []byte) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t.Group())
	dst = binary.LittleEndian.AppendUint16(dst, t.Element())
	dst = append(dst, vr...)
	if longVR(vr) {
		dst = append(dst, 0, 0)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
	} else {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v)))
	}
	return append(dst, v...)
}

// peeker is implemented by *bufio.Reader.
type peeker interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
}

// ReadPart10Header reads the preamble, "DICM" and the File Meta Information
// (PS3.10 §7.1; group 0002, always Explicit VR Little Endian) from r, and
// returns it with the number of bytes consumed, which is the offset of the
// data set. maxMetaLen caps the group (≤ 0: 64 KiB; a larger group is a
// *LimitError).
//
// It also reads files whose File Meta Information has no preamble (they start
// with (0002,xxxx)) and groups without a group length (0002,0000). Without a
// group length, or when it is wrong, the end of the group is found by looking
// at the next tag, which needs r to be a *bufio.Reader (any reader with Peek
// and Discard) or an io.Seeker; with a plain io.Reader the group length is
// trusted and a missing one is a *FormatError. A missing Transfer Syntax UID
// is not an error: TransferSyntaxUID is then "" and the caller decides
// (SniffTransferSyntax).
//
// When the stream starts with neither, the error is ErrNoPart10Header and
// nothing is consumed if r is a peeker (*bufio.Reader) or an io.Seeker (it is
// rewound); from a plain io.Reader up to 132 bytes are lost. Use
// SniffTransferSyntax on the first bytes to read such a raw data set.
func ReadPart10Header(r io.Reader, maxMetaLen int) (*FileMeta, int64, error) {
	if maxMetaLen <= 0 {
		maxMetaLen = defaultMaxMetaLen
	}
	mr := &metaReader{r: r}
	mr.pk, _ = r.(peeker)
	if mr.pk == nil {
		mr.sk, _ = r.(io.Seeker)
	}
	var head []byte
	if mr.pk != nil {
		head, _ = mr.pk.Peek(preambleLen)
	} else {
		buf := make([]byte, preambleLen)
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, 0, err
		}
		head = buf[:n]
	}
	var consumed int64
	switch {
	case len(head) == preambleLen && string(head[128:]) == "DICM":
		if mr.pk != nil {
			if _, err := mr.pk.Discard(preambleLen); err != nil {
				return nil, 0, err
			}
		}
		consumed = preambleLen
	case len(head) >= 6 && head[0] == 0x02 && head[1] == 0x00 && knownVR(string(head[4:6])):
		// File Meta Information without preamble.
		if err := mr.unread(head); err != nil {
			return nil, 0, err
		}
	default:
		if err := mr.unread(head); err != nil {
			return nil, 0, err
		}
		return nil, 0, ErrNoPart10Header
	}
	m, n, err := mr.readGroup(maxMetaLen, consumed)
	return m, consumed + n, err
}

// metaReader reads the File Meta Information group with one-tag
// look-ahead.
type metaReader struct {
	r       io.Reader
	pk      peeker
	sk      io.Seeker
	pending []byte // bytes read ahead from a plain reader
}

// unread gives back the head bytes: nothing to do for a peeker, a seek back
// for a seeker, kept as pending for a plain reader.
func (m *metaReader) unread(head []byte) error {
	switch {
	case m.pk != nil:
	case m.sk != nil:
		if len(head) > 0 {
			if _, err := m.sk.Seek(-int64(len(head)), io.SeekCurrent); err != nil {
				return err
			}
		}
	default:
		m.pending = head
	}
	return nil
}

func (m *metaReader) read(p []byte) error {
	k := copy(p, m.pending)
	m.pending = m.pending[k:]
	if k == len(p) {
		return nil
	}
	_, err := io.ReadFull(m.r, p[k:])
	return err
}

// nextGroup returns the group of the next tag without consuming it; ok is
// false at the end of the stream. It fails when looking ahead is impossible.
func (m *metaReader) nextGroup() (group uint16, ok bool, err error) {
	var b []byte
	switch {
	case len(m.pending) >= 2:
		b = m.pending
	case len(m.pending) == 1:
		return 0, false, errors.New("dcm: odd byte after file meta information")
	case m.pk != nil:
		b, err = m.pk.Peek(2)
		if err != nil {
			return 0, false, nil
		}
	case m.sk != nil:
		var two [2]byte
		if _, err := io.ReadFull(m.r, two[:]); err != nil {
			return 0, false, nil
		}
		if _, err := m.sk.Seek(-2, io.SeekCurrent); err != nil {
			return 0, false, err
		}
		b = two[:]
	default:
		return 0, false, errLookAhead
	}
	return binary.LittleEndian.Uint16(b), true, nil
}

var errLookAhead = errors.New("cannot look ahead")

// readGroup reads the elements of group 0002 and returns them with the
// number of bytes read. base is the stream offset of the group (for error
// offsets).
func (m *metaReader) readGroup(maxLen int, base int64) (*FileMeta, int64, error) {
	meta := &FileMeta{}
	var n int64
	groupEnd := int64(-1) // from (0002,0000), when present; used only when looking ahead is impossible
	fail := func(t Tag, msg string) (*FileMeta, int64, error) {
		return nil, n, &FormatError{Offset: base + n, Tag: t, Msg: msg}
	}
	for {
		g, ok, err := m.nextGroup()
		switch {
		case errors.Is(err, errLookAhead):
			if groupEnd < 0 && n > 0 {
				return fail(tagFileMetaGroupLength, "file meta information without group length needs a bufio.Reader or io.Seeker")
			}
			if groupEnd >= 0 && n >= groupEnd {
				return meta, n, nil // trust the group length
			}
		case err != nil:
			return nil, n, err
		case !ok && groupEnd >= 0 && n < groupEnd:
			return fail(0, "truncated file meta information")
		case !ok || g != 0x0002:
			if n == 0 {
				return fail(0, "empty file meta information")
			}
			return meta, n, nil
		}
		var hdr [12]byte
		if err := m.read(hdr[:8]); err != nil {
			return fail(0, "truncated file meta information")
		}
		t := Tag(uint32(binary.LittleEndian.Uint16(hdr[:]))<<16 | uint32(binary.LittleEndian.Uint16(hdr[2:])))
		if t.Group() != 0x0002 {
			return fail(t, "element of group "+strconv.FormatUint(uint64(t.Group()), 16)+" inside file meta information")
		}
		vr := internVR(hdr[4], hdr[5])
		if vr == "" {
			return fail(t, "invalid VR in file meta information")
		}
		length := uint32(binary.LittleEndian.Uint16(hdr[6:]))
		hl := int64(8)
		if longVR(vr) {
			if err := m.read(hdr[8:12]); err != nil {
				return fail(t, "truncated file meta information")
			}
			length = binary.LittleEndian.Uint32(hdr[8:])
			hl = 12
		}
		if int64(length) > int64(maxLen)-n-hl {
			return nil, n, &LimitError{What: "file meta information longer than " + strconv.Itoa(maxLen) + " bytes"}
		}
		v := make([]byte, length)
		if err := m.read(v); err != nil {
			return fail(t, "truncated file meta information")
		}
		n += hl + int64(length)
		s := strings.TrimRight(string(v), "\x00 ")
		switch t {
		case tagFileMetaGroupLength:
			if length == 4 && n == hl+4 {
				groupEnd = n + int64(binary.LittleEndian.Uint32(v))
			}
		case TagMediaStorageSOPClassUID:
			meta.MediaStorageSOPClassUID = s
		case TagMediaStorageSOPInstanceUID:
			meta.MediaStorageSOPInstanceUID = s
		case TagTransferSyntaxUID:
			meta.TransferSyntaxUID = s
		case tagImplementationClassUID:
			meta.ImplementationClassUID = s
		case tagImplementationVersionName:
			meta.ImplementationVersionName = strings.TrimSpace(s)
		case tagSourceApplicationEntity:
			meta.SourceApplicationEntityTitle = strings.TrimSpace(s)
		}
	}
}

// SniffTransferSyntax guesses the transfer syntax of a raw data set (no File
// Meta Information) from its first bytes (at least 8, better 12): Explicit VR
// Little Endian when the first element has a known VR after a little-endian
// tag, Explicit VR Big Endian when after a big-endian one, Implicit VR Little
// Endian when the first tag has a low group and a length below 16 MiB or
// undefined. ok is false when none fits. Deflated data cannot be sniffed.
func SniffTransferSyntax(head []byte) (ts string, ok bool) {
	if len(head) < 8 {
		return "", false
	}
	gLE := binary.LittleEndian.Uint16(head)
	gBE := binary.BigEndian.Uint16(head)
	vrOK := knownVR(string(head[4:6]))
	plausible := func(g uint16) bool { return g >= 0x0002 && g <= 0x0FFF && g%2 == 0 }
	switch {
	case vrOK && plausible(gLE) && (!plausible(gBE) || gLE <= gBE):
		return uid.ExplicitVRLittleEndian, true
	case vrOK && plausible(gBE):
		return uid.ExplicitVRBigEndian, true
	case gLE <= 0x0FFF && (binary.LittleEndian.Uint32(head[4:]) < 1<<24 || binary.LittleEndian.Uint32(head[4:]) == undefinedLength):
		return uid.ImplicitVRLittleEndian, true
	}
	return "", false
}

// padValue pads v to even length per its VR (PS3.5 §6.2): UI with NUL, OB
// and UN with 0x00, text with a space.
func padValue(v []byte, vr string) []byte {
	if len(v)%2 == 0 {
		return v
	}
	switch vr {
	case "UI", "OB", "UN":
		return append(v, 0)
	}
	return append(v, ' ')
}
