package dimse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/ul"
)

// advSlowPeer is one slowloris connection: it connects, then sends nothing
// or one byte of an A-ASSOCIATE-RQ per interval, and records what the
// Server sent back and when it closed.
type advSlowPeer struct {
	conn     net.Conn
	dialed   time.Time
	closedAt time.Time
	got      int           // bytes received from the Server
	err      error         // the read error that ended the wait (nil = EOF)
	done     chan struct{} // closed when closedAt, got and err are set
}

// advFloodSize is how many idle sockets the slowloris test opens: 500, or
// fewer when RLIMIT_NOFILE cannot hold both ends of each plus a margin.
func advFloodSize(t *testing.T) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 500
	}
	n := min(500, (int(lim.Cur)-200)/2)
	if n < 500 {
		t.Logf("RLIMIT_NOFILE %d: flooding with %d sockets instead of 500", lim.Cur, n)
	}
	return n
}

// TestAdversarialSlowloris is adversarial row 6: 500 TCP connections that
// send nothing, or one byte per interval, against a Server with a short
// ARTIM. Every one is closed by the Server within ARTIM+ε without a byte
// sent; an association from a legitimate peer during the flood works;
// afterwards the goroutines and file descriptors are back to their
// baseline.
//
// The Server caps connections that have not completed association
// establishment at 2*MaxAssociations+16 (dimse.Server.MaxAssociations doc):
// past the cap a connection is closed at once. MaxAssociations is raised
// here so that the flood fits under the cap and every socket really waits
// for ARTIM; TestAdversarialSlowlorisOverCap covers the cap itself.
func TestAdversarialSlowloris(t *testing.T) {
	advGoroutines(t)
	n := advFloodSize(t)
	srv := &Server{ARTIMTimeout: advShort, MaxAssociations: n, MaxPendingPerHost: -1}
	addr := advServe(t, srv)
	time.Sleep(20 * time.Millisecond)
	baseG, baseFD := advBaseline()

	peers := advFlood(t, addr, n)
	// A legitimate association while every flood socket is still open.
	advLegitEcho(t, addr)
	advCheckFlood(t, peers, advShort+advSlack)

	if g := advWaitGoroutines(baseG, 5*time.Second); g > baseG {
		t.Errorf("%d goroutines after the flood, %d before", g, baseG)
	}
	if baseFD >= 0 {
		fd := advWaitFDs(baseFD, 5*time.Second)
		if fd > baseFD {
			t.Errorf("%d file descriptors open after the flood, %d before", fd, baseFD)
		}
	}
}

// TestAdversarialSlowlorisOverCap: with the default limits (64
// associations: at most 144 connections negotiating at once), a 500-socket
// flood is cut in two: the connections past the cap are closed at once, the
// others at ARTIM; none gets a byte, and nothing leaks.
//
// The per-host cap (MaxPendingPerHost) is disabled here so that the global
// cap is what is measured; a legitimate association attempted during such a
// flood from the same host is refused (TCP close) until ARTIM frees room.
// The test asserts that it succeeds once ARTIM has expired, which bounds
// the denial of service to ARTIM. TestAdversarialSlowlorisDefaultsLegitDuringFlood
// covers a flood from one host with the default limits.
func TestAdversarialSlowlorisOverCap(t *testing.T) {
	advGoroutines(t)
	n := advFloodSize(t)
	// The flood must outpace ARTIM, or ARTIM frees room under the cap as
	// fast as the flood fills it: dialing 500 sockets under -race on a
	// loaded 2-core box takes over a second, hence an ARTIM longer than
	// advShort here.
	const artim = 2 * time.Second
	srv := &Server{ARTIMTimeout: artim, MaxPendingPerHost: -1}
	addr := advServe(t, srv)
	time.Sleep(20 * time.Millisecond)
	baseG, baseFD := advBaseline()
	peers := advFlood(t, addr, n)
	advCheckFlood(t, peers, artim+advSlack)
	// ARTIM starts when the Server accepts, after the dial returned, so a
	// connection closed within ARTIM of its dial was closed by the cap (at
	// once, or evicted as the oldest when a later one came).
	immediate := 0
	for _, p := range peers {
		if p.closedAt.Sub(p.dialed) < artim {
			immediate++
		}
	}
	if limit := 2*DefaultMaxAssociations + 16; n > limit && immediate < n-limit {
		t.Errorf("%d of %d connections closed at once, want at least %d (over the cap of %d)", immediate, n, n-limit, limit)
	}
	advLegitEcho(t, addr)
	if g := advWaitGoroutines(baseG, 5*time.Second); g > baseG {
		t.Errorf("%d goroutines after the flood, %d before", g, baseG)
	}
	if baseFD >= 0 {
		if fd := advWaitFDs(baseFD, 5*time.Second); fd > baseFD {
			t.Errorf("%d file descriptors open after the flood, %d before", fd, baseFD)
		}
	}
}

func advBaseline() (goroutines, fds int) {
	return advWaitGoroutines(0, 0), advFDs()
}

