package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

func init() {
	register(&command{name: "store", summary: "C-STORE DICOM files and folders (recursively) to a node", run: runStore})
}

// storeFile is one file to send, with what its File Meta Information
// says (PS3.10 §7.1).
type storeFile struct {
	path     string
	sopClass string
	ts       string
}

// storeTally counts the outcome of every file.
type storeTally struct {
	ok, warned, failed, skipped int
}

// runStore is "shardpacs store [flags] TARGET FILE|DIR...": every regular
// file below the arguments (folders walked recursively, symbolic links
// not followed inside folders) is read for its File Meta Information;
// files without one are skipped
// (failed when named on the command line). Each distinct (SOP class, transfer
// syntax) pair is proposed as its own presentation context, so every file
// is sent as it is, byte for byte (no transcoding); more than
// dimse.MaxProposedContexts pairs take several associations. One line per
// file, then a summary. Any failed file makes the exit status 1.
func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newSCUFlags("store", "store [flags] HOST:PORT|PEER-AE FILE|DIR...", stderr)
	quiet := o.fs.Bool("q", false, "print only the failures and the summary")
	pos, err := parseArgs(o.fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		o.fs.Usage()
		return fmt.Errorf("%w: want a target and at least one file or folder", errUsage)
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	t, err := o.resolveTarget(cfg, pos[0])
	if err != nil {
		return err
	}
	c, err := o.client(cfg, t)
	if err != nil {
		return err
	}

	var tally storeTally
	files, err := collectFiles(pos[1:], func(path string, named bool, err error) {
		if named {
			tally.failed++
			fmt.Fprintf(stdout, "FAIL %s: %s\n", path, oneLine(err))
			return
		}
		tally.skipped++
		fmt.Fprintf(stdout, "SKIP %s: %s\n", path, oneLine(err))
	})
	if err != nil {
		return err
	}
	for _, batch := range batchByContext(files, dimse.MaxProposedContexts) {
		if err := ctx.Err(); err != nil {
			break
		}
		storeBatch(ctx, c, t, batch, &tally, *quiet, stdout)
	}
	fmt.Fprintf(stdout, "%s to %s at %s: %d stored, %d with warnings, %d failed, %d skipped\n",
		plural(tally.ok+tally.warned+tally.failed, "file"), t.CalledAE, t.Addr, tally.ok, tally.warned, tally.failed, tally.skipped)
	if err := ctx.Err(); err != nil {
		return err
	}
	if tally.failed > 0 {
		return fmt.Errorf("%s failed", plural(tally.failed, "file"))
	}
	return nil
}

// collectFiles walks the arguments and reads the File Meta Information of
// every regular file; files that cannot be sent are reported to skip, with
// named set for a file given by name (a failure) rather than found in a
// folder (skipped: folders hold README files and the like). An argument
// that does not exist is an error.
func collectFiles(args []string, skip func(path string, named bool, err error)) ([]storeFile, error) {
	var out []storeFile
	add := func(path string, named bool) {
		f, err := readFileMeta(path)
		if err != nil {
			skip(path, named, err)
			return
		}
		out = append(out, f)
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if !st.IsDir() {
			add(a, true)
			continue
		}
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				skip(path, false, err)
				return nil
			}
			if d.Type().IsRegular() {
				add(path, false)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readFileMeta reads the File Meta Information of the file at path.
func readFileMeta(path string) (storeFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return storeFile{}, err
	}
	defer f.Close()
	meta, _, err := dcm.ReadPart10Header(bufio.NewReaderSize(f, 4096), 0)
	if err != nil {
		return storeFile{}, fmt.Errorf("not a DICOM file with File Meta Information: %w", err)
	}
	if meta.MediaStorageSOPClassUID == "" || meta.MediaStorageSOPInstanceUID == "" || meta.TransferSyntaxUID == "" {
		return storeFile{}, errors.New("File Meta Information lacks a SOP Class, SOP Instance or Transfer Syntax UID")
	}
	return storeFile{path: path, sopClass: meta.MediaStorageSOPClassUID, ts: meta.TransferSyntaxUID}, nil
}

// batchByContext groups files so that each group needs at most max
// distinct (SOP class, transfer syntax) contexts; files keep their order
// within a context.
func batchByContext(files []storeFile, max int) [][]storeFile {
	type key struct{ class, ts string }
	byKey := make(map[key][]storeFile)
	var keys []key
	for _, f := range files {
		k := key{f.sopClass, f.ts}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], f)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].class != keys[j].class {
			return keys[i].class < keys[j].class
		}
		return keys[i].ts < keys[j].ts
	})
	var out [][]storeFile
	for i := 0; i < len(keys); i += max {
		var batch []storeFile
		for _, k := range keys[i:min(i+max, len(keys))] {
			batch = append(batch, byKey[k]...)
		}
		out = append(out, batch)
	}
	return out
}

// storeBatch sends files over one association (a new one if the peer
// drops it midway), counting each outcome into tally.
func storeBatch(ctx context.Context, c *dimse.Client, t target, files []storeFile, tally *storeTally, quiet bool, stdout io.Writer) {
	var props []dimse.ContextProposal
	seen := make(map[[2]string]bool)
	for _, f := range files {
		if k := [2]string{f.sopClass, f.ts}; !seen[k] {
			seen[k] = true
			props = append(props, dimse.StorageContexts([]string{f.sopClass}, []string{f.ts}, false)...)
		}
	}
	fail := func(f storeFile, err error) {
		tally.failed++
		fmt.Fprintf(stdout, "FAIL %s: %s\n", f.path, oneLine(err))
	}
	var cc *dimse.ClientConn
	defer func() {
		if cc != nil {
			release(ctx, cc)
		}
	}()
	redials := 0
	for i, f := range files {
		if ctx.Err() != nil {
			return
		}
		if cc != nil && associationEnded(cc) {
			cc = nil
		}
		if cc == nil {
			var err error
			if redials > 1 {
				err = errors.New("association lost twice; giving up on this batch")
			} else {
				cc, err = dial(ctx, c, t, props)
				redials++
			}
			if err != nil {
				for _, g := range files[i:] {
					fail(g, err)
				}
				return
			}
		}
		st, err := cc.StoreFile(ctx, f.path)
		switch {
		case err == nil:
			tally.ok++
			if !quiet {
				fmt.Fprintf(stdout, "OK   %s\n", f.path)
			}
		case st.Type() == dimse.StatusTypeWarning && isStatusErr(err):
			tally.warned++
			fmt.Fprintf(stdout, "WARN %s: %s\n", f.path, oneLine(err))
		case errors.Is(err, dimse.ErrNoContext):
			fail(f, fmt.Errorf("the peer accepted no context for %s in %s", sopName(f.sopClass), tsName(f.ts)))
		default:
			fail(f, err)
		}
	}
}

// associationEnded reports whether cc can no longer carry operations.
func associationEnded(cc *dimse.ClientConn) bool {
	select {
	case <-cc.Done():
		return true
	default:
		return false
	}
}

func isStatusErr(err error) bool {
	var se *dimse.StatusError
	var s dimse.Status
	return errors.As(err, &se) || errors.As(err, &s)
}

// sopName returns the registry name of a UID, or the UID itself.
func sopName(u string) string {
	if n := uid.Name(u); n != "" {
		return n
	}
	return u
}

// tsName returns the name of a transfer syntax, or its UID.
func tsName(u string) string {
	if ts, ok := uid.LookupTransferSyntax(u); ok {
		return ts.Name
	}
	return u
}
