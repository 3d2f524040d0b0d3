package dimse

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// acSpyConn notes, when the server writes an A-ASSOCIATE-AC on it, whether
// the server still counts the connection as negotiating.
type acSpyConn struct {
	net.Conn
	s          *Server
	acs        atomic.Int32
	negotiated atomic.Int32 // ACs written while out of the negotiating set
}

func (c *acSpyConn) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0] == byte(pdu.TypeAssociateAC) {
		c.acs.Add(1)
		c.s.mu.Lock()
		still := false
		for o := range c.s.nego {
			if o.nc == net.Conn(c) {
				still = true
			}
		}
		c.s.mu.Unlock()
		if !still {
			c.negotiated.Add(1)
		}
	}
	return c.Conn.Write(p)
}

type acSpyListener struct {
	net.Listener
	s     *Server
	conns chan *acSpyConn
}

func (l *acSpyListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &acSpyConn{Conn: nc, s: l.s}
	l.conns <- c
	return c, nil
}

// TestAcceptedNotEvictable: by the time the A-ASSOCIATE-AC goes out, the
// connection has left the set of connections still negotiating, so a
// newcomer at the cap of those (MaxAssociations doc) cannot close it to
// make room: its peer would see the AC, then a close or a reset, and no
// A-ABORT. It used to leave the set only after ul.Accept returned.
func TestAcceptedNotEvictable(t *testing.T) {
	srvLeakCheck(t)
	s := &Server{AETitle: "SCP"}
	l := &acSpyListener{Listener: testutil.Listen(t), s: s, conns: make(chan *acSpyConn, 4)}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-served
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := (&Client{AETitle: "SCU"}).Dial(ctx, l.Addr().String(), "SCP", []ContextProposal{EchoContext()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cc.Release(ctx); err != nil {
		t.Fatal(err)
	}
	c := <-l.conns
	if c.acs.Load() != 1 || c.negotiated.Load() != 1 {
		t.Errorf("%d A-ASSOCIATE-AC written, %d of them after the connection left the negotiating set; want 1 and 1",
			c.acs.Load(), c.negotiated.Load())
	}
}
