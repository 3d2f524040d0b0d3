package archive

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// integrityRecorder collects integrity events; it is the hook of these
// tests.
type integrityRecorder struct {
	mu  sync.Mutex
	evs []IntegrityEvent
}

func (r *integrityRecorder) add(ev IntegrityEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
}

// take returns the events so far and forgets them.
func (r *integrityRecorder) take() []IntegrityEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}

var integrityNow = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

// newIntegrityEnv is an archive without background repairer whose
// OnIntegrity hook records into rec, with one stored instance.
func newIntegrityEnv(t *testing.T, repairer bool) (*env, *integrityRecorder, synth, []byte) {
	t.Helper()
	rec := &integrityRecorder{}
	e := newEnv(t, func(o *Options) {
		o.NoRepairer = !repairer
		o.OnIntegrity = rec.add
		o.Now = func() time.Time { return integrityNow }
		// Reads use the data shares (0 and 1) unless one fails: the
		// tests below damage a data share and expect the read to find it.
		o.ReadHedge = time.Hour
	})
	s := newSynth("", "", 3000)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	want, _ := readAll(t, e.a, s.SOP)
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("events from a clean store and read: %+v", evs)
	}
	return e, rec, s, want
}

// sharePath is the file of share i of sop.
func (e *env) sharePath(t *testing.T, sop string, i int) (path, name string) {
	t.Helper()
	r, err := e.a.Lookup(ctxb, sop)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Shares {
		if s.Index == i {
			return e.objectPath(i, s.Name), s.Name
		}
	}
	t.Fatalf("share %d of %s not indexed", i, sop)
	return "", ""
}

// tamper rewrites a share file with f applied to its bytes.
func tamper(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func flipAt(off int) func([]byte) []byte {
	return func(b []byte) []byte {
		at := off
		if at < 0 {
			at += len(b)
		}
		b[at] ^= 0x01
		return b
	}
}

// checkEvent fails unless ev names store i, share name, one of problems,
// found and repaired, with the instance's identifiers and the clock's time.
func checkEvent(t *testing.T, ev IntegrityEvent, sop string, objectID string, i int, name string,
	problems []IntegrityProblem, found IntegrityCheck, repaired bool) {
	t.Helper()
	if ev.SOPInstanceUID != sop || ev.ObjectID != objectID || ev.Store != i || ev.Share != name ||
		!slices.Contains(problems, ev.Problem) || ev.Found != found || ev.Repaired != repaired || !ev.When.Equal(integrityNow) {
		t.Fatalf("event %+v;\nwant SOP %s, object %s, store %d, share %q, problem in %v, found by %v, repaired %v",
			ev, sop, objectID, i, name, problems, found, repaired)
	}
}

// TestIntegrityHook (adversarial row 34): every kind of damage to one data
// share makes Open fire the hook exactly once, naming the store, the share
// object and the problem, while the instance is still served byte for
// byte; Verify(repair) then fires once with Repaired set, and a second
// Verify fires nothing.
func TestIntegrityHook(t *testing.T) {
	content := []IntegrityProblem{ProblemHash, ProblemAuth, ProblemHeader}
	cases := []struct {
		name  string
		store int // a data share (0 or 1, k = 2): Open reads it first
		f     func(string) error
		want  []IntegrityProblem
	}{
		{"flip common header", 0, fileFunc(flipAt(10)), content},
		{"flip wrapped key", 1, fileFunc(flipAt(60)), content},
		{"flip body", 0, fileFunc(flipAt(200)), content},
		{"flip trailer", 1, fileFunc(flipAt(-3)), content},
		{"truncate", 0, fileFunc(func(b []byte) []byte { return b[:len(b)-5] }), []IntegrityProblem{ProblemSize}},
		{"append", 1, fileFunc(func(b []byte) []byte { return append(b, 0) }), []IntegrityProblem{ProblemSize}},
		{"remove", 0, os.Remove, []IntegrityProblem{ProblemMissing}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, rec, s, want := newIntegrityEnv(t, false)
			r, _ := e.a.Lookup(ctxb, s.SOP)
			path, name := e.sharePath(t, s.SOP, tc.store)
			if err := tc.f(path); err != nil {
				t.Fatal(err)
			}
			if got, _ := readAll(t, e.a, s.SOP); !bytes.Equal(got, want) {
				t.Fatal("degraded read: bytes differ")
			}
			evs := rec.take()
			if len(evs) != 1 {
				t.Fatalf("Open: %d events, want 1: %+v", len(evs), evs)
			}
			checkEvent(t, evs[0], s.SOP, r.ObjectID, tc.store, name, tc.want, FoundByRead, false)
			if tc.want[0] == ProblemMissing && evs[0].Err == nil {
				t.Error("missing share: the event carries no cause")
			}
			readProblem := evs[0].Problem

			if _, err := e.a.Verify(ctxb, false, nil); err != nil {
				t.Fatal(err)
			}
			evs = rec.take()
			if len(evs) != 1 {
				t.Fatalf("Verify: %d events, want 1: %+v", len(evs), evs)
			}
			// Verify compares sizes and hashes only: a changed byte is a hash problem.
			vwant := []IntegrityProblem{ProblemHash}
			if readProblem == ProblemSize || readProblem == ProblemMissing {
				vwant = []IntegrityProblem{readProblem}
			}
			checkEvent(t, evs[0], s.SOP, r.ObjectID, tc.store, name, vwant, FoundByVerify, false)

			if _, err := e.a.Verify(ctxb, true, nil); err != nil {
				t.Fatal(err)
			}
			evs = rec.take()
			if len(evs) != 1 {
				t.Fatalf("Verify(repair): %d events, want 1: %+v", len(evs), evs)
			}
			checkEvent(t, evs[0], s.SOP, r.ObjectID, tc.store, name, vwant, FoundByVerify, true)

			mustVerifyClean(t, e.a)
			if got, _ := readAll(t, e.a, s.SOP); !bytes.Equal(got, want) {
				t.Fatal("after repair: bytes differ")
			}
			if evs := rec.take(); len(evs) != 0 {
				t.Fatalf("events after the repair: %+v", evs)
			}
		})
	}
}

