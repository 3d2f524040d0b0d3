package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// ingestResult is one timed C-STORE run.
type ingestResult struct {
	elapsed time.Duration
	errors  int    // "E:" lines of the storescu processes (failed stores...)
	first   string // the first of them, for the report
}

// storescuIngest sends every file below dirs to srv, one storescu process
// (one association) per folder, all at once, and times the whole. extra
// are more storescu options (-xy: also propose JPEG baseline).
func storescuIngest(ctx context.Context, srv server, dirs []string, extra ...string) (ingestResult, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		res  ingestResult
		ferr error
	)
	start := time.Now()
	for _, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// +sd +r: the folder's files; -nh: go on after a failed store.
			args := append([]string{"-aet", callingAE, "-aec", srv.AETitle(), "+sd", "+r", "-nh"}, extra...)
			cmd := exec.CommandContext(ctx, "storescu", append(args, "127.0.0.1", fmt.Sprint(srv.Port()), d)...)
			cmd.Env = toolEnv()
			out, err := cmd.CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "E:") {
					if res.errors == 0 {
						res.first = sc.Text()
					}
					res.errors++
				}
			}
			if err != nil && ferr == nil && res.errors == 0 {
				ferr = fmt.Errorf("bench: storescu %s: %w: %s", d, err, lastLines(out, 3))
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, ferr
}

// load stores dirs without timing: all at once, or one folder after the
// other for servers that lose instances on parallel associations.
func load(ctx context.Context, srv server, dirs []string) error {
	groups := [][]string{dirs}
	if srv.SerialLoad() {
		groups = groups[:0]
		for _, d := range dirs {
			groups = append(groups, []string{d})
		}
	}
	for _, g := range groups {
		r, err := storescuIngest(ctx, srv, g)
		if err != nil {
			return err
		}
		if r.errors > 0 {
			return fmt.Errorf("bench: loading %s: %d errors, first: %s", srv.Name(), r.errors, r.first)
		}
	}
	return nil
}

// query is one C-FIND identifier with the number of matches it should get.
type query struct {
	elems []dcm.Element
	want  int
}

// tags of C-FIND identifiers (PS3.4 C.6.2.1).
var (
	tQRLevel     = dcm.NewTag(0x0008, 0x0052)
	tStudyDate   = dcm.NewTag(0x0008, 0x0020)
	tStudyTime   = dcm.NewTag(0x0008, 0x0030)
	tAccession   = dcm.NewTag(0x0008, 0x0050)
	tSOPClass    = dcm.NewTag(0x0008, 0x0016)
	tSOPInstance = dcm.NewTag(0x0008, 0x0018)
	tPatientName = dcm.NewTag(0x0010, 0x0010)
	tPatientID   = dcm.NewTag(0x0010, 0x0020)
	tStudyUID    = dcm.NewTag(0x0020, 0x000D)
	tSeriesUID   = dcm.NewTag(0x0020, 0x000E)
	tStudyID     = dcm.NewTag(0x0020, 0x0010)
	tInstanceNum = dcm.NewTag(0x0020, 0x0013)
)

// studyQuery is a STUDY level identifier with the usual return keys and
// one matching key.
func studyQuery(match dcm.Tag, value string, want int) query {
	elems := []dcm.Element{
		{Tag: tQRLevel, Value: "STUDY"}, {Tag: tStudyDate}, {Tag: tStudyTime}, {Tag: tAccession},
		{Tag: tPatientName}, {Tag: tPatientID}, {Tag: tStudyUID}, {Tag: tStudyID},
	}
	for i := range elems {
		if elems[i].Tag == match {
			elems[i].Value = value
		}
	}
	return query{elems: elems, want: want}
}

// imageQuery is an IMAGE level identifier for the instances of a series
// (with its study: baseline hierarchical query, PS3.4 C.4.1.3.1).
func imageQuery(studyUID, seriesUID string, want int) query {
	return query{want: want, elems: []dcm.Element{
		{Tag: tQRLevel, Value: "IMAGE"}, {Tag: tSOPClass}, {Tag: tSOPInstance},
		{Tag: tStudyUID, Value: studyUID}, {Tag: tSeriesUID, Value: seriesUID}, {Tag: tInstanceNum},
	}}
}

// findResult holds the latency of every query and the count mismatches.
type findResult struct {
	latencies []time.Duration
	wrong     int    // queries whose match count was not the expected one
	example   string // one such mismatch
}

// runFinds runs the queries one after the other on a single association
// (Study Root, PS3.4 C.6.2) and times each from request to final response.
func runFinds(ctx context.Context, srv server, qs []query) (findResult, error) {
	var res findResult
	c := dimse.Client{AETitle: callingAE, ResponseTimeout: 5 * time.Minute}
	cc, err := c.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", srv.Port()), srv.AETitle(), dimse.QueryRetrieveContexts())
	if err != nil {
		return res, err
	}
	defer cc.Close()
	ts, ok := cc.TransferSyntax(uid.StudyRootQRFind)
	if !ok {
		return res, fmt.Errorf("bench: %s accepted no Study Root FIND context", srv.Name())
	}
	for _, q := range qs {
		id, err := dcm.EncodeIdentifier(q.elems, ts)
		if err != nil {
			return res, err
		}
		n := 0
		start := time.Now()
		_, err = cc.Find(ctx, uid.StudyRootQRFind, id, func([]byte) error { n++; return nil })
		res.latencies = append(res.latencies, time.Since(start))
		if err != nil {
			return res, fmt.Errorf("bench: C-FIND on %s: %w", srv.Name(), err)
		}
		if n != q.want {
			res.wrong++
			res.example = fmt.Sprintf("%d matches, expected %d", n, q.want)
		}
	}
	return res, cc.Release(ctx)
}

// writeMoveQuery writes a Study Root C-MOVE identifier for one study as a
// Part-10 file that movescu reads.
func writeMoveQuery(path, studyUID string) error {
	ds, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: tQRLevel, Value: "STUDY"}, {Tag: tStudyUID, Value: studyUID},
	}, uid.ExplicitVRLittleEndian)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	meta := &dcm.FileMeta{
		MediaStorageSOPClassUID:    uid.StudyRootQRMove,
		MediaStorageSOPInstanceUID: makeUID("query", studyUID),
		TransferSyntaxUID:          uid.ExplicitVRLittleEndian,
		ImplementationClassUID:     makeUID("implementation", "sp-bench"),
		ImplementationVersionName:  "SP_BENCH",
	}
	if _, err := dcm.WritePart10Header(&b, meta); err != nil {
		return err
	}
	b.Write(ds)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// movescuStudies moves the given studies to destAE with one movescu process
// (one association, one C-MOVE per study, in order) and times it.
func movescuStudies(ctx context.Context, srv server, tmp string, studies []studyInfo) (time.Duration, error) {
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return 0, err
	}
	args := []string{"-aet", callingAE, "-aec", srv.AETitle(), "-aem", destAE, "-S", "127.0.0.1", fmt.Sprint(srv.Port())}
	for i, st := range studies {
		p := filepath.Join(tmp, fmt.Sprintf("move%05d.dcm", i))
		if err := writeMoveQuery(p, st.StudyUID); err != nil {
			return 0, err
		}
		args = append(args, p)
	}
	start := time.Now()
	out, err := runTool(ctx, "movescu", args...)
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	if i := bytes.Index(out, []byte("E:")); i >= 0 {
		return d, fmt.Errorf("bench: movescu from %s: %s", srv.Name(), lastLines(out[i:], 3))
	}
	return d, nil
}
