package node

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
)

// TestStoresDownWhileServing renames share store folders away under a
// running node (k = 2): with two of four gone C-FIND and C-MOVE still work
// completely; with three gone every sub-operation fails (0xA702, Failed
// SOP Instance UID List) and the node still answers C-ECHO.
func TestStoresDownWhileServing(t *testing.T) {
	f := newRetrieveFixture(t, nil)
	study, inStudy := f.biggestStudy()
	if len(inStudy) > 5 {
		inStudy = inStudy[:5]
	}
	keys := []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "IMAGE"}, {Tag: dcm.TagStudyInstanceUID, Value: study},
		{Tag: dcm.TagSOPInstanceUID, Value: joinSOP(inStudy)}}
	stores := f.tn.cfg.StorePaths()
	down := func(i int) {
		if err := os.Rename(stores[i], stores[i]+".gone"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Rename(stores[i]+".gone", stores[i]) })
	}
	down(0)
	down(3)

	if got := findscu(t, f.tn, "-S", "QueryRetrieveLevel=IMAGE", "StudyInstanceUID="+study, "SOPInstanceUID"); len(got) == 0 {
		t.Fatal("C-FIND found nothing with two stores down")
	}
	clearDir(t, f.destDir)
	so, st := moveWithClient(t, f.tn, "DEST", keys)
	if st != dimse.StatusSuccess || so.Completed != len(inStudy) || so.Failed != 0 {
		t.Fatalf("move with two stores down: status %v, %+v; want success, %d completed", st, so, len(inStudy))
	}
	waitFiles(f.destDir, len(inStudy))
	checkReceived(t, f.destDir, inStudy)

	down(1)
	so, st = moveWithClient(t, f.tn, "DEST", keys)
	if st != dimse.StatusOutOfResourcesSubops || so.Failed != len(inStudy) || len(so.FailedSOPInstanceUIDs) != len(inStudy) {
		t.Fatalf("move with three stores down: status %v, %+v; want 0xA702 and %d failed, listed", st, so, len(inStudy))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, f.tn.addr, f.tn.cfg.AETitle, []dimse.ContextProposal{dimse.EchoContext()})
	if err != nil {
		t.Fatalf("node gone after three stores failed: %v", err)
	}
	if err := cc.Echo(ctx); err != nil {
		t.Errorf("echo: %v", err)
	}
	_ = cc.Release(ctx)
}

func joinSOP(ms []fileMeta) string {
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += `\`
		}
		s += m.sopInstance
	}
	return s
}
