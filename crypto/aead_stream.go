package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// Streaming AEAD: the STREAM construction (Hoang, Reyhanitabar, Rogaway,
// Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
// Misuse-Resistance", CRYPTO 2015), instantiated with AES-256-GCM like Tink's
// streaming AEAD and age's payload.
//
// Format. The plaintext is cut into segments of exactly segmentSize bytes,
// except the last, which holds 1..segmentSize bytes, or 0 bytes when the
// whole plaintext is empty (then the stream is one empty final segment).
// Segment i (from 0) is sealed with AES-256-GCM under the key, with
//
//	nonce = i as an 11-byte big-endian integer || last, last = 0x01 on the final segment, else 0x00
//	additional data = aad (the same for every segment)
//
// and the stream is the concatenation of the sealed segments (ciphertext ||
// 16-byte tag each), with no header: the caller records segmentSize (and any
// header) itself and should bind that header as aad. The encoding is
// canonical: one plaintext, key and aad give one stream, SealedSize long.
//
// Security contract: the key must be fresh and used for exactly one stream
// (a per-object random data key, NewDataKey); sealing two plaintexts with one
// key reuses nonces and destroys confidentiality and integrity. Because the
// counter is in the nonce and the last flag marks the end, reordering,
// dropping, duplicating or appending segments, truncating the stream, or
// changing any bit, the key or the aad makes opening fail.

const (
	// DefaultSegmentSize is the plaintext segment size used when a caller
	// passes segmentSize 0: 1 MiB.
	DefaultSegmentSize = 1 << 20

	// MaxSegmentSize bounds segmentSize (64 MiB), so a size read from a
	// stored header cannot make a reader allocate without limit.
	MaxSegmentSize = 64 << 20

	// TagSize is the per-segment overhead: the GCM authentication tag.
	TagSize = 16

	// DataKeySize is the size of a data key: 32 bytes, AES-256.
	DataKeySize = 32

	nonceSize      = 12
	counterSize    = nonceSize - 1
	lastSegmentBit = 0x01
)

// NewDataKey returns a fresh 32-byte data key read from rand
// (crypto/rand.Reader when nil). Use it for one stream only.
func NewDataKey(rand io.Reader) ([]byte, error) {
	key := make([]byte, DataKeySize)
	if _, err := io.ReadFull(randOrDefault(rand), key); err != nil {
		return nil, fmt.Errorf("crypto: reading random data key: %w", err)
	}
	return key, nil
}

// SealedSize returns the exact length of the stream that NewSealWriter
// produces for a plaintext of plaintextLen bytes (segmentSize 0 means
// DefaultSegmentSize). It returns -1 for a negative length, an invalid
// segment size, or a result that would overflow int64.
func SealedSize(plaintextLen int64, segmentSize int) int64 {
	seg, err := segmentSizeOrDefault(segmentSize)
	if err != nil || plaintextLen < 0 {
		return -1
	}
	if plaintextLen == 0 {
		return TagSize
	}
	n := (plaintextLen-1)/int64(seg) + 1 // number of segments, ≥ 1
	if plaintextLen > (1<<63-1)-n*TagSize {
		return -1
	}
	return plaintextLen + n*TagSize
}

func segmentSizeOrDefault(segmentSize int) (int, error) {
	switch {
	case segmentSize == 0:
		return DefaultSegmentSize, nil
	case segmentSize < 1 || segmentSize > MaxSegmentSize:
		return 0, fmt.Errorf("crypto: segment size %d outside 1..%d", segmentSize, MaxSegmentSize)
	}
	return segmentSize, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("%w (got %d)", ErrKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: %w", err)
	}
	return cipher.NewGCM(block)
}

// segmentNonce is the 12-byte nonce of segment number counter.
type segmentNonce [nonceSize]byte

