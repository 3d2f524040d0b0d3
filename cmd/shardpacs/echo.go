package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/shardpacs/shardpacs/dimse"
)

func init() {
	register(&command{name: "echo", summary: "C-ECHO a DICOM node (HOST:PORT or a configured peer AE title)", run: runEcho})
}

// runEcho is "shardpacs echo [flags] TARGET": one association proposing
// Verification (PS3.4 Annex A), one C-ECHO, release. It prints one line
// with the round-trip time; any failure is an error (exit status 1).
func runEcho(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newSCUFlags("echo", "echo [flags] HOST:PORT|PEER-AE", stderr)
	target, err := parseTarget(o.fs, args)
	if err != nil {
		return err
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	t, err := o.resolveTarget(cfg, target)
	if err != nil {
		return err
	}
	c, err := o.client(cfg, t)
	if err != nil {
		return err
	}
	d, err := echoOnce(ctx, c, t)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "C-ECHO %s at %s: ok (%s)\n", t.CalledAE, t.Addr, d.Round(time.Millisecond))
	return nil
}

// echoOnce opens an association to t, sends one C-ECHO-RQ and releases
// it; it returns the time the whole exchange took.
func echoOnce(ctx context.Context, c *dimse.Client, t target) (time.Duration, error) {
	start := time.Now()
	cc, err := dial(ctx, c, t, []dimse.ContextProposal{dimse.EchoContext()})
	if err != nil {
		return 0, err
	}
	if err := cc.Echo(ctx); err != nil {
		cc.Abort()
		<-cc.Done()
		return 0, err
	}
	if err := cc.Release(ctx); err != nil {
		return 0, err
	}
	<-cc.Done()
	return time.Since(start), nil
}
