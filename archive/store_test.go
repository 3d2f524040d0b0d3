package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

var ctxb = context.Background()

func TestStoreOpenSynthetic(t *testing.T) {
	for _, size := range []int{0, 1000, bufferLimit + 12345} { // buffered and piped writes
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			e := newEnv(t, nil)
			s := newSynth("", "", size)
			out, err := e.a.Store(ctxb, s.instance())
			if err != nil || out != Stored {
				t.Fatalf("Store = %v, %v", out, err)
			}
			canonical, ds := readAll(t, e.a, s.SOP)
			if !bytes.Equal(ds, s.dataSet()) {
				t.Fatal("data set differs")
			}
			if !bytes.Equal(canonical[128:132], []byte("DICM")) {
				t.Fatal("no DICM prefix")
			}
			rec, err := e.a.Lookup(ctxb, s.SOP)
			if err != nil || len(rec.Shares) != 4 || rec.SourceAE != "TESTSCU" || rec.Size != int64(len(canonical)) {
				t.Fatalf("record %+v, %v", rec, err)
			}
			if n := e.objectCount(t); n != 4 {
				t.Fatalf("%d objects, want 4", n)
			}
			mustVerifyClean(t, e.a)
		})
	}
}

func TestStoreRejectsBadUIDs(t *testing.T) {
	e := newEnv(t, nil)
	bad := []string{"../../etc/x", `..\..\x`, "1.2.3\x00", strings.Repeat("1", 65), "1.2.abc", "1.02.3", "1.2;rm -rf", "", "1..2", ".1.2"}
	for _, b := range bad {
		for _, field := range []string{"sop", "study", "series", "command"} {
			s := newSynth("", "", 10)
			in := s.instance()
			switch field {
			case "sop":
				s.SOP = b
				in = s.instance()
				in.SOPInstanceUID = ""
			case "study":
				s.Study = b
				in = s.instance()
			case "series":
				s.Series = b
				in = s.instance()
			case "command":
				in.SOPInstanceUID = b
			}
			if b == "1.2.3\x00" && field != "command" {
				continue // NUL is UI padding in a data set (PS3.5 §6.2): "1.2.3" is valid
			}
			_, err := e.a.Store(ctxb, in)
			var ide *InvalidDataSetError
			if b == "" && field == "command" {
				if err != nil {
					t.Fatalf("empty command UID must mean 'from the data set': %v", err)
				}
				continue
			}
			if !errors.As(err, &ide) || !errors.Is(err, ErrInvalidUID) {
				t.Fatalf("%s %q: err = %v, want InvalidDataSetError/ErrInvalidUID", field, b, err)
			}
		}
	}
	// Nothing but the one valid store above was written anywhere.
	if n := e.objectCount(t); n != 4 {
		t.Fatalf("%d objects in the stores, want 4", n)
	}
	for i := range 4 {
		for _, f := range walkFiles(t, e.storeFS[i]) {
			base := filepath.Base(f)
			if len(base) != 32 || strings.Trim(base, "0123456789abcdef") != "" {
				t.Fatalf("unexpected file %s", f)
			}
		}
	}
	if files := walkFiles(t, filepath.Join(e.dir, "..")); len(files) == 0 {
		t.Fatal("walk found nothing")
	}
}

func TestStoreErrors(t *testing.T) {
	e := newEnv(t, nil)
	s := newSynth("", "", 10)
	in := s.instance()
	in.SOPInstanceUID = newUID()
	if _, err := e.a.Store(ctxb, in); !errors.Is(err, ErrSOPMismatch) {
		t.Fatalf("mismatched instance UID: %v", err)
	}
	in = s.instance()
	in.SOPClassUID = uid.MRImageStorage
	if _, err := e.a.Store(ctxb, in); !errors.Is(err, ErrSOPMismatch) {
		t.Fatalf("mismatched class UID: %v", err)
	}
	ds := s.dataSet()
	trunc := &Instance{TransferSyntaxUID: uid.ExplicitVRLittleEndian, DataSet: bytes.NewReader(ds[:len(ds)-3]), Size: int64(len(ds) - 3)}
	var ide *InvalidDataSetError
	if _, err := e.a.Store(ctxb, trunc); !errors.As(err, &ide) || errors.Is(err, ErrInvalidUID) {
		t.Fatalf("truncated data set: %v", err)
	}
	e2 := newEnv(t, func(o *Options) { o.ScanLimits.MaxDataSetSize = 100 })
	big := newSynth("", "", 1000)
	if _, err := e2.a.Store(ctxb, big.instance()); !errors.Is(err, ErrOutOfResources) {
		t.Fatalf("over the size limit: %v", err)
	}
	if n := e.objectCount(t) + e2.objectCount(t); n != 0 {
		t.Fatalf("%d objects written for refused instances", n)
	}
}

