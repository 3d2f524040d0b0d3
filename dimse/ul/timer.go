package ul

import "time"

// timer is a restartable one-shot timer owned by the association's machine
// goroutine: the ARTIM timer (PS3.8 9.1.5) and the idle timer. Its zero
// value is stopped. C returns nil while the timer is stopped, so a select
// case on it never fires, and a stopped or restarted timer never delivers a
// stale expiry (Go 1.23+ timer semantics). Not safe for concurrent use.
type timer struct {
	t       *time.Timer
	running bool
}

// start starts the timer for d, or restarts it if already running
// (PS3.8 AA-1: "start (or restart if already started) ARTIM timer").
// A non-positive d leaves the timer stopped: the wait is unbounded.
func (tm *timer) start(d time.Duration) {
	if d <= 0 {
		tm.stop()
		return
	}
	if tm.t == nil {
		tm.t = time.NewTimer(d)
	} else {
		tm.t.Reset(d)
	}
	tm.running = true
}

// stop stops the timer if it is running.
func (tm *timer) stop() {
	if tm.t != nil {
		tm.t.Stop()
	}
	tm.running = false
}

// C is the expiry channel while the timer runs, nil otherwise.
func (tm *timer) C() <-chan time.Time {
	if !tm.running {
		return nil
	}
	return tm.t.C
}

// fired records that the expiry was received from C.
func (tm *timer) fired() { tm.running = false }
