package dimse

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// TestServerEchoHook: the Echo hook decides each C-ECHO (0x0124 for a
// refusal, with its comment), sees the association, and a panic aborts
// the association like a handler's.
func TestServerEchoHook(t *testing.T) {
	srvLeakCheck(t)
	obs := newSrvObs()
	s := &Server{AETitle: "SHARDPACS", Observer: obs,
		Echo: func(ctx context.Context, info *AssociationInfo) error {
			switch strings.TrimSpace(info.CallingAETitle) {
			case "NOECHO":
				return &StatusError{Status: StatusNotAuthorized, Comment: "no echo permission"}
			case "PANIC":
				panic("echo hook")
			}
			return ctx.Err()
		}}
	addr := srvStart(t, s)
	tests := []struct {
		calling string
		want    Status
	}{
		{"ECHO", StatusSuccess},
		{"NOECHO", StatusNotAuthorized},
	}
	for _, tt := range tests {
		c := srvDial(t, addr, tt.calling)
		c.send(1, NewCEchoRQ(c.nextID()), nil)
		m := c.mustRecv()
		if m.Command.Status != tt.want {
			t.Errorf("%s: C-ECHO status %v, want %v", tt.calling, m.Command.Status, tt.want)
		}
		if tt.want == StatusNotAuthorized && m.Command.ErrorComment != "no echo permission" {
			t.Errorf("%s: error comment %q", tt.calling, m.Command.ErrorComment)
		}
		m.Close()
		c.release()
		obs.waitEnd(t)
	}
	c := srvDial(t, addr, "PANIC")
	c.send(1, NewCEchoRQ(c.nextID()), nil)
	if m, err := c.recv(); err == nil {
		m.Close()
		t.Fatalf("a panicking Echo hook answered %v, want an abort", m.Command.Status)
	}
	obs.waitEnd(t)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	var pe *PanicError
	if len(obs.aborted) != 1 || !errors.As(obs.aborted[0], &pe) {
		t.Errorf("aborts %v, want one *PanicError", obs.aborted)
	}
}

// TestServerTLSHandshakeError: a failed TLS handshake is reported to the
// Observer wrapping ErrTLSHandshake.
func TestServerTLSHandshakeError(t *testing.T) {
	srvLeakCheck(t)
	obs := newSrvObs()
	s := &Server{Observer: obs, ARTIMTimeout: 5 * time.Second}
	l := tls.NewListener(testutil.Listen(t), &tls.Config{MinVersion: tls.VersionTLS12})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-served
	})
	nc, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A plaintext A-ASSOCIATE-RQ header on the TLS port.
	_, _ = nc.Write([]byte{0x01, 0x00, 0x00, 0x00, 0x00, 0x44, 0x00, 0x01})
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [64]byte
	_, _ = nc.Read(b[:])
	nc.Close()
	obs.waitEnd(t)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.aborted) != 1 || !errors.Is(obs.aborted[0], ErrTLSHandshake) {
		t.Errorf("aborts %v, want one wrapping ErrTLSHandshake", obs.aborted)
	}
}
