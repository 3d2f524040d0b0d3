package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/node"
)

func init() {
	register(&command{name: "serve", summary: "run the DICOM node (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET)", run: runServe})
}

// runServe runs the node until ctx ends (SIGINT / SIGTERM, see main):
// configuration defaults < --config FILE (or $SHARDPACS_CONFIG) < SHARDPACS_*
// environment < flags; a bad setting stops the start, naming the setting.
// It opens the archive, listens on cfg.Listen, prints "listening on
// HOST:PORT" to stdout, and on ctx's end shuts down gracefully: no new
// associations, running ones get limits.shutdown_timeout to finish, then
// are aborted; the index is closed last.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", os.Getenv("SHARDPACS_CONFIG"), "TOML configuration `FILE` (default $SHARDPACS_CONFIG)")
	config.Default().RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg, err := config.LoadAll(*cfgPath, os.Getenv, fs)
	if err != nil {
		return err
	}
	if cfg.Listen == "" {
		return errors.New("listen: empty (a TLS-only node is not supported by serve yet)")
	}
	log, err := serveLogger(cfg, stderr)
	if err != nil {
		return err
	}
	arch, err := archive.OpenDir(ctx, cfg, archive.Options{Logger: log.With().Str("component", "archive").Logger()})
	if err != nil {
		return err
	}
	defer arch.Close()
	n, err := node.New(cfg, arch, log.With().Str("component", "node").Logger())
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "listening on %s\n", l.Addr())
	log.Info().Str("ae_title", cfg.AETitle).Str("listen", l.Addr().String()).Int("k", arch.K()).Msg("serving")
	served := make(chan error, 1)
	go func() { served <- n.Serve(l) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", cfg.Limits.ShutdownTimeout).Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Limits.ShutdownTimeout)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("shutdown deadline: remaining associations aborted")
	}
	if err := <-served; !errors.Is(err, dimse.ErrServerClosed) {
		log.Warn().Err(err).Msg("serve ended")
	}
	if err := arch.Close(); err != nil {
		return fmt.Errorf("closing the archive: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

// serveLogger builds the operational logger: console or JSON per
// log.format, at log.level, on w.
func serveLogger(cfg *config.Config, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(cfg.Log.Level))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("log.level: %q is not trace, debug, info, warn or error", cfg.Log.Level)
	}
	out := w
	if cfg.Log.Format != config.LogFormatJSON {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}
