package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/internal/bufpool"
)

// Object is a stored instance being read: its canonical Part-10 bytes
// (Read, ReadAt), its index record, and where its data set starts, so that
// C-MOVE / C-GET can send the data set alone (DataSet).
//
// Every byte an Object returns has been authenticated and the whole
// instance checked against the SHA-256 recorded in the index before Open
// returned: Open decodes into memory (instances up to Options.MemoryLimit)
// or into an unlinked spool file, never streaming from the shares. This
// costs latency and memory or disk for large instances, and buys a simple
// contract: a failure is always reported by Open, never in the middle of a
// transfer, and a bad share can be dropped and another subset tried.
//
// Close releases the memory or spool file. An Object is not safe for
// concurrent Read calls; ReadAt is.
type Object struct {
	Record        *index.InstanceRecord
	DataSetOffset int64 // bytes of preamble, "DICM" and File Meta Information
	body          sink
	r             *io.SectionReader
}

// Read reads the canonical Part-10 bytes.
func (o *Object) Read(p []byte) (int, error) { return o.r.Read(p) }

// ReadAt reads the canonical bytes at off.
func (o *Object) ReadAt(p []byte, off int64) (int, error) { return o.body.ReadAt(p, off) }

// Size is the number of canonical bytes.
func (o *Object) Size() int64 { return o.r.Size() }

// DataSet returns a new reader of the data set bytes exactly as received.
func (o *Object) DataSet() io.Reader {
	return io.NewSectionReader(o.body, o.DataSetOffset, o.Size()-o.DataSetOffset)
}

// Close releases the decoded bytes: their memory is reused by later
// Opens, so nothing may read o (or a reader from DataSet) once Close has
// been called, and Close must not run concurrently with a read. Close may
// be called again.
func (o *Object) Close() error { return o.body.Close() }

// Open reads one instance: it looks the instance up, reads the first k of
// its shares to open (every share is opened at once, see
// Options.ReadHedge; the slower opens are cancelled), checks each share's size and
// SHA-256 against the index while decoding, and decodes (AES-GCM
// authentication of every segment, the instance SHA-256). A missing or bad
// share is dropped and another subset of shares tried; the instance is
// then served "degraded": logged and queued for repair. Fail closed: when
// no subset of k good shares decodes, the error is an *UnavailableError
// naming the missing and bad shares; ErrNotFound when not indexed.
func (a *Archive) Open(ctx context.Context, sopInstanceUID string) (*Object, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	rec, err := a.db.Lookup(ctx, sopInstanceUID)
	if errors.Is(err, index.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return a.openRecord(ctx, rec, true)
}

// OpenRecord is Open for a record the caller read from the index earlier
// (Instances, for a C-MOVE or C-GET): it spares the index lookup per
// instance. The record may have gone stale meanwhile (the instance
// deleted, replaced or its shares repaired under new names), so when the
// read finds anything wrong — a missing or bad share, or any error — the
// instance is looked up again before anything is reported: ErrNotFound if
// it was deleted, a read of the current record if it changed, and
// otherwise what Open would report. An instance replaced after rec was
// read may still be served as it was, while the old shares last: the
// same outcome as a retrieve that reached it a moment earlier.
func (a *Archive) OpenRecord(ctx context.Context, rec *index.InstanceRecord) (*Object, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	return a.openRecord(ctx, rec, false)
}

// openRecord reads rec's object. fresh says rec was just read from the
// index; otherwise a failed or degraded read is first checked against the
// current record (OpenRecord).
func (a *Archive) openRecord(ctx context.Context, rec *index.InstanceRecord, fresh bool) (*Object, error) {
	out, err := a.newSink(rec.Size)
	if err != nil {
		return nil, err
	}
	srcs := make([]shareSrc, 0, len(rec.Shares))
	for _, s := range rec.Shares {
		srcs = append(srcs, shareSrc{idx: s.Index, name: s.Name, size: s.Size, sum: s.SHA256, known: true})
	}
	k := rec.K
	if k == 0 {
		k = a.opts.k()
	}
	_, st, err := a.decodeShares(ctx, srcs, k, &rec.SHA256, out)
	if !fresh && (err != nil || len(st.Missing)+len(st.Bad) > 0) && ctx.Err() == nil {
		cur, lerr := a.db.Lookup(ctx, rec.SOPInstanceUID)
		switch {
		case errors.Is(lerr, index.ErrNotFound):
			out.Close()
			return nil, ErrNotFound
		case lerr != nil:
			out.Close()
			return nil, lerr
		case !sameObject(cur, rec):
			out.Close()
			return a.openRecord(ctx, cur, true)
		}
	}
	if len(st.Missing)+len(st.Bad) > 0 {
		ev := a.log.Warn()
		if err != nil {
			ev = a.log.Error().Err(err)
		}
		ev.Str("object", rec.ObjectID).Ints("missing", st.Missing).Ints("bad", st.Bad).Msg("archive: degraded read")
		a.queueRepair(rec.SOPInstanceUID)
		a.emitIntegrity(st.events(rec, FoundByRead, a.opts.now()))
	}
	if err != nil {
		out.Close()
		return nil, err
	}
	size := out.Len()
	_, off, err := dcm.ReadPart10Header(io.NewSectionReader(out, 0, size), 0)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("archive: decoded instance without Part-10 header: %w", err)
	}
	return &Object{Record: rec, DataSetOffset: off, body: out, r: io.NewSectionReader(out, 0, size)}, nil
}

