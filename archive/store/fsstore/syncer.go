package fsstore

import (
	"os"
	"sync"
	"sync/atomic"
)

// Group sync.
//
// A durable Put needs two waits for stable storage: its temporary file
// (data and inode) before the link, and its folder (the new entry) after.
// One fsync each costs a journal commit and a cache flush, ~0.2 ms on a
// quiet disk and several ms on a busy one, and concurrent Puts (four
// shares per instance, several associations) each pay their own. A syncer
// runs these waits in rounds instead: a Put hands over its open file or
// folder and blocks until a round that started after its hand-over has
// made it durable. While a round runs, the next one collects every request
// that arrives; it is then served by one syncfs(2) of the filesystem
// (Linux ≥ 5.8, which reports write-back errors; see syncfs_linux.go) or,
// for a single request or where syncfs is missing, by fsync of each.
//
// The order "data durable, then link, then entry durable" of every Put is
// unchanged: a round only ever makes more things durable, earlier, never
// fewer. Rounds are led by one of the waiting callers (no goroutine of its
// own), handed to the next waiter when the leader's round is done, so no
// caller waits for more than the round in progress and its own.
type syncer struct {
	mu      sync.Mutex
	pending []*syncReq
	leading bool // a caller is running rounds
	rounds  atomic.Int64
	fsyncs  atomic.Int64 // rounds served by syncfs
}

type syncReq struct {
	f    *os.File
	seq  int64 // openSeq when f was opened: syncfs runs on the oldest fd
	err  error
	done chan bool // false: synced (see err); true: lead the next round
}

// openSeq orders the files handed to syncers by the time they were
// opened (see syncBatch).
var openSeq atomic.Int64

// nextOpenSeq is called right after a file is opened.
func nextOpenSeq() int64 { return openSeq.Add(1) }

// sync makes f durable in a round shared with concurrent callers and
// returns f's error. seq is nextOpenSeq() taken when f was opened.
func (s *syncer) sync(f *os.File, seq int64) error {
	r := &syncReq{f: f, seq: seq, done: make(chan bool, 1)}
	s.mu.Lock()
	s.pending = append(s.pending, r)
	lead := !s.leading
	s.leading = true
	s.mu.Unlock()
	if !lead && !<-r.done {
		return r.err
	}
	// Lead one round: everything pending now, r included.
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	s.syncBatch(batch)
	s.mu.Lock()
	if len(s.pending) > 0 {
		next := s.pending[0]
		s.mu.Unlock()
		next.done <- true
	} else {
		s.leading = false
		s.mu.Unlock()
	}
	for _, q := range batch {
		if q != r {
			q.done <- false
		}
	}
	return r.err
}

// syncBatch sets the error of every request of one round.
func (s *syncer) syncBatch(batch []*syncReq) {
	s.rounds.Add(1)
	if len(batch) > 1 && syncfsWorks {
		oldest := batch[0]
		for _, q := range batch[1:] {
			if q.seq < oldest.seq {
				oldest = q
			}
		}
		// syncfs reports a write-back error of the filesystem that
		// happened since the fd it is called on was opened: on the
		// oldest fd it covers every file of the batch.
		if syncfs(oldest.f) == nil {
			s.fsyncs.Add(1)
			return
		}
		// An error somewhere on the filesystem (maybe not ours): fsync
		// each file to know whose.
	}
	for _, q := range batch {
		q.err = q.f.Sync()
	}
}

// syncers share one syncer among the stores of one filesystem, so that a
// round covers the shares of all four stores when they are on one disk.
var (
	syncersMu sync.Mutex
	syncers   = map[uint64]*syncer{}
)

// syncerFor returns the syncer of the filesystem holding dir.
func syncerFor(dir string) *syncer {
	dev, ok := deviceOf(dir)
	if !ok {
		return &syncer{}
	}
	syncersMu.Lock()
	defer syncersMu.Unlock()
	s := syncers[dev]
	if s == nil {
		s = &syncer{}
		syncers[dev] = s
	}
	return s
}