func TestDuplicates(t *testing.T) {
	e := newEnv(t, nil)
	s := newSynth("", "", 5000)
	if out, err := e.a.Store(ctxb, s.instance()); err != nil || out != Stored {
		t.Fatal(out, err)
	}
	before, _ := e.a.Lookup(ctxb, s.SOP)
	if out, err := e.a.Store(ctxb, s.instance()); err != nil || out != Duplicate {
		t.Fatalf("identical resend: %v, %v", out, err)
	}
	// Same data set from another AE: the File Meta differs, the content does not.
	in := s.instance()
	in.SourceAE = "OTHER"
	if out, err := e.a.Store(ctxb, in); err != nil || out != Duplicate {
		t.Fatalf("identical resend from another AE: %v, %v", out, err)
	}
	changed := s
	changed.PatientName = "Other^Name"
	if _, err := e.a.Store(ctxb, changed.instance()); !errors.Is(err, ErrDuplicateDifferent) {
		t.Fatalf("different content: %v", err)
	}
	after, _ := e.a.Lookup(ctxb, s.SOP)
	if after.SHA256 != before.SHA256 || fmt.Sprint(after.Shares) != fmt.Sprint(before.Shares) {
		t.Fatal("original changed")
	}
	if n := e.objectCount(t); n != 4 {
		t.Fatalf("%d objects, want 4", n)
	}

	e.opts.Duplicates = Replace
	e.reopen(t)
	if out, err := e.a.Store(ctxb, changed.instance()); err != nil || out != Replaced {
		t.Fatalf("replace: %v, %v", out, err)
	}
	_, ds := readAll(t, e.a, s.SOP)
	if !bytes.Equal(ds, changed.dataSet()) {
		t.Fatal("replaced instance differs")
	}
	if n := e.objectCount(t); n != 4 {
		t.Fatalf("%d objects after replace, want 4", n)
	}
}

// TestMissingStores: k = 2, every combination of one and two stores down
// reads; three down fails closed naming the missing shares (rows 33, 35).
func TestMissingStores(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.NoRepairer = true })
	var sops []string
	for _, n := range []int{0, 100, 70000} {
		s := newSynth("", "", n)
		if _, err := e.a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		sops = append(sops, s.SOP)
	}
	want := map[string][]byte{}
	for _, sop := range sops {
		c, _ := readAll(t, e.a, sop)
		want[sop] = c
	}
	for mask := 1; mask < 16; mask++ {
		var down []int
		for i := range 4 {
			d := mask&(1<<i) != 0
			e.faulty[i].SetDown(d)
			if d {
				down = append(down, i)
			}
		}
		for _, sop := range sops {
			obj, err := e.a.Open(ctxb, sop)
			if len(down) <= 2 {
				if err != nil {
					t.Fatalf("stores %v down: %v", down, err)
				}
				got, _ := io.ReadAll(obj)
				obj.Close()
				if !bytes.Equal(got, want[sop]) {
					t.Fatalf("stores %v down: bytes differ", down)
				}
				continue
			}
			var ue *UnavailableError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnavailable) {
				t.Fatalf("stores %v down: err = %v", down, err)
			}
			if fmt.Sprint(ue.Missing) != fmt.Sprint(down) && len(down) == 3 {
				t.Fatalf("stores %v down: error names %v", down, ue.Missing)
			}
		}
	}
	for i := range 4 {
		e.faulty[i].SetDown(false)
	}
}

