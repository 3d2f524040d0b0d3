package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/dicomtest"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// cliResult is what one in-process run of the command printed.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs "shardpacs args..." in-process (runMain) with a clean
// configuration environment and a one-minute bound.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := runMain(ctx, args, &out, &errb)
	return cliResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// cleanEnv unsets every SHARDPACS_* configuration variable for the test
// (an empty variable counts as unset), so the machine's environment cannot
// change what the commands do.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SHARDPACS_") && k != "SHARDPACS_STRICT" && k != "SHARDPACS_CORPUS" {
			t.Setenv(k, "")
		}
	}
	t.Setenv("SHARDPACS_CONFIG", "")
}

// syncBuffer is a bytes.Buffer safe for a process's output goroutines.
type syncBuffer = testutil.SyncBuffer

// startStorescp starts a bit-preserving storescp with AE title ae writing
// into a new folder; it returns the address and the folder.
func startStorescp(t *testing.T, ae string) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	port, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
		return []string{"-aet", ae, "-od", dir, "+B", "-pm", "+xa", "-dhl", strconv.Itoa(port)}
	})
	return "127.0.0.1:" + strconv.Itoa(port), dir
}

// part10 is a DICOM file: its File Meta Information and data set bytes.
type part10 = dicomtest.Part10

// sameDataSet reports whether got is want as sent: byte for byte, or with
// the one NUL that pads a data set of odd length (PS3.5 §7.1).
func sameDataSet(got, want []byte) bool {
	if len(want)%2 == 1 {
		return bytes.Equal(got, append(append([]byte(nil), want...), 0))
	}
	return bytes.Equal(got, want)
}
