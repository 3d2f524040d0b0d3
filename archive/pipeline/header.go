package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/shardpacs/shardpacs/crypto"
)

// Format constants of a share object, version 1 (see doc.go for the layout).
const (
	// Magic opens every share object. Never "DICM", a UID or anything
	// derived from the instance.
	Magic = "SPS1"
	// FormatVersion is the share object format this package writes.
	FormatVersion = 1
	// N is the number of shares of every object (one per store).
	N = 4

	// CommonHeaderSize is the size of the header part shared, byte for
	// byte, by the N shares of one object; it is the AEAD associated data.
	CommonHeaderSize = 40
	// WrappedKeySize is the size of a wrapped key share (a 32-byte Shamir
	// share of the data key, wrapped by crypto.Keyring.Wrap).
	WrappedKeySize = crypto.DataKeySize + crypto.WrapOverhead
	// ShredWrappedKeySize is the size of a shred-sealed key share
	// (crypto.ShredSeal under the instance's shred key), wrapped.
	ShredWrappedKeySize = WrappedKeySize + crypto.ShredSealOverhead
	// HeaderSize is the full size of a version-1 share header whose key
	// share is not shred-sealed (every object written without shred keys).
	HeaderSize = CommonHeaderSize + 7 + WrappedKeySize
	// ShredHeaderSize is the full size of a header with FlagShredSealed.
	ShredHeaderSize = CommonHeaderSize + 7 + ShredWrappedKeySize

	// FlagShredSealed (byte 36 of the common header) says that every key
	// share of the object was sealed under a per-object shred key before
	// the KEK wrapped it (see ShredWrapper). Objects written without shred
	// keys have 0 there, as every object did before the flag existed.
	FlagShredSealed = 0x01

	// MinSegmentSize and MaxSegmentSize bound the AEAD segment size an
	// object may declare (and so the memory a reader allocates for it).
	MinSegmentSize = 1 << 10
	MaxSegmentSize = 16 << 20

	recordHeaderSize = 4
	trailerSize      = 24
)

// Header is the parsed header of one share object. The first
// CommonHeaderSize bytes (every field but Index, KEKVersion and WrappedKey)
// are identical in the N shares of an object.
type Header struct {
	K           int      // data shards: 2, 3 or 4 (any K shares rebuild the object)
	Codec       Codec    // CodecNone, CodecZstd, CodecS2 or a shuffling variant
	ObjectID    [16]byte // random, shared by the object's N shares
	SegmentSize int      // AEAD plaintext segment size
	StripeSize  int      // ciphertext bytes per stripe: SegmentSize + crypto.TagSize
	KeyX        [N]byte  // Shamir X coordinate of the key share in share i
	ShredSealed bool     // FlagShredSealed: key shares sealed under the object's shred key
	Index       int      // this share: 0..K-1 data shards, K..N-1 parity shards
	KEKVersion  uint32   // KEK version that wrapped WrappedKey
	WrappedKey  []byte   // this share's key share, wrapped (WrappedKeySize or ShredWrappedKeySize bytes)
}

// ShardSize returns the size of one shard of a full stripe.
func (h *Header) ShardSize() int { return (h.StripeSize + h.K - 1) / h.K }

// Size is the encoded size of the header: HeaderSize, or ShredHeaderSize
// when the key share is shred-sealed.
func (h *Header) Size() int { return CommonHeaderSize + 7 + h.wrappedKeySize() }

func (h *Header) wrappedKeySize() int {
	if h.ShredSealed {
		return ShredWrappedKeySize
	}
	return WrappedKeySize
}

func (h *Header) flags() byte {
	if h.ShredSealed {
		return FlagShredSealed
	}
	return 0
}

// appendCommon appends the common header (the AEAD associated data).
func (h *Header) appendCommon(b []byte) []byte {
	b = append(b, Magic...)
	b = append(b, FormatVersion, N, byte(h.K), byte(h.Codec))
	b = append(b, h.ObjectID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(h.SegmentSize))
	b = binary.BigEndian.AppendUint32(b, uint32(h.StripeSize))
	b = append(b, h.KeyX[:]...)
	return append(b, h.flags(), 0, 0, 0)
}

// Common returns the common header bytes, the associated data of the
// object's AEAD stream.
func (h *Header) Common() []byte { return h.appendCommon(make([]byte, 0, CommonHeaderSize)) }

// keyAAD is the associated data wrapping share i's key share: the common
// header followed by the share index.
func (h *Header) keyAAD(index int) []byte {
	return append(h.appendCommon(make([]byte, 0, CommonHeaderSize+1)), byte(index))
}

// MarshalBinary encodes the header (h.Size() bytes). It fails on a header
// that ParseHeader would refuse.
func (h *Header) MarshalBinary() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	b := h.appendCommon(make([]byte, 0, h.Size()))
	b = append(b, byte(h.Index))
	b = binary.BigEndian.AppendUint32(b, h.KEKVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.WrappedKey)))
	return append(b, h.WrappedKey...), nil
}

