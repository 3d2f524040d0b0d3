package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
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
// It opens the audit trail (cfg.AuditPath, mode 0600: a node that cannot
// audit does not start), opens the archive, listens on cfg.Listen (plain
// DICOM) and cfg.TLS.Listen (DICOM TLS, PS3.15 B.1), either of which may be
// empty, prints "listening on HOST:PORT" and "listening on HOST:PORT (tls)"
// to stdout, and on ctx's end shuts down gracefully: no new associations,
// running ones get limits.shutdown_timeout to finish, then are aborted; the
// index is closed last. Application Start and Stop are audited.
// --debug-addr also serves Go's profiler on a loopback address (debug.go).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", os.Getenv("SHARDPACS_CONFIG"), "TOML configuration `FILE` (default $SHARDPACS_CONFIG)")
	debugAddr := fs.String("debug-addr", "", "serve the Go profiler (/debug/pprof) on this loopback `ADDR` (off by default)")
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
	log, err := serveLogger(cfg, stderr)
	if err != nil {
		return err
	}
	if *debugAddr != "" {
		bound, stop, err := startDebug(*debugAddr)
		if err != nil {
			return err
		}
		defer stop()
		log.Warn().Str("addr", bound).Msg("profiler listening (--debug-addr)")
	}
	al, err := openAudit(cfg)
	if err != nil {
		return err
	}
	defer al.Close()
	arch, err := archive.OpenDir(ctx, cfg, archive.Options{Logger: log.With().Str("component", "archive").Logger()})
	if err != nil {
		return err
	}
	defer arch.Close()
	if err := arch.MakeFolders(ctx); err != nil {
		return err
	}
	n, err := node.NewWithOptions(cfg, arch, node.Options{Log: log.With().Str("component", "node").Logger(), Audit: al})
	if err != nil {
		return err
	}
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, a := range []string{cfg.Listen, cfg.TLS.Listen} {
		if a == "" {
			continue
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen %s: %w", a, err)
		}
		listeners = append(listeners, l)
	}
	served := make(chan error, 2)
	for _, l := range listeners {
		isTLS := cfg.Listen == "" || l != listeners[0]
		suffix, serve := "", n.Serve
		if isTLS {
			suffix, serve = " (tls)", n.ServeTLS
		}
		fmt.Fprintf(stdout, "listening on %s%s\n", l.Addr(), suffix)
		log.Info().Str("ae_title", cfg.AETitle).Str("listen", l.Addr().String()).Bool("tls", isTLS).Int("k", arch.K()).Msg("serving")
		go func() { served <- serve(l) }()
	}
	launcher := launcherName()
	auditOrWarn(log, al, audit.ApplicationStart(launcher))
	var failed error
	select {
	case err := <-served:
		failed = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", cfg.Limits.ShutdownTimeout).Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Limits.ShutdownTimeout)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("shutdown deadline: remaining associations aborted")
	}
	waitFor := len(listeners)
	if failed != nil {
		waitFor--
	}
	for range waitFor {
		if err := <-served; !errors.Is(err, dimse.ErrServerClosed) {
			log.Warn().Err(err).Msg("serve ended")
		}
	}
	if err := arch.Close(); err != nil && failed == nil {
		failed = fmt.Errorf("closing the archive: %w", err)
	}
	auditOrWarn(log, al, audit.ApplicationStop(launcher, failed))
	if err := al.Close(); err != nil {
		log.Warn().Err(err).Msg("closing the audit trail")
	}
	if failed != nil {
		return failed
	}
	log.Info().Msg("stopped")
	return nil
}

// openAudit opens the audit trail at cfg.AuditPath(), creating its folder
// (0700) and file (0600) when missing; this node's AE title is the audit
// source.
func openAudit(cfg *config.Config) (*audit.Logger, error) {
	path := cfg.AuditPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log.audit_file: %w", err)
	}
	al, err := audit.Open(path)
	if err != nil {
		return nil, fmt.Errorf("log.audit_file: %w", err)
	}
	al.SetSource(audit.Source{AETitle: cfg.AETitle})
	return al, nil
}

// auditOrWarn logs ev, reporting a failure in the operational log.
func auditOrWarn(log zerolog.Logger, al *audit.Logger, ev *audit.Event) {
	if err := al.Log(ev); err != nil {
		log.Error().Err(err).Msg("audit trail write failed")
	}
}

// launcherName is "user@host" of this process, for Application Activity
// events; "" when unknown.
func launcherName() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	if h, err := os.Hostname(); err == nil {
		return u.Username + "@" + h
	}
	return u.Username
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