// set writes counter (big-endian, in the first 11 bytes) and the last flag.
// A uint64 counter always fits in 11 bytes.
func (n *segmentNonce) set(counter uint64, last bool) {
	clear(n[:])
	for i := counterSize - 1; i >= 0 && counter > 0; i-- {
		n[i] = byte(counter)
		counter >>= 8
	}
	if last {
		n[counterSize] = lastSegmentBit
	}
}

// ---- sealing ----

// sealWriter is the io.WriteCloser of NewSealWriter.
type sealWriter struct {
	w       io.Writer
	aead    cipher.AEAD
	aad     []byte
	seg     int
	buf     []byte // pending plaintext, cap seg+TagSize for sealing in place
	bp      *[]byte
	used    int // bytes of buf ever written: cleared when buf goes back
	counter uint64
	nonce   segmentNonce
	err     error // sticky: a write error of w, or ErrClosed after Close
}

// NewSealWriter returns a writer that encrypts what is written to it under
// key (32 bytes) with aad bound to every segment, and writes the sealed
// stream (see the format above) to w. segmentSize 0 means
// DefaultSegmentSize; otherwise 1 ≤ segmentSize ≤ MaxSegmentSize.
//
// Segments are written as they fill; a full segment is held back until more
// data or Close shows whether it is the last. Close seals and writes the
// final segment; it does not close w. Without Close the stream is truncated
// and will not open. Errors from w are returned by Write or Close and are
// sticky. aad is copied. Not safe for concurrent use.
func NewSealWriter(w io.Writer, key, aad []byte, segmentSize int) (io.WriteCloser, error) {
	seg, err := segmentSizeOrDefault(segmentSize)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	bp := getSegBuf(seg + TagSize)
	return &sealWriter{
		w:    w,
		aead: aead,
		aad:  append([]byte(nil), aad...),
		seg:  seg,
		buf:  (*bp)[: 0 : seg+TagSize],
		bp:   bp,
	}, nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	written := 0
	for len(p) > 0 {
		if len(s.buf) == s.seg {
			// More data follows, so the held segment is not the last.
			if err := s.flush(false); err != nil {
				return written, err
			}
		}
		n := copy(s.buf[len(s.buf):s.seg], p)
		s.buf = s.buf[:len(s.buf)+n]
		p = p[n:]
		written += n
	}
	return written, nil
}

// Close seals the final segment and writes it. It does not close the
// underlying writer. A second Close returns ErrClosed.
func (s *sealWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	if err := s.flush(true); err != nil {
		return err
	}
	s.err = ErrClosed
	clear((*s.bp)[:s.used])
	putSegBufCleared(s.bp)
	s.buf, s.bp = nil, nil
	return nil
}

func (s *sealWriter) flush(last bool) error {
	s.nonce.set(s.counter, last)
	out := s.aead.Seal(s.buf[:0], s.nonce[:], s.buf, s.aad)
	s.counter++
	_, err := s.w.Write(out)
	s.used = max(s.used, len(out))
	s.buf = s.buf[:0]
	if err != nil {
		s.err = fmt.Errorf("crypto: writing sealed segment: %w", err)
		return s.err
	}
	return nil
}

// ---- opening ----

// openReader is the io.Reader of NewOpenReader.
type openReader struct {
	r       io.Reader
	aead    cipher.AEAD
	aad     []byte
	seg     int
	buf     []byte // cap seg+TagSize+1: one segment and one byte of look-ahead
	bp      *[]byte
	plain   []byte // authenticated plaintext not yet returned (aliases buf)
	carry   bool   // buf[seg+TagSize] holds a look-ahead byte for the next segment
	counter uint64
	nonce   segmentNonce
	done    bool  // the final segment authenticated
	err     error // sticky
}

