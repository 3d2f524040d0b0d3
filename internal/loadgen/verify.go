package loadgen

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// DefaultVerifyParallel is the associations of a zero [Verify].
const DefaultVerifyParallel = 4

// Verify reads back what a [StoreLoad] stored: for every series, a Study
// Root C-FIND at IMAGE level (PS3.4 C.4.1) lists its SOP Instance UIDs,
// which must include every acknowledged one; then a C-GET at SERIES level
// (PS3.4 C.4.3) of every GetEvery-th series brings the instances back,
// whose data sets must hash to what was sent. Parallel associations share
// the series.
type Verify struct {
	Addr, CalledAE, CallingAE string
	// Parallel is the number of associations; 0 means
	// DefaultVerifyParallel.
	Parallel int
	// GetEvery retrieves one series in GetEvery; 0 or 1 retrieves all.
	GetEvery int
	// Client is the template of the clients; AETitle is replaced by
	// CallingAE.
	Client dimse.Client
}

// VerifyReport is what [Verify.Run] found.
type VerifyReport struct {
	Series, SeriesRetrieved int
	// Found counts acknowledged instances the C-FINDs listed; Missing
	// those they did not (MissingSample names a few).
	Found, Missing int
	MissingSample  []string
	// Listed counts every instance the C-FINDs returned (acknowledged or
	// not: a lost store may have been stored).
	Listed int
	// Retrieved counts the C-GET sub-operations received, Identical those
	// hashing as sent, Mismatched those that differ or were not
	// acknowledged with this content; NotRetrieved counts acknowledged
	// instances of retrieved series that never came.
	Retrieved, Identical, Mismatched, NotRetrieved int
	// Errors counts failed queries and retrievals by message.
	Errors map[string]int
	// FindElapsed is the time spent in C-FINDs summed over the
	// associations, divided by their number; Elapsed is the whole run.
	FindElapsed, Elapsed time.Duration
}

// OK reports whether every acknowledged instance was found and every
// retrieved one was identical, without errors.
func (r *VerifyReport) OK() bool {
	return r.Missing == 0 && r.Mismatched == 0 && r.NotRetrieved == 0 && len(r.Errors) == 0
}

// String summarises the report.
func (r *VerifyReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "C-FIND: %d series, %d acknowledged found, %d missing %v, %d listed (%v)\n",
		r.Series, r.Found, r.Missing, r.MissingSample, r.Listed, r.FindElapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "C-GET: %d series, %d instances received, %d identical, %d different, %d acknowledged not received (total %v)\n",
		r.SeriesRetrieved, r.Retrieved, r.Identical, r.Mismatched, r.NotRetrieved, r.Elapsed.Round(time.Millisecond))
	for e, n := range r.Errors {
		fmt.Fprintf(&b, "error ×%d: %s\n", n, e)
	}
	return b.String()
}

// Run checks acked (from StoreReport.Acked) over series.
func (v *Verify) Run(ctx context.Context, acked map[string]Acked, series []SeriesRef) (*VerifyReport, error) {
	bySeries := make(map[string][]string)
	for sop, a := range acked {
		bySeries[a.Series] = append(bySeries[a.Series], sop)
	}
	par := v.Parallel
	if par <= 0 {
		par = DefaultVerifyParallel
	}
	every := max(v.GetEvery, 1)
	start := time.Now()
	rep := &VerifyReport{Series: len(series), Errors: make(map[string]int)}
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	var findTime time.Duration
	var dialErr error
	cl := v.Client
	cl.AETitle = v.CallingAE
	props := append(dimse.QueryRetrieveContexts(),
		dimse.StorageContexts([]string{uid.CTImageStorage}, []string{uid.ExplicitVRLittleEndian}, true)...)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc, err := cl.Dial(ctx, v.Addr, v.CalledAE, props)
			if err != nil {
				mu.Lock()
				dialErr = err
				mu.Unlock()
				for range work {
				}
				return
			}
			defer cc.Release(context.WithoutCancel(ctx))
			for i := range work {
				s := series[i]
				t0 := time.Now()
				listed, err := findSeries(ctx, cc, s)
				d := time.Since(t0)
				var got map[string][32]byte
				if err == nil && i%every == 0 {
					got, err = getSeries(ctx, cc, s)
				}
				mu.Lock()
				findTime += d
				rep.tally(s, bySeries[s.Series], acked, listed, got, i%every == 0, err)
				mu.Unlock()
			}
		}()
	}
	for i := range series {
		work <- i
	}
	close(work)
	wg.Wait()
	rep.Elapsed = time.Since(start)
	rep.FindElapsed = findTime / time.Duration(par)
	if dialErr != nil {
		return rep, fmt.Errorf("loadgen: verify: %w", dialErr)
	}
	return rep, nil
}

