package config

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
)

// cfgFlag is a flag bound to a setting. Set applies the value to the Config
// that registered it (so the simple "register, parse, use" pattern works)
// and records it, so ApplyFlags can re-apply it over a Config loaded later
// (so that flags win over file and env).
type cfgFlag struct {
	owner *Config
	def   string
	apply func(c *Config, s string) error
	vals  []string
}

func (f *cfgFlag) String() string {
	if f == nil {
		return ""
	}
	return f.def
}

func (f *cfgFlag) Set(s string) error {
	if err := f.apply(f.owner, s); err != nil {
		return err
	}
	f.vals = append(f.vals, s)
	return nil
}

// RegisterFlags defines on fs the everyday flags every subcommand shares,
// with c's values shown as defaults:
//
//	--data DIR            data_dir
//	--listen HOST:PORT    listen
//	--ae-title AE         ae_title
//	--peer AE=HOST:PORT   adds (or re-addresses) a peer; repeatable
//	--allow-calling AE    lets AE call with every permission (adding the
//	                      peer if needed) and sets unknown_calling_ae =
//	                      "reject", so only named callers get in; repeatable
//	--k N                 k
//	--log-level LEVEL     log.level
//	--log-format FORMAT   log.format
//
// --config FILE is the caller's. Parsing writes each flag into c at once;
// to give flags precedence over a file and env loaded after parsing, call
// ApplyFlags (or LoadAll) on that Config.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	str := func(name, usage, def string, set func(*Config, string)) {
		fs.Var(&cfgFlag{owner: c, def: def, apply: func(c *Config, s string) error { set(c, s); return nil }}, name, usage)
	}
	str("data", "`DIR` holding the index, the default stores, the master key and logs (data_dir)", c.DataDir,
		func(c *Config, s string) { c.DataDir = s })
	str("listen", "`HOST:PORT` of the DICOM listener; 0.0.0.0:11112 listens on the network (listen)", c.Listen,
		func(c *Config, s string) { c.Listen = s })
	str("ae-title", "this node's `AE` title (ae_title)", c.AETitle,
		func(c *Config, s string) { c.AETitle = s })
	str("log-level", "`LEVEL`: trace, debug, info, warn or error (log.level)", c.Log.Level,
		func(c *Config, s string) { c.Log.Level = s })
	str("log-format", "`FORMAT`: console or json (log.format)", c.Log.Format,
		func(c *Config, s string) { c.Log.Format = s })
	fs.Var(&cfgFlag{owner: c, def: strconv.Itoa(c.K), apply: func(c *Config, s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("want 2, 3 or 4")
		}
		c.K = n
		return nil
	}}, "k", "shares needed to read an instance: `N` = 2, 3 or 4 (k)")
	fs.Var(&cfgFlag{owner: c, apply: func(c *Config, s string) error {
		p, err := ParsePeerSpec(s)
		if err != nil {
			return err
		}
		c.addPeer(p)
		return nil
	}}, "peer", "known remote AE (C-MOVE destination) as `AE=HOST:PORT`; repeatable (peers)")
	fs.Var(&cfgFlag{owner: c, apply: func(c *Config, s string) error {
		if err := ValidateAETitle(s); err != nil {
			return err
		}
		if p, ok := c.Peer(s); ok {
			p.Permissions = nil
		} else {
			c.Peers = append(c.Peers, Peer{AETitle: s})
		}
		c.UnknownCallingAE = UnknownCallingReject
		return nil
	}}, "allow-calling", "calling `AE` allowed everything; other callers are then rejected; repeatable")
}

// ApplyFlags applies to c, in command-line order per flag, every flag that
// RegisterFlags defined on fs and that was set when fs was parsed.
func (c *Config) ApplyFlags(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		cf, ok := f.Value.(*cfgFlag)
		if !ok || err != nil {
			return
		}
		for _, s := range cf.vals {
			if e := cf.apply(c, s); e != nil {
				err = fmt.Errorf("config: --%s %s: %w", f.Name, s, e)
				return
			}
		}
	})
	return err
}