// TestCorruptShareRepair flips one byte of one share on disk, for every
// store: reads are served from the others, Verify(repair) rewrites it, a
// second Verify is clean (row 34).
func TestCorruptShareRepair(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.NoRepairer = true })
	s := newSynth("", "", 3000)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	want, _ := readAll(t, e.a, s.SOP)
	for i := range 4 {
		for _, off := range []int64{10, 60, 200, -1} { // common header, wrapped key, body, trailer
			rec, _ := e.a.Lookup(ctxb, s.SOP)
			p := e.objectPath(i, rec.Shares[i].Name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			at := off
			if at < 0 {
				at = int64(len(b)) - 3
			}
			b[at] ^= 0x01
			os.Chmod(p, 0o600)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			got, _ := readAll(t, e.a, s.SOP)
			if !bytes.Equal(got, want) {
				t.Fatal("bytes differ")
			}
			var events []VerifyEvent
			rep, err := e.a.Verify(ctxb, true, func(ev VerifyEvent) { events = append(events, ev) })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stores[i].Corrupt != 1 || rep.Stores[i].Repaired != 1 || len(events) != 1 || events[0].Store != i {
				t.Fatalf("store %d offset %d: report %v, events %v", i, off, rep, events)
			}
			mustVerifyClean(t, e.a)
			if n, err := e.a.CollectGarbage(ctxb, 0); err != nil || n != 0 {
				t.Fatalf("GC after repair: %d, %v (the bad object must already be gone)", n, err)
			}
		}
	}
	got, _ := readAll(t, e.a, s.SOP)
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ after repairs")
	}
}

// TestDiskFull: stores failing with ENOSPC (row 37).
func TestDiskFull(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.NoRepairer = true })
	for _, failing := range [][]int{{0, 1, 2, 3}, {1, 3}, {0, 1, 2}} {
		for _, i := range failing {
			e.faulty[i].FailPutAfter(150, syscall.ENOSPC)
		}
		for _, size := range []int{100, bufferLimit + 1} {
			s := newSynth("", "", size)
			_, err := e.a.Store(ctxb, s.instance())
			if !errors.Is(err, ErrOutOfResources) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("stores %v full: err = %v", failing, err)
			}
			if _, err := e.a.Lookup(ctxb, s.SOP); !errors.Is(err, ErrNotFound) {
				t.Fatalf("row left behind: %v", err)
			}
			if n := e.objectCount(t); n != 0 {
				t.Fatalf("stores %v full: %d objects left", failing, n)
			}
		}
		for i := range 4 {
			e.faulty[i].FailPutAfter(-1, nil)
		}
	}
	// One store full: the quorum (3) is met, the share is recorded missing
	// and repaired later.
	e.faulty[2].FailPutAfter(150, syscall.ENOSPC)
	s := newSynth("", "", 100)
	if out, err := e.a.Store(ctxb, s.instance()); err != nil || out != Stored {
		t.Fatalf("one store full: %v %v", out, err)
	}
	e.faulty[2].FailPutAfter(-1, nil)
	rec, _ := e.a.Lookup(ctxb, s.SOP)
	if len(rec.Shares) != 3 {
		t.Fatalf("%d shares recorded, want 3", len(rec.Shares))
	}
	rep, err := e.a.Verify(ctxb, true, nil)
	if err != nil || rep.Stores[2].Missing != 1 || rep.Stores[2].Repaired != 1 {
		t.Fatalf("verify: %v %v", rep, err)
	}
	mustVerifyClean(t, e.a)
	if err := e.a.Index().IntegrityCheck(ctxb); err != nil {
		t.Fatal(err)
	}
}

// TestBackgroundRepair: a share missed at write time is rebuilt by the
// background repairer.
func TestBackgroundRepair(t *testing.T) {
	e := newEnv(t, nil)
	e.faulty[1].FailOp("put", syscall.EIO)
	s := newSynth("", "", 100)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	e.faulty[1].FailOp("put", nil)
	// Reading degraded also queues it; wait for the repair.
	for range 200 {
		e.a.queueRepair(s.SOP)
		rec, _ := e.a.Lookup(ctxb, s.SOP)
		if len(rec.Shares) == 4 {
			mustVerifyClean(t, e.a)
			return
		}
		waitABit()
	}
	t.Fatal("share never repaired")
}

