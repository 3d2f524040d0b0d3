// Command sp-bench is `make bench`: it measures shardpacs side by side with
// DCMTK's storescp and dcmqrscp and with Orthanc (with and without
// StorageCompression), on the same generated data in the same run, and
// prints a table of ratios shardpacs / peer (see README.md and
// docs/performance.md).
//
//	go run ./bench [-quick] [-n 1000] [-n-mf 100] [-queries-scale 1e4,1e5] [-only ingest,query,retrieve]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	quick       bool
	nCT, nMF    int
	scales      []int
	queries     int
	dcmqrscpMax int // largest query scale dcmqrscp is filled to
	phases      map[string]bool
	servers     map[string]bool
	out         string
	corpus      string
	shardpacs   string // prebuilt binary; "" = build ./cmd/shardpacs
	keep        bool
	commandLine string
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("sp-bench", flag.ContinueOnError)
	o := &options{}
	fs.BoolVar(&o.quick, "quick", false, "smoke run (small sets, 1e3 instances indexed, 30 queries): under 2 minutes")
	fs.IntVar(&o.nCT, "n", 1000, "CT instances (small, 514 KiB) in the ingest set")
	fs.IntVar(&o.nMF, "n-mf", 100, "multi-frame instances (large, ~1-3 MiB) in the ingest set")
	scales := fs.String("queries-scale", "1e4,1e5", "instances indexed when queries are timed, ascending (1e6 works: see docs/performance.md)")
	fs.IntVar(&o.queries, "queries", 200, "C-FIND queries of each kind at each scale")
	fs.IntVar(&o.dcmqrscpMax, "dcmqrscp-max-indexed", 10000, "skip dcmqrscp at larger query scales (its index fill slows down quadratically)")
	only := fs.String("only", "ingest,query,retrieve", "phases to run: ingest, query, retrieve (comma-separated)")
	servers := fs.String("servers", "shardpacs,storescp,orthanc,orthanc-z,dcmqrscp", "servers to run")
	fs.StringVar(&o.out, "out", "", "output folder (default <repo>/bench-out)")
	fs.StringVar(&o.corpus, "corpus", "", "real DICOM files (default $SHARDPACS_CORPUS or <repo>/../shared/corpus)")
	fs.StringVar(&o.shardpacs, "shardpacs", "", "shardpacs binary to run (default: go build ./cmd/shardpacs)")
	fs.BoolVar(&o.keep, "keep", false, "keep the servers' data folders under <out>/run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, f := range []string{"n", "n-mf", "queries-scale", "queries"} {
		set[f] = false
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["n"] {
			o.nCT = 100
		}
		if !set["n-mf"] {
			o.nMF = 12
		}
		if !set["queries-scale"] {
			*scales = "1e3"
		}
		if !set["queries"] {
			o.queries = 30
		}
	}
	var err error
	if o.scales, err = parseScales(*scales); err != nil {
		return nil, err
	}
	if o.nCT < 1 || o.nMF < 1 || o.queries < 1 {
		return nil, errors.New("bench: -n, -n-mf and -queries must be positive")
	}
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		switch p = strings.TrimSpace(p); p {
		case "ingest", "query", "retrieve":
			o.phases[p] = true
		default:
			return nil, fmt.Errorf("bench: -only: unknown phase %q (ingest, query, retrieve)", p)
		}
	}
	o.servers = map[string]bool{}
	for _, s := range strings.Split(*servers, ",") {
		switch s = strings.TrimSpace(s); s {
		case "shardpacs", "storescp", "orthanc", "orthanc-z", "dcmqrscp":
			o.servers[s] = true
		default:
			return nil, fmt.Errorf("bench: -servers: unknown server %q", s)
		}
	}
	o.commandLine = "go run ./bench " + strings.Join(args, " ")
	return o, nil
}

// parseScales reads "1e4,1e5" (or plain integers) into ascending counts.
func parseScales(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 1 || v > 1e8 || v != float64(int(v)) {
			return nil, fmt.Errorf("bench: -queries-scale: bad count %q", f)
		}
		if len(out) > 0 && int(v) <= out[len(out)-1] {
			return nil, fmt.Errorf("bench: -queries-scale: counts must increase: %q", s)
		}
		out = append(out, int(v))
	}
	return out, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// repoRoot finds the folder holding go.mod from the working directory up.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("bench: run from inside the repository (no go.mod found)")
		}
		d = parent
	}
}

