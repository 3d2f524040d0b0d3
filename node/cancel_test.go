package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// cancelStudy is the Study Instance UID of the synthetic instances the
// C-CANCEL tests store (2.25: a UUID-derived root, PS3.5 B.2).
const cancelStudy = "2.25.3141592653589793238462643383279"

const secondaryCaptureStorage = "1.2.840.10008.5.1.4.1.1.7"

// syntheticInstance returns a small Secondary Capture data set in Explicit
// VR Little Endian, instance i of series s of cancelStudy, and its SOP
// Instance UID.
func syntheticInstance(t testing.TB, s, i int) (string, []byte) {
	t.Helper()
	sop := fmt.Sprintf("%s.%d.%d", cancelStudy, s+1, i+1)
	ds, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagSOPClassUID, Value: secondaryCaptureStorage},
		{Tag: dcm.TagSOPInstanceUID, Value: sop},
		{Tag: dcm.TagStudyDate, Value: "20240102"},
		{Tag: dcm.TagModality, Value: "OT"},
		{Tag: dcm.TagPatientName, Value: "CANCEL^TEST"},
		{Tag: dcm.TagPatientID, Value: "CANCEL-1"},
		{Tag: dcm.TagStudyInstanceUID, Value: cancelStudy},
		{Tag: dcm.TagSeriesInstanceUID, Value: fmt.Sprintf("%s.%d", cancelStudy, s+1)},
		{Tag: dcm.NewTag(0x0020, 0x0013), Value: fmt.Sprint(i + 1)}, // Instance Number
	}, uid.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	return sop, ds
}

