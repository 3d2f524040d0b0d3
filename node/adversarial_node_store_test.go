package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// errStopHere ends a data set reader mid-way.
var errStopHere = errors.New("test: the peer stops sending here")

// TestAdversarialNodeResetMidStore (adversarial row 16): a C-STORE whose
// data set is 1 MiB into 2 MiB (past limits.spool_threshold, so spooled)
// when the TCP connection is reset. Afterwards: no index row for it, the
// stores hold only the shares of the instance stored before, no spool file
// is left, CollectGarbage removes nothing (nothing reached the stores),
// goroutines are back to their baseline and the node still stores.
func TestAdversarialNodeResetMidStore(t *testing.T) {
	an := startAdvNode(t, func(c *config.Config) { c.Limits.SpoolThreshold = 64 << 10 })
	study := advUID("16")
	first := advUID("16", "1", "1")
	cc := an.dial(t, "MOD", advSCProps()...)
	if st, err := advStore(t, cc, first, advInstance(t, first, study, study+".1")); err != nil {
		t.Fatalf("first C-STORE: %v, %v", st, err)
	}
	_ = cc.Release(t.Context())
	before := an.advObjects(t)
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()

	victim := advUID("16", "1", "2")
	p := an.advAssociate(t, "MOD", advPC(1, uid.SecondaryCaptureImageStorage))
	ds := advInstance(t, victim, study, study+".1", advPixels(2<<20, 7))
	data := io.MultiReader(bytes.NewReader(ds[:1<<20]), iotestErrReader{errStopHere})
	err := p.send(1, dimse.NewCStoreRQ(1, uid.SecondaryCaptureImageStorage, victim, dimse.PriorityMedium), data)
	if !errors.Is(err, errStopHere) {
		t.Fatalf("partial send: %v", err)
	}
	// Reset: SO_LINGER 0 makes Close send RST.
	if err := p.conn.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	p.conn.Close()

	advWaitGoroutines(t, base)
	if an.advLookup(t, victim) {
		t.Fatal("the reset instance is indexed")
	}
	n, err := an.arch.CollectGarbage(context.Background(), 0)
	if err != nil || n != 0 {
		t.Errorf("CollectGarbage: %d removed, %v; want 0 (nothing reached the stores)", n, err)
	}
	after := an.advObjects(t)
	for i := range after {
		if strings.Join(after[i], ",") != strings.Join(before[i], ",") || len(after[i]) != 1 {
			t.Errorf("store %d: %v before, %v after", i, before[i], after[i])
		}
	}
	spool := an.cfg.SpoolPath()
	_ = filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in the spool folder: %s", p)
		}
		return nil
	})
	cc = an.dial(t, "MOD", advSCProps()...)
	if st, err := advStore(t, cc, victim, ds); err != nil {
		t.Fatalf("the same instance, sent whole after the reset: %v, %v", st, err)
	}
	_ = cc.Release(t.Context())
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// advCat returns a new slice holding a then b.
func advCat(a, b []byte) []byte { return append(append([]byte(nil), a...), b...) }

