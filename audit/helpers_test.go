package audit

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// syncBuffer is a bytes.Buffer safe for the tests' concurrent reads.
type syncBuffer = testutil.SyncBuffer

// bufLogger returns a Logger writing to a buffer with a fixed clock and
// the AE title "SHARDPACS".
func bufLogger() (*Logger, *syncBuffer) {
	b := &syncBuffer{}
	l := NewWriter(b)
	l.now = func() time.Time { return fixedNow }
	l.SetSource(Source{AETitle: "SHARDPACS", SiteID: "HOSP"})
	return l, b
}

// logOne logs ev and decodes the single line written.
func logOne(t *testing.T, ev *Event) (line string, got map[string]any) {
	t.Helper()
	l, b := bufLogger()
	if err := l.Log(ev); err != nil {
		t.Fatalf("Log: %v", err)
	}
	out := b.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("want exactly one line, got %q", out)
	}
	line = strings.TrimSuffix(out, "\n")
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, line)
	}
	return line, got
}

// readLines returns the lines of a file.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func tcpAddr(s string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// path walks a decoded JSON value: string keys index objects, ints arrays.
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}
