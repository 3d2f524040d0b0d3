//go:build !linux

package fsstore

import (
	"errors"
	"os"
)

// syncfsWorks is false: without syncfs(2) every file is fsynced.
const syncfsWorks = false

func syncfs(*os.File) error { return errors.ErrUnsupported }

func deviceOf(string) (uint64, bool) { return 0, false }
