package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// Deferred deletion.
//
// Deleting files is not free for whoever creates files next: on ext4
// without a journal (the root filesystem of the machines this project is
// benchmarked on) the inode allocator skips every inode freed in the last
// 60 s (300 s while its inode-table block is dirty), checking each one
// against the buffer cache (fs/ext4/ialloc.c, recently_deleted). Removing
// one server's thousands of files right before the next server's run made
// that run pay a scan per file it created, in proportion to how many files
// it creates per instance (four shares for shardpacs, one file for the
// peers): profiles showed up to a third of shardpacs' CPU in that scan.
// A department's archive does not start from a just-emptied disk, so the
// bench moves every folder it is done with into trash (a rename: no inode
// is freed) and empties the trash once, after the last measurement.
// Keeping the files keeps their dirty pages too, which deleting them used
// to drop: serverDir therefore syncs before each server's run.

var trashSeq atomic.Int64

// trashDir is where discard moves folders; inside the output folder, so
// that the rename stays on one filesystem.
func (b *bench) trashDir() string { return filepath.Join(b.o.out, "trash") }

// discard moves path into the trash. If that fails it deletes path at once.
func (b *bench) discard(path string) {
	if _, err := os.Lstat(path); err != nil {
		return
	}
	t := b.trashDir()
	if err := os.MkdirAll(t, 0o755); err == nil {
		dst := filepath.Join(t, fmt.Sprintf("%06d-%s", trashSeq.Add(1), filepath.Base(path)))
		if os.Rename(path, dst) == nil {
			return
		}
	}
	_ = os.RemoveAll(path)
}

// emptyTrash deletes everything discard kept (and what an interrupted run
// left there).
func (b *bench) emptyTrash() error { return os.RemoveAll(b.trashDir()) }