// NewOpenReader returns a reader that opens a stream sealed by
// NewSealWriter with the same key, aad and segmentSize.
//
// It fails closed: Read returns bytes of a segment only after that whole
// segment authenticated, and never a byte of a segment that did not. When a
// segment fails — wrong key or aad, any changed, reordered, duplicated or
// appended bytes — Read returns an error wrapping ErrAuth; when the stream
// ends at a segment boundary without its final segment, ErrTruncated (which
// also wraps ErrAuth). io.EOF comes only after the final segment
// authenticated and nothing follows it. Errors from r other than io.EOF are
// returned wrapped. Errors are sticky.
//
// The plaintext before a failure was authentic, but the object as a whole is
// not: callers must not act on it (e.g. send it to a peer) before io.EOF, or
// must buffer. Memory: one segment (two while checking a full-size final
// segment). Not safe for concurrent use.
func NewOpenReader(r io.Reader, key, aad []byte, segmentSize int) (io.Reader, error) {
	seg, err := segmentSizeOrDefault(segmentSize)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	bp := getSegBuf(seg + TagSize + 1)
	return &openReader{
		r:    r,
		aead: aead,
		aad:  append([]byte(nil), aad...),
		seg:  seg,
		buf:  *bp,
		bp:   bp,
	}, nil
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			o.err = io.EOF
			o.release()
			return 0, io.EOF
		}
		if o.err = o.next(); o.err != nil {
			o.release()
		}
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// release returns the buffer once the stream is over (io.EOF or an
// error: both sticky, so it is never read again).
func (o *openReader) release() {
	if o.bp != nil {
		putSegBuf(o.bp)
		o.buf, o.bp, o.plain = nil, nil, nil
	}
}

// next reads, authenticates and decrypts the next segment into o.plain.
func (o *openReader) next() error {
	full := o.seg + TagSize
	start := 0
	if o.carry {
		o.buf[0] = o.buf[full]
		start = 1
	}
	o.carry = false
	n, err := io.ReadFull(o.r, o.buf[start:])
	n += start
	switch {
	case err == nil:
		// A whole segment and one more byte: this segment is not the last.
		if err := o.open(o.buf[:full], false); err != nil {
			return err
		}
		o.carry = true
		return nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// End of input: what we hold must be the final segment.
	default:
		return fmt.Errorf("crypto: reading sealed stream: %w", err)
	}
	if n < TagSize || (n == TagSize && o.counter > 0) {
		// Too short to be a segment, or an empty final segment after
		// others, which the writer never makes.
		if n == 0 {
			return ErrTruncated
		}
		return fmt.Errorf("crypto: segment %d: %w", o.counter, ErrAuth)
	}
	var whole []byte
	if n == full {
		// A full-size final segment (plaintext a multiple of the segment
		// size) or a stream cut at a segment boundary. GCM clears its
		// output when an in-place Open fails, so keep a copy to tell the
		// two apart afterwards.
		whole = append([]byte(nil), o.buf[:n]...)
	}
	if err := o.open(o.buf[:n], true); err != nil {
		if whole != nil && o.isWholeSegment(whole) {
			return fmt.Errorf("crypto: after segment %d: %w", o.counter, ErrTruncated)
		}
		return err
	}
	o.done = true
	return nil
}

// open authenticates and decrypts sealed in place as segment o.counter.
func (o *openReader) open(sealed []byte, last bool) error {
	o.nonce.set(o.counter, last)
	plain, err := o.aead.Open(sealed[:0], o.nonce[:], sealed, o.aad)
	if err != nil {
		return fmt.Errorf("crypto: segment %d: %w", o.counter, ErrAuth)
	}
	o.counter++
	o.plain = plain
	return nil
}

// isWholeSegment reports whether sealed, which failed to open as the final
// segment, does authenticate as a non-final one: then the stream was cut at
// a segment boundary. No plaintext is released: the caller fails either way.
func (o *openReader) isWholeSegment(sealed []byte) bool {
	o.nonce.set(o.counter, false)
	plain, err := o.aead.Open(sealed[:0], o.nonce[:], sealed, o.aad)
	clear(plain)
	return err == nil
}
