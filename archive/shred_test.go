package archive

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/pipeline"
	"github.com/shardpacs/shardpacs/archive/shredkeys"
	"github.com/shardpacs/shardpacs/archive/store/fsstore"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
)

// shredOn reopens e in shred mode, with the key store at
// <dir>/shred-keys.db (the OpenDir default beside master.key).
func (e *env) shredOn(t testing.TB) {
	t.Helper()
	e.opts.ShredKeyPath = filepath.Join(e.dir, "shred-keys.db")
	e.opts.Shred = true
	e.reopen(t)
}

func newShredEnv(t testing.TB, tweak func(*Options)) *env {
	e := newEnv(t, tweak)
	e.shredOn(t)
	return e
}

// headers returns the parsed header of every share of an indexed instance.
func (e *env) headers(t testing.TB, sop string) []*pipeline.Header {
	t.Helper()
	rec, err := e.a.Lookup(ctxb, sop)
	if err != nil {
		t.Fatal(err)
	}
	var out []*pipeline.Header
	for _, s := range rec.Shares {
		h, err := e.a.shareHeader(ctxb, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

func (e *env) keyCount(t testing.TB) int {
	t.Helper()
	l, err := e.a.ShredKeys().List(ctxb)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// copyDir copies a directory tree (a store snapshot).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	for _, f := range walkFiles(t, src) {
		rel, _ := filepath.Rel(src, f)
		b := readFile(t, f)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShredDeleteRow39 is adversarial row 39 in shred mode: snapshot the
// four store folders, delete a study; C-FIND finds nothing; the deleted
// instances' shares in the snapshot do not decrypt with the KEK (their
// shred key is destroyed: pipeline.ErrShredKeyMissing), not even by a
// reindex of the snapshot, while the instance not deleted, in the same
// snapshot, still opens. (TestDelete shows the default mode, where the
// snapshot does decrypt.)
func TestShredDeleteRow39(t *testing.T) {
	e := newShredEnv(t, func(o *Options) { o.NoRepairer = true })
	study, sops, other := e.storeStudyAndOther(t, 3, 2000)
	if n := e.keyCount(t); n != 4 {
		t.Fatalf("%d shred keys, want 4", n)
	}
	rec, _ := e.a.Lookup(ctxb, sops[0])
	snap := t.TempDir()
	for i := range 4 {
		copyDir(t, e.storeFS[i], filepath.Join(snap, fmt.Sprint(i)))
	}
	keyCopy := filepath.Join(t.TempDir(), "shred-keys-before.db") // a key store backup from before the delete
	copyDir(t, e.dir, filepath.Join(filepath.Dir(keyCopy), "d"))
	keyCopy = filepath.Join(filepath.Dir(keyCopy), "d", "shred-keys.db")

	n, err := e.a.Delete(ctxb, index.LevelStudy, study)
	if err != nil || n != 3 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	q := &index.Query{Root: index.StudyRoot, Level: index.LevelStudy,
		Keys: []index.Key{{Tag: dcm.TagStudyInstanceUID, Value: study}}}
	found := 0
	if err := e.a.Query(ctxb, q, func(index.Match) error { found++; return nil }); err != nil || found != 0 {
		t.Fatalf("C-FIND after delete: %d matches, %v", found, err)
	}
	if n := e.keyCount(t); n != 1 {
		t.Fatalf("%d shred keys after delete, want 1", n)
	}

	// The snapshot's shares of a deleted instance, with the KEK: through
	// the live key store, through the bare keyring, and through no store.
	shares := map[int][]byte{}
	for _, s := range rec.Shares {
		shares[s.Index] = readFile(t, filepath.Join(snap, fmt.Sprint(s.Index), s.Name[:2], s.Name))
	}
	rd := func() map[int]io.Reader {
		return map[int]io.Reader{0: bytes.NewReader(shares[0]), 3: bytes.NewReader(shares[3])}
	}
	for name, kw := range map[string]pipeline.KeyWrapper{
		"KEK + live key store": &pipeline.ShredWrapper{KEK: e.kr, Keys: storeKeys{e.a.ShredKeys()}},
		"KEK alone":            e.kr,
	} {
		_, _, err := pipeline.DecodeBytes(ctxb, kw, rd(), nil, 0)
		if !errors.Is(err, pipeline.ErrShredKeyMissing) {
			t.Errorf("%s: snapshot of a deleted instance: %v, want pipeline.ErrShredKeyMissing", name, err)
		}
	}

	// A reindex of the whole snapshot with the KEK and the live key store:
	// the deleted study stays deleted, the other instance is back.
	var sopts Options
	for i := range 4 {
		s, err := fsstore.Open(filepath.Join(snap, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		sopts.Stores[i] = s
	}
	sopts.IndexPath = filepath.Join(t.TempDir(), "index.db")
	sopts.Keyring, sopts.ShredKeys, sopts.NoRepairer = e.kr, e.a.ShredKeys(), true
	sa, err := Open(ctxb, sopts)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	rep, err := sa.Reindex(ctxb)
	if err != nil || rep.Indexed != 1 || rep.Shredded != 3 || rep.Failed != 0 {
		t.Fatalf("reindex of the snapshot: %+v, %v", rep, err)
	}
	if !errors.Is(rep.Errors[0], ErrShredKeyMissing) || !strings.Contains(rep.Errors[0].Error(), "object ") {
		t.Errorf("shredded object reported as %v", rep.Errors[0])
	}
	if _, got := readAll(t, sa, other.SOP); !bytes.Equal(got, other.dataSet()) {
		t.Fatal("the instance not deleted does not read back from the snapshot")
	}
	for _, sop := range sops {
		if _, err := sa.Open(ctxb, sop); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted instance in the reindexed snapshot: %v", err)
		}
	}

	// What the guarantee rests on (docs/security.md §7): a copy of the key
	// store made before the delete still holds the key.
	old, err := shredkeys.Open(ctxb, keyCopy, shredkeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, _, err := pipeline.DecodeBytes(ctxb, &pipeline.ShredWrapper{KEK: e.kr, Keys: storeKeys{old}}, rd(), nil, 0); err != nil {
		t.Fatalf("with a key store backup from before the delete: %v (docs/security.md says this decrypts)", err)
	}
}

// TestShredLifecycle: round trip (buffered and streamed sizes), degraded
// read with two stores gone, verify --repair, KEK rotation + rewrap +
// retire, all in shred mode; every share stays shred-sealed.
func TestShredLifecycle(t *testing.T) {
	e := newShredEnv(t, func(o *Options) { o.NoRepairer = true })
	var sops []string
	var sets [][]byte
	for _, size := range []int{300, 150_000, 5 << 20} {
		s := newSynth("", "", size)
		if _, err := e.a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		sops, sets = append(sops, s.SOP), append(sets, s.dataSet())
	}
	check := func(when string, headers bool) {
		t.Helper()
		for i, sop := range sops {
			if _, got := readAll(t, e.a, sop); !bytes.Equal(got, sets[i]) {
				t.Fatalf("%s: instance %d differs", when, i)
			}
			if !headers {
				continue
			}
			for _, h := range e.headers(t, sop) {
				if !h.ShredSealed {
					t.Fatalf("%s: share %d of instance %d is not shred-sealed", when, h.Index, i)
				}
			}
		}
	}
	check("stored", true)

	e.faulty[0].SetDown(true)
	e.faulty[2].SetDown(true)
	check("stores 0 and 2 down", false)
	e.faulty[0].SetDown(false)
	e.faulty[2].SetDown(false)

	for _, sop := range sops {
		rec, _ := e.a.Lookup(ctxb, sop)
		for _, s := range rec.Shares {
			if s.Index == 1 || s.Index == 3 {
				os.Remove(e.objectPath(s.Index, s.Name))
			}
		}
	}
	rep, err := e.a.Verify(ctxb, true, nil)
	if err != nil || rep.Stores[1].Repaired != 3 || rep.Stores[3].Repaired != 3 {
		t.Fatalf("verify --repair: %v, %v", rep, err)
	}
	mustVerifyClean(t, e.a)
	check("repaired", true)

	v2, err := e.kr.Rotate(e.krPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.a.RewrapKeys(ctxb); err != nil || n != 12 {
		t.Fatalf("RewrapKeys = %d, %v", n, err)
	}
	if use, _ := e.a.KEKUsage(ctxb); use[v2] != 12 || len(use) != 1 {
		t.Fatalf("usage after rewrap: %v", use)
	}
	if err := e.kr.Retire(e.krPath, 1); err != nil {
		t.Fatal(err)
	}
	check("rewrapped", true)
	mustVerifyClean(t, e.a)
	if n := e.keyCount(t); n != 3 {
		t.Fatalf("%d keys, want 3 (repair and rewrap keep the object's key)", n)
	}
}

// TestShredReindex: rm index.db → Reindex (stores + KEK + key store) gives
// identical query results; without the key store, every shred-sealed
// object is a failure naming it, and OpenDir refuses to start.
func TestShredReindex(t *testing.T) {
	e := newShredEnv(t, func(o *Options) { o.NoRepairer = true })
	for i, f := range corpusSample(t) {
		if i%3 == 0 {
			e.a.StoreFile(ctxb, f, "MODALITY")
		}
	}
	study := newUID()
	for range 4 {
		if _, err := e.a.Store(ctxb, newSynth(study, "", 100).instance()); err != nil {
			t.Fatal(err)
		}
	}
	before := queryAll(t, e.a)
	rows := len(before[index.LevelImage])
	if rows < 15 {
		t.Fatalf("only %d instances", rows)
	}
	dropIndex := func() {
		e.a.Close()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(e.opts.IndexPath + suffix)
		}
		e.open(t)
	}
	dropIndex()
	rep, err := e.a.Reindex(ctxb)
	if err != nil || rep.Indexed != rows || rep.Failed+rep.Shredded != 0 {
		t.Fatalf("Reindex = %+v, %v", rep, err)
	}
	if after := queryAll(t, e.a); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("query results differ after reindex")
	}
	mustVerifyClean(t, e.a)

	// Without the key store.
	e.a.Close()
	keyFile := e.opts.ShredKeyPath
	hidden := keyFile + ".away"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Rename(keyFile+suffix, hidden+suffix)
	}
	cfg := config.Default()
	cfg.DataDir = e.dir
	cfg.ShredKeys = true
	if _, err := OpenDir(ctxb, cfg, Options{NoRepairer: true}); !errors.Is(err, ErrShredKeysMissing) || !strings.Contains(err.Error(), keyFile) {
		t.Fatalf("OpenDir without the key store: %v, want ErrShredKeysMissing naming %s", err, keyFile)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("OpenDir created a key store over existing data")
	}
	e.opts.ShredKeyPath, e.opts.Shred = "", false
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(e.opts.IndexPath + suffix)
	}
	e.open(t)
	rep, err = e.a.Reindex(ctxb)
	if err != nil || rep.Indexed != 0 || rep.Failed != rows {
		t.Fatalf("Reindex without key store = %+v, %v", rep, err)
	}
	for _, ferr := range rep.Errors {
		if !errors.Is(ferr, ErrShredKeyMissing) || !strings.HasPrefix(ferr.Error(), "object ") || !strings.Contains(ferr.Error(), "no shred key store") {
			t.Fatalf("failure not naming the object and the missing key store: %v", ferr)
		}
	}

	// Back with the key store (shred_keys off: it is opened because it exists).
	e.a.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Rename(hidden+suffix, keyFile+suffix)
		os.Remove(e.opts.IndexPath + suffix)
	}
	cfg.ShredKeys = false
	a, err := OpenDir(ctxb, cfg, Options{NoRepairer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if rep, err := a.Reindex(ctxb); err != nil || rep.Indexed != rows {
		t.Fatalf("Reindex with the key store back: %+v, %v", rep, err)
	}
}

// TestShredModeTurnedOn: an archive with instances stored before shred
// mode reads them after it is turned on (and new ones are sealed), and
// both kinds after it is turned off again while the key store stays.
func TestShredModeTurnedOn(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.NoRepairer = true })
	plain := newSynth("", "", 4000)
	if _, err := e.a.Store(ctxb, plain.instance()); err != nil {
		t.Fatal(err)
	}
	// OpenDir refuses to create the key store over data; CreateShredKeys does.
	cfg := config.Default()
	cfg.DataDir, cfg.ShredKeys = e.dir, true
	e.a.Close()
	if _, err := OpenDir(ctxb, cfg, Options{NoRepairer: true}); !errors.Is(err, ErrShredKeysMissing) {
		t.Fatalf("OpenDir turning shred mode on over data: %v", err)
	}
	if _, err := CreateShredKeys(ctxb, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateShredKeys(ctxb, cfg); err == nil {
		t.Fatal("CreateShredKeys over an existing key store succeeded")
	}
	a, err := OpenDir(ctxb, cfg, Options{NoRepairer: true})
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	defer a.Close()
	sealed := newSynth("", "", 4000)
	if _, err := a.Store(ctxb, sealed.instance()); err != nil {
		t.Fatal(err)
	}
	if e.headers(t, plain.SOP)[0].ShredSealed || !e.headers(t, sealed.SOP)[0].ShredSealed {
		t.Fatal("old instance sealed, or new one not")
	}
	readAll(t, a, plain.SOP)
	readAll(t, a, sealed.SOP)

	a.Close()
	cfg.ShredKeys = false
	a, err = OpenDir(ctxb, cfg, Options{NoRepairer: true})
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	defer a.Close()
	third := newSynth("", "", 4000)
	a.Store(ctxb, third.instance())
	if e.headers(t, third.SOP)[0].ShredSealed {
		t.Fatal("shred mode off, new instance sealed")
	}
	for _, sop := range []string{plain.SOP, sealed.SOP, third.SOP} {
		readAll(t, a, sop)
	}
	// Delete still shreds an instance stored in shred mode.
	if n := e.keyCount(t); n != 1 {
		t.Fatalf("%d keys, want 1", n)
	}
	if _, err := a.Delete(ctxb, index.LevelImage, sealed.SOP); err != nil {
		t.Fatal(err)
	}
	if n := e.keyCount(t); n != 0 {
		t.Fatalf("%d keys after deleting the sealed instance, want 0", n)
	}
}

// TestShredGarbage: CollectGarbage destroys a key whose object has no
// index row and no share (a crashed write), keeps a key whose unindexed
// shares still exist (reindex needs it), and never touches the key of a
// write in flight; a write that misses its quorum destroys its own key.
func TestShredGarbage(t *testing.T) {
	clock := time.Now().Add(-2 * time.Hour) // keys made "2 h ago"; share files are as new as the wall clock
	e := newShredEnv(t, func(o *Options) {
		o.NoRepairer = true
		o.Now = func() time.Time { return clock }
	})
	keep := newSynth("", "", 500)
	if _, err := e.a.Store(ctxb, keep.instance()); err != nil {
		t.Fatal(err)
	}
	lost := newSynth("", "", 500) // index row lost, shares kept
	if _, err := e.a.Store(ctxb, lost.instance()); err != nil {
		t.Fatal(err)
	}
	lostRec, _ := e.a.Lookup(ctxb, lost.SOP)
	if _, err := e.a.Index().Delete(ctxb, lost.SOP); err != nil {
		t.Fatal(err)
	}
	orphanID, key, err := e.a.newShredKey(ctxb) // a write that crashed after its key
	if err != nil {
		t.Fatal(err)
	}
	clear(key)
	e.a.doneInflightID(orphanID)

	clock = time.Now()
	if _, err := e.a.CollectGarbage(ctxb, time.Hour); err != nil {
		t.Fatal(err)
	}
	has := func(id string) bool {
		b, _ := hex.DecodeString(id)
		ok, err := e.a.ShredKeys().Has(ctxb, [16]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	rec, _ := e.a.Lookup(ctxb, keep.SOP)
	switch {
	case has(hex.EncodeToString(orphanID[:])):
		t.Fatal("the orphan key survived")
	case !has(lostRec.ObjectID):
		t.Fatal("a key whose shares exist was destroyed")
	case !has(rec.ObjectID):
		t.Fatal("an indexed instance's key was destroyed")
	}
	if rep, err := e.a.Reindex(ctxb); err != nil || rep.Indexed != 1 {
		t.Fatalf("reindex of the unindexed shares: %+v, %v", rep, err)
	}
	readAll(t, e.a, lost.SOP)

	// Now the shares go (index row deleted again, GC with no grace): the key follows.
	e.a.Index().Delete(ctxb, lost.SOP)
	if _, err := e.a.CollectGarbage(ctxb, 0); err != nil {
		t.Fatal(err)
	}
	if has(lostRec.ObjectID) || e.keyCount(t) != 1 {
		t.Fatalf("after the shares went: %d keys, want 1", e.keyCount(t))
	}

	// In flight: GC at the moment the key is durable and no share written.
	var sawKey bool
	e.a.opts.testHook = func(point string) {
		if point != "shred-key" {
			return
		}
		before := e.keyCount(t)
		if _, err := e.a.CollectGarbage(ctxb, 0); err != nil {
			t.Error(err)
		}
		sawKey = e.keyCount(t) == before
	}
	if _, err := e.a.Store(ctxb, newSynth("", "", 500).instance()); err != nil {
		t.Fatal(err)
	}
	e.a.opts.testHook = nil
	if !sawKey {
		t.Fatal("CollectGarbage destroyed the key of a write in flight")
	}

	// A refused write (quorum not met) takes its key with it.
	for i := range 2 {
		e.faulty[i].FailOp("put", syscall.EIO)
	}
	before := e.keyCount(t)
	if _, err := e.a.Store(ctxb, newSynth("", "", 500).instance()); !errors.Is(err, ErrOutOfResources) {
		t.Fatalf("store with two stores failing: %v", err)
	}
	if n := e.keyCount(t); n != before {
		t.Fatalf("%d keys after a refused write, want %d", n, before)
	}
}

// TestShredOrder checks the durable order at every store operation: each
// share Put finds the instance's shred key already stored; each share
// Delete (of a replaced, then of a deleted instance) finds the key of the
// object it deletes still there, so a crash between them never leaves a
// share without its key; in the end no key is left.
func TestShredOrder(t *testing.T) {
	e := newShredEnv(t, func(o *Options) { o.NoRepairer = true; o.Duplicates = Replace })
	var mu sync.Mutex
	var puts, deletes, wantKeys int
	var failures []string
	// The key's commit runs beside the encoding: hold it back a little, so
	// that a Put that did not wait for it would run first and be seen.
	putSeen := make(chan struct{}, 8)
	e.a.opts.testHook = func(point string) {
		if point == "shred-key:put" {
			select {
			case <-putSeen:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	for i := range 4 {
		inner := e.faulty[i].Inner()
		e.faulty[i].Before(func(op, name string) error {
			mu.Lock()
			defer mu.Unlock()
			switch op {
			case "put":
				select {
				case putSeen <- struct{}{}:
				default:
				}
				puts++
				if n := e.keyCount(t); n != wantKeys {
					failures = append(failures, fmt.Sprintf("share put with %d keys stored, want %d", n, wantKeys))
				}
			case "delete":
				deletes++
				rc, err := inner.Open(ctxb, name)
				if err != nil {
					failures = append(failures, err.Error())
					return nil
				}
				h, err := pipeline.ParseHeader(rc)
				rc.Close()
				if err != nil {
					failures = append(failures, err.Error())
					return nil
				}
				if ok, _ := e.a.ShredKeys().Has(ctxb, h.ObjectID); !ok {
					failures = append(failures, fmt.Sprintf("share of object %x deleted after its key", h.ObjectID))
				}
			}
			return nil
		})
	}
	set := func(n int) { mu.Lock(); wantKeys = n; mu.Unlock() }
	s := newSynth("", "", 800)
	set(1)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	s.Payload = append(s.Payload, 1, 2) // different content: replaced
	set(2)
	if out, err := e.a.Store(ctxb, s.instance()); err != nil || out != Replaced {
		t.Fatalf("replace: %v, %v", out, err)
	}
	if n := e.keyCount(t); n != 1 {
		t.Fatalf("%d keys after the replace, want 1", n)
	}
	if _, err := e.a.Delete(ctxb, index.LevelImage, s.SOP); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if puts != 8 || deletes != 8 {
		t.Fatalf("%d puts, %d deletes, want 8 and 8", puts, deletes)
	}
	for _, f := range failures {
		t.Error(f)
	}
	if n := e.keyCount(t); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}
