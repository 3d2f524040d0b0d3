package archive

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
)

// OpenRecord reads from a record looked up earlier (C-MOVE's list). A
// record gone stale is not damage: after the instance was replaced the
// current one is read, after it was deleted the answer is ErrNotFound, and
// neither raises an integrity event. Real damage under a current record is
// reported as Open reports it.
func TestOpenRecordStale(t *testing.T) {
	rec := &integrityRecorder{}
	e := newEnv(t, func(o *Options) {
		o.NoRepairer, o.OnIntegrity, o.Duplicates = true, rec.add, Replace
		// Reads start with the data shares 0 and 1: the share removed
		// below is always tried, so its absence always found.
		o.ReadHedge = time.Hour
	})
	s := newSynth("", "", 3000)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	openRec := func(r *index.InstanceRecord) ([]byte, error) {
		t.Helper()
		o, err := e.a.OpenRecord(ctxb, r)
		if err != nil {
			return nil, err
		}
		defer o.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(o); err != nil {
			t.Fatal(err)
		}
		return b.Bytes(), nil
	}
	first, err := e.a.Lookup(ctxb, s.SOP)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := readAll(t, e.a, s.SOP)
	if got, err := openRec(first); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("current record: err %v, bytes equal %v", err, bytes.Equal(got, want))
	}

	// Replaced: the old shares are deleted; the stale record reads the new.
	s.Payload = append(s.Payload, "changed"...)
	if out, err := e.a.Store(ctxb, s.instance()); err != nil || out != Replaced {
		t.Fatalf("replace: %v, %v", out, err)
	}
	want2, _ := readAll(t, e.a, s.SOP)
	if got, err := openRec(first); err != nil || !bytes.Equal(got, want2) {
		t.Fatalf("stale record after replace: err %v, bytes of the new instance %v", err, bytes.Equal(got, want2))
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("stale record after replace: integrity events %+v, want none", evs)
	}

	// Damage under the current record is reported, once, and served.
	second, err := e.a.Lookup(ctxb, s.SOP)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := e.sharePath(t, s.SOP, 0)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got, err := openRec(second); err != nil || !bytes.Equal(got, want2) {
		t.Fatalf("one share missing: err %v", err)
	}
	if evs := rec.take(); len(evs) != 1 || evs[0].Problem != ProblemMissing || evs[0].Store != 0 {
		t.Fatalf("one share missing: integrity events %+v, want one, store 0 missing", evs)
	}

	// Deleted: ErrNotFound, no event.
	if _, err := e.a.Delete(ctxb, index.LevelImage, s.SOP); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*index.InstanceRecord{first, second} {
		if _, err := openRec(r); !errors.Is(err, ErrNotFound) {
			t.Fatalf("stale record after delete: %v, want ErrNotFound", err)
		}
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("stale record after delete: integrity events %+v, want none", evs)
	}
}
