package pdu

import (
	"bufio"
	"fmt"
	"io"
)

// pooledReadAhead is the read-ahead of a PooledReader: enough for PDU
// headers and small PDUs to arrive in one read, small enough that large
// PDV data is read straight into its Buffer rather than copied through it.
const pooledReadAhead = 4 << 10

// PooledReader reads PDUs from R with ReadPDU's rules and checks, each body
// in a [Buffer] from the shared pool, through a small read-ahead buffer so
// that a PDU header and a short PDU take one read from R.
//
// Next returns the PDU with the Buffer its byte slices (PDV data above all)
// alias, holding one reference for the caller: the PDU stays valid until
// that reference is released, independently of later calls to Next. As
// with ReadPDU, a body over 64 KiB is taken from the pool only once its
// first 64 KiB have arrived, so a peer that declares a large PDU and
// stalls holds at most 64 KiB.
//
// The zero value with R set is ready to use. A PooledReader is not safe for
// concurrent use; R must not be read from elsewhere once Next was called
// (use Read for what follows).
type PooledReader struct {
	R      io.Reader
	Limits Limits
	br     *bufio.Reader
}

func (r *PooledReader) reader() *bufio.Reader {
	if r.br == nil {
		r.br = bufio.NewReaderSize(r.R, pooledReadAhead)
	}
	return r.br
}

// Next reads and decodes the next PDU; see ReadPDU for errors. On error
// the Buffer is nil. n is the bytes the PDU took on the wire (header
// included), valid when err is nil.
func (r *PooledReader) Next() (p PDU, buf *Buffer, n int, err error) {
	br := r.reader()
	t, length, err := readHeader(br, r.Limits)
	if err != nil {
		return nil, nil, 0, err
	}
	buf, err = readPooledBody(br, int(length))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("pdu: reading %v body of %d bytes: %w", t, length, err)
	}
	p, err = decodeBody(t, buf.Bytes(), r.Limits)
	if err != nil {
		buf.Release()
		return nil, nil, 0, err
	}
	return p, buf, PDUHeaderLen + int(length), nil
}

// Read reads the stream after the last PDU returned by Next (what is
// buffered first), e.g. to drain the transport after a decode error.
func (r *PooledReader) Read(p []byte) (int, error) { return r.reader().Read(p) }

// readPooledBody reads n bytes into a pooled Buffer. Past readChunk, the
// first readChunk bytes are read into a chunk-sized Buffer and copied
// into one of the full size once they have arrived.
func readPooledBody(r io.Reader, n int) (*Buffer, error) {
	if n <= readChunk {
		buf := GetBuffer(n)
		if _, err := io.ReadFull(r, buf.Bytes()); err != nil {
			buf.Release()
			return nil, noEOF(err)
		}
		return buf, nil
	}
	first := GetBuffer(readChunk)
	if _, err := io.ReadFull(r, first.Bytes()); err != nil {
		first.Release()
		return nil, noEOF(err)
	}
	buf := GetBuffer(n)
	b := buf.Bytes()
	copy(b, first.Bytes())
	first.Release()
	if _, err := io.ReadFull(r, b[readChunk:]); err != nil {
		buf.Release()
		return nil, noEOF(err)
	}
	return buf, nil
}