// sameObject reports whether two records of one instance name the same
// object and shares.
func sameObject(a, b *index.InstanceRecord) bool {
	return a.ObjectID == b.ObjectID && slices.Equal(a.Shares, b.Shares)
}

// shareSrc is one share object to read.
type shareSrc struct {
	idx   int
	name  string
	size  int64
	sum   [32]byte
	known bool // size and sum are the index's; false during reindex
}

// readState lists the shares found missing or bad during a read, with
// what was wrong with each.
type readState struct {
	Missing, Bad []int
	problem      [4]IntegrityProblem
	err          [4]error
}

func (st *readState) missing(i int, err error) {
	st.Missing = append(st.Missing, i)
	st.problem[i], st.err[i] = ProblemMissing, err
}

func (st *readState) bad(i int, p IntegrityProblem, err error) {
	st.Bad = append(st.Bad, i)
	st.problem[i], st.err[i] = p, err
}

// events are the integrity events of the shares st lists, by store.
func (st *readState) events(rec *index.InstanceRecord, found IntegrityCheck, when time.Time) []IntegrityEvent {
	var evs []IntegrityEvent
	for i := range 4 {
		if st.problem[i] == 0 {
			continue
		}
		ev := IntegrityEvent{SOPInstanceUID: rec.SOPInstanceUID, ObjectID: rec.ObjectID, Store: i,
			Problem: st.problem[i], Found: found, When: when, Err: st.err[i]}
		for _, s := range rec.Shares {
			if s.Index == i {
				ev.Share = s.Name
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// errShareHash marks a share whose bytes differ from the index's record;
// errShareSize (which wraps it) one whose length differs.
var (
	errShareHash = errors.New("archive: share size or SHA-256 differs from the index")
	errShareSize = fmt.Errorf("%w (size)", errShareHash)
)

// checkedReader checks a share against its recorded size and SHA-256 while
// it is read: reading past the size, or reaching EOF with another hash,
// fails (Decode reads every share to its end).
type checkedReader struct {
	r    io.Reader
	src  shareSrc
	h    hash.Hash
	n    int64
	bad  error // errShareSize or errShareHash once found bad
	done bool
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.src.known && c.n > c.src.size {
		c.bad = errShareSize
		return n, c.bad
	}
	if err == io.EOF {
		c.done = true
		if c.src.known && c.n != c.src.size {
			c.bad = errShareSize
			return n, c.bad
		}
		if c.src.known && !bytes.Equal(c.h.Sum(nil), c.src.sum[:]) {
			c.bad = errShareHash
			return n, c.bad
		}
	}
	return n, err
}

// drain reads the rest of the share (at most its recorded size plus one
// byte) to complete the size and hash check. Only for known shares.
func (c *checkedReader) drain() {
	if !c.src.known || c.done || c.bad != nil {
		return
	}
	io.Copy(io.Discard, c)
}

// decodeShares decodes an object from its shares into out, trying subsets
// of k shares until one decodes: data shards first; a share that is
// missing, fails its hash check or is named by a *pipeline.ShareError is
// dropped; after a failure Decode cannot attribute (authentication after
// combining, headers that differ), the subset's shares are read to their
// end so that the hash check names the bad one, and the next subset is
// tried. It returns the shares found missing or bad, also on success.
func (a *Archive) decodeShares(ctx context.Context, srcs []shareSrc, k int, want *[32]byte, out sink) (*pipeline.Info, readState, error) {
	var st readState
	bySrc := map[int]shareSrc{}
	for _, s := range srcs {
		bySrc[s.idx] = s
	}
	for i := range 4 {
		if _, ok := bySrc[i]; !ok {
			st.missing(i, nil)
		}
	}
	dropped := map[int]bool{}
	tried := map[string]bool{}
	var lastErr error
	for {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		var avail []int
		for i := range 4 {
			if _, ok := bySrc[i]; ok && !dropped[i] {
				avail = append(avail, i)
			}
		}
		var subset []int
		var readers []*checkedReader
		var closers []io.Closer
		if len(tried) == 0 {
			// The first attempt: the fastest k.
			var failed map[int]error
			subset, readers, closers, failed = a.raceOpen(ctx, avail, bySrc, k)
			for _, i := range avail {
				if err, ok := failed[i]; ok {
					dropped[i] = true
					st.missing(i, err)
					lastErr = err
				}
			}
			tried[fmt.Sprint(sorted(subset))] = true
		} else {
			for _, s := range pipeline.Subsets(k, avail) {
				if !tried[fmt.Sprint(s)] {
					subset = s
					break
				}
			}
			if subset == nil {
				slices.Sort(st.Missing)
				slices.Sort(st.Bad)
				return nil, st, &UnavailableError{Missing: st.Missing, Bad: st.Bad, Err: lastErr}
			}
			tried[fmt.Sprint(subset)] = true
			var failed []error
			readers, closers, failed = a.openShares(ctx, subset, bySrc)
			for j, err := range failed {
				if err != nil && ctx.Err() == nil {
					dropped[subset[j]] = true
					st.missing(subset[j], err)
					lastErr = err
				}
			}
		}
		closeAll := func() {
			for _, c := range closers {
				if c != nil {
					c.Close()
				}
			}
		}
		if ctx.Err() != nil {
			closeAll()
			return nil, st, ctx.Err()
		}
		if len(readers) < k || slices.Contains(readers, nil) {
			closeAll()
			continue
		}
		in := make(map[int]io.Reader, len(subset))
		for j, i := range subset {
			in[i] = readers[j]
		}
		if err := out.Reset(); err != nil {
			closeAll()
			return nil, st, err
		}
		info, err := pipeline.Decode(ctx, a.kw, in, out, want)
		if err != nil && ctx.Err() == nil {
			// Decode stops at the first failure, which it cannot always
			// attribute (an AEAD failure after combining k shares, headers
			// that differ): read the rest of each share, so that the
			// hash check names the one that differs from the index.
			// Otherwise another subset would decode and the bad share
			// go unreported and unrepaired.
			for _, r := range readers {
				r.drain()
			}
		}
		closeAll()
		for j, r := range readers {
			if r.bad != nil && !dropped[subset[j]] {
				dropped[subset[j]] = true
				st.bad(subset[j], shareProblem(r.bad), r.bad)
				if err == nil {
					err = r.bad
				}
			}
		}
		if err == nil {
			slices.Sort(st.Missing)
			slices.Sort(st.Bad)
			return info, st, nil
		}
		if ctx.Err() != nil {
			return nil, st, ctx.Err()
		}
		if errors.Is(err, pipeline.ErrShredKeyMissing) || errors.Is(err, crypto.ErrShredOpen) {
			// The object's shred key is gone or wrong: no other subset
			// of its shares can do better (shred.go).
			return nil, st, err
		}
		lastErr = err
		var se *pipeline.ShareError
		if errors.As(err, &se) && se.Index >= 0 && se.Index < 4 && !dropped[se.Index] {
			dropped[se.Index] = true
			st.bad(se.Index, shareProblem(se.Err), se.Err)
		}
	}
}

// openShares opens the shares idx in parallel. A share that failed to
// open has a nil reader and its error in failed.
func (a *Archive) openShares(ctx context.Context, idx []int, bySrc map[int]shareSrc) (readers []*checkedReader, closers []io.Closer, failed []error) {
	readers = make([]*checkedReader, len(idx))
	closers = make([]io.Closer, len(idx))
	failed = make([]error, len(idx))
	var wg sync.WaitGroup
	for j, i := range idx {
		wg.Go(func() {
			rc, err := a.opts.Stores[i].Open(ctx, bySrc[i].name)
			if err != nil {
				failed[j] = err
				return
			}
			closers[j] = rc
			readers[j] = &checkedReader{r: rc, src: bySrc[i], h: sha256.New()}
		})
	}
	wg.Wait()
	return readers, closers, failed
}

// raceOpen opens the shares avail and keeps the first k to open: the
// fastest stores serve the read. With Options.ReadHedge > 0 the first k of
// avail (the data shares when all are there) are opened first and the
// others only once the hedge delay passes or one of them fails. When k
// have opened, the opens still running are cancelled; raceOpen waits for
// them (a store returns promptly once its context is cancelled) and closes
// what they opened, so nothing outlives it. It returns the shares kept (in
// the order they opened) and the opens that failed other than by that
// cancellation; fewer than k kept when too many failed.
func (a *Archive) raceOpen(ctx context.Context, avail []int, bySrc map[int]shareSrc, k int) (won []int, readers []*checkedReader, closers []io.Closer, failed map[int]error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type opened struct {
		i   int
		rc  io.ReadCloser
		err error
	}
	results := make(chan opened, len(avail))
	start := func(idx []int) {
		for _, i := range idx {
			go func() {
				rc, err := a.opts.Stores[i].Open(rctx, bySrc[i].name)
				results <- opened{i, rc, err}
			}()
		}
	}
	first, rest := avail, []int(nil)
	var hedge <-chan time.Time
	if d := a.opts.ReadHedge; d > 0 && len(avail) > k {
		first, rest = avail[:k], avail[k:]
		t := time.NewTimer(d)
		defer t.Stop()
		hedge = t.C
	}
	start(first)
	pending := len(first)
	startRest := func() {
		start(rest)
		pending, rest, hedge = pending+len(rest), nil, nil
	}
	failed = map[int]error{}
	for pending > 0 || rest != nil {
		if pending == 0 {
			startRest()
			continue
		}
		var o opened
		select {
		case o = <-results:
			pending--
		case <-hedge:
			startRest()
			continue
		}
		switch {
		case o.err != nil:
			// Not a failure of the store: our cancellation of the slower
			// opens, or the caller's.
			if ctx.Err() == nil && (len(won) < k || !errors.Is(o.err, context.Canceled)) {
				failed[o.i] = o.err
			}
			if rest != nil && len(won) < k {
				startRest() // a failure: no point waiting for the hedge
			}
		case len(won) < k:
			won = append(won, o.i)
			readers = append(readers, &checkedReader{r: o.rc, src: bySrc[o.i], h: sha256.New()})
			closers = append(closers, o.rc)
			if len(won) == k {
				cancel()
				rest, hedge = nil, nil
			}
		default:
			o.rc.Close()
		}
	}
	return won, readers, closers, failed
}

// sorted returns a sorted copy of s.
func sorted(s []int) []int {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// sink receives a decoded instance: memory or an unlinked spool file.
type sink interface {
	io.Writer
	io.ReaderAt
	io.Closer
	Reset() error
	Len() int64
}

func (a *Archive) newSink(size int64) (sink, error) {
	if size >= 0 && size <= a.opts.memoryLimit() {
		// Sized once: growing by doubling cost ~20 % of a CT's Open.
		// Pooled: a fresh buffer per instance, cleared by the allocator
		// and later returned to the OS, cost ~10 % of a C-MOVE's CPU.
		p := bufpool.Get(int(size))
		return &memSink{p: p, b: (*p)[:0]}, nil
	}
	return newFileSink(a.opts.spoolDir())
}

// memSink holds a decoded instance in a pooled buffer (p) until Close.
type memSink struct {
	p *[]byte // from bufpool; nil once closed
	b []byte  // the bytes written, in *p unless a Write outgrew it
}

func (m *memSink) Write(p []byte) (int, error) { m.b = append(m.b, p...); return len(p), nil }
func (m *memSink) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.b).ReadAt(p, off)
}

// Close gives the buffer back to the pool; later reads see no bytes.
func (m *memSink) Close() error {
	bufpool.Put(m.p)
	m.p, m.b = nil, nil
	return nil
}
func (m *memSink) Reset() error { m.b = m.b[:0]; return nil }
func (m *memSink) Len() int64   { return int64(len(m.b)) }

type fileSink struct {
	f *os.File
	n int64
}

// newFileSink creates a spool file and unlinks it at once: a crash leaves
// nothing behind and no other process can open it by name.
func newFileSink(dir string) (*fileSink, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("archive: spool: %w", err)
	}
	f, err := os.CreateTemp(dir, ".shardpacs-read-*")
	if err != nil {
		return nil, fmt.Errorf("archive: spool: %w", err)
	}
	os.Remove(f.Name())
	return &fileSink{f: f}, nil
}

func (s *fileSink) Write(p []byte) (int, error) {
	n, err := s.f.WriteAt(p, s.n)
	s.n += int64(n)
	return n, err
}
func (s *fileSink) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.n {
		return 0, io.EOF
	}
	if rest := s.n - off; int64(len(p)) > rest {
		n, err := s.f.ReadAt(p[:rest], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return s.f.ReadAt(p, off)
}
func (s *fileSink) Close() error { return s.f.Close() }
func (s *fileSink) Reset() error { s.n = 0; return s.f.Truncate(0) }
func (s *fileSink) Len() int64   { return s.n }
