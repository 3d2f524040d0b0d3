package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// bench is one run: options, sets, servers and the results table.
type bench struct {
	o       *options
	runDir  string
	servers []server
	spState string
	res     *results

	ct, mf, fill *ingestSet
}

// Layout of the generated sets: series of 25 (CT, index fill) or 5
// (multi-frame) instances, 2 series per study, 2 studies per patient.
const (
	ctPerSeries   = 25
	mfPerSeries   = 5
	fillPerSeries = 25
)

// makeSets generates (or finds cached) the sets the requested phases use.
func (b *bench) makeSets(root string) error {
	var files []string
	err := filepath.WalkDir(b.o.corpus, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(p), ".dcm") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: corpus %s: %w (set -corpus or SHARDPACS_CORPUS)", b.o.corpus, err)
	}
	var ctSrc string
	for _, f := range files {
		if filepath.Base(f) == "CT-MONO2-16-ort.dcm" {
			ctSrc = f
		}
	}
	if ctSrc == "" {
		return fmt.Errorf("%w: CT-MONO2-16-ort.dcm in %s", errNoSource, b.o.corpus)
	}
	if b.o.phases["ingest"] || b.o.phases["retrieve"] {
		if b.ct, err = loadOrGenerate(root, setSpec{Name: "ct", Sources: []string{ctSrc}, N: b.o.nCT,
			PerSeries: ctPerSeries, SeriesPerStudy: 2, PatientPrefix: "CT"}); err != nil {
			return err
		}
	}
	if b.o.phases["ingest"] {
		mfSrc, err := multiFrameSources(files, 1<<20)
		if err != nil {
			return err
		}
		if b.mf, err = loadOrGenerate(root, setSpec{Name: "mf", Sources: mfSrc, N: b.o.nMF,
			PerSeries: mfPerSeries, SeriesPerStudy: 2, PatientPrefix: "MF"}); err != nil {
			return err
		}
	}
	if b.o.phases["query"] {
		if b.fill, err = loadOrGenerate(root, setSpec{Name: "fill", Sources: []string{ctSrc}, N: b.o.scales[len(b.o.scales)-1],
			PerSeries: fillPerSeries, SeriesPerStudy: 2, PatientPrefix: "Q", Chunks: b.o.scales, Shrink: true}); err != nil {
			return err
		}
	}
	return nil
}

// rotate returns the servers starting at the k-th, so that no server is
// always measured first or last (peers interleaved through the run).
func rotate(s []server, k int) []server {
	if len(s) == 0 {
		return nil
	}
	k %= len(s)
	return append(append([]server(nil), s[k:]...), s[:k]...)
}

