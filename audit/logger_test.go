package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenCreatesPrivateFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		t.Errorf("new audit log has mode %#o, want no group/other bits", st.Mode().Perm())
	}
}

func TestOpenRefusesOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
		t.Run(fmt.Sprintf("%#o", mode), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			l, err := Open(p)
			if !errors.Is(err, ErrPermissions) {
				l.Close()
				t.Fatalf("Open of a %#o file: err = %v, want ErrPermissions", mode, err)
			}
			if !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("error does not say how to fix it: %v", err)
			}
			if st, _ := os.Stat(p); st.Mode().Perm() != mode {
				t.Errorf("Open changed the mode to %#o", st.Mode().Perm())
			}
		})
	}
}

func TestOpenRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
	if _, err := Open(filepath.Join(dir, "missing", "audit.log")); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestAppendOnlyAcrossReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	for i := range 3 {
		l, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Log(InstancesStored("CT", nil, fmt.Sprint("1.2.", i), "P", "1.2.840.10008.5.1.4.1.1.2", 1)); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	lines := readLines(t, p)
	if len(lines) != 3 {
		t.Fatalf("%d lines after 3 opens, want 3", len(lines))
	}
	for i, line := range lines {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if got, want := ev.ParticipantObjectIdentification[0].ParticipantObjectID, fmt.Sprint("1.2.", i); got != want {
			t.Errorf("line %d is study %s, want %s (earlier lines overwritten?)", i, got, want)
		}
	}
}

func TestTornLastLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(p, []byte(`{"EventID":{"csd-code":"1101`), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Log(ApplicationStart("")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	lines := readLines(t, p)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want the torn one and a new one: %q", len(lines), lines)
	}
	if !json.Valid([]byte(lines[1])) {
		t.Errorf("event after a torn line does not parse: %s", lines[1])
	}
}

func TestConcurrentWritersNeverInterleave(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	l.SetSource(Source{AETitle: "SHARDPACS"})
	const writers, each = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			long := strings.Repeat(fmt.Sprint(w), 300) // capped fields: long lines
			for i := range each {
				var ev *Event
				switch i % 3 {
				case 0:
					ev = Query(long, nil, "1.2.840.10008.5.1.4.1.2.2.1", "STUDY", map[string]string{"PatientName": long})
				case 1:
					ev = InstancesStored("W"+fmt.Sprint(w), nil, fmt.Sprintf("1.2.%d.%d", w, i), long, "1.2.840.10008.5.1.4.1.1.2", i)
				default:
					ev = AssociationRejected(long, "SHARDPACS", nil, "test") // urgent: fsynced
				}
				if err := l.Log(ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, p)
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	for i, line := range lines {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d does not parse (interleaved?): %v\n%.200s", i, err, line)
		}
	}
}

func TestNilAndZeroLoggerAreNoOps(t *testing.T) {
	var l *Logger
	if err := l.Log(ApplicationStart("x")); err != nil {
		t.Errorf("nil Log: %v", err)
	}
	l.SetSource(Source{AETitle: "X"})
	if err := l.Sync(); err != nil {
		t.Errorf("nil Sync: %v", err)
	}
	if err := l.Reopen(); err != nil {
		t.Errorf("nil Reopen: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
	var z Logger
	if err := z.Log(ApplicationStart("x")); err != nil {
		t.Errorf("zero Log: %v", err)
	}
	if err := z.Reopen(); err != nil {
		t.Errorf("zero Reopen: %v", err)
	}
	if err := z.Close(); err != nil {
		t.Errorf("zero Close: %v", err)
	}
	lb, b := bufLogger()
	if err := lb.Log(nil); err != nil || b.String() != "" {
		t.Errorf("Log(nil) = %v, wrote %q", err, b.String())
	}
}

func TestLogAfterClose(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(ApplicationStop("", nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("Log after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestSyncPolicy(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.syncInterval = 20 * time.Millisecond
	state := func() (dirty, timer bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.dirty, l.timer != nil
	}
	if err := l.Log(Query("V", nil, "1.2.840.10008.5.1.4.1.2.2.1", "STUDY", nil)); err != nil {
		t.Fatal(err)
	}
	if d, tm := state(); !d || !tm {
		t.Fatalf("routine event: dirty=%v timer=%v, want a pending batched fsync", d, tm)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if d, tm := state(); !d && !tm {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("batched fsync never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Log(InstancesStored("CT", nil, "1.2", "P", "1.2.3", 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(RestrictedFunction("V", nil, "C-MOVE")); err != nil {
		t.Fatal(err)
	}
	if d, tm := state(); d || tm {
		t.Errorf("after a Security Alert: dirty=%v timer=%v, want everything fsynced", d, tm)
	}
	for _, ev := range []*Event{ApplicationStart(""), ApplicationStop("", nil), StudyDeleted("", "1", "P", 1), KeyRotation(1, 2), IntegrityAlert(0, "x", "y")} {
		if !urgent(ev) {
			t.Errorf("%s is not fsynced at once", ev.EventID.Meaning)
		}
	}
	for _, ev := range []*Event{Query("", nil, "", "", nil), InstancesStored("", nil, "", "", "", 0), InstancesAccessed(ActionRead, "", "", "", 0)} {
		if urgent(ev) {
			t.Errorf("%s is fsynced at once (routine events are batched)", ev.EventID.Meaning)
		}
	}
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "audit.log")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Log(ApplicationStart("")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(ApplicationStop("", nil)); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, p+".1")); n != 1 {
		t.Errorf("rotated file has %d lines, want 1", n)
	}
	if n := len(readLines(t, p)); n != 1 {
		t.Errorf("new file has %d lines, want 1", n)
	}
}

func TestLogDoesNotModifyEvent(t *testing.T) {
	ev := AssociationRejected(strings.Repeat("A", 1000), "X", nil, "r")
	before := fmt.Sprintf("%+v", *ev)
	l, _ := bufLogger()
	if err := l.Log(ev); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprintf("%+v", *ev); after != before {
		t.Errorf("Log modified the caller's event:\nbefore %s\nafter  %s", before, after)
	}
}
