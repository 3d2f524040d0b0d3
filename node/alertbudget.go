package node

import (
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/archive"
)

// Integrity alert budget.
//
// A store that fails as a whole (its disk gone, its bucket unreachable)
// makes every read of every instance find a share missing, and the
// repairer find it again: one Stored Data Integrity Failure alert per
// share and finding, thousands a minute during a retrieve. Such a flood
// buries the alerts that matter (one tampered share) and fills the audit
// repository. The alerts are therefore budgeted per store and problem:
// the first alertBurst of each alertWindow go to the trail one by one, as
// before; the others of that window are counted and reported by one
// summary alert when the window ends (or at Shutdown), naming the store,
// the problem and the count. Nothing is dropped silently, and `shardpacs
// verify` lists every damaged share.

const (
	alertBurst  = 20
	alertWindow = time.Minute
)

// alertKey is what a budget is kept for.
type alertKey struct {
	store   int
	problem archive.IntegrityProblem
}

// alertSpan is one window of one key.
type alertSpan struct {
	key        alertKey
	start, end time.Time
	sent, held int
	timer      *time.Timer // ends the span when alerts are held
	done       bool        // its summary was taken
}

// alertBudget decides which integrity alerts are written one by one. The
// zero value uses alertBurst, alertWindow and the wall clock; summary
// receives each span that held alerts back, exactly once. Safe for
// concurrent use.
type alertBudget struct {
	burst   int
	window  time.Duration
	now     func() time.Time
	summary func(*alertSpan)

	mu     sync.Mutex
	spans  map[alertKey]*alertSpan
	closed bool
}

func (b *alertBudget) limits() (int, time.Duration) {
	burst, window := b.burst, b.window
	if burst <= 0 {
		burst = alertBurst
	}
	if window <= 0 {
		window = alertWindow
	}
	return burst, window
}

func (b *alertBudget) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// allow reports whether an alert of key k is to be written now; when not,
// it is counted in the summary of k's current window. After close every
// alert is allowed.
func (b *alertBudget) allow(k alertKey) bool {
	burst, window := b.limits()
	var ended *alertSpan
	defer func() {
		if ended != nil {
			b.emit(ended)
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return true
	}
	now := b.clock()
	s := b.spans[k]
	if s != nil && !now.Before(s.start.Add(window)) {
		ended = b.take(s, now) // the timer may not have fired yet
		s = nil
	}
	if s == nil {
		if b.spans == nil {
			b.spans = map[alertKey]*alertSpan{}
		}
		s = &alertSpan{key: k, start: now}
		b.spans[k] = s
	}
	if s.sent < burst {
		s.sent++
		return true
	}
	if s.held++; s.held == 1 {
		s.timer = time.AfterFunc(s.start.Add(window).Sub(now), func() { b.expire(s) })
	}
	return false
}

// take ends s under b.mu: it returns s when its summary is due (held
// alerts not yet summarised), else nil.
func (b *alertBudget) take(s *alertSpan, now time.Time) *alertSpan {
	if b.spans[s.key] == s {
		delete(b.spans, s.key)
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.done || s.held == 0 {
		return nil
	}
	s.done, s.end = true, now
	return s
}

// expire is s's timer: the window is over.
func (b *alertBudget) expire(s *alertSpan) {
	b.mu.Lock()
	due := b.take(s, b.clock())
	b.mu.Unlock()
	if due != nil {
		b.emit(due)
	}
}

// close summarises every window holding alerts back and lets every later
// alert through (called by Shutdown: the archive, closed next, may still
// report a repair in progress).
func (b *alertBudget) close() {
	b.mu.Lock()
	b.closed = true
	now := b.clock()
	var due []*alertSpan
	for _, s := range b.spans {
		if d := b.take(s, now); d != nil {
			due = append(due, d)
		}
	}
	b.mu.Unlock()
	for _, s := range due {
		b.emit(s)
	}
}

func (b *alertBudget) emit(s *alertSpan) {
	if b.summary != nil {
		b.summary(s)
	}
}