// TestWrongKEK: another keyring cannot read (fails closed); OpenDir-level
// refusal is tested in opendir_test.go.
func TestWrongKEK(t *testing.T) {
	e := newEnv(t, nil)
	s := newSynth("", "", 100)
	if _, err := e.a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	other, err := crypto.CreateKeyring(filepath.Join(t.TempDir(), "k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.opts.Keyring = other
	e.opts.NoRepairer = true
	e.reopen(t)
	_, err = e.a.Open(ctxb, s.SOP)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, crypto.ErrUnwrap) {
		t.Fatalf("wrong KEK: %v", err)
	}
}

// TestDelete: rows and objects go; a snapshot of the stores taken before
// still decrypts with the KEK (documented: deletion does not reach copies).
func TestDelete(t *testing.T) {
	e := newEnv(t, nil)
	study, sops, _ := e.storeStudyAndOther(t, 3, 500)
	rec, _ := e.a.Lookup(ctxb, sops[0])
	snapshot := map[int][]byte{}
	for _, sh := range rec.Shares {
		b, err := os.ReadFile(e.objectPath(sh.Index, sh.Name))
		if err != nil {
			t.Fatal(err)
		}
		snapshot[sh.Index] = b
	}
	n, err := e.a.Delete(ctxb, index.LevelStudy, study)
	if err != nil || n != 3 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	if l, _ := e.a.Instances(ctxb, index.LevelStudy, study); len(l) != 0 {
		t.Fatal("rows left")
	}
	for _, sop := range sops {
		if _, err := e.a.Open(ctxb, sop); !errors.Is(err, ErrNotFound) {
			t.Fatalf("open after delete: %v", err)
		}
	}
	if n := e.objectCount(t); n != 4 {
		t.Fatalf("%d objects left, want 4 (the other instance)", n)
	}
	if _, err := e.a.Delete(ctxb, index.LevelStudy, study); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// The honest part: leftover copies + KEK still decrypt.
	readers := map[int]io.Reader{0: bytes.NewReader(snapshot[0]), 3: bytes.NewReader(snapshot[3])}
	if _, _, err := decodeSnapshot(e.kr, readers); err != nil {
		t.Fatalf("snapshot did not decode (update docs/security.md if deletion now guarantees this): %v", err)
	}
}

func TestRewrapKeys(t *testing.T) {
	e := newEnv(t, nil)
	var sops []string
	for range 3 {
		s := newSynth("", "", 300)
		if _, err := e.a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		sops = append(sops, s.SOP)
	}
	v2, err := e.kr.Rotate(e.krPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	use, err := e.a.KEKUsage(ctxb)
	if err != nil || use[1] != 12 {
		t.Fatalf("usage before: %v %v", use, err)
	}
	n, err := e.a.RewrapKeys(ctxb)
	if err != nil || n != 12 {
		t.Fatalf("RewrapKeys = %d, %v", n, err)
	}
	use, _ = e.a.KEKUsage(ctxb)
	if use[v2] != 12 || len(use) != 1 {
		t.Fatalf("usage after: %v", use)
	}
	if err := e.kr.Retire(e.krPath, 1); err != nil {
		t.Fatal(err)
	}
	for _, sop := range sops {
		readAll(t, e.a, sop)
	}
	mustVerifyClean(t, e.a)
	if n := e.objectCount(t); n != 12 {
		t.Fatalf("%d objects, want 12", n)
	}
	if n, _ := e.a.RewrapKeys(ctxb); n != 0 {
		t.Fatalf("second rewrap rewrote %d", n)
	}
}

func TestRoundTripCorpusK(t *testing.T) {
	files := testutil.CorpusFiles(t)
	files = append(files, testutil.DICOMFiles(t, testutil.PydicomTestFiles(t))...)
	ks := []int{2, 3, 4}
	if testing.Short() {
		ks = []int{2}
	}
	for _, k := range ks {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.K = k; o.Duplicates = Replace; o.NoRepairer = true })
			stored, rejected := 0, []string{}
			for _, f := range files {
				in, ds, ok := fileInstance(t, f)
				if !ok {
					rejected = append(rejected, filepath.Base(f)+": no readable Part-10 header or data set")
					continue
				}
				_, err := e.a.Store(ctxb, in)
				if err != nil {
					var ide *InvalidDataSetError
					if !errors.As(err, &ide) && !errors.Is(err, ErrOutOfResources) {
						t.Fatalf("%s: %v", f, err)
					}
					rejected = append(rejected, filepath.Base(f)+": "+err.Error())
					continue
				}
				stored++
				sum, err := dcm.Scan(bytes.NewReader(ds), int64(len(ds)), in.TransferSyntaxUID, dcm.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				sop := sum.SOPInstanceUID
				_, got := readAll(t, e.a, sop)
				if !bytes.Equal(got, ds) {
					t.Fatalf("%s: data set not byte-exact", f)
				}
			}
			t.Logf("k=%d: %d stored, %d rejected", k, stored, len(rejected))
			if k == 2 {
				for _, r := range rejected {
					t.Logf("rejected %s", r)
				}
			}
			if stored < 50 {
				t.Fatalf("only %d files stored", stored)
			}
		})
	}
}