func filter(s []server, keep func(server) bool) []server {
	var out []server
	for _, x := range s {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// nonEmpty drops folders without files (sets smaller than 4 instances).
func nonEmpty(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if countFiles(d, func(string) bool { return true }) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// serverDir makes a fresh folder for one server in one measurement. It
// first flushes every dirty page to disk (sync(2), not timed): the peers
// that do not fsync leave their files' write-back to whoever runs next,
// and a server that makes its writes durable (shardpacs' syncfs, Orthanc's
// SQLite commits) would otherwise wait for that too (see trash.go).
func (b *bench) serverDir(step, name string) (string, error) {
	syscall.Sync()
	d := filepath.Join(b.runDir, step, name)
	b.discard(d)
	return d, os.MkdirAll(d, 0o755)
}

// cleanup discards a server's data folder after its measurement (see
// trash.go), unless -keep.
func (b *bench) cleanup(dir string) {
	if !b.o.keep {
		b.discard(dir)
	}
}

// failed records why a server has no value for m, and says so in the notes.
func (b *bench) failed(m metric, srv server, err error) {
	b.res.set(m, srv.Name(), missing("failed"))
	b.res.note("%s, %s: %v", srv.Name(), m.label, err)
	log("%s: %s: %v", srv.Name(), m.label, err)
}

// peakRow keeps the largest peak RSS of a server over a phase.
func (b *bench) peakRow(m metric, srv server, peak int64) {
	mb := float64(peak) / (1 << 20)
	if old, ok := b.res.cells[m.id][srv.Name()]; ok && old.ok && old.v >= mb {
		return
	}
	b.res.set(m, srv.Name(), value(mb))
}

func (b *bench) ingestPhase(ctx context.Context) error {
	type combo struct {
		set   *ingestSet
		key   string
		label string
		assoc int
		extra []string // storescu options
	}
	avg := func(s *ingestSet) int64 { return s.ChunkBytes[0] / int64(s.ChunkFiles[0]) }
	combos := []combo{
		{b.ct, "ct", fmt.Sprintf("CT (%d × %d KiB)", b.ct.ChunkFiles[0], avg(b.ct)>>10), 1, nil},
		{b.ct, "ct", fmt.Sprintf("CT (%d × %d KiB)", b.ct.ChunkFiles[0], avg(b.ct)>>10), 4, nil},
		{b.mf, "mf", fmt.Sprintf("multi-frame (%d × %d KiB avg)", b.mf.ChunkFiles[0], avg(b.mf)>>10), 1, []string{"-xy"}},
		{b.mf, "mf", fmt.Sprintf("multi-frame (%d × %d KiB avg)", b.mf.ChunkFiles[0], avg(b.mf)>>10), 4, []string{"-xy"}},
	}
	peakM := metric{id: "rss-ingest", label: "peak RSS, ingest runs", unit: "MiB"}
	for k, c := range combos {
		n, bytes := c.set.ChunkFiles[0], c.set.ChunkBytes[0]
		instM := metric{id: fmt.Sprintf("ingest-%s-%d", c.key, c.assoc), higherBetter: true, unit: "inst/s",
			label: fmt.Sprintf("ingest %s, %d assoc.", c.label, c.assoc)}
		mbM := metric{id: instM.id + "-mb", higherBetter: true, unit: "MB/s", label: instM.label}
		diskM := metric{id: "disk-" + c.key, unit: "KiB/inst",
			label: fmt.Sprintf("disk per instance, %s (input %d KiB)", c.label, avg(c.set)>>10)}
		for _, srv := range rotate(b.servers, k) {
			dir, err := b.serverDir(fmt.Sprintf("ingest-%s-%d", c.key, c.assoc), srv.Name())
			if err != nil {
				return err
			}
			if err := srv.Start(ctx, dir, 0); err != nil {
				b.failed(instM, srv, err)
				continue
			}
			dirs := []string{filepath.Join(c.set.dir, "c0")} // storescu +r walks q0..q3
			if c.assoc == 4 {
				dirs = nonEmpty(c.set.chunkDirs(0))
			}
			r, err := storescuIngest(ctx, srv, dirs, c.extra...)
			stored := srv.Stored()
			b.peakRow(peakM, srv, srv.Stop())
			if err != nil {
				b.failed(instM, srv, err)
				b.cleanup(dir)
				continue
			}
			secs := r.elapsed.Seconds()
			rate, mbs := value(float64(n)/secs), value(float64(bytes)/1e6/secs)
			switch {
			case r.errors > 0:
				rate.text = fmt.Sprintf("(%d errors)", r.errors)
				b.res.note("%s, %s: %d storescu errors, first: %s", srv.Name(), instM.label, r.errors, r.first)
			case stored >= 0 && stored != n:
				rate.text = fmt.Sprintf("(stored %d of %d)", stored, n)
			}
			b.res.set(instM, srv.Name(), rate)
			b.res.set(mbM, srv.Name(), mbs)
			log("%-10s %-40s %7.1f inst/s %7.1f MB/s", srv.Name(), instM.label, rate.v, mbs.v)
			if c.assoc == 1 {
				du, err := diskUsage(srv.DataDirs()...)
				if err == nil {
					b.res.set(diskM, srv.Name(), value(float64(du)/float64(n)/1024))
				}
			}
			b.cleanup(dir)
		}
	}
	return nil
}

// queryKind is one of the timed C-FIND queries.
type queryKind struct {
	id, label string
	make      func(r *rand.Rand, studies []studyInfo) query
}

var queryKinds = []queryKind{
	{"find-pid", "C-FIND STUDY by PatientID", func(r *rand.Rand, studies []studyInfo) query {
		pid := studies[r.IntN(len(studies))].PatientID
		want := 0
		for _, s := range studies {
			if s.PatientID == pid {
				want++
			}
		}
		return studyQuery(tPatientID, pid, want)
	}},
	{"find-name", "C-FIND STUDY by PatientName wildcard (~20 studies)", func(r *rand.Rand, studies []studyInfo) query {
		// Patient IDs are PREFIX%06d: "BENCH^Q00012*" matches Q000120..Q000129.
		pid := studies[r.IntN(len(studies))].PatientID
		prefix := pid[:len(pid)-1]
		want := 0
		for _, s := range studies {
			if strings.HasPrefix(s.PatientID, prefix) {
				want++
			}
		}
		return studyQuery(tPatientName, "BENCH^"+prefix+"*", want)
	}},
	{"find-series", "C-FIND IMAGE by SeriesInstanceUID (25 inst.)", func(r *rand.Rand, studies []studyInfo) query {
		st := studies[r.IntN(len(studies))]
		se := r.IntN(len(st.Series))
		want := min(fillPerSeries, st.Instances-se*fillPerSeries)
		return imageQuery(st.StudyUID, st.Series[se], want)
	}},
}

// scaleName prints 10000 as 1e4.
func scaleName(n int) string {
	e := 0
	for v := n; v%10 == 0 && v > 1; v /= 10 {
		e++
	}
	if n == pow10(e) {
		return fmt.Sprintf("1e%d", e)
	}
	return fmt.Sprint(n)
}

func pow10(e int) int {
	v := 1
	for range e {
		v *= 10
	}
	return v
}

func (b *bench) queryPhase(ctx context.Context) error {
	qs := filter(b.servers, server.CanQuery)
	var running []server
	defer func() {
		for _, s := range running {
			s.Stop()
		}
	}()
	peakM := metric{id: "rss-query", label: fmt.Sprintf("peak RSS, query phase (up to %s indexed)", scaleName(b.fill.Spec.N)), unit: "MiB"}
	for _, srv := range qs {
		dir, err := b.serverDir("query", srv.Name())
		if err != nil {
			return err
		}
		if err := srv.Start(ctx, dir, 0); err != nil {
			b.failed(peakM, srv, err)
			continue
		}
		running = append(running, srv)
	}
	broken := map[string]bool{}
	prev := 0
	for c, scale := range b.o.scales {
		sc := scaleName(scale)
		for _, srv := range running {
			if srv.Name() == "dcmqrscp" && scale > b.o.dcmqrscpMax && !broken[srv.Name()] {
				broken[srv.Name()] = true
				b.res.note("dcmqrscp: not filled beyond %s instances (-dcmqrscp-max-indexed): its flat index.dat makes each store slower as it grows (83 inst/s at 2e3, 34 at 5e3)", scaleName(b.o.dcmqrscpMax))
			}
		}
		fillM := metric{id: "fill-" + sc, higherBetter: true, unit: "inst/s",
			label: fmt.Sprintf("index fill %s → %s (2 KiB instances, 4 assoc.)", scaleName(max(prev, 0)), sc)}
		for _, srv := range rotate(running, c) {
			if broken[srv.Name()] {
				continue
			}
			start := time.Now()
			if err := load(ctx, srv, nonEmpty(b.fill.chunkDirs(c))); err != nil {
				b.failed(fillM, srv, err)
				broken[srv.Name()] = true
				continue
			}
			rate := float64(b.fill.ChunkFiles[c]) / time.Since(start).Seconds()
			cellv := value(rate)
			if srv.SerialLoad() {
				cellv.text = "(1 assoc.)"
			}
			b.res.set(fillM, srv.Name(), cellv)
			log("%-10s %-40s %7.1f inst/s", srv.Name(), fillM.label, rate)
		}
		prev = scale
		studies := b.fill.studiesUpTo(c)
		for ki, kind := range queryKinds {
			r := rand.New(rand.NewPCG(uint64(ki), uint64(scale)))
			queries := make([]query, b.o.queries)
			for i := range queries {
				queries[i] = kind.make(r, studies)
			}
			p50M := metric{id: kind.id + "-p50-" + sc, unit: "ms", label: fmt.Sprintf("%s, %s indexed, p50", kind.label, sc)}
			p95M := metric{id: kind.id + "-p95-" + sc, unit: "ms", label: fmt.Sprintf("%s, %s indexed, p95", kind.label, sc)}
			for _, srv := range rotate(running, c+ki) {
				if broken[srv.Name()] {
					continue
				}
				fr, err := runFinds(ctx, srv, queries)
				if err != nil {
					b.failed(p50M, srv, err)
					continue
				}
				p50, p95 := value(ms(percentile(fr.latencies, 50))), value(ms(percentile(fr.latencies, 95)))
				if fr.wrong > 0 {
					p50.text = fmt.Sprintf("(%d wrong)", fr.wrong)
					b.res.note("%s, %s: %d of %d queries got a wrong number of matches, e.g. %s",
						srv.Name(), p50M.label, fr.wrong, len(queries), fr.example)
				}
				b.res.set(p50M, srv.Name(), p50)
				b.res.set(p95M, srv.Name(), p95)
				log("%-10s %-60s p50 %7.2f ms p95 %7.2f ms", srv.Name(), p50M.label, p50.v, p95.v)
			}
		}
	}
	diskM := metric{id: "disk-fill", unit: "KiB/inst",
		label: fmt.Sprintf("disk per indexed instance at %s (2 KiB instances)", scaleName(b.fill.Spec.N))}
	for _, srv := range running {
		if !broken[srv.Name()] {
			if du, err := diskUsage(srv.DataDirs()...); err == nil {
				b.res.set(diskM, srv.Name(), value(float64(du)/float64(b.fill.Spec.N)/1024))
			}
		}
		b.peakRow(peakM, srv, srv.Stop())
		b.cleanup(filepath.Join(b.runDir, "query", srv.Name()))
	}
	running = nil
	return nil
}

// moveAllRounds is how many times the whole CT set is moved per server;
// the table gives the median. One round's rate swings with what the
// machine did just before (docs/performance.md, "Latest table").
const moveAllRounds = 3

func (b *bench) retrievePhase(ctx context.Context) error {
	destDir := filepath.Join(b.runDir, "dest")
	if err := os.MkdirAll(filepath.Join(destDir, "data"), 0o755); err != nil {
		return err
	}
	destPort, err := freePort()
	if err != nil {
		return err
	}
	dest, err := startProc(ctx, filepath.Join(destDir, "storescp.log"), destPort, 30*time.Second,
		"storescp", "-aet", destAE, "+xa", "-od", filepath.Join(destDir, "data"), fmt.Sprint(destPort))
	if err != nil {
		return err
	}
	defer dest.Stop(5 * time.Second)
	received := func() int {
		n := countFiles(filepath.Join(destDir, "data"), func(string) bool { return true })
		ents, _ := os.ReadDir(filepath.Join(destDir, "data"))
		for _, e := range ents {
			b.discard(filepath.Join(destDir, "data", e.Name()))
		}
		return n
	}
	studies := b.ct.Studies
	studyM := metric{id: "move-study", higherBetter: true, unit: "inst/s",
		label: fmt.Sprintf("C-MOVE one study (%d inst.) to storescp, median of %d, movescu start included", studies[0].Instances, min(3, len(studies)))}
	allM := metric{id: "move-all", higherBetter: true, unit: "inst/s",
		label: fmt.Sprintf("C-MOVE whole CT set (%d studies, %d inst.) to storescp, 1 assoc., median of %d", len(studies), b.ct.ChunkFiles[0], moveAllRounds)}
	peakM := metric{id: "rss-retrieve", label: "peak RSS, retrieve phase", unit: "MiB"}
	// Every server is loaded first and kept running; the moves then go in
	// rounds, each round visiting every server, starting one server later
	// each time. A drift of the machine over the phase (docs/performance.md,
	// "Latest table") then falls on every server alike, not on the last.
	type target struct {
		srv              server
		dir              string
		study, all       []float64
		studyErr, allErr error
	}
	var ts []*target
	stopAll := func() {
		for _, t := range ts {
			b.peakRow(peakM, t.srv, t.srv.Stop())
			b.cleanup(t.dir)
		}
	}
	for _, srv := range rotate(filter(b.servers, server.CanMove), 1) {
		dir, err := b.serverDir("retrieve", srv.Name())
		if err != nil {
			stopAll()
			return err
		}
		if err := srv.Start(ctx, dir, destPort); err != nil {
			b.failed(allM, srv, err)
			continue
		}
		if err := load(ctx, srv, nonEmpty(b.ct.chunkDirs(0))); err != nil {
			b.peakRow(peakM, srv, srv.Stop())
			b.failed(allM, srv, err)
			b.cleanup(dir)
			continue
		}
		ts = append(ts, &target{srv: srv, dir: dir})
	}
	defer stopAll()
	move := func(t *target, sts []studyInfo, want int) (float64, error) {
		d, err := movescuStudies(ctx, t.srv, filepath.Join(t.dir, "q"), sts)
		got := received()
		if err == nil && got != want {
			err = fmt.Errorf("destination received %d of %d instances", got, want)
		}
		if err != nil {
			return 0, err
		}
		return float64(got) / d.Seconds(), nil
	}
	for r := range min(3, len(studies)) {
		for j := range ts {
			t := ts[(j+r)%len(ts)]
			if t.studyErr != nil {
				continue
			}
			rate, err := move(t, studies[r:r+1], studies[r].Instances)
			if t.studyErr = err; err == nil {
				t.study = append(t.study, rate)
			}
		}
	}
	for r := range moveAllRounds {
		for j := range ts {
			t := ts[(j+r)%len(ts)]
			if t.allErr != nil {
				continue
			}
			rate, err := move(t, studies, b.ct.ChunkFiles[0])
			if t.allErr = err; err == nil {
				t.all = append(t.all, rate)
				log("%-10s %-40s %7.1f inst/s", t.srv.Name(), "C-MOVE whole set", rate)
			}
		}
	}
	for _, t := range ts {
		if t.studyErr != nil {
			b.failed(studyM, t.srv, t.studyErr)
		} else {
			b.res.set(studyM, t.srv.Name(), value(median(t.study)))
		}
		if t.allErr != nil {
			b.failed(allM, t.srv, t.allErr)
		} else {
			b.res.set(allM, t.srv.Name(), value(median(t.all)))
		}
	}
	return nil
}

// fillUnavailable marks every shardpacs cell left empty when shardpacs could
// not run, and every cell of a server that cannot do a measurement.
func (b *bench) fillUnavailable() {
	running := map[string]bool{}
	for _, s := range b.servers {
		running[s.Name()] = true
	}
	for _, m := range b.res.metrics {
		row := b.res.cells[m.id]
		if _, ok := row["shardpacs"]; !ok && !running["shardpacs"] && b.o.servers["shardpacs"] {
			row["shardpacs"] = missing("not available¹")
		}
	}
}

// report renders the whole result file.
func (b *bench) report(took time.Duration) string {
	var s strings.Builder
	fmt.Fprintf(&s, "# shardpacs benchmark, %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&s, "- command: `%s` (took %s)\n", b.o.commandLine, took.Round(time.Second))
	fmt.Fprintf(&s, "- machine: %s\n", machine())
	fmt.Fprintf(&s, "- peers: %s; %s; TCP_NODELAY=1 for every DCMTK process and Orthanc\n",
		toolVersion("storescp", "--version"), toolVersion("Orthanc", "--version"))
	fmt.Fprintf(&s, "- %s\n", b.spState)
	if b.fill != nil {
		fmt.Fprintf(&s, "- queries: %d of each kind per scale, timed one by one inside one association (our dimse client), random keys (fixed seed)\n", b.o.queries)
	}
	s.WriteString("- ratios are shardpacs / peer: above 1 is better for shardpacs where \"better\" is higher, worse where it is lower\n\n")
	s.WriteString(b.res.markdown())
	if strings.Contains(b.res.markdown(), "¹") {
		fmt.Fprintf(&s, "\n¹ %s\n", b.spState)
	}
	return s.String()
}