// storeSynthetic stores series*perSeries synthetic instances with our
// client, one association per series, in parallel, and returns their SOP
// Instance UIDs in order.
func storeSynthetic(t *testing.T, tn *testNode, series, perSeries int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sops := make([]string, series*perSeries)
	errs := make(chan error, series)
	for s := range series {
		go func() {
			errs <- func() error {
				cc, err := (&dimse.Client{AETitle: "MODALITY"}).Dial(ctx, tn.addr, tn.cfg.AETitle,
					dimse.StorageContexts([]string{secondaryCaptureStorage}, []string{uid.ExplicitVRLittleEndian}, false))
				if err != nil {
					return err
				}
				defer cc.Release(ctx)
				for i := range perSeries {
					sop, ds := syntheticInstance(t, s, i)
					if _, err := cc.Store(ctx, secondaryCaptureStorage, sop, uid.ExplicitVRLittleEndian, bytes.NewReader(ds)); err != nil {
						return fmt.Errorf("store %d/%d: %w", s, i, err)
					}
					sops[s*perSeries+i] = sop
				}
				return nil
			}()
		}()
	}
	for range series {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return sops
}

var (
	findscuPendingLine = regexp.MustCompile(`(?m)^I: Find Response: \d+ \(Pending\)`)
	findscuFinalLine   = regexp.MustCompile(`(?m)^I: Received Final Find Response \(([^)]*)\)`)
	findscuCancelLine  = regexp.MustCompile(`(?m)^I: Sending Cancel Request`)
)

// cancelSeries × cancelPerSeries synthetic instances are what the C-FIND
// cancel tests match: enough that the node cannot have queued every
// response into the loopback socket buffers before a C-CANCEL-RQ sent
// after the third arrives (TestFindCancel/client relies on it).
const cancelSeries, cancelPerSeries = 4, 100

// TestFindCancel cancels C-FINDs of the synthetic instances three ways
// over one node: storing the instances (each a commit of four shares and
// an index row) is what these tests spend their time on, so they are
// stored once for the three.
func TestFindCancel(t *testing.T) {
	tn := startNode(t, nil)
	storeSynthetic(t, tn, cancelSeries, cancelPerSeries)
	t.Run("findscu", func(t *testing.T) { testFindscuCancel(t, tn) })
	t.Run("handler", func(t *testing.T) { testFindHandlerCancel(t, tn) })
	t.Run("client", func(t *testing.T) { testClientFindCancel(t, tn) })
}

// testFindscuCancel: findscu --cancel 2 against a node holding many
// matches. DCMTK sends its C-CANCEL-RQ after the second response; whether
// the node has already queued every response into the loopback socket
// buffers by then is a race the test cannot control from outside findscu,
// so it asserts the interoperable part: the C-CANCEL-RQ is accepted without
// a protocol error, the final response is 0xFE00 (cancel, with fewer than
// all matches) or 0x0000 (the node had finished), and the node goes on
// serving. The handler and client subtests assert 0xFE00
// deterministically.
func testFindscuCancel(t *testing.T, tn *testNode) {
	const series, per = cancelSeries, cancelPerSeries

	out, err := runTool(t, "", "findscu", "-v", "--cancel", "2", "-aec", tn.cfg.AETitle, "-aet", "VIEWER", "-S",
		"-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID="+cancelStudy, "-k", "SOPInstanceUID",
		"127.0.0.1", tn.port)
	if err != nil {
		t.Fatalf("findscu --cancel: %v\n%s", err, out)
	}
	if !findscuCancelLine.MatchString(out) {
		t.Fatalf("findscu sent no C-CANCEL-RQ:\n%s", out)
	}
	final := findscuFinalLine.FindStringSubmatch(out)
	pending := len(findscuPendingLine.FindAllString(out, -1))
	switch {
	case final == nil:
		t.Fatalf("no final response; %d pending responses\n%s", pending, tail(out, 2000))
	case strings.Contains(final[1], "Cancel"):
		if pending < 2 || pending >= series*per {
			t.Errorf("%d pending responses before the cancel took effect, want 2 ≤ n < %d", pending, series*per)
		}
		t.Logf("cancelled after %d of %d matches", pending, series*per)
	case final[1] == "Success":
		if pending != series*per {
			t.Errorf("final success after %d pending responses, want all %d", pending, series*per)
		}
		t.Logf("the node had sent all %d matches before the C-CANCEL-RQ arrived", pending)
	default:
		t.Fatalf("final response %q, want cancel or success\n%s", final, tail(out, 2000))
	}

	// The node still serves: the same query to the end on a new association.
	res := findscu(t, tn, "-S", "QueryRetrieveLevel=SERIES", "StudyInstanceUID="+cancelStudy, "SeriesInstanceUID")
	if len(res) != series {
		t.Errorf("after the cancel: %d series, want %d", len(res), series)
	}
}

// cancellingResponder is a dimse.FindResponder that cancels the request's
// context once it has received after pending responses.
type cancellingResponder struct {
	after  int
	n      int
	cancel context.CancelFunc
}

func (r *cancellingResponder) Pending([]byte) error {
	r.n++
	if r.n == r.after {
		r.cancel()
	}
	return nil
}

// testFindHandlerCancel: the node's C-FIND handler stops streaming matches
// as soon as its context is cancelled (what dimse.Server does on a
// C-CANCEL-RQ, answering 0xFE00 itself); deterministic, no network.
func testFindHandlerCancel(t *testing.T, tn *testNode) {
	const series, per = cancelSeries, cancelPerSeries
	ident, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, Value: "IMAGE"},
		{Tag: dcm.TagStudyInstanceUID, Value: cancelStudy},
		{Tag: dcm.TagSOPInstanceUID},
	}, uid.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	req := &dimse.QueryRequest{
		Assoc:             &dimse.AssociationInfo{CallingAETitle: "VIEWER", CalledAETitle: tn.cfg.AETitle},
		Command:           dimse.NewCFindRQ(1, uid.StudyRootQRFind, dimse.PriorityMedium),
		SOPClassUID:       uid.StudyRootQRFind,
		TransferSyntaxUID: uid.ExplicitVRLittleEndian,
		Identifier:        ident,
	}
	// Without cancellation every match arrives.
	all := &cancellingResponder{after: -1, cancel: func() {}}
	if err := tn.n.Server().Find.ServeFind(context.Background(), req, all); err != nil || all.n != series*per {
		t.Fatalf("uncancelled find: %d matches, err %v; want %d", all.n, err, series*per)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancellingResponder{after: 3, cancel: cancel}
	err = tn.n.Server().Find.ServeFind(ctx, req, w)
	if w.n > 4 {
		t.Errorf("handler sent %d matches after its context was cancelled at the 3rd; want it to stop", w.n-3)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled find: %v, want nil or context.Canceled", err)
	}
}

