package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ValidateAETitle checks an AE title (PS3.5 Table 6.2-1, AE VR): 1 to 16
// characters of the default repertoire, no backslash, no control
// characters, not all spaces, and (our rule, so that configured titles
// compare exactly) no leading or trailing space.
func ValidateAETitle(ae string) error {
	switch {
	case ae == "" || strings.Trim(ae, " ") == "":
		return errors.New("AE title must not be empty or all spaces")
	case len(ae) > 16:
		return fmt.Errorf("AE title %q is longer than 16 characters", ae)
	case strings.HasPrefix(ae, " ") || strings.HasSuffix(ae, " "):
		return fmt.Errorf("AE title %q must not start or end with a space", ae)
	}
	for _, r := range ae {
		if r < 0x20 || r > 0x7e || r == '\\' {
			return fmt.Errorf("AE title %q contains %q (backslash, control and non-ASCII characters are not allowed)", ae, r)
		}
	}
	return nil
}

// Validate checks every setting and returns all problems joined
// (errors.Join), each naming its setting by TOML key:
// "config: k: must be 2, 3 or 4, got 5". Nil means the configuration is
// usable. Validate does not touch the file system.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}

	if err := ValidateAETitle(c.AETitle); err != nil {
		bad("ae_title", "%v", err)
	}
	if c.Listen == "" && c.TLS.Listen == "" {
		bad("listen", "must be set (host:port) unless tls.listen is")
	}
	if c.Listen != "" {
		if err := checkListen(c.Listen); err != nil {
			bad("listen", "%v", err)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must not be empty")
	}
	if len(c.Stores) != 0 {
		if len(c.Stores) != 4 {
			bad("stores", "must list exactly 4 locations, got %d", len(c.Stores))
		}
		seen := map[string]int{}
		for i, s := range c.Stores {
			key := fmt.Sprintf("stores[%d]", i)
			switch {
			case strings.TrimSpace(s) == "":
				bad(key, "must not be empty")
			case strings.Contains(s, "://"):
				bad(key, "%q: only filesystem directories are supported (object storage is not implemented yet)", s)
			default:
				clean := filepath.Clean(s)
				if j, dup := seen[clean]; dup {
					bad(key, "%q is the same location as stores[%d]", s, j)
				}
				seen[clean] = i
			}
		}
	}
	c.validateShredKeyFile(bad)
	if c.K < 2 || c.K > 4 {
		bad("k", "must be 2, 3 or 4, got %d", c.K)
	}
	oneOf(bad, "compression", c.Compression, CompressionZstd, CompressionS2, CompressionNone)
	if c.ReadHedge < 0 {
		bad("read_hedge", "must not be negative, got %s", c.ReadHedge)
	}
	oneOf(bad, "duplicates", c.Duplicates, DuplicatesKeepFirst, DuplicatesReplace)
	oneOf(bad, "unknown_calling_ae", c.UnknownCallingAE, UnknownCallingAccept, UnknownCallingReject)
	c.validateLimits(bad)
	c.validateTLS(bad)
	oneOf(bad, "log.level", c.Log.Level, "trace", "debug", "info", "warn", "error")
	oneOf(bad, "log.format", c.Log.Format, LogFormatConsole, LogFormatJSON)
	c.validatePeers(bad)
	return errors.Join(errs...)
}

// validateShredKeyFile keeps the shred key store out of the places whose
// copies it must not travel with: a share store (whoever reads the store
// would hold the keys, and a snapshot of the store would keep destroyed
// ones) and the KEK or index files themselves.
func (c *Config) validateShredKeyFile(bad badFunc) {
	if c.ShredKeyFile != "" && strings.TrimSpace(c.ShredKeyFile) == "" {
		bad("shred_key_file", "must not be blank")
		return
	}
	p := filepath.Clean(c.ShredKeyPath())
	switch p {
	case filepath.Clean(c.KEKPath()):
		bad("shred_key_file", "%q is the KEK file", c.ShredKeyPath())
	case filepath.Clean(c.IndexPath()):
		bad("shred_key_file", "%q is the index", c.ShredKeyPath())
	}
	for i, s := range c.StorePaths() {
		if s = filepath.Clean(s); strings.TrimSpace(s) != "" && (p == s || strings.HasPrefix(p, s+string(filepath.Separator))) {
			bad("shred_key_file", "%q is inside share store %d (%s): keep it beside the KEK, away from the stores", c.ShredKeyPath(), i, s)
		}
	}
}

type badFunc func(key, format string, args ...any)

func oneOf(bad badFunc, key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		bad(key, "must be %s, got %q", strings.Join(quoteAll(allowed), " or "), v)
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port (%v)", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number 0..65535", addr)
	}
	return nil
}

