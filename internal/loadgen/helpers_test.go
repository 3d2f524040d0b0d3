package loadgen

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/internal/testutil"
	"github.com/shardpacs/shardpacs/node"
)

// startNode serves a node over a fresh archive in t.TempDir() on a
// loopback port and returns its address; mutate edits the configuration.
func startNode(t *testing.T, mutate func(*config.Config)) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Limits.ShutdownTimeout = 5 * time.Second
	if mutate != nil {
		mutate(cfg)
	}
	ctx := context.Background()
	arch, err := archive.OpenDir(ctx, cfg, archive.Options{NoRepairer: true})
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	n, err := node.New(cfg, arch, zerolog.New(io.Discard))
	if err != nil {
		arch.Close()
		t.Fatal(err)
	}
	l := testutil.Listen(t)
	served := make(chan error, 1)
	go func() { served <- n.Serve(l) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, dimse.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		if err := arch.Close(); err != nil {
			t.Errorf("archive Close: %v", err)
		}
	})
	return l.Addr().String()
}