func (h *Header) validate() error {
	switch {
	case h.K < 2 || h.K > N:
		return fmt.Errorf("%w: k = %d, want 2..%d", ErrFormat, h.K, N)
	case !h.Codec.validStored():
		return fmt.Errorf("%w: unknown codec %d", ErrFormat, byte(h.Codec))
	case h.SegmentSize < MinSegmentSize || h.SegmentSize > MaxSegmentSize:
		return fmt.Errorf("%w: segment size %d outside %d..%d", ErrFormat, h.SegmentSize, MinSegmentSize, MaxSegmentSize)
	case h.StripeSize != h.SegmentSize+crypto.TagSize:
		return fmt.Errorf("%w: stripe size %d, want segment size + %d", ErrFormat, h.StripeSize, crypto.TagSize)
	case h.Index < 0 || h.Index >= N:
		return fmt.Errorf("%w: share index %d", ErrFormat, h.Index)
	case len(h.WrappedKey) != h.wrappedKeySize():
		return fmt.Errorf("%w: wrapped key share of %d bytes, want %d", ErrFormat, len(h.WrappedKey), h.wrappedKeySize())
	}
	var seen [256]bool
	for _, x := range h.KeyX {
		if x == 0 || seen[x] {
			return fmt.Errorf("%w: key share X coordinates %v", ErrFormat, h.KeyX)
		}
		seen[x] = true
	}
	return nil
}

// ParseHeader reads and strictly checks one share header from r, consuming
// exactly its size (HeaderSize, or ShredHeaderSize with FlagShredSealed;
// the shard data follows). Every field is checked (magic, version, n, k,
// codec, sizes, X coordinates, flags, reserved bytes, index, wrapped-key
// length against the flags); any deviation is an error wrapping ErrFormat,
// a short input one wrapping io.ErrUnexpectedEOF too. Nothing is
// authenticated yet: the key share authenticates the common header when it
// is unwrapped.
func ParseHeader(r io.Reader) (*Header, error) {
	var b [ShredHeaderSize]byte
	if _, err := io.ReadFull(r, b[:HeaderSize]); err != nil {
		return nil, shortHeader(err)
	}
	n := HeaderSize
	if b[36]&FlagShredSealed != 0 {
		n = ShredHeaderSize
		if _, err := io.ReadFull(r, b[HeaderSize:n]); err != nil {
			return nil, shortHeader(err)
		}
	}
	return parseHeader(b[:n])
}

func shortHeader(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: reading header: %w", ErrFormat, err)
}

func parseHeader(b []byte) (*Header, error) {
	switch {
	case len(b) != HeaderSize && len(b) != ShredHeaderSize:
		return nil, fmt.Errorf("%w: header of %d bytes", ErrFormat, len(b))
	case string(b[0:4]) != Magic:
		return nil, fmt.Errorf("%w: bad magic %q", ErrFormat, b[0:4])
	case b[4] != FormatVersion:
		return nil, fmt.Errorf("%w: unsupported format version %d", ErrFormat, b[4])
	case b[5] != N:
		return nil, fmt.Errorf("%w: n = %d, want %d", ErrFormat, b[5], N)
	case b[36]&^FlagShredSealed != 0:
		return nil, fmt.Errorf("%w: unknown flags %#02x", ErrFormat, b[36])
	case !bytes.Equal(b[37:40], []byte{0, 0, 0}):
		return nil, fmt.Errorf("%w: reserved bytes not zero", ErrFormat)
	}
	h := &Header{
		K:           int(b[6]),
		Codec:       Codec(b[7]),
		SegmentSize: int(binary.BigEndian.Uint32(b[24:28])),
		StripeSize:  int(binary.BigEndian.Uint32(b[28:32])),
		ShredSealed: b[36]&FlagShredSealed != 0,
		Index:       int(b[40]),
		KEKVersion:  binary.BigEndian.Uint32(b[41:45]),
	}
	copy(h.ObjectID[:], b[8:24])
	copy(h.KeyX[:], b[32:36])
	if l := int(binary.BigEndian.Uint16(b[45:47])); l != h.wrappedKeySize() || len(b) != h.Size() {
		return nil, fmt.Errorf("%w: wrapped key share of %d bytes, want %d", ErrFormat, l, h.wrappedKeySize())
	}
	h.WrappedKey = append([]byte(nil), b[47:]...)
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// Trailer ends every share object after its last stripe record. It is
// not authenticated on its own: Decode checks each field against what it
// decoded, so a changed trailer makes decoding fail.
type Trailer struct {
	PlainSize      int64 // bytes of the canonical Part-10 instance
	CompressedSize int64 // bytes after the codec (= PlainSize for CodecNone)
	CipherSize     int64 // bytes of the AEAD stream
}

func (t Trailer) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.PlainSize))
	b = binary.BigEndian.AppendUint64(b, uint64(t.CompressedSize))
	return binary.BigEndian.AppendUint64(b, uint64(t.CipherSize))
}

func parseTrailer(b []byte) (Trailer, error) {
	t := Trailer{
		PlainSize:      int64(binary.BigEndian.Uint64(b[0:8])),
		CompressedSize: int64(binary.BigEndian.Uint64(b[8:16])),
		CipherSize:     int64(binary.BigEndian.Uint64(b[16:24])),
	}
	if t.PlainSize < 0 || t.CompressedSize < 0 || t.CipherSize < crypto.TagSize {
		return t, fmt.Errorf("%w: trailer sizes %d/%d/%d", ErrFormat, t.PlainSize, t.CompressedSize, t.CipherSize)
	}
	return t, nil
}
