package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// advGet C-GETs one instance and returns its data set, or the final
// status when it did not come back.
func advGet(t *testing.T, an *advNode, study, sop string) ([]byte, dimse.Status) {
	t.Helper()
	props := append(dimse.QueryRetrieveContexts(), dimse.StorageContexts([]string{uid.SecondaryCaptureImageStorage},
		[]string{uid.ExplicitVRLittleEndian}, true)...)
	cc := an.dial(t, "VIEWER", props...)
	defer cc.Release(context.Background())
	ident, err := dcm.EncodeIdentifier([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: "IMAGE"},
		{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: study}, {Tag: dcm.TagSOPInstanceUID, VR: "UI", Value: sop}}, uid.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	h := dimse.StoreHandlerFunc(func(_ context.Context, req *dimse.StoreRequest) error {
		got, err = io.ReadAll(req.DataSet.NewReader())
		return err
	})
	_, st, err := cc.Get(t.Context(), uid.StudyRootQRGet, ident, h, nil)
	return got, dimse.StatusOf(err, st)
}

// TestAdversarialNodeSharesAndStores (adversarial rows 34 and 35 through
// the node, k = 2, write quorum 3): a flipped bit in one share is detected
// and the instance is served byte for byte by C-GET from the others, then
// Verify(repair) rewrites the share; with 1 store down C-STORE succeeds
// (3 acknowledgements) and reads work; with 2 down reads work but C-STORE
// is 0xA700 (quorum not met, nothing indexed); with 3 down C-GET fails
// closed (0xA702, an integrity alert of outcome major failure in the
// audit trail) and C-STORE is 0xA700; once the stores are back, Verify
// (repair) completes the instance written with 3 shares.
func TestAdversarialNodeSharesAndStores(t *testing.T) {
	an := startAdvNode(t, nil)
	ctx := context.Background()
	study := advUID("34")
	put := func(n string) (string, []byte, dimse.Status, string) {
		sop := advUID("34", "1", n)
		ds := advInstance(t, sop, study, study+".1", advPixels(4096, byte(n[0])))
		cc := an.dial(t, "MOD", advSCProps()...)
		defer cc.Release(ctx)
		st, c := advStoreSt(t, cc, sop, ds)
		return sop, ds, st, c
	}
	a, dsA, st, c := put("1")
	if st != dimse.StatusSuccess {
		t.Fatalf("store: %v %q", st, c)
	}

	// Row 34: flip one bit in store 1's share.
	objs := an.advObjects(t)
	share := filepath.Join(an.cfg.StorePaths()[1], objs[1][0])
	b, err := os.ReadFile(share)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	if err := os.WriteFile(share, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, st := advGet(t, an, study, a); st != dimse.StatusSuccess || !bytes.Equal(got, dsA) {
		t.Fatalf("C-GET with a tampered share: %v, %d bytes (byte-exact %v)", st, len(got), bytes.Equal(got, dsA))
	}
	rep, err := an.arch.Verify(ctx, true, nil)
	if err != nil || rep.Stores[1].Corrupt+rep.Stores[1].Repaired == 0 {
		t.Fatalf("Verify(repair) after the flip: %+v, %v; want store 1's share found bad and repaired", rep, err)
	}
	if after, _ := os.ReadFile(share); bytes.Equal(after, b) {
		t.Error("the tampered share was not rewritten")
	}

	// Row 35.
	stores := an.cfg.StorePaths()
	down := func(i int) {
		if err := os.Rename(stores[i], stores[i]+".down"); err != nil {
			t.Fatal(err)
		}
	}
	up := func(i int) { _ = os.Rename(stores[i]+".down", stores[i]) }
	t.Cleanup(func() {
		for i := range stores {
			up(i)
		}
	})
	down(0)
	bSOP, dsB, st, c := put("2")
	if st != dimse.StatusSuccess {
		t.Fatalf("C-STORE with 1 store down: %v %q", st, c)
	}
	if got, st := advGet(t, an, study, bSOP); st != dimse.StatusSuccess || !bytes.Equal(got, dsB) {
		t.Fatalf("C-GET with 1 store down: %v", st)
	}
	down(3)
	cSOP, _, st, c := put("3")
	if st != dimse.StatusOutOfResources || !strings.Contains(c, "share stores") {
		t.Errorf("C-STORE with 2 stores down: %v %q, want 0xA700 (quorum 3 not met)", st, c)
	}
	if an.advLookup(t, cSOP) {
		t.Error("instance refused with 0xA700 is indexed")
	}
	for _, x := range []struct {
		sop string
		ds  []byte
	}{{a, dsA}, {bSOP, dsB}} {
		if got, st := advGet(t, an, study, x.sop); st != dimse.StatusSuccess || !bytes.Equal(got, x.ds) {
			t.Errorf("C-GET with 2 stores down: %v", st)
		}
	}
	down(1)
	if got, st := advGet(t, an, study, a); st != dimse.StatusOutOfResourcesSubops || got != nil {
		t.Errorf("C-GET with 3 stores down: %v, %d bytes; want 0xA702 and nothing", st, len(got))
	}
	if _, _, st, c := put("4"); st != dimse.StatusOutOfResources {
		t.Errorf("C-STORE with 3 stores down: %v %q, want 0xA700", st, c)
	}
	if evs := an.advAlerts(t, audit.TypeIntegrityFailure, "unavailable", "missing shares"); len(evs) == 0 ||
		evs[0].EventOutcomeIndicator != audit.OutcomeMajorFailure {
		t.Errorf("integrity alerts for the failed read: %+v", evs)
	}
	for i := range stores {
		up(i)
	}
	if _, err := an.arch.Verify(ctx, true, nil); err != nil {
		t.Fatal(err)
	}
	if got := an.advObjectCounts(t); got != [4]int{2, 2, 2, 2} {
		t.Errorf("objects per store after repair: %v, want 2 each (instances 1 and 2)", got)
	}
}

// TestAdversarialNodeWrongKEK (adversarial row 38, the node's part): the
// node restarted over its data with another KEK reads nothing: C-GET fails
// closed (0xA702) and each failed read is an integrity alert in the audit
// trail. (`serve` refusing to start without the KEK is
// cmd/shardpacs TestAdversarialServeWithoutKEK.)
func TestAdversarialNodeWrongKEK(t *testing.T) {
	dir := t.TempDir()
	an := startAdvNode(t, func(c *config.Config) { c.DataDir = dir })
	study := advUID("38")
	sop := advUID("38", "1", "1")
	cc := an.dial(t, "MOD", advSCProps()...)
	if st, c := advStoreSt(t, cc, sop, advInstance(t, sop, study, study+".1")); st != dimse.StatusSuccess {
		t.Fatalf("store: %v %q", st, c)
	}
	_ = cc.Release(t.Context())
	an.stop()
	if err := os.Remove(an.cfg.KEKPath()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := crypto.LoadOrCreateKeyring(an.cfg.KEKPath(), nil); err != nil {
		t.Fatal(err)
	}
	an = startAdvNode(t, func(c *config.Config) { c.DataDir = dir })
	if got, st := advGet(t, an, study, sop); st != dimse.StatusOutOfResourcesSubops || got != nil {
		t.Fatalf("C-GET under the wrong KEK: %v, %d bytes; want 0xA702 and nothing", st, len(got))
	}
	evs := an.advAlerts(t, audit.TypeIntegrityFailure, "unavailable")
	if len(evs) != 1 || evs[0].EventOutcomeIndicator != audit.OutcomeMajorFailure {
		t.Errorf("integrity alerts: %+v, want 1 of outcome major failure", evs)
	}
}

// TestAdversarialNodeDiskFull (adversarial row 37) mounts an 8 MiB tmpfs
// for the four stores, then as the data folder that holds the index (root
// only; skipped otherwise), fills it, and checks: C-STORE is 0xA700, no
// row, no object left once CollectGarbage ran, SQLite's integrity_check
// is ok, and once space is freed the same instance stores.
func TestAdversarialNodeDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs (adversarial row 37's store-level half is archive TestDiskFull)")
	}
	mount := func(t *testing.T, dir string) {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
			t.Skipf("cannot mount a tmpfs (%v); adversarial row 37's store-level half is archive TestDiskFull", err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	}
	for _, what := range []string{"stores", "index"} {
		t.Run(what, func(t *testing.T) {
			dir := t.TempDir()
			vol := filepath.Join(dir, "vol")
			if err := os.Mkdir(vol, 0o700); err != nil {
				t.Fatal(err)
			}
			mount(t, vol)
			an := startAdvNode(t, func(c *config.Config) {
				if what == "stores" {
					c.Stores = []string{filepath.Join(vol, "s0"), filepath.Join(vol, "s1"), filepath.Join(vol, "s2"), filepath.Join(vol, "s3")}
				} else { // the data folder holds the index (and key, audit trail, spool)
					c.DataDir = vol
					c.Stores = []string{filepath.Join(dir, "s0"), filepath.Join(dir, "s1"), filepath.Join(dir, "s2"), filepath.Join(dir, "s3")}
				}
			})
			study := advUID("37", map[string]string{"stores": "1", "index": "2"}[what])
			cc := an.dial(t, "MOD", advSCProps()...)
			sop := advUID("37", "9", "1")
			ds := advInstance(t, sop, study, study+".1", advPixels(1<<20, 5))
			// Fill the volume, leaving less than one instance's worth.
			filler := filepath.Join(vol, "filler")
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.Write(make([]byte, 8<<20))
			f.Close()
			before := an.advObjectCounts(t)
			st, c := advStoreSt(t, cc, sop, ds)
			if st != dimse.StatusOutOfResources {
				t.Fatalf("C-STORE on a full %s volume: %v %q, want 0xA700", what, st, c)
			}
			if an.advLookup(t, sop) {
				t.Error("indexed after 0xA700")
			}
			if _, err := an.arch.CollectGarbage(context.Background(), 0); err != nil && !errors.Is(err, archive.ErrIndexEmpty) {
				t.Errorf("CollectGarbage: %v", err)
			}
			if got := an.advObjectCounts(t); got != before {
				t.Errorf("objects %v after the failed store (and GC), %v before", got, before)
			}
			if err := an.arch.Index().IntegrityCheck(context.Background()); err != nil {
				t.Errorf("integrity_check: %v", err)
			}
			// Space is back: the same instance stores.
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if st, c := advStoreSt(t, cc, sop, ds); st != dimse.StatusSuccess {
				t.Fatalf("C-STORE once space is back: %v %q", st, c)
			}
			_ = cc.Release(t.Context())
		})
	}
}
