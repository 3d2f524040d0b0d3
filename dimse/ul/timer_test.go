package ul

import (
	"testing"
	"time"
)

func TestTimer(t *testing.T) {
	var tm timer
	if tm.C() != nil {
		t.Fatal("zero timer has a channel")
	}
	tm.start(0)
	if tm.C() != nil {
		t.Fatal("non-positive duration must leave the timer stopped")
	}
	tm.start(time.Hour)
	tm.start(10 * time.Millisecond) // restart with a shorter duration
	select {
	case <-tm.C():
		tm.fired()
	case <-time.After(2 * time.Second):
		t.Fatal("restarted timer did not fire")
	}
	if tm.C() != nil {
		t.Fatal("fired timer still running")
	}
	tm.start(10 * time.Millisecond)
	tm.stop()
	if tm.C() != nil {
		t.Fatal("stopped timer has a channel")
	}
	tm.start(time.Hour)
	select {
	case <-tm.C():
		t.Fatal("stale expiry after restart")
	case <-time.After(30 * time.Millisecond):
	}
	tm.stop()
}
