package archive

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/store"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
)

func memEnv(t testing.TB, tweak func(*Options)) (*Archive, [4]*memStore) {
	t.Helper()
	dir := t.TempDir()
	kr, err := crypto.CreateKeyring(filepath.Join(dir, "k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ms [4]*memStore
	opts := Options{IndexPath: filepath.Join(dir, "index.db"), Keyring: kr}
	for i := range ms {
		ms[i] = newMemStore()
		opts.Stores[i] = ms[i]
	}
	if tweak != nil {
		tweak(&opts)
	}
	a, err := Open(ctxb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, ms
}

// TestConcurrentWriters: 8 writers × 500 instances (50 with -short).
func TestConcurrentWriters(t *testing.T) {
	per := 500
	if testing.Short() {
		per = 50
	}
	a, ms := memEnv(t, nil)
	study := newUID()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			series := newUID()
			for range per {
				s := newSynth(study, series, 64+w)
				if out, err := a.Store(ctxb, s.instance()); err != nil || out != Stored {
					errs <- fmt.Errorf("writer %d: %v %v", w, out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	err := a.Query(ctxb, &index.Query{Level: index.LevelStudy, Keys: []index.Key{{Tag: dcm.TagStudyInstanceUID, Value: study}, {Tag: dcm.NewTag(0x0020, 0x1208)}}},
		func(m index.Match) error { n++; fmt.Sscan(m[dcm.NewTag(0x0020, 0x1208)], &n); return nil })
	if err != nil || n != 8*per {
		t.Fatalf("study has %d instances, want %d (%v)", n, 8*per, err)
	}
	for i, m := range ms {
		if m.count() != 8*per {
			t.Fatalf("store %d holds %d objects", i, m.count())
		}
	}
	if n, err := a.CollectGarbage(ctxb, 0); err != nil || n != 0 {
		t.Fatalf("GC = %d, %v", n, err)
	}
}

// TestConcurrentSameUID: 8 goroutines store the same SOP Instance UID,
// identical or different content (row 27): exactly one version, no orphans.
func TestConcurrentSameUID(t *testing.T) {
	for _, different := range []bool{false, true} {
		for _, policy := range []DuplicatePolicy{KeepFirst, Replace} {
			t.Run(fmt.Sprintf("different=%v/%v", different, policy), func(t *testing.T) {
				a, ms := memEnv(t, func(o *Options) { o.Duplicates = policy })
				base := newSynth("", "", 2000)
				var wg sync.WaitGroup
				var mu sync.Mutex
				outcomes := map[string]int{}
				versions := map[string][]byte{}
				for g := range 8 {
					s := base
					if different {
						s.PatientName = fmt.Sprintf("Name^%d", g)
					}
					versions[s.PatientName] = s.dataSet()
					wg.Add(1)
					go func() {
						defer wg.Done()
						out, err := a.Store(ctxb, s.instance())
						key := out.String()
						if err != nil {
							key = err.Error()
							if !errors.Is(err, ErrDuplicateDifferent) {
								t.Error(err)
							}
						}
						mu.Lock()
						outcomes[key]++
						mu.Unlock()
					}()
				}
				wg.Wait()
				if outcomes["stored"] != 1 {
					t.Fatalf("outcomes %v", outcomes)
				}
				_, ds := readAll(t, a, base.SOP)
				found := false
				for _, v := range versions {
					found = found || bytes.Equal(v, ds)
				}
				if !found {
					t.Fatal("stored data set is none of the versions sent")
				}
				if n, err := a.CollectGarbage(ctxb, 0); err != nil || n != 0 {
					t.Fatalf("GC = %d, %v (losers must not leave objects)", n, err)
				}
				for i, m := range ms {
					if m.count() != 1 {
						t.Fatalf("store %d holds %d objects", i, m.count())
					}
				}
			})
		}
	}
}

// TestNoPHIInShares stores the corpus and synthetic instances and scans
// every store file: no "DICM", patient name, patient ID or UID of the data;
// names are random hex (rows 18, design brief §4).
func TestNoPHIInShares(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Duplicates = Replace })
	var needles []string
	for range 5 {
		s := newSynth("", "", 20000)
		s.PatientName = "Secretname^Patient"
		s.PatientID = "PATIENT-ID-4711"
		if _, err := e.a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range corpusSample(t) {
		if _, err := e.a.StoreFile(ctxb, f, "TEST"); err != nil {
			t.Logf("%s: %v", f, err)
		}
	}
	err := e.a.Index().Each(ctxb, func(r *index.InstanceRecord) error {
		for _, v := range []string{r.SOPInstanceUID, r.StudyInstanceUID, r.SeriesInstanceUID, r.PatientID, r.Attrs[dcm.TagPatientName]} {
			if len(v) >= 6 {
				needles = append(needles, v)
			}
		}
		return nil
	})
	if err != nil || len(needles) < 20 {
		t.Fatalf("%d needles, %v", len(needles), err)
	}
	sort.Strings(needles)
	// "DICM" alone is 4 bytes: random ciphertext contains it once in 2^32
	// positions (a few percent of runs over the corpus). A plaintext leak
	// would show the Part-10 preamble: 16 zero bytes then "DICM".
	needles = append(needles, string(make([]byte, 16))+"DICM", "Secretname")
	files := 0
	for i := range 4 {
		for _, f := range walkFiles(t, e.storeFS[i]) {
			files++
			base := filepath.Base(f)
			if !store.ValidName(base) || filepath.Base(filepath.Dir(f)) != base[:2] {
				t.Fatalf("unexpected store file %s", f)
			}
			b := readFile(t, f)
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) || bytes.Contains(b, []byte(strings.ToUpper(n))) {
					t.Fatalf("%s contains %q", f, n)
				}
			}
		}
	}
	if files < 40 {
		t.Fatalf("only %d files scanned", files)
	}
}
