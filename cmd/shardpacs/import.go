package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
)

func init() {
	register(&command{name: "import", summary: "store DICOM files and folders (recursive) into the archive", run: runImport})
}

// archiveFlags is the flag set of the subcommands that open the archive
// directly (import, export, verify, reindex, keys): --config and the shared
// configuration flags (--data, --k, ...).
type archiveFlags struct {
	fs         *flag.FlagSet
	configPath string
}

func newArchiveFlags(name, usage string, stderr io.Writer) *archiveFlags {
	o := &archiveFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	o.fs.SetOutput(stderr)
	o.fs.StringVar(&o.configPath, "config", os.Getenv("SHARDPACS_CONFIG"), "TOML configuration `FILE`")
	config.Default().RegisterFlags(o.fs)
	o.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shardpacs %s\n\nFlags:\n", usage)
		o.fs.PrintDefaults()
	}
	return o
}

func (o *archiveFlags) load() (*config.Config, error) {
	return config.LoadAll(o.configPath, os.Getenv, o.fs)
}

// openArchive opens the archive of cfg, logging warnings to stderr.
func openArchive(ctx context.Context, cfg *config.Config, stderr io.Writer) (*archive.Archive, error) {
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	return archive.OpenDir(ctx, cfg, archive.Options{Logger: log})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newArchiveFlags("import", "import [flags] PATH...", stderr)
	paths, err := parseArgs(o.fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: no PATH given", errUsage)
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	a, err := openArchive(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.MakeFolders(ctx); err != nil {
		return err
	}

	var stored, duplicate, replaced, skipped int
	failures := map[string]int{}
	failed := 0
	tty := isTerminal(stderr)
	lastReport := time.Now()
	progress := func(final bool) {
		n := stored + duplicate + replaced + skipped + failed
		switch {
		case tty:
			fmt.Fprintf(stderr, "\r%d files: %d stored, %d duplicate, %d failed", n, stored, duplicate, failed)
			if final {
				fmt.Fprintln(stderr)
			}
		case !final && time.Since(lastReport) >= 10*time.Second:
			fmt.Fprintf(stderr, "%d files: %d stored, %d duplicate, %d failed\n", n, stored, duplicate, failed)
			lastReport = time.Now()
		}
	}
	importOne := func(path string, walked bool) {
		out, err := a.StoreFile(ctx, path, "")
		switch {
		case err == nil && out == archive.Duplicate:
			duplicate++
		case err == nil && out == archive.Replaced:
			replaced++
		case err == nil:
			stored++
		case walked && isNotDICOM(err):
			skipped++
		default:
			failed++
			reason := err.Error()
			failures[reason]++
			if tty {
				fmt.Fprintln(stderr)
			}
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
		}
		progress(false)
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		st, err := os.Stat(p)
		if err != nil {
			failed++
			failures[err.Error()]++
			fmt.Fprintf(stderr, "%v\n", err)
			continue
		}
		if !st.IsDir() {
			importOne(p, false)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				failed++
				failures[err.Error()]++
				fmt.Fprintf(stderr, "%v\n", err)
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.Type().IsRegular() {
				importOne(path, true)
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	progress(true)
	fmt.Fprintf(stdout, "imported: %d stored, %d duplicate, %d replaced, %d failed, %d skipped (not DICOM)\n",
		stored, duplicate, replaced, failed, skipped)
	if failed > 0 {
		reasons := make([]string, 0, len(failures))
		for r := range failures {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(stdout, "  %d × %s\n", failures[r], r)
		}
		return fmt.Errorf("%d files failed", failed)
	}
	return ctx.Err()
}

// isNotDICOM reports a file that is no DICOM at all (neither Part-10 nor a
// recognisable data set): skipped when met while walking a folder.
func isNotDICOM(err error) bool {
	var ide *archive.InvalidDataSetError
	return errors.As(err, &ide) && errors.Is(ide.Err, archive.ErrNotDICOM)
}