// TestAdversarialNodeStoreStatuses (adversarial rows 17, 18, 19, and the
// node's mapping of rows 20-22): crafted C-STOREs through the node each get
// exactly their status with an Error Comment, nothing is indexed or written
// for any of them, the association stays usable, and the stores hold only
// 32-hex object names (of the one valid instance stored at the end) — no
// file named after a hostile UID exists anywhere under the data folder or
// relative to the working directory.
func TestAdversarialNodeStoreStatuses(t *testing.T) {
	an := startAdvNode(t, nil)
	study := advUID("17")
	series := study + ".1"
	sop := advUID("17", "1", "1")
	good := advInstance(t, sop, study, series)
	p := an.advAssociate(t, "MOD", advPC(1, uid.SecondaryCaptureImageStorage), advPC(3, dimse.VerificationSOPClass))

	type tc struct {
		name    string
		ctxID   uint8
		cmd     *dimse.Command
		data    []byte
		want    dimse.Status
		comment string // substring of the Error Comment
	}
	store := func(class, inst string) *dimse.Command {
		return dimse.NewCStoreRQ(1, class, inst, dimse.PriorityMedium)
	}
	cases := []tc{
		// Row 17.
		{"row17/class not negotiated", 1, store(uid.CTImageStorage, sop), good, dimse.StatusSOPClassNotSupported, ""},
		{"row17/instance UID differs from (0008,0018)", 1, store(uid.SecondaryCaptureImageStorage, advUID("17", "9")), good,
			dimse.StatusDataSetDoesNotMatchSOPClass, "differs from the data set"},
		// Row 18: in the command (refused before any handler) ...
		{"row18/command UID ../../etc/x", 1, store(uid.SecondaryCaptureImageStorage, "../../etc/x"), good,
			dimse.StatusDataSetDoesNotMatchSOPClass, ""},
		// Row 19.
		{"row19/element length past the end", 1, store(uid.SecondaryCaptureImageStorage, sop), good[:len(good)-5],
			dimse.StatusDataSetUnparsable, "cannot be parsed"},
		{"row19/cut inside an element header", 1, store(uid.SecondaryCaptureImageStorage, sop), good[:len(good)-len(series)-5],
			dimse.StatusDataSetUnparsable, "cannot be parsed"},
		// Row 22: structure errors after a valid start (Explicit VR LE;
		// group 7FE1 sorts after everything advInstance writes).
		{"row22/item outside sequence", 1, store(uid.SecondaryCaptureImageStorage, sop),
			advCat(good, []byte{0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0}), dimse.StatusDataSetUnparsable, "cannot be parsed"},
		{"row22/sequence delimiter at top level", 1, store(uid.SecondaryCaptureImageStorage, sop),
			advCat(good, []byte{0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0}), dimse.StatusDataSetUnparsable, "cannot be parsed"},
		{"row22/undefined length on OB, not pixel data", 1, store(uid.SecondaryCaptureImageStorage, sop),
			advCat(good, []byte{0xE1, 0x7F, 0x10, 0x10, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}), dimse.StatusDataSetUnparsable, "cannot be parsed"},
		{"row22/item delimiter closes a sequence", 1, store(uid.SecondaryCaptureImageStorage, sop),
			advCat(good, []byte{0xE1, 0x7F, 0x20, 0x10, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0}),
			dimse.StatusDataSetUnparsable, "cannot be parsed"},
		// Row 21 at the default depth cap (32).
		{"row21/depth 40", 1, store(uid.SecondaryCaptureImageStorage, sop), advInstance(t, sop, study, series, advNested(40)),
			dimse.StatusNestingTooDeep, "max_sequence_depth"},
	}
	// ... and in the data set, with valid command UIDs.
	for i, bad := range []string{"../../etc/x", `..\..\x`, "1.2\x00.3", strings.Repeat("1", 65), "1.2.abc", "1.02.3", "1.2;rm -rf /"} {
		inst := advUID("18", string(rune('1'+i)))
		for _, where := range []string{"study", "series"} {
			st, se := study, series
			if where == "study" {
				st = bad
			} else {
				se = bad
			}
			cases = append(cases, tc{"row18/" + where + " " + strings.ReplaceAll(bad, "\x00", "NUL"), 1,
				store(uid.SecondaryCaptureImageStorage, inst), advInstance(t, inst, st, se),
				dimse.StatusInvalidAttributeValue, "UID missing or invalid"})
		}
	}
	var id uint16
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id++
			c.cmd.MessageID = id
			rsp := p.roundTrip(c.ctxID, c.cmd, c.data)
			if rsp.Status != c.want || rsp.MessageIDBeingRespondedTo != id {
				t.Fatalf("status %v (to message %d), want %v; comment %q", rsp.Status, rsp.MessageIDBeingRespondedTo, c.want, rsp.ErrorComment)
			}
			if !strings.Contains(rsp.ErrorComment, c.comment) {
				t.Errorf("Error Comment %q, want it to contain %q", rsp.ErrorComment, c.comment)
			}
		})
	}
	if got := an.advObjectCounts(t); got != [4]int{} {
		t.Fatalf("objects written by refused stores: %v", got)
	}
	if an.advLookup(t, sop) {
		t.Fatal("a refused instance is indexed")
	}
	// The association still works, and the one valid instance is stored.
	rsp := p.roundTrip(1, dimse.NewCStoreRQ(1000, uid.SecondaryCaptureImageStorage, sop, dimse.PriorityMedium), good)
	if rsp.Status != dimse.StatusSuccess {
		t.Fatalf("valid C-STORE after the hostile ones: %v %q", rsp.Status, rsp.ErrorComment)
	}
	p.release()
	if got := an.advObjectCounts(t); got != [4]int{1, 1, 1, 1} {
		t.Errorf("objects per store %v, want one share each", got)
	}
	_ = filepath.WalkDir(an.cfg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (d.Name() == "x" || strings.Contains(d.Name(), "rm -rf") || strings.Contains(d.Name(), "..")) {
			t.Errorf("file named after a hostile UID: %s", p)
		}
		return nil
	})
	for _, p := range []string{"../../etc/x", `..\..\x`, filepath.Join(filepath.Dir(an.cfg.DataDir), "etc", "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
}

// TestAdversarialNodeDuplicates (adversarial rows 25, 26, 27): an
// identical resend is 0x0000 with no new share and an audit event of
// action R; a different data set under the same SOP Instance UID is 0xC010,
// the original stays byte for byte, and a Use of Restricted Function alert
// is written; then 8 associations store one new instance at the same time,
// identical and different: exactly one commits, the others get 0x0000
// (identical) or 0xC010 (different), and CollectGarbage finds no orphan.
func TestAdversarialNodeDuplicates(t *testing.T) {
	an := startAdvNode(t, nil)
	ctx := context.Background()
	study := advUID("25")
	sop := advUID("25", "1", "1")
	orig := advInstance(t, sop, study, study+".1", advPixels(1000, 1))
	other := advInstance(t, sop, study, study+".1", advPixels(1000, 2))

	cc := an.dial(t, "MOD", advSCProps()...)
	for i, want := range []dimse.Status{dimse.StatusSuccess, dimse.StatusSuccess} {
		if st, c := advStoreSt(t, cc, sop, orig); st != want {
			t.Fatalf("store %d: %v %q", i, st, c)
		}
	}
	if got := an.advObjectCounts(t); got != [4]int{1, 1, 1, 1} {
		t.Fatalf("objects after an identical resend: %v, want 1 per store", got)
	}
	st, comment := advStoreSt(t, cc, sop, other)
	if st != dimse.StatusDuplicateDifferentContent || !strings.Contains(comment, "other content") {
		t.Fatalf("different content: %v %q, want 0xC010", st, comment)
	}
	_ = cc.Release(t.Context())
	if got := an.advObjectCounts(t); got != [4]int{1, 1, 1, 1} {
		t.Fatalf("objects after a refused different resend: %v", got)
	}
	if got := advRead(t, an, sop); !bytes.Equal(got, orig) {
		t.Fatal("the original changed")
	}
	if evs := an.advAlerts(t, audit.TypeRestrictedFunction, `"MOD"`, sop, "different content"); len(evs) != 1 {
		t.Errorf("%d alerts for the different resend, want 1", len(evs))
	}
	// Row 25's audit: action R for the identical resend.
	deadline := time.Now().Add(advTO)
	for {
		found := false
		for _, ev := range advAudit(t, an.auditPath) {
			if ev.EventID == audit.EventInstancesTransfer && ev.EventActionCode == audit.ActionRead {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Instances Transferred event of action R for the identical resend")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Row 27.
	for _, different := range []bool{false, true} {
		name := map[bool]string{false: "identical", true: "different"}[different]
		t.Run("row27/"+name, func(t *testing.T) {
			sop := advUID("27", map[bool]string{false: "1", true: "2"}[different])
			versions := make([][]byte, 8)
			for i := range versions {
				fill := byte(9)
				if different {
					fill = byte(10 + i)
				}
				versions[i] = advInstance(t, sop, study, study+".2", advPixels(64<<10, fill))
			}
			conns := make([]*dimse.ClientConn, 8)
			for i := range conns {
				conns[i] = an.dial(t, "MOD", advSCProps()...)
			}
			statuses := make([]dimse.Status, 8)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range conns {
				wg.Go(func() {
					<-start
					st, err := conns[i].Store(ctx, uid.SecondaryCaptureImageStorage, sop, uid.ExplicitVRLittleEndian, bytes.NewReader(versions[i]))
					var se *dimse.StatusError
					if err != nil && !errors.As(err, &se) {
						st = 0xFFFF
					}
					statuses[i] = st
				})
			}
			close(start)
			wg.Wait()
			ok, dup := 0, 0
			for _, s := range statuses {
				switch s {
				case dimse.StatusSuccess:
					ok++
				case dimse.StatusDuplicateDifferentContent:
					dup++
				}
			}
			if different && (ok != 1 || dup != 7) || !different && ok != 8 {
				t.Fatalf("statuses %v: %d success, %d 0xC010", statuses, ok, dup)
			}
			got := advRead(t, an, sop)
			if different {
				winner := -1
				for i, s := range statuses {
					if s == dimse.StatusSuccess {
						winner = i
					}
				}
				if !bytes.Equal(got, versions[winner]) {
					t.Error("the stored bytes are not the version that got 0x0000")
				}
			} else if !bytes.Equal(got, versions[0]) {
				t.Error("stored bytes differ from the version sent")
			}
			for _, cc := range conns {
				_ = cc.Release(ctx)
			}
			if n, err := an.arch.CollectGarbage(ctx, 0); err != nil || n != 0 {
				t.Errorf("CollectGarbage: %d orphans, %v; want 0", n, err)
			}
		})
	}
	// Three instances in all: one share of each per store.
	if got := an.advObjectCounts(t); got != [4]int{3, 3, 3, 3} {
		t.Errorf("objects per store %v, want 3 each", got)
	}
}

// advRead returns the stored data set of sop.
func advRead(t *testing.T, an *advNode, sop string) []byte {
	t.Helper()
	obj, err := an.arch.Open(context.Background(), sop)
	if err != nil {
		t.Fatalf("Open %s: %v", sop, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj.DataSet())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
