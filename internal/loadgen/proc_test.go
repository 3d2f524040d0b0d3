package loadgen

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestReadProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	before, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.RSS <= 0 || before.HWM < before.RSS || before.Threads <= 0 || before.FDs <= 0 {
		t.Fatalf("implausible status %+v", before)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	with, _ := ReadProc(os.Getpid())
	l.Close()
	if with.Sockets != before.Sockets+1 {
		t.Errorf("sockets %d with a listener, %d before", with.Sockets, before.Sockets)
	}
	if _, err := ReadProc(-1); !errors.Is(err, ErrNoProc) {
		t.Errorf("pid -1: %v, want ErrNoProc", err)
	}
}

func TestSampler(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	s := &Sampler{PID: os.Getpid(), Interval: 10 * time.Millisecond}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	r := s.Stop()
	if r.Samples < 20 || r.PeakRSS <= 0 || r.PeakFDs <= 0 || len(r.RSS) < 2 {
		t.Errorf("after 1.1 s every 10 ms: %d samples, peak RSS %d, %d per-second points", r.Samples, r.PeakRSS, len(r.RSS))
	}
	if again := s.Stop(); again.Samples != r.Samples {
		t.Error("sampling went on after Stop")
	}
	if err := (&Sampler{PID: -1}).Start(); !errors.Is(err, ErrNoProc) {
		t.Errorf("pid -1: %v", err)
	}
}
