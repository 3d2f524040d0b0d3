package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/shardpacs/shardpacs/config"
)

func init() {
	register(&command{name: "peers", summary: "list the configured peers (AE, address, TLS, permissions); --echo checks each", run: runPeers})
}

// peersEchoParallel bounds the C-ECHOs of "peers --echo" in flight.
const peersEchoParallel = 8

// runPeers is "shardpacs peers [--echo]": one line per configured peer
// with its AE title, address, TLS and permissions. With --echo, each peer
// that has an address gets a C-ECHO (as the configured ae_title; peers in
// parallel) and the line ends with "ok" or "failed: reason"; any failure
// is an error (exit status 1).
func runPeers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newSCUFlags("peers", "peers [flags] [--echo]", stderr)
	doEcho := o.fs.Bool("echo", false, "C-ECHO every peer that has an address")
	pos, err := parseArgs(o.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		o.fs.Usage()
		return fmt.Errorf("%w: peers takes no arguments", errUsage)
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	if len(cfg.Peers) == 0 {
		fmt.Fprintln(stdout, "no peers configured (add [[peers]] to the configuration, SHARDPACS_PEERS or --peer AE=HOST:PORT)")
		return nil
	}
	results := make([]string, len(cfg.Peers))
	failed := 0
	if *doEcho {
		failed = echoPeers(ctx, o, cfg, results)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	header := "AE\tADDRESS\tTLS\tPERMISSIONS"
	if *doEcho {
		header += "\tECHO"
	}
	fmt.Fprintln(tw, header)
	for i, p := range cfg.Peers {
		addr := p.Address()
		if addr == "" {
			addr = "-"
		}
		tlsText := "no"
		if p.TLS {
			tlsText = "yes"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s", p.AETitle, addr, tlsText, permissionsText(p))
		if *doEcho {
			line += "\t" + results[i]
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d peers failed the C-ECHO", failed, len(cfg.Peers))
	}
	return nil
}

// permissionsText shows what a peer may ask of us: "all", "none" or the
// list, with its move destinations when restricted.
func permissionsText(p config.Peer) string {
	var s string
	switch {
	case p.Permissions == nil:
		s = "all"
	case len(p.Permissions) == 0:
		s = "none"
	default:
		s = strings.Join(p.Permissions, ",")
	}
	if len(p.MoveDestinations) > 0 && p.Allows(config.PermMove) {
		s += " (move to " + strings.Join(p.MoveDestinations, ",") + ")"
	}
	return s
}

// echoPeers C-ECHOes every peer with an address and fills results[i]
// with "ok (time)", "failed: reason" or "- (no address)"; it returns the
// number of failures.
func echoPeers(ctx context.Context, o *scuOptions, cfg *config.Config, results []string) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	sem := make(chan struct{}, peersEchoParallel)
	for i := range cfg.Peers {
		p := &cfg.Peers[i]
		if p.Address() == "" {
			results[i] = "- (no address)"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, ok := echoPeer(ctx, o, cfg, p)
			mu.Lock()
			results[i] = res
			if !ok {
				failed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return failed
}

func echoPeer(ctx context.Context, o *scuOptions, cfg *config.Config, p *config.Peer) (string, bool) {
	t := target{Addr: p.Address(), CalledAE: p.AETitle, TLS: p.TLS || o.useTLS, Peer: p}
	c, err := o.client(cfg, t)
	if err == nil {
		var d time.Duration
		if d, err = echoOnce(ctx, c, t); err == nil {
			return fmt.Sprintf("ok (%s)", d.Round(time.Millisecond)), true
		}
	}
	return "failed: " + oneLine(err), false
}
