package ul

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzAcceptPeer feeds arbitrary peer bytes to Accept and then to the
// established association: the machine must never panic, must end (ARTIM,
// idle timer, peer close) and must not leak goroutines.
func FuzzAcceptPeer(f *testing.F) {
	rq := encode(f, echoRQ())
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, seed := range [][]byte{
		rq,
		cat(rq, unhex(f, hexPDataFoo), unhex(f, hexReleaseRQ)),
		cat(rq, unhex(f, hexPDataFoo), unhex(f, hexAbortUser)),
		cat(rq, rq),
		cat(rq, unhex(f, hexReleaseRP)),
		cat(rq, unhex(f, "04 00 00 00 00 08 00 00 00 04 07 03 00 00")),
		unhex(f, hexPDataFoo),
		unhex(f, "01 00 FF FF FF FF"),
		unhex(f, "16 03 01 02 00 01 00 01 FC 03 03"),
		rq[:40],
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c1, c2 := net.Pipe()
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, c1); close(drained) }()
		go func() { c1.Write(b); c1.Close() }()
		cfg := &AcceptConfig{ARTIMTimeout: 50 * time.Millisecond, IdleTimeout: 50 * time.Millisecond,
			Contexts: func(string) ([]string, bool) { return []string{ImplicitVRLittleEndian}, true }}
		a, err := Accept(context.Background(), c2, cfg)
		if err == nil {
			for {
				if _, err := a.ReadPData(context.Background()); err != nil {
					break
				}
			}
			<-a.Done()
		}
		<-drained
	})
}

// TestFuzzSeedsLeakFree runs the fuzz seeds under the goroutine check.
func TestFuzzSeedsLeakFree(t *testing.T) {
	goroutineCheck(t)
	rq := encode(t, echoRQ())
	for _, b := range [][]byte{
		append(append([]byte{}, rq...), unhex(t, hexPDataFoo)...),
		append(append([]byte{}, rq...), unhex(t, "04 00 00 00 00 08 00 00 00 04 07 03 00 00")...),
		unhex(t, "01 00 FF FF FF FF"),
	} {
		c1, c2 := net.Pipe()
		go io.Copy(io.Discard, c1)
		go func() { c1.Write(b); time.Sleep(20 * time.Millisecond); c1.Close() }()
		a, err := Accept(context.Background(), c2, &AcceptConfig{ARTIMTimeout: 50 * time.Millisecond})
		if err != nil {
			continue
		}
		for {
			if _, err := a.ReadPData(context.Background()); err != nil {
				break
			}
		}
		<-a.Done()
	}
}
