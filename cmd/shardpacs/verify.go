package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shardpacs/shardpacs/archive"
)

func init() {
	register(&command{name: "verify", summary: "check every share against the index (--repair rebuilds missing and corrupt shares)", run: runVerify})
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newArchiveFlags("verify", "verify [--repair] [--gc]", stderr)
	repair := o.fs.Bool("repair", false, "rebuild missing and corrupt shares from the others")
	gc := o.fs.Bool("gc", false, "afterwards, remove orphan share objects, temporary files and orphan shred keys older than one hour")
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
	rep, err := a.Verify(ctx, *repair, func(ev archive.VerifyEvent) {
		if ev.Store < 0 {
			fmt.Fprintf(stderr, "instance %s (object %s): %v\n", ev.SOPInstanceUID, ev.ObjectID, ev.Err)
			return
		}
		fmt.Fprintf(stderr, "instance %s (object %s) store %d: %v\n", ev.SOPInstanceUID, ev.ObjectID, ev.Store, ev.Status)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d instances\n", rep.Instances)
	for i, c := range rep.Stores {
		fmt.Fprintf(stdout, "store %d: %d ok, %d missing, %d corrupt, %d repaired\n", i, c.OK, c.Missing, c.Corrupt, c.Repaired)
	}
	fmt.Fprintf(stdout, "%d unrecoverable, %d repairs failed\n", rep.Unrecoverable, rep.Failed)
	if *gc {
		n, err := a.CollectGarbage(ctx, archiveGCAge)
		if err != nil && !errors.Is(err, archive.ErrIndexEmpty) {
			return err
		}
		if err != nil {
			fmt.Fprintf(stderr, "gc skipped: %v\n", err)
		}
		fmt.Fprintf(stdout, "garbage collected: %d objects\n", n)
	}
	switch {
	case rep.Unrecoverable > 0 || rep.Failed > 0:
		return fmt.Errorf("%d instances unrecoverable, %d repairs failed", rep.Unrecoverable, rep.Failed)
	case !*repair && !rep.Clean():
		return errors.New("problems found; run shardpacs verify --repair")
	}
	return nil
}
