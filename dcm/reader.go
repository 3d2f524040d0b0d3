package dcm

import (
	"errors"
	"io"
)

// scanReader is the buffered, offset-tracking reader under Scan. It never
// allocates more than its fixed buffer, except for values the caller asks
// to keep (readValue), and skips values by seeking when the source is an
// io.Seeker, by discarding otherwise.
type scanReader struct {
	r      io.Reader
	seeker io.Seeker // nil: skip by reading
	buf    [4096]byte
	pos    int   // next unread byte in buf
	end    int   // end of valid bytes in buf
	off    int64 // offset of buf[pos] from the start of the data set
	eof    bool  // r returned io.EOF
	err    error // sticky error other than io.EOF
}

func newScanReader(r io.Reader, seeker io.Seeker) *scanReader {
	return &scanReader{r: r, seeker: seeker}
}

// fill reads until at least n (≤ len(buf)) bytes are buffered or the
// source ends; it reports whether n bytes are available.
func (s *scanReader) fill(n int) bool {
	if s.end-s.pos >= n {
		return true
	}
	if s.pos > 0 {
		copy(s.buf[:], s.buf[s.pos:s.end])
		s.end -= s.pos
		s.pos = 0
	}
	for s.end < n && !s.eof && s.err == nil {
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.err = err
		} else if m == 0 {
			// A reader returning 0, nil repeatedly would spin; treat as an error after one retry.
			m, err = s.r.Read(s.buf[s.end:])
			s.end += m
			if m == 0 && err == nil {
				s.err = io.ErrNoProgress
			} else if err == io.EOF {
				s.eof = true
			} else if err != nil {
				s.err = err
			}
		}
	}
	return s.end-s.pos >= n
}

// atEOF reports whether the source has no more bytes.
func (s *scanReader) atEOF() bool { return !s.fill(1) && s.err == nil }

// peek returns the next n (≤ len(buf)) bytes without consuming them.
func (s *scanReader) peek(n int) ([]byte, error) {
	if !s.fill(n) {
		return nil, s.failure()
	}
	return s.buf[s.pos : s.pos+n], nil
}

// next consumes and returns the next n (≤ len(buf)) bytes; the slice is
// valid until the next call.
func (s *scanReader) next(n int) ([]byte, error) {
	b, err := s.peek(n)
	if err != nil {
		return nil, err
	}
	s.pos += n
	s.off += int64(n)
	return b, nil
}

// failure is the error for a short read: the sticky error, or
// io.ErrUnexpectedEOF.
func (s *scanReader) failure() error {
	if s.err != nil {
		return s.err
	}
	return io.ErrUnexpectedEOF
}

// skip consumes n bytes.
func (s *scanReader) skip(n int64) error {
	if avail := int64(s.end - s.pos); n <= avail {
		s.pos += int(n)
		s.off += n
		return nil
	}
	avail := int64(s.end - s.pos)
	s.pos, s.end = 0, 0
	s.off += avail
	n -= avail
	if s.seeker != nil {
		if _, err := s.seeker.Seek(n, io.SeekCurrent); err != nil {
			s.err = err
			return err
		}
		s.off += n
		return nil
	}
	m, err := io.CopyN(io.Discard, s.r, n)
	s.off += m
	if err == io.EOF {
		s.eof = true
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		s.err = err
	}
	return err
}

// readValue consumes n bytes into a new slice. The caller bounds n.
func (s *scanReader) readValue(n int) ([]byte, error) {
	v := make([]byte, n)
	k := copy(v, s.buf[s.pos:s.end])
	s.pos += k
	s.off += int64(k)
	if k < n {
		m, err := io.ReadFull(s.r, v[k:])
		s.off += int64(m)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
				s.eof = true
			} else {
				s.err = err
			}
			return nil, err
		}
	}
	return v, nil
}