func advWaitFDs(base int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := advFDs()
		if n <= base || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// advFlood opens n connections to addr: even ones stay silent, odd ones
// dribble the first bytes of an A-ASSOCIATE-RQ, one byte per ARTIM/4. It
// returns once every connection is open; each peer's reader runs until the
// Server closes it (or 10 s).
func advFlood(t *testing.T, addr string, n int) []*advSlowPeer {
	return advFloodFrom(t, "127.0.0.1", addr, n)
}

// advFloodFrom is advFlood with the flood's connections bound to the source
// address src, so that a test can tell the flooding host from a legitimate
// one on loopback (Linux routes all of 127.0.0.0/8 to lo).
func advFloodFrom(t *testing.T, src, addr string, n int) []*advSlowPeer {
	t.Helper()
	rq := advRQ(t, "SLOW", 16384)
	peers := make([]*advSlowPeer, n)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	d := net.Dialer{Timeout: advDialTO, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	for i := range peers {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		p := &advSlowPeer{conn: c, dialed: time.Now(), done: make(chan struct{})}
		peers[i] = p
		t.Cleanup(func() { c.Close() })
		stop := make(chan struct{})
		wg.Add(1)
		go func() { // reader
			defer wg.Done()
			defer close(stop)
			c.SetReadDeadline(time.Now().Add(advReadWait))
			k, err := io.Copy(io.Discard, c)
			p.got, p.closedAt = int(k), time.Now()
			if errors.Is(err, syscall.ECONNRESET) {
				err = nil // a reset is a close too
			}
			p.err = err
			c.Close()
			close(p.done)
		}()
		if i%2 == 1 {
			wg.Add(1)
			go func() { // dribbler
				defer wg.Done()
				tick := time.NewTicker(advShort / 4)
				defer tick.Stop()
				for j := 0; j < len(rq); j++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					c.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := c.Write(rq[j : j+1]); err != nil {
						return
					}
				}
			}()
		}
	}
	return peers
}

// advCheckFlood waits for every flood reader and checks each connection
// was closed within d of its dial, with no byte received.
func advCheckFlood(t *testing.T, peers []*advSlowPeer, d time.Duration) {
	t.Helper()
	timeout := time.After(advReadWait + 5*time.Second)
	var late, talked, errs int
	var worst time.Duration
	for _, p := range peers {
		select {
		case <-p.done:
		case <-timeout:
			t.Fatal("flood readers did not finish")
		}
		took := p.closedAt.Sub(p.dialed)
		worst = max(worst, took)
		switch {
		case p.got != 0:
			talked++
		case p.err != nil:
			errs++
		case took > d:
			late++
		}
	}
	t.Logf("%d connections, slowest closed after %v", len(peers), worst)
	if late+talked+errs > 0 {
		t.Fatalf("of %d connections: %d not closed within %v, %d received bytes, %d ended with an error", len(peers), late, d, talked, errs)
	}
}

// advLegitEcho runs one association with a C-ECHO against addr.
func advLegitEcho(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, advDialTO)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := ul.Request(ctx, conn, &ul.RequestConfig{CallingAETitle: "LEGIT", CalledAETitle: "SHARDPACS"})
	if err != nil {
		t.Fatalf("legitimate association: %v", err)
	}
	if err := WriteMessage(ctx, a, 1, NewCEchoRQ(1), nil, a.MaxSendPDULength()); err != nil {
		t.Fatal(err)
	}
	m, err := (&MessageReader{R: a}).ReadMessage(ctx)
	if err != nil || m.Command.CommandField != CEchoRSP || m.Command.Status != StatusSuccess {
		t.Fatalf("legitimate C-ECHO: %v %+v", err, m)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAdversarialSlowlorisDefaultsLegitDuringFlood: row 6 with the default
// limits, as a node runs: while one host (127.0.0.2) holds 300 silent
// connections open, another host's (127.0.0.1) association must still
// succeed. The per-host cap (MaxPendingPerHost, default MaxAssociations = 64)
// closes the flood's connections past 64 at once, so the flood never fills
// the global cap of 144.
func TestAdversarialSlowlorisDefaultsLegitDuringFlood(t *testing.T) {
	advGoroutines(t)
	const artim = 2 * time.Second
	addr := advServe(t, &Server{ARTIMTimeout: artim})
	peers := advFloodFrom(t, "127.0.0.2", addr, 300)
	advLegitEcho(t, addr)
	advCheckFlood(t, peers, artim+advSlack)
	immediate := 0
	for _, p := range peers {
		if p.closedAt.Sub(p.dialed) < artim/2 {
			immediate++
		}
	}
	if want := 300 - DefaultMaxAssociations; immediate < want {
		t.Errorf("%d flood connections closed at once, want at least %d (per-host cap %d)", immediate, want, DefaultMaxAssociations)
	}
}

// TestAdversarialSlowlorisManyHostsLegitDuringFlood: row 6 with the flood
// spread over eight hosts (127.0.0.2–9), 60 silent connections each — 480
// in all, far past the 144 connections the default limits let negotiate at
// once, and under every host's own cap. Each new connection at the cap
// closes the oldest one still negotiating, so an honest peer (127.0.0.1),
// whose negotiation takes milliseconds, still gets its association during
// the flood. Without the eviction it would find the cap full and be closed
// at once (the load test's probe found this).
func TestAdversarialSlowlorisManyHostsLegitDuringFlood(t *testing.T) {
	advGoroutines(t)
	const artim = 2 * time.Second
	addr := advServe(t, &Server{ARTIMTimeout: artim})
	var peers []*advSlowPeer
	for h := 2; h <= 9; h++ {
		peers = append(peers, advFloodFrom(t, fmt.Sprintf("127.0.0.%d", h), addr, 60)...)
	}
	advLegitEcho(t, addr)
	advCheckFlood(t, peers, artim+advSlack)
}