// testClientFindCancel: our client cancels a C-FIND from its result
// callback; the node answers 0xFE00, and the association stays usable.
func testClientFindCancel(t *testing.T, tn *testNode) {
	const series, per = cancelSeries, cancelPerSeries
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A small receive buffer makes the node block on TCP flow control after a
	// few responses, so the C-CANCEL-RQ always arrives before its last match.
	smallBuffer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}
	cc, err := (&dimse.Client{AETitle: "VIEWER", Dialer: smallBuffer}).Dial(ctx, tn.addr, tn.cfg.AETitle, dimse.QueryRetrieveContexts())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Release(ctx)
	ts, _ := cc.TransferSyntax(uid.StudyRootQRFind)
	ident, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, Value: "IMAGE"},
		{Tag: dcm.TagStudyInstanceUID, Value: cancelStudy},
		{Tag: dcm.TagSOPInstanceUID},
	}, ts)
	if err != nil {
		t.Fatal(err)
	}
	errEnough := errors.New("enough")
	n := 0
	st, err := cc.Find(ctx, uid.StudyRootQRFind, ident, func([]byte) error {
		n++
		if n == 3 {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) || st != dimse.StatusCancel {
		t.Fatalf("cancelled find: status %v, err %v; want 0xFE00 and the callback's error", st, err)
	}
	if n != 3 {
		t.Errorf("callback called %d times, want 3 (not after it failed)", n)
	}
	count := 0
	st, err = cc.Find(ctx, uid.StudyRootQRFind, ident, func([]byte) error { count++; return nil })
	if err != nil || st != dimse.StatusSuccess || count != series*per {
		t.Fatalf("find after the cancel on the same association: status %v, err %v, %d matches; want success, %d", st, err, count, series*per)
	}
}

// slowDestination is a C-STORE SCP (our dimse.Server) that takes delay
// per instance, for cancelling C-MOVE mid-way.
type slowDestination struct {
	port     int
	received atomic.Int64
}

func startSlowDestination(t *testing.T, ae string, delay time.Duration) *slowDestination {
	t.Helper()
	d := &slowDestination{}
	srv := &dimse.Server{
		AETitle: ae,
		Store: dimse.StoreHandlerFunc(func(ctx context.Context, req *dimse.StoreRequest) error {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
			d.received.Add(1)
			return nil
		}),
	}
	d.port = serveSCP(t, srv)
	return d
}

// cancelFixture is a node holding the synthetic instances with a slow
// move destination SLOW.
type cancelFixture struct {
	tn   *testNode
	dest *slowDestination
	sops []string
}

func newCancelFixture(t *testing.T, n int) *cancelFixture {
	t.Helper()
	dest := startSlowDestination(t, "SLOW", 30*time.Millisecond)
	tn := startNode(t, func(c *config.Config) {
		c.Peers = append(c.Peers, config.Peer{AETitle: "SLOW", Host: "127.0.0.1", Port: dest.port})
	})
	sops := storeSynthetic(t, tn, 1, n)
	return &cancelFixture{tn: tn, dest: dest, sops: sops}
}

// retrieveCancelN synthetic instances, one series, are what the C-MOVE
// and C-GET cancel tests retrieve: the cancel comes after two or three
// sub-operations of 10-30 ms each, so ~20 remain, and the full retrieve
// that follows each cancel stays short.
const retrieveCancelN = 24

// TestClientRetrieveCancel cancels a C-MOVE and a C-GET with our client,
// over one node holding the instances (stored once for both).
func TestClientRetrieveCancel(t *testing.T) {
	f := newCancelFixture(t, retrieveCancelN)
	t.Run("move", func(t *testing.T) { testClientMoveCancel(t, f) })
	t.Run("get", func(t *testing.T) { testClientGetCancel(t, f) })
}

// testClientMoveCancel cancels a C-MOVE with our client once two
// sub-operations are reported complete: the final response is 0xFE00 with
// Remaining > 0 and Completed + Failed + Warning + Remaining = all; the
// destination got no more than the node counts, and the node keeps
// serving (a full C-MOVE on the same association afterwards).
func testClientMoveCancel(t *testing.T, f *cancelFixture) {
	const n = retrieveCancelN
	f.dest.received.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, f.tn.addr, f.tn.cfg.AETitle, dimse.QueryRetrieveContexts())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Release(ctx)
	ts, _ := cc.TransferSyntax(uid.StudyRootQRMove)
	ident := studyIdentifier(t, cancelStudy, ts)
	mctx, mcancel := context.WithCancel(ctx)
	so, st, err := cc.Move(mctx, uid.StudyRootQRMove, "SLOW", ident, func(p dimse.SubOps) {
		if p.Completed >= 2 {
			mcancel()
		}
	})
	mcancel()
	if st != dimse.StatusCancel || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled move: status %v, err %v, %+v; want 0xFE00", st, err, so)
	}
	checkCancelCounts(t, so, n)
	if got := f.dest.received.Load(); got < int64(so.Completed) || got > int64(so.Completed+so.Failed+1) {
		t.Errorf("destination stored %d instances, node reports %+v", got, so)
	}

	so, st, err = cc.Move(ctx, uid.StudyRootQRMove, "SLOW", ident, nil)
	if err != nil || st != dimse.StatusSuccess || so.Completed != n {
		t.Fatalf("move after the cancel: status %v, err %v, %+v; want success, %d completed", st, err, so, n)
	}
}

