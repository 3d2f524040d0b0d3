package dimse

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// DataSet is the data set of a received DIMSE message (PS3.7 §6.3.1): the
// bytes of its data fragments, concatenated, in the transfer syntax of the
// presentation context, never parsed here.
//
// Small data sets live in memory; a data set past Limits.SpoolThreshold
// lives in a temporary file, unlinked as soon as it is created where the
// system allows it (so that nothing is left behind even after a crash) and
// otherwise removed by Close. The zero value and a nil *DataSet are empty
// data sets.
//
// Concurrency: ReadAt and the readers from NewReader may be used from
// several goroutines at once; Close must not race with them. Close is
// idempotent; after it, reads fail with ErrClosed.
type DataSet struct {
	mem    []byte
	f      *os.File
	name   string // non-empty while the spool file still needs removing
	size   int64
	closed bool
}

// NewDataSet returns an in-memory DataSet holding b (not copied).
func NewDataSet(b []byte) *DataSet { return &DataSet{mem: b, size: int64(len(b))} }

// Size returns the length of the data set in bytes.
func (d *DataSet) Size() int64 {
	if d == nil {
		return 0
	}
	return d.size
}

// Bytes returns the data set and true when it is held in memory (the fast
// path for identifiers and small instances); nil and false when it is
// spooled to a file. The slice is owned by the DataSet: do not modify it or
// use it after Close.
func (d *DataSet) Bytes() ([]byte, bool) {
	if d == nil {
		return nil, true
	}
	if d.f != nil || d.closed {
		return nil, false
	}
	return d.mem, true
}

// Spooled reports whether the data set is held in a temporary file.
func (d *DataSet) Spooled() bool { return d != nil && d.f != nil }

// ReadAt implements io.ReaderAt.
func (d *DataSet) ReadAt(p []byte, off int64) (int, error) {
	if d == nil {
		return 0, io.EOF
	}
	if d.closed {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("dimse: data set: negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	if d.f != nil {
		if rem := d.size - off; int64(len(p)) > rem {
			n, err := d.f.ReadAt(p[:rem], off)
			if err == nil {
				err = io.EOF
			}
			return n, err
		}
		return d.f.ReadAt(p, off)
	}
	n := copy(p, d.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// NewReader returns a reader over the whole data set, independent of any
// other reader.
func (d *DataSet) NewReader() io.Reader {
	return io.NewSectionReader(d, 0, d.Size())
}

// Close releases the data set: it closes and removes the spool file, if
// any, and drops the memory. It is idempotent and safe on nil.
func (d *DataSet) Close() error {
	if d == nil || d.closed {
		return nil
	}
	d.closed = true
	d.mem = nil
	var err error
	if d.f != nil {
		err = d.f.Close()
		d.f = nil
	}
	if d.name != "" {
		if rerr := os.Remove(d.name); rerr != nil && err == nil && !os.IsNotExist(rerr) {
			err = rerr
		}
		d.name = ""
	}
	if err != nil {
		return fmt.Errorf("dimse: closing spooled data set: %w", err)
	}
	return nil
}

// spooler accumulates a data set: in memory up to threshold bytes
// (threshold < 0: always in memory), then in a temporary file.
type spooler struct {
	threshold int64
	dir       string
	ds        *DataSet
	w         *bufio.Writer
}

func newSpooler(threshold int64, dir string) *spooler {
	return &spooler{threshold: threshold, dir: dir, ds: &DataSet{}}
}

// write appends p.
func (s *spooler) write(p []byte) error {
	d := s.ds
	if d.f == nil && (s.threshold < 0 || d.size+int64(len(p)) <= s.threshold) {
		if need := len(d.mem) + len(p); need > cap(d.mem) {
			// Double (append grows large slices by only 1.25x), at least
			// 4 KiB, never past the threshold.
			n := max(2*cap(d.mem), need, 4<<10)
			if s.threshold >= 0 {
				n = max(min(n, int(s.threshold)), need)
			}
			grown := make([]byte, len(d.mem), n)
			copy(grown, d.mem)
			d.mem = grown
		}
		d.mem = append(d.mem, p...)
		d.size += int64(len(p))
		return nil
	}
	if d.f == nil {
		if err := s.spill(); err != nil {
			return err
		}
	}
	n, err := s.w.Write(p)
	d.size += int64(n)
	if err != nil {
		return fmt.Errorf("dimse: writing spool file: %w", err)
	}
	return nil
}

// spill moves the in-memory bytes to a new temporary file.
func (s *spooler) spill() error {
	d := s.ds
	f, err := os.CreateTemp(s.dir, "shardpacs-dimse-*.spool")
	if err != nil {
		return fmt.Errorf("dimse: creating spool file: %w", err)
	}
	d.f = f
	// Unlink now: the open descriptor keeps the data; nothing survives a
	// crash. Where that fails (Windows), Close removes it by name.
	if os.Remove(f.Name()) != nil {
		d.name = f.Name()
	}
	s.w = bufio.NewWriterSize(f, 256<<10)
	mem := d.mem
	d.mem = nil
	if _, err := s.w.Write(mem); err != nil {
		return fmt.Errorf("dimse: writing spool file: %w", err)
	}
	return nil
}

// finish flushes the file and returns the data set.
func (s *spooler) finish() (*DataSet, error) {
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			s.abandon()
			return nil, fmt.Errorf("dimse: writing spool file: %w", err)
		}
	}
	d := s.ds
	s.ds = nil
	return d, nil
}

// abandon discards everything written so far.
func (s *spooler) abandon() {
	if s.ds != nil {
		s.ds.Close()
		s.ds = nil
	}
}
