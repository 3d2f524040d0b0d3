package archive

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"
)

// TestOpenBufferReused: the decoded instance of Open lives in a pooled
// buffer. Two instances opened one after the other each read back exactly
// (the second never shows the first's bytes), a closed Object reads as
// empty instead of showing whatever the buffer holds next, Close may be
// called twice, and — without the race detector, which makes sync.Pool
// drop items — opening a 512 KiB instance again and again allocates far
// less than its size each time.
func TestOpenBufferReused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b := newSynth("", "", 512<<10), newSynth("", "", 512<<10)
	for i := range b.Payload {
		b.Payload[i] ^= 0x5a
	}
	for _, s := range []synth{a, b} {
		if _, err := e.a.Store(ctx, s.instance()); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]byte{a.SOP: a.dataSet(), b.SOP: b.dataSet()}
	for _, sop := range []string{a.SOP, b.SOP, a.SOP, b.SOP} {
		obj, err := e.a.Open(ctx, sop)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj.DataSet())
		if err != nil || !bytes.Equal(got, want[sop]) {
			t.Fatalf("%s: read %d bytes (%v), not the data set stored", sop, len(got), err)
		}
		if err := obj.Close(); err != nil {
			t.Fatal(err)
		}
		if err := obj.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if n, _ := obj.ReadAt(make([]byte, 16), 0); n != 0 {
			t.Fatalf("%s: %d bytes read after Close", sop, n)
		}
	}
	if raceBuild {
		t.Log("allocation check skipped under -race (sync.Pool drops items)")
		return
	}
	open := func() {
		obj, err := e.a.Open(ctx, a.SOP)
		if err != nil {
			t.Fatal(err)
		}
		obj.Close()
	}
	open()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 20
	for range n {
		open()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 256<<10 {
		t.Errorf("Open allocates %d KiB per 512 KiB instance; the instance buffer is not reused", per>>10)
	}
}