// tally adds one series' results; called under the lock.
func (r *VerifyReport) tally(s SeriesRef, want []string, acked map[string]Acked, listed map[string]bool,
	got map[string][32]byte, retrieved bool, err error) {
	if err != nil {
		r.Errors[err.Error()]++
		return
	}
	r.Listed += len(listed)
	for _, sop := range want {
		if listed[sop] {
			r.Found++
		} else {
			r.Missing++
			if len(r.MissingSample) < 5 {
				r.MissingSample = append(r.MissingSample, sop)
			}
		}
	}
	if !retrieved {
		return
	}
	r.SeriesRetrieved++
	r.Retrieved += len(got)
	for sop, sum := range got {
		if a, ok := acked[sop]; ok && a.SHA256 == sum {
			r.Identical++
		} else if ok {
			r.Mismatched++
		}
	}
	for _, sop := range want {
		if _, ok := got[sop]; !ok {
			r.NotRetrieved++
		}
	}
	sort.Strings(r.MissingSample)
}

// findSeries lists the SOP Instance UIDs of series s.
func findSeries(ctx context.Context, cc *dimse.ClientConn, s SeriesRef) (map[string]bool, error) {
	ts, _ := cc.TransferSyntax(uid.StudyRootQRFind)
	ident, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, Value: "IMAGE"},
		{Tag: dcm.TagStudyInstanceUID, Value: s.Study},
		{Tag: dcm.TagSeriesInstanceUID, Value: s.Series},
		{Tag: dcm.TagSOPInstanceUID},
	}, ts)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool)
	_, err = cc.Find(ctx, uid.StudyRootQRFind, ident, func(b []byte) error {
		elems, err := dcm.DecodeIdentifier(b, ts, dcm.Limits{})
		if err != nil {
			return err
		}
		for _, e := range elems {
			if e.Tag == dcm.TagSOPInstanceUID {
				out[e.Value] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("C-FIND: %w", err)
	}
	return out, nil
}

// getSeries retrieves series s and hashes every data set received.
func getSeries(ctx context.Context, cc *dimse.ClientConn, s SeriesRef) (map[string][32]byte, error) {
	ts, _ := cc.TransferSyntax(uid.StudyRootQRGet)
	ident, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, Value: "SERIES"},
		{Tag: dcm.TagStudyInstanceUID, Value: s.Study},
		{Tag: dcm.TagSeriesInstanceUID, Value: s.Series},
	}, ts)
	if err != nil {
		return nil, err
	}
	got := make(map[string][32]byte)
	h := dimse.StoreHandlerFunc(func(ctx context.Context, req *dimse.StoreRequest) error {
		if req.DataSet == nil {
			return errors.New("loadgen: C-GET sub-operation without a data set")
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, req.DataSet.NewReader()); err != nil {
			return err
		}
		got[req.SOPInstanceUID] = [32]byte(sum.Sum(nil))
		return nil
	})
	so, _, err := cc.Get(ctx, uid.StudyRootQRGet, ident, h, nil)
	if err != nil {
		return got, fmt.Errorf("C-GET: %w (%+v)", err, so)
	}
	return got, nil
}
