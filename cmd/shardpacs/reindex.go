package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// archiveGCAge is the minimum age of an orphan before verify --gc removes
// it: a write in progress in a running node is never that old.
const archiveGCAge = time.Hour

func init() {
	register(&command{name: "reindex", summary: "rebuild the index from the share stores and the KEK (after losing index.db)", run: runReindex})
}

func runReindex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newArchiveFlags("reindex", "reindex", stderr)
	rest, err := parseArgs(o.fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
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
	rep, err := a.Reindex(ctx)
	if rep != nil {
		fmt.Fprintf(stdout, "reindex: %d objects found, %d instances indexed, %d incomplete, %d superseded, %d shredded, %d failed, %d foreign files\n",
			rep.Objects, rep.Indexed, rep.Incomplete, rep.Superseded, rep.Shredded, rep.Failed, rep.Foreign)
		for _, e := range rep.Errors {
			fmt.Fprintf(stderr, "  %v\n", e)
		}
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d objects could not be indexed", rep.Failed)
	}
	return nil
}
