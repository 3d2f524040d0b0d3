package dimse

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// DataSet is the data set of a received DIMSE message (PS3.7 §6.3.1): the
// bytes of its data fragments, concatenated, in the transfer syntax of the
// presentation context, never parsed here.
//
// Small data sets live in memory, normally as the received PDV data
// themselves, in the pooled PDU buffers they arrived in (no copy); a data
// set past Limits.SpoolThreshold lives in a temporary file, unlinked as
// soon as it is created where the system allows it (so that nothing is left
// behind even after a crash) and otherwise removed by Close. The zero value
// and a nil *DataSet are empty data sets.
//
// Concurrency: ReadAt, Bytes and the readers from NewReader may be used from
// several goroutines at once; Close must not race with them. Close is
// idempotent; after it, reads fail with ErrClosed, and memory obtained from
// Bytes must no longer be used (it returns to a pool).
type DataSet struct {
	mem    []byte   // contiguous data: NewDataSet's, or chunks joined by Bytes
	chunks [][]byte // in-memory data as received, in order
	offs   []int64  // offset of each chunk in the data set
	bufs   []*pdu.Buffer
	joinMu sync.Mutex // guards the one-time join of chunks into mem
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
// spooled to a file. A data set received in several fragments is joined
// into one new slice on the first call. The slice is owned by the DataSet:
// do not modify it or use it after Close.
func (d *DataSet) Bytes() ([]byte, bool) {
	if d == nil {
		return nil, true
	}
	if d.f != nil || d.closed {
		return nil, false
	}
	switch len(d.chunks) {
	case 0:
		return d.mem, true
	case 1:
		return d.chunks[0], true
	}
	d.joinMu.Lock()
	defer d.joinMu.Unlock()
	if d.mem == nil {
		mem := make([]byte, 0, d.size)
		for _, c := range d.chunks {
			mem = append(mem, c...)
		}
		d.mem = mem
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
	var n int
	if len(d.chunks) == 0 {
		n = copy(p, d.mem[off:])
	} else {
		// The chunk holding off: the last one starting at or before it.
		i := sort.Search(len(d.offs), func(i int) bool { return d.offs[i] > off }) - 1
		for skip := off - d.offs[i]; n < len(p) && i < len(d.chunks); i, skip = i+1, 0 {
			n += copy(p[n:], d.chunks[i][skip:])
		}
	}
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
	d.dropChunks()
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

// dropChunks forgets the in-memory chunks and releases their buffers.
func (d *DataSet) dropChunks() {
	for _, b := range d.bufs {
		b.Release()
	}
	d.chunks, d.offs, d.bufs = nil, nil, nil
}

// spooler accumulates a data set: in memory up to threshold bytes
// (threshold < 0: always in memory), then in a temporary file.
//
// In memory, a fragment that fills at least half of the pooled PDU buffer
// it arrived in is kept in place (the buffer is retained, not copied);
// smaller ones are copied into a pooled tail buffer, so that the memory
// held stays within about twice the data whatever the fragment sizes.
type spooler struct {
	threshold int64
	dir       string
	ds        *DataSet
	w         *bufio.Writer
	tail      []byte // free capacity of the last chunk when it is a copy buffer
}

// minTail and maxTail bound the copy buffers of small fragments.
const (
	minTail = 4 << 10
	maxTail = 256 << 10
)

func newSpooler(threshold int64, dir string) *spooler {
	return &spooler{threshold: threshold, dir: dir, ds: &DataSet{}}
}

// write appends p, which aliases buf when buf is not nil (p is then
// valid as long as buf is retained); otherwise p is only valid during the
// call.
func (s *spooler) write(p []byte, buf *pdu.Buffer) error {
	d := s.ds
	if d.f == nil && (s.threshold < 0 || d.size+int64(len(p)) <= s.threshold) {
		if len(p) == 0 {
			return nil
		}
		if buf != nil && 2*len(p) >= cap(buf.Bytes()) {
			buf.Retain()
			d.bufs = append(d.bufs, buf)
			d.addChunk(p)
			s.tail = nil
			return nil
		}
		for len(p) > 0 {
			if len(s.tail) == 0 {
				n := max(minTail, min(int(d.size), maxTail), len(p))
				if s.threshold >= 0 {
					n = max(min(n, int(s.threshold-d.size)), len(p))
				}
				b := pdu.GetBuffer(n)
				d.bufs = append(d.bufs, b)
				s.tail = b.Bytes()[:cap(b.Bytes())]
				d.addChunk(s.tail[:0])
			}
			k := copy(s.tail, p)
			last := len(d.chunks) - 1
			d.chunks[last] = d.chunks[last][:len(d.chunks[last])+k]
			s.tail = s.tail[k:]
			p = p[k:]
			d.size += int64(k)
		}
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

// addChunk appends an in-memory chunk of the data set.
func (d *DataSet) addChunk(c []byte) {
	d.chunks = append(d.chunks, c)
	d.offs = append(d.offs, d.size)
	d.size += int64(len(c))
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
	s.tail = nil
	chunks := d.chunks
	defer d.dropChunks()
	for _, c := range chunks {
		if _, err := s.w.Write(c); err != nil {
			return fmt.Errorf("dimse: writing spool file: %w", err)
		}
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
