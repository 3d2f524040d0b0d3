package fsstore

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// sysSyncfs is syncfs(2)'s number; the syscall package does not name it
// on every architecture.
var sysSyncfs = map[string]uintptr{"amd64": 306, "arm64": 267, "riscv64": 267, "loong64": 267, "386": 344, "arm": 373, "ppc64le": 348, "s390x": 338}

// syncfsWorks: syncfs(2) reports write-back errors only since Linux 5.8
// (before, it returned 0 whatever happened), so older kernels fsync each
// file.
var syncfsWorks = kernelAtLeast(5, 8) && sysSyncfsNr() != 0

func sysSyncfsNr() uintptr { return sysSyncfs[runtime.GOARCH] }

// syncfs flushes the whole filesystem holding f to stable storage.
func syncfs(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for {
			_, _, e := syscall.Syscall(sysSyncfsNr(), fd, 0, 0)
			if e == syscall.EINTR {
				continue
			}
			if e != 0 {
				serr = os.NewSyscallError("syncfs", e)
			}
			return
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// kernelAtLeast reports whether the running kernel is at least major.minor.
func kernelAtLeast(major, minor int) bool {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return false
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	parts := strings.SplitN(b.String(), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// deviceOf returns the device number of the filesystem holding path.
func deviceOf(path string) (uint64, bool) {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return 0, false
	}
	return uint64(st.Dev), true
}
