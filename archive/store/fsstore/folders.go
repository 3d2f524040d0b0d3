package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MakeFolders creates the 256 fan-out folders that do not exist yet and
// makes their entries durable (one sync of the store folder), so that
// Puts never create one: on ext4 a mkdir costs as much as a file creation
// (0.1–0.8 ms of system time on the development machines) plus a sync of
// the store folder in the Put's critical path, which made the first
// thousands of Puts of a new store ~30 % slower (docs/performance.md).
// Existing folders are only recorded. Calling it is optional (Put creates
// a missing folder itself) and idempotent; the archive calls it when it
// opens a data directory.
func (s *Store) MakeFolders(ctx context.Context) error {
	made := false
	for i := range 256 {
		if s.subs[i].Load() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sub := filepath.Join(s.dir, fmt.Sprintf("%02x", i))
		err := os.Mkdir(sub, 0o700)
		switch {
		case err == nil:
			made = true
		case errors.Is(err, fs.ErrExist):
		default:
			return fmt.Errorf("fsstore: %s: %w", s, err)
		}
	}
	if made {
		if err := s.syncDir(s.dir); err != nil {
			return fmt.Errorf("fsstore: %s: %w", s, err)
		}
	}
	for i := range 256 {
		s.subs[i].Store(true)
	}
	return nil
}