func fileFunc(f func([]byte) []byte) func(string) error {
	return func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		os.Chmod(p, 0o600)
		return os.WriteFile(p, f(b), 0o600)
	}
}

// TestIntegrityHookStoreDown: a store that cannot be read is a missing
// share (with the store's error), on every read until it is back; a
// parity share is not read while the data shares are good, so its damage
// is found by Verify only.
func TestIntegrityHookStoreDown(t *testing.T) {
	e, rec, s, want := newIntegrityEnv(t, false)
	_, name := e.sharePath(t, s.SOP, 1)
	e.faulty[1].SetDown(true)
	for range 2 {
		if got, _ := readAll(t, e.a, s.SOP); !bytes.Equal(got, want) {
			t.Fatal("bytes differ")
		}
		evs := rec.take()
		if len(evs) != 1 || evs[0].Err == nil {
			t.Fatalf("store 1 down: events %+v, want one with a cause", evs)
		}
		checkEvent(t, evs[0], s.SOP, evs[0].ObjectID, 1, name, []IntegrityProblem{ProblemMissing}, FoundByRead, false)
	}
	e.faulty[1].SetDown(false)

	path, name := e.sharePath(t, s.SOP, 3)
	tamper(t, path, flipAt(100))
	readAll(t, e.a, s.SOP)
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("parity share damaged, data shares read: events %+v", evs)
	}
	rep, err := e.a.Verify(ctxb, true, nil)
	if err != nil || rep.Stores[3].Repaired != 1 {
		t.Fatalf("Verify(repair): %v, %v", rep, err)
	}
	evs := rec.take()
	if len(evs) != 1 {
		t.Fatalf("Verify(repair): events %+v", evs)
	}
	checkEvent(t, evs[0], s.SOP, evs[0].ObjectID, 3, name, []IntegrityProblem{ProblemHash}, FoundByVerify, true)
}

// TestIntegrityHookUnavailable: with fewer than k good shares Open fails
// closed and still reports every bad share it found.
func TestIntegrityHookUnavailable(t *testing.T) {
	e, rec, s, _ := newIntegrityEnv(t, false)
	for _, i := range []int{0, 2, 3} {
		e.faulty[i].SetDown(true)
	}
	if _, err := e.a.Open(ctxb, s.SOP); err == nil {
		t.Fatal("Open with 3 stores down succeeded")
	}
	var stores []int
	for _, ev := range rec.take() {
		if ev.Problem != ProblemMissing || ev.Found != FoundByRead {
			t.Errorf("event %+v", ev)
		}
		stores = append(stores, ev.Store)
	}
	if fmt.Sprint(stores) != "[0 2 3]" {
		t.Fatalf("events name stores %v, want [0 2 3]", stores)
	}
}

// TestIntegrityHookRepairer: with the background repairer on, a degraded
// read fires once (found by the read, not repaired), then the repairer
// fires once for the same share with Repaired set.
func TestIntegrityHookRepairer(t *testing.T) {
	e, rec, s, want := newIntegrityEnv(t, true)
	path, name := e.sharePath(t, s.SOP, 0)
	tamper(t, path, flipAt(200))
	if got, _ := readAll(t, e.a, s.SOP); !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
	var evs []IntegrityEvent
	deadline := time.Now().Add(10 * time.Second)
	for len(evs) < 2 && time.Now().Before(deadline) {
		evs = append(evs, rec.take()...)
		time.Sleep(5 * time.Millisecond)
	}
	if len(evs) != 2 {
		t.Fatalf("events %+v, want the read's and the repairer's", evs)
	}
	content := []IntegrityProblem{ProblemHash, ProblemAuth, ProblemHeader}
	checkEvent(t, evs[0], s.SOP, evs[0].ObjectID, 0, name, content, FoundByRead, false)
	checkEvent(t, evs[1], s.SOP, evs[0].ObjectID, 0, name, []IntegrityProblem{ProblemHash}, FoundByRepairer, true)
	mustVerifyClean(t, e.a)
}

// TestIntegrityHookNoLock: the hook runs without the instance's lock held
// (it may call the archive on the same instance), and observers added by
// ObserveIntegrity see the events after Options.OnIntegrity until removed.
func TestIntegrityHookNoLock(t *testing.T) {
	e, rec, s, _ := newIntegrityEnv(t, false)
	var order []string
	var mu sync.Mutex
	locked := func(tag string) func(IntegrityEvent) {
		return func(ev IntegrityEvent) {
			done := make(chan struct{})
			go func() { e.a.locks.lock(ev.SOPInstanceUID)(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Errorf("%s: hook called with the instance lock held", tag)
				return
			}
			mu.Lock()
			order = append(order, tag)
			mu.Unlock()
		}
	}
	remove1 := e.a.ObserveIntegrity(locked("a"))
	e.a.ObserveIntegrity(locked("b"))
	e.a.ObserveIntegrity(nil)()
	path, _ := e.sharePath(t, s.SOP, 1)
	tamper(t, path, flipAt(200))
	readAll(t, e.a, s.SOP)
	remove1()
	remove1()
	if _, err := e.a.Verify(ctxb, true, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.take()); n != 2 {
		t.Fatalf("OnIntegrity saw %d events, want 2", n)
	}
	if fmt.Sprint(order) != "[a b b]" {
		t.Fatalf("observers called %v, want [a b b] (a removed before Verify)", order)
	}
}
