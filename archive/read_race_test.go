package archive

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// openCounter counts Opens per store through the Faulty stores' hooks.
type openCounter struct {
	mu sync.Mutex
	n  [4]int
}

func (c *openCounter) install(e *env) {
	for i := range 4 {
		e.faulty[i].Before(func(op, _ string) error {
			if op == "open" {
				c.mu.Lock()
				c.n[i]++
				c.mu.Unlock()
			}
			return nil
		})
	}
}

func (c *openCounter) counts() [4]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = [4]int{}
	return n
}

// openWithin opens sop with a deadline, so that a read waiting on a hung
// store fails the test instead of hanging it.
func openWithin(t *testing.T, a *Archive, sop string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o, err := a.Open(ctx, sop)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer o.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Open reads the fastest k shares (issue 3): with the stores of one and
// then both data shares hung (they answer only when cancelled), the
// instance is served from the others, the hung opens are cancelled, and
// nothing is reported as damaged.
func TestOpenFastestK(t *testing.T) {
	rec := &integrityRecorder{}
	e := newEnv(t, func(o *Options) { o.NoRepairer, o.OnIntegrity = true, rec.add })
	s := newSynth("", "", 2000)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	want, _ := readAll(t, e.a, s.SOP)
	for _, hung := range [][]int{{0}, {0, 1}, {1, 3}} {
		var before [4]int
		for _, i := range hung {
			before[i] = e.faulty[i].CancelledOpens()
			e.faulty[i].StallOpen(-1)
		}
		if got := openWithin(t, e.a, s.SOP); !bytes.Equal(got, want) {
			t.Fatalf("stores %v hung: bytes differ", hung)
		}
		for _, i := range hung {
			if n := e.faulty[i].CancelledOpens() - before[i]; n != 1 {
				t.Fatalf("stores %v hung: store %d saw %d cancelled opens, want 1", hung, i, n)
			}
			e.faulty[i].StallOpen(0)
		}
		if evs := rec.take(); len(evs) != 0 {
			t.Fatalf("stores %v hung: integrity events %+v, want none (slow is not damaged)", hung, evs)
		}
	}
	// Without a hedge every share is opened once per read.
	var c openCounter
	c.install(e)
	openWithin(t, e.a, s.SOP)
	if n := c.counts(); n != [4]int{1, 1, 1, 1} {
		t.Fatalf("opens per store %v, want one each", n)
	}
}

// With Options.ReadHedge the data shares are tried alone first: healthy
// stores see no parity open; a hung data share is bypassed after the
// delay; a data share that fails starts the others at once.
func TestOpenHedge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hedge  time.Duration
		arm    func(e *env)
		opens  [4]int
		events int
	}{
		{"healthy", time.Hour, func(*env) {}, [4]int{1, 1, 0, 0}, 0},
		{"hung data share", 30 * time.Millisecond, func(e *env) { e.faulty[0].StallOpen(-1) }, [4]int{1, 1, 1, 1}, 0},
		// Store 1's open fails before the counting hook: counted 0.
		{"failing data share", time.Hour, func(e *env) { e.faulty[1].FailOp("open", errors.New("disk gone")) }, [4]int{1, 0, 1, 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &integrityRecorder{}
			e := newEnv(t, func(o *Options) { o.NoRepairer, o.OnIntegrity, o.ReadHedge = true, rec.add, tc.hedge })
			s := newSynth("", "", 2000)
			if _, err := e.a.Store(ctxb, s.instance()); err != nil {
				t.Fatal(err)
			}
			want, _ := readAll(t, e.a, s.SOP)
			rec.take()
			var c openCounter
			c.install(e)
			tc.arm(e)
			if got := openWithin(t, e.a, s.SOP); !bytes.Equal(got, want) {
				t.Fatal("bytes differ")
			}
			if n := c.counts(); n != tc.opens {
				t.Fatalf("opens per store %v, want %v", n, tc.opens)
			}
			if evs := rec.take(); len(evs) != tc.events {
				t.Fatalf("integrity events %+v, want %d", evs, tc.events)
			}
		})
	}
}

// A read the caller gives up on (C-CANCEL, a timeout) while stores are
// slow is not an integrity problem: no alert, no repair, the caller's
// error.
func TestOpenCancelledIsNotDamage(t *testing.T) {
	rec := &integrityRecorder{}
	e := newEnv(t, func(o *Options) { o.NoRepairer, o.OnIntegrity = true, rec.add })
	s := newSynth("", "", 2000)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		e.faulty[i].StallOpen(-1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.a.Open(ctx, s.SOP); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with every store hung: %v, want the deadline", err)
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("integrity events after a cancelled read: %+v", evs)
	}
}