func (c *Config) validateLimits(bad badFunc) {
	l := &c.Limits
	positive := func(key string, v int64) {
		if v <= 0 {
			bad("limits."+key, "must be positive, got %d", v)
		}
	}
	positive("max_associations", int64(l.MaxAssociations))
	positive("max_associations_per_ae", int64(l.MaxAssociationsPerAE))
	if l.MaxAssociationsPerAE > l.MaxAssociations && l.MaxAssociations > 0 {
		bad("limits.max_associations_per_ae", "must not exceed limits.max_associations (%d), got %d", l.MaxAssociations, l.MaxAssociationsPerAE)
	}
	if l.MaxPDULength < 4*KiB || l.MaxPDULength > 64*MiB {
		bad("limits.max_pdu_length", "must be 4KiB..64MiB, got %s", l.MaxPDULength)
	}
	if l.MaxAssociateRQLength < 1*KiB || l.MaxAssociateRQLength > 1*MiB {
		bad("limits.max_associate_rq_length", "must be 1KiB..1MiB, got %s", l.MaxAssociateRQLength)
	}
	positive("max_data_set_size", int64(l.MaxDataSetSize))
	positive("spool_threshold", int64(l.SpoolThreshold))
	if l.SpoolThreshold > l.MaxDataSetSize && l.MaxDataSetSize > 0 {
		bad("limits.spool_threshold", "must not exceed limits.max_data_set_size (%s), got %s", l.MaxDataSetSize, l.SpoolThreshold)
	}
	if l.MaxSequenceDepth < 1 || l.MaxSequenceDepth > 256 {
		bad("limits.max_sequence_depth", "must be 1..256, got %d", l.MaxSequenceDepth)
	}
	positive("max_inflated_size", int64(l.MaxInflatedSize))
	positive("max_find_results", int64(l.MaxFindResults))
	// A bare TOML integer is nanoseconds: "artim_timeout = 30" would be
	// 30ns, so a floor catches the mistake.
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"artim_timeout", l.ARTIMTimeout}, {"idle_timeout", l.IdleTimeout},
		{"operation_timeout", l.OperationTimeout}, {"dial_timeout", l.DialTimeout},
		{"shutdown_timeout", l.ShutdownTimeout},
	} {
		if d.v < time.Millisecond {
			bad("limits."+d.key, "must be at least 1ms, got %s (write durations as strings: \"30s\")", d.v)
		}
	}
}

func (c *Config) validateTLS(bad badFunc) {
	t := &c.TLS
	if t.Listen != "" {
		if err := checkListen(t.Listen); err != nil {
			bad("tls.listen", "%v", err)
		} else if t.Listen == c.Listen {
			bad("tls.listen", "%q is also the plain listen address", t.Listen)
		}
	}
	needCert := t.Listen != "" || slices.ContainsFunc(c.Peers, func(p Peer) bool { return p.TLS })
	if needCert && (t.CertFile == "" || t.KeyFile == "") {
		bad("tls.cert_file", "tls.cert_file and tls.key_file are required when tls.listen is set or a peer uses TLS")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("tls.key_file", "tls.cert_file and tls.key_file must be set together")
	}
	if t.RequireClientCert != nil && *t.RequireClientCert && t.CAFile == "" {
		bad("tls.require_client_cert", "needs tls.ca_file to verify client certificates")
	}
}

func (c *Config) validatePeers(bad badFunc) {
	seen := map[string]bool{}
	for i, p := range c.Peers {
		key := fmt.Sprintf("peers[%d]", i)
		if err := ValidateAETitle(p.AETitle); err != nil {
			bad(key+".ae_title", "%v", err)
		} else {
			key = fmt.Sprintf("peers[%d] (%s)", i, p.AETitle)
			if seen[p.AETitle] {
				bad(key+".ae_title", "duplicate peer %q", p.AETitle)
			}
			seen[p.AETitle] = true
		}
		switch {
		case p.Host == "" && p.Port != 0:
			bad(key+".host", "must be set when port is")
		case p.Host != "" && (p.Port < 1 || p.Port > 65535):
			bad(key+".port", "must be 1..65535, got %d", p.Port)
		case p.Host == "" && p.TLS:
			bad(key+".tls", "needs host and port")
		}
		for _, perm := range p.Permissions {
			if !slices.Contains(AllPermissions(), perm) {
				bad(key+".permissions", "unknown permission %q (want echo, store, find, move or get)", perm)
			}
		}
		for _, n := range p.Networks {
			if _, err := parseNetwork(n); err != nil {
				bad(key+".networks", "%q is not a CIDR or IP address", n)
			}
		}
		if p.CertSHA256 != "" {
			if _, err := ParseCertSHA256(p.CertSHA256); err != nil {
				bad(key+".cert_sha256", "%v", err)
			}
		}
		if p.CertSubject != "" {
			if err := validateCertSubject(p.CertSubject); err != nil {
				bad(key+".cert_subject", "%v", err)
			}
		}
	}
	for i, p := range c.Peers {
		for _, d := range p.MoveDestinations {
			dp, ok := c.Peer(d)
			switch {
			case !ok:
				bad(fmt.Sprintf("peers[%d] (%s).move_destinations", i, p.AETitle), "%q is not a configured peer", d)
			case dp.Host == "":
				bad(fmt.Sprintf("peers[%d] (%s).move_destinations", i, p.AETitle), "peer %q has no host and port", d)
			}
		}
	}
}

// validateCertSubject checks a Peer.CertSubject: a Common Name is at most
// 64 characters (RFC 5280 ub-common-name) and, to be comparable, has no
// control characters and is not blank.
func validateCertSubject(cn string) error {
	switch {
	case strings.TrimSpace(cn) == "":
		return errors.New("must not be blank")
	case len(cn) > 64:
		return fmt.Errorf("%q is longer than 64 bytes (RFC 5280 ub-common-name)", cn)
	}
	for _, r := range cn {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q contains the control character %q", cn, r)
		}
	}
	return nil
}
