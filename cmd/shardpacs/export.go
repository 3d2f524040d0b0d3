package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/dcm"
)

func init() {
	register(&command{name: "export", summary: "write stored instances as Part-10 files (--patient | --study | --series | --instance, --out DIR)", run: runExport})
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newArchiveFlags("export", "export (--patient ID | --study UID | --series UID | --instance UID) --out DIR", stderr)
	var lf levelFlags
	lf.register(o.fs, "export")
	var out string
	o.fs.StringVar(&out, "out", "", "`DIR` to write <SOPInstanceUID>.dcm files into (created if needed)")
	rest, err := parseArgs(o.fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	level, key, ok := lf.selected()
	if !ok || out == "" {
		return fmt.Errorf("%w: give exactly one of --patient, --study, --series, --instance, and --out", errUsage)
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
	recs, err := a.Instances(ctx, level, key)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("no instance found")
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	failed := 0
	for _, r := range recs {
		if err := exportOne(ctx, a, r.SOPInstanceUID, out); err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", r.SOPInstanceUID, err)
		}
	}
	fmt.Fprintf(stdout, "exported %d of %d instances to %s\n", len(recs)-failed, len(recs), out)
	if failed > 0 {
		return fmt.Errorf("%d instances failed", failed)
	}
	return nil
}

// exportOne writes one instance as DIR/<SOPInstanceUID>.dcm, atomically.
// The UID is validated (digits and dots only), so the name cannot leave DIR.
func exportOne(ctx context.Context, a *archive.Archive, sop, dir string) error {
	if !dcm.ValidUID(sop) {
		return fmt.Errorf("invalid SOP instance UID, not used as a file name")
	}
	obj, err := a.Open(ctx, sop)
	if err != nil {
		return err
	}
	defer obj.Close()
	tmp, err := os.CreateTemp(dir, ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, obj); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, sop+".dcm"))
}