// testClientGetCancel cancels a C-GET from the store handler of our client
// (a slow C-STORE SCP on the same association): 0xFE00 with counts, and a
// full C-GET on the same association afterwards.
func testClientGetCancel(t *testing.T, f *cancelFixture) {
	const n = retrieveCancelN
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	props := append(dimse.QueryRetrieveContexts(),
		dimse.StorageContexts([]string{secondaryCaptureStorage}, []string{uid.ExplicitVRLittleEndian}, true)...)
	cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, f.tn.addr, f.tn.cfg.AETitle, props)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Release(ctx)
	ts, _ := cc.TransferSyntax(uid.StudyRootQRGet)
	ident, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, Value: "SERIES"}, {Tag: dcm.TagStudyInstanceUID, Value: cancelStudy},
		{Tag: dcm.TagSeriesInstanceUID, Value: cancelStudy + ".1"},
	}, ts)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string][]byte{}
	gctx, gcancel := context.WithCancel(ctx)
	h := dimse.StoreHandlerFunc(func(ctx context.Context, req *dimse.StoreRequest) error {
		time.Sleep(10 * time.Millisecond)
		var b bytes.Buffer
		if req.DataSet != nil {
			if _, err := b.ReadFrom(req.DataSet.NewReader()); err != nil {
				return err
			}
		}
		mu.Lock()
		got[req.SOPInstanceUID] = b.Bytes()
		if len(got) == 3 {
			gcancel()
		}
		mu.Unlock()
		return nil
	})
	so, st, err := cc.Get(gctx, uid.StudyRootQRGet, ident, h, nil)
	gcancel()
	if st != dimse.StatusCancel || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled get: status %v, err %v, %+v; want 0xFE00", st, err, so)
	}
	checkCancelCounts(t, so, n)

	clear(got)
	so, st, err = cc.Get(ctx, uid.StudyRootQRGet, ident, h, nil)
	if err != nil || st != dimse.StatusSuccess || so.Completed != n || len(got) != n {
		t.Fatalf("get after the cancel: status %v, err %v, %+v, %d received; want success, %d", st, err, so, len(got), n)
	}
	for i, sop := range f.sops {
		_, want := syntheticInstance(t, 0, i)
		if !bytes.Equal(got[sop], want) {
			t.Errorf("instance %d came back different", i)
		}
	}
}

// checkCancelCounts checks the counts of a final 0xFE00 C-MOVE/C-GET
// response (PS3.4 C.4.2.1.5: Remaining is present after a cancel).
func checkCancelCounts(t *testing.T, so dimse.SubOps, n int) {
	t.Helper()
	if so.Remaining <= 0 || so.Completed < 2 {
		t.Errorf("counts %+v: want Remaining > 0 and at least 2 completed", so)
	}
	if sum := so.Remaining + so.Completed + so.Failed + so.Warning; sum != n {
		t.Errorf("counts %+v add up to %d, want %d", so, sum, n)
	}
	if so.Failed > 1 {
		t.Errorf("counts %+v: more than the interrupted sub-operation failed", so)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
