package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/node/tlsconf"
)

// defaultCalledAE is the Called AE Title used for a HOST:PORT target when
// --aec is not given: the default AE title of a shardpacs node, so that
// "shardpacs echo 127.0.0.1:11112" reaches a node started with the
// defaults (which checks the called AE, PS3.8 9.3.4 reason 7).
const defaultCalledAE = "SHARDPACS"

// scuOptions are the flags every SCU subcommand shares: where the
// configuration is, who we are and who we call.
type scuOptions struct {
	fs         *flag.FlagSet
	configPath string
	callingAE  string // --aet; "" means the configured ae_title
	calledAE   string // --aec; "" means the peer's AE, else defaultCalledAE
	useTLS     bool   // --tls
}

// newSCUFlags returns the flag set of an SCU subcommand with the shared
// flags: --config, the configuration flags --ae-title and --peer (applied
// over the file and env by config.LoadAll), --aet, --aec and --tls. Errors go to stderr; parsing continues past positional
// arguments (see parseArgs).
func newSCUFlags(name, usage string, stderr io.Writer) *scuOptions {
	o := &scuOptions{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := o.fs
	fs.SetOutput(stderr)
	fs.StringVar(&o.configPath, "config", os.Getenv("SHARDPACS_CONFIG"), "TOML configuration `FILE` (peers, AE title, timeouts, TLS)")
	// Of the shared configuration flags, only those that matter to an SCU
	// (-k is the query keys here, not the config's k).
	shared := flag.NewFlagSet(name, flag.ContinueOnError)
	config.Default().RegisterFlags(shared)
	for _, n := range []string{"ae-title", "peer"} {
		if f := shared.Lookup(n); f != nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	}
	fs.StringVar(&o.callingAE, "aet", "", "calling `AE` title (default: the configured ae_title)")
	fs.StringVar(&o.calledAE, "aec", "", "called `AE` title (default: the peer's AE title, or "+defaultCalledAE+" for HOST:PORT)")
	fs.BoolVar(&o.useTLS, "tls", false, "use DICOM TLS (PS3.15 B.1): the peer's certificate is checked against tls.ca_file (system roots when empty); tls.cert_file / key_file are our client certificate (implied for peers with tls = true)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shardpacs %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return o
}

// parseTarget parses args (flags may come before or after positional
// arguments) and returns the one positional argument: the target, as
// HOST:PORT or a peer AE title.
func parseTarget(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", fmt.Errorf("%w: want exactly one target (HOST:PORT or a peer AE title)", errUsage)
	}
	return pos[0], nil
}

// parseArgs parses args with fs, flags and positional arguments in any
// order ("find HOST:PORT --level STUDY"), and returns the positional ones.
// After "--" everything is positional. A parse error wraps errUsage (the
// flag package has already printed it), -h gives flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// load builds the configuration: file < SHARDPACS_* env < flags.
func (o *scuOptions) load() (*config.Config, error) {
	return config.LoadAll(o.configPath, os.Getenv, o.fs)
}

// target is a resolved remote AE: where it listens and what to call it.
type target struct {
	Addr     string // host:port
	CalledAE string
	TLS      bool
	Peer     *config.Peer // nil for a bare HOST:PORT
}

// resolveTarget turns the TARGET argument into a target: a configured peer
// AE title (its address, AE title and TLS setting) or HOST:PORT.
func (o *scuOptions) resolveTarget(cfg *config.Config, arg string) (target, error) {
	t := target{TLS: o.useTLS}
	if p, ok := cfg.Peer(arg); ok {
		if p.Host == "" {
			return t, fmt.Errorf("%w: peer %s has no address (host, port) in the configuration", errUsage, p.AETitle)
		}
		t.Addr, t.CalledAE, t.Peer = p.Address(), p.AETitle, p
		t.TLS = t.TLS || p.TLS
	} else {
		host, port, err := net.SplitHostPort(arg)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("%w: %q is neither HOST:PORT nor a configured peer AE title", errUsage, arg)
		}
		t.Addr, t.CalledAE = arg, defaultCalledAE
	}
	if o.calledAE != "" {
		t.CalledAE = o.calledAE
	}
	if err := config.ValidateAETitle(t.CalledAE); err != nil {
		return t, fmt.Errorf("%w: --aec: %v", errUsage, err)
	}
	return t, nil
}

// client returns the dimse.Client for calls to t: our AE title and the
// timeouts and limits of cfg, over TLS when t asks for it (the profile and
// certificate checks of tlsconf.Client: the peer's certificate must name
// its host and match its cert_subject / cert_sha256 pins when configured).
func (o *scuOptions) client(cfg *config.Config, t target) (*dimse.Client, error) {
	ae := cfg.AETitle
	if o.callingAE != "" {
		ae = o.callingAE
	}
	if err := config.ValidateAETitle(ae); err != nil {
		return nil, fmt.Errorf("%w: --aet: %v", errUsage, err)
	}
	l := cfg.Limits
	c := &dimse.Client{
		AETitle:         ae,
		DialTimeout:     l.DialTimeout,
		ARTIMTimeout:    l.ARTIMTimeout,
		IdleTimeout:     l.IdleTimeout,
		ResponseTimeout: l.OperationTimeout,
		MaxPDULength:    uint32(l.MaxPDULength),
		Limits: dimse.Limits{
			MaxDataSetSize: int64(l.MaxDataSetSize),
			SpoolThreshold: int64(l.SpoolThreshold),
		},
	}
	if t.TLS {
		peer := config.Peer{AETitle: t.CalledAE, TLS: true}
		if t.Peer != nil {
			peer = *t.Peer
		}
		if host, port, err := net.SplitHostPort(t.Addr); err == nil {
			peer.Host = host
			peer.Port, _ = strconv.Atoi(port)
		}
		tc, err := tlsconf.Client(peer, cfg.TLS)
		if err != nil {
			return nil, err
		}
		c.TLSConfig = tc
	}
	return c, nil
}

// dial opens an association to t proposing props.
func dial(ctx context.Context, c *dimse.Client, t target, props []dimse.ContextProposal) (*dimse.ClientConn, error) {
	return c.Dial(ctx, t.Addr, t.CalledAE, props)
}

// releaseTimeout bounds the A-RELEASE exchange at the end of a command.
const releaseTimeout = 10 * time.Second

// release ends cc politely (A-RELEASE, PS3.8 7.2), or with an A-ABORT when
// ctx is already cancelled (interrupted command) or the release fails.
// It returns once the transport is closed.
func release(ctx context.Context, cc *dimse.ClientConn) {
	if ctx.Err() != nil {
		cc.Abort()
	} else {
		rctx, cancel := context.WithTimeout(ctx, releaseTimeout)
		if err := cc.Release(rctx); err != nil {
			cc.Abort()
		}
		cancel()
	}
	<-cc.Done()
}

// plural returns "1 file" or "2 files" ("1 match", "2 matches").
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "ch") || strings.HasSuffix(word, "s") {
		return strconv.Itoa(n) + " " + word + "es"
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// oneLine flattens an error message onto one line (peer-supplied text
// such as an Error Comment may hold line breaks).
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