// requiredTools are the external programs of the benchmark.
var requiredTools = []string{"storescu", "storescp", "movescu", "dcmqrscp", "Orthanc"}

func run(ctx context.Context, o *options) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join(root, "bench-out")
	}
	if o.corpus == "" {
		o.corpus = os.Getenv("SHARDPACS_CORPUS")
	}
	if o.corpus == "" {
		o.corpus = filepath.Join(root, "..", "shared", "corpus")
	}
	var missingTools []string
	for _, t := range requiredTools {
		if _, err := exec.LookPath(t); err != nil {
			missingTools = append(missingTools, t)
		}
	}
	if len(missingTools) > 0 {
		return fmt.Errorf("bench: missing %s: run scripts/install-test-tools.sh --bench as root, or apt-get install dcmtk orthanc",
			strings.Join(missingTools, ", "))
	}
	b := &bench{o: o, runDir: filepath.Join(o.out, "run")}
	// A previous run's folders go to the trash too: deleting them now
	// would slow the first measurements down (trash.go).
	b.discard(b.runDir)
	defer b.emptyTrash()
	if err := os.MkdirAll(b.runDir, 0o755); err != nil {
		return err
	}

	log("building the ingest sets in %s", filepath.Join(o.out, "sets"))
	if err := b.makeSets(filepath.Join(o.out, "sets")); err != nil {
		return err
	}

	spState := "not requested (-servers)"
	if o.servers["shardpacs"] {
		bin, state := shardpacsBinary(ctx, root, o)
		spState = state
		if bin != "" {
			b.servers = append(b.servers, newShardpacs(bin))
		}
	}
	for _, s := range []server{newStorescp(), newOrthanc(false), newOrthanc(true), newDcmqrscp()} {
		if o.servers[s.Name()] {
			b.servers = append(b.servers, s)
		}
	}
	cols := []string{"shardpacs", "storescp", "orthanc", "orthanc-z", "dcmqrscp"}
	b.res = newResults("shardpacs", cols)
	b.spState = spState

	started := time.Now()
	for _, phase := range []string{"ingest", "query", "retrieve"} {
		if !o.phases[phase] {
			continue
		}
		log("phase %s", phase)
		var err error
		switch phase {
		case "ingest":
			err = b.ingestPhase(ctx)
		case "query":
			err = b.queryPhase(ctx)
		case "retrieve":
			err = b.retrievePhase(ctx)
		}
		if err != nil {
			return err
		}
	}
	b.fillUnavailable()
	report := b.report(time.Since(started))
	fmt.Print(report)
	name := filepath.Join(o.out, "results-"+time.Now().Format("20060102")+".md")
	if err := os.WriteFile(name, []byte(report), 0o644); err != nil {
		return err
	}
	log("table written to %s", name)
	if !o.keep {
		b.discard(b.runDir)
	}
	return nil
}

// shardpacsBinary builds (or takes) the shardpacs binary and checks that it
// has `serve`. It returns "" and the reason when shardpacs cannot run.
func shardpacsBinary(ctx context.Context, root string, o *options) (bin, state string) {
	bin = o.shardpacs
	if bin == "" {
		bin = filepath.Join(o.out, "bin", "shardpacs")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/shardpacs")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "shardpacs: build failed: " + lastLines(out, 3)
		}
	}
	out, _ := exec.CommandContext(ctx, bin, "help").CombinedOutput()
	if hasServe(string(out)) {
		return bin, "shardpacs: measured (" + versionOf(ctx, bin) + ")"
	}
	return "", "shardpacs: serve not available in this build"
}

// hasServe reports whether `shardpacs help` lists the serve subcommand (a
// line whose first word is "serve").
func hasServe(help string) bool {
	for _, line := range strings.Split(help, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "serve" {
			return true
		}
	}
	return false
}

// versionOf returns the first line of `shardpacs version`.
func versionOf(ctx context.Context, bin string) string {
	out, _ := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// log prints progress on stderr (the table goes to stdout).
func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sp-bench %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// machine describes where the run happened.
func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s", runtime.NumCPU(), cpu, kernel, runtime.Version())
}

// toolVersion returns the first line of `name args...`, for the report.
func toolVersion(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "?"
}
