package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readChunk is how much body ReadPDU allocates before bytes arrive; the
// rest of a larger PDU is allocated once this much has come in, so a peer
// that declares a large PDU and stalls costs at most this much.
const readChunk = 64 << 10

// ReadPDU reads exactly one PDU from r and decodes it with [Decode]'s rules.
//
// The header is checked against lim before the body is read: an unknown
// PDU type fails with a *DecodeError (reason 1) after reading only the
// 6-byte header, a declared length over the limits with a *DecodeError
// (reason 6) before any body allocation. Only the first 64 KiB of a body
// are allocated before they arrive, the rest of the declared length once
// they have, so a peer that declares a large PDU and stalls costs 64 KiB.
//
// io.EOF before the first header byte is returned as is (the peer closed at
// a PDU boundary); a stream ending inside a PDU gives an error wrapping
// io.ErrUnexpectedEOF; other read errors are wrapped with %w. The caller
// owns the returned PDU and every byte slice in it.
func ReadPDU(r io.Reader, lim Limits) (PDU, error) {
	p, _, err := readPDU(r, lim, nil)
	return p, err
}

// Reader reads PDUs from R with ReadPDU's rules and checks, but reuses one
// body buffer from PDU to PDU: the PDU that Next returns, and every byte
// slice in it (PDV data above all), are valid only until the next call to
// Next. Use it where PDV data is copied out at once (reassembling a DIMSE
// message), to save an allocation per PDU. The buffer kept is as large as
// the largest PDU read, at most the Limits. A Reader is not safe for
// concurrent use.
type Reader struct {
	R      io.Reader
	Limits Limits
	buf    []byte
}

// Next reads and decodes the next PDU; see ReadPDU for errors.
func (r *Reader) Next() (PDU, error) {
	p, buf, err := readPDU(r.R, r.Limits, r.buf)
	if buf != nil {
		r.buf = buf
	}
	return p, err
}

// readPDU reads one PDU, reusing buf's capacity when it suffices, and
// returns the body buffer it used.
func readPDU(r io.Reader, lim Limits, buf []byte) (PDU, []byte, error) {
	t, length, err := readHeader(r, lim)
	if err != nil {
		return nil, nil, err
	}
	body, err := readBodyInto(r, int(length), buf)
	if err != nil {
		return nil, nil, fmt.Errorf("pdu: reading %v body of %d bytes: %w", t, length, err)
	}
	p, err := decodeBody(t, body, lim)
	return p, body, err
}

// readHeader reads a PDU header and checks it against lim.
func readHeader(r io.Reader, lim Limits) (Type, uint32, error) {
	var hdr [PDUHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return 0, 0, io.EOF
		}
		return 0, 0, fmt.Errorf("pdu: reading PDU header: %w", err)
	}
	t := Type(hdr[0])
	length := binary.BigEndian.Uint32(hdr[2:6])
	if err := checkHeader(t, length, lim); err != nil {
		return 0, 0, err
	}
	return t, length, nil
}

// readBodyInto reads n bytes into buf when its capacity suffices, else into
// a new buffer: the first readChunk bytes into a buffer of that size, the
// rest of the declared length allocated only once they have arrived.
func readBodyInto(r io.Reader, n int, buf []byte) ([]byte, error) {
	first := min(n, readChunk)
	if cap(buf) >= n {
		// Reuse: the capacity was already paid for by an earlier PDU.
		first = n
	} else {
		buf = make([]byte, first)
	}
	buf = buf[:first]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, noEOF(err)
	}
	if first == n {
		return buf, nil
	}
	whole := make([]byte, n)
	copy(whole, buf)
	if _, err := io.ReadFull(r, whole[first:]); err != nil {
		return nil, noEOF(err)
	}
	return whole, nil
}

// noEOF turns io.EOF inside a PDU into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WritePDU encodes p and writes it with a single Write call, so that PDUs
// written by different goroutines under a lock never interleave.
func WritePDU(w io.Writer, p PDU) error {
	b, err := Encode(p)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("pdu: writing %v: %w", p.PDUType(), err)
	}
	return nil
}
