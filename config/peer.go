package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Permissions a peer may hold: one per DIMSE service it may request of us.
const (
	PermEcho  = "echo"  // C-ECHO (PS3.4 A)
	PermStore = "store" // C-STORE (PS3.4 B)
	PermFind  = "find"  // C-FIND (PS3.4 C)
	PermMove  = "move"  // C-MOVE (PS3.4 C)
	PermGet   = "get"   // C-GET (PS3.4 C)
)

// AllPermissions lists every permission, in a fixed order.
func AllPermissions() []string { return []string{PermEcho, PermStore, PermFind, PermMove, PermGet} }

// Peer is a known remote Application Entity.
type Peer struct {
	// AETitle identifies the peer (as calling AE, or as C-MOVE
	// destination). Compared exactly, after trimming the space padding.
	AETitle string `toml:"ae_title"`
	// Host and Port are where the peer listens; needed for a C-MOVE
	// destination, empty/0 for a peer that only calls us.
	Host string `toml:"host"`
	Port int    `toml:"port"`
	// TLS makes outbound associations to this peer use DICOM TLS.
	TLS bool `toml:"tls"`
	// CertSubject and CertSHA256 bind the peer's TLS certificate to this
	// entry (PS3.15 B.1: the certificate identifies the AE). By default
	// (both empty) a TLS caller's verified certificate must name the
	// calling AE title itself: its Subject Common Name, or a URI SAN
	// "dicom-ae:<AE title>" (percent-encoded). When either is set it
	// replaces that rule, and every one set must match:
	//   - CertSubject: the certificate's Subject Common Name, exactly;
	//   - CertSHA256: SHA-256 of the certificate's DER encoding, 64 hex
	//     digits, optionally in colon-separated pairs (the form of
	//     `openssl x509 -fingerprint -sha256`).
	// They also check the peer's server certificate when we connect to it
	// (on top of the CA and host name verification). A mismatch on an
	// incoming association is A-ASSOCIATE-RJ (1,1,3). See package
	// node/tlsconf.
	CertSubject string `toml:"cert_subject"`
	CertSHA256  string `toml:"cert_sha256"`
	// Permissions are the services the peer may request: echo, store,
	// find, move, get. Omitted (nil) means all; an empty list means none
	// (a destination that may not call us).
	Permissions []string `toml:"permissions"`
	// MoveDestinations are the AE titles this peer may C-MOVE to; empty
	// means any known peer with an address.
	MoveDestinations []string `toml:"move_destinations"`
	// Networks are the CIDRs (or single addresses) the peer may call from;
	// empty means any address.
	Networks []string `toml:"networks"`
}

func (p Peer) clone() Peer {
	p.Permissions = slices.Clone(p.Permissions)
	p.MoveDestinations = slices.Clone(p.MoveDestinations)
	p.Networks = slices.Clone(p.Networks)
	return p
}

// Allows reports whether the peer holds the permission perm.
func (p *Peer) Allows(perm string) bool {
	if p.Permissions == nil {
		return slices.Contains(AllPermissions(), perm)
	}
	return slices.Contains(p.Permissions, perm)
}

// Address returns "host:port", or "" for a peer without an address.
func (p *Peer) Address() string {
	if p.Host == "" {
		return ""
	}
	return net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
}

// AllowsAddr reports whether a connection from addr may claim this peer's
// AE title: true when Networks is empty or contains addr. Unparsable
// networks (Validate rejects them) match nothing.
func (p *Peer) AllowsAddr(addr netip.Addr) bool {
	if len(p.Networks) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, n := range p.Networks {
		if pfx, err := parseNetwork(n); err == nil && pfx.Contains(addr) {
			return true
		}
	}
	return false
}

func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseCertSHA256 parses a certificate fingerprint as written in
// Peer.CertSHA256: 64 hexadecimal digits (either case), optionally as 32
// colon-separated pairs.
func ParseCertSHA256(s string) ([32]byte, error) {
	var fp [32]byte
	h := s
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		if len(parts) != len(fp) {
			return fp, fmt.Errorf("fingerprint %q: want 64 hex digits or 32 colon-separated pairs", s)
		}
		for _, p := range parts {
			if len(p) != 2 {
				return fp, fmt.Errorf("fingerprint %q: want 64 hex digits or 32 colon-separated pairs", s)
			}
		}
		h = strings.Join(parts, "")
	}
	if len(h) != 2*len(fp) {
		return fp, fmt.Errorf("fingerprint %q: want 64 hex digits (SHA-256), got %d characters", s, len(h))
	}
	if _, err := hex.Decode(fp[:], []byte(h)); err != nil {
		return fp, fmt.Errorf("fingerprint %q: not hexadecimal", s)
	}
	return fp, nil
}

// Peer returns the peer with AE title ae (space padding ignored).
func (c *Config) Peer(ae string) (*Peer, bool) {
	ae = strings.Trim(ae, " ")
	for i := range c.Peers {
		if c.Peers[i].AETitle == ae {
			return &c.Peers[i], true
		}
	}
	return nil, false
}

// MoveDestination returns the peer a C-MOVE from caller to dest goes to,
// or false when dest is unknown, has no address, or is not among the
// caller's MoveDestinations (PS3.4 C.4.2.1.4.1: answer 0xA801). A caller not
// in Peers (allowed only under UnknownCallingAccept) may move to any known
// peer with an address.
func (c *Config) MoveDestination(caller, dest string) (*Peer, bool) {
	d, ok := c.Peer(dest)
	if !ok || d.Host == "" {
		return nil, false
	}
	if p, ok := c.Peer(caller); ok && len(p.MoveDestinations) > 0 &&
		!slices.Contains(p.MoveDestinations, d.AETitle) {
		return nil, false
	}
	return d, true
}

// ParsePeerSpec parses "AE=host:port" (the SHARDPACS_PEERS and --peer
// syntax) into a Peer with every permission. An IPv6 host is bracketed:
// "AE=[::1]:104".
func ParsePeerSpec(spec string) (Peer, error) {
	ae, addr, ok := strings.Cut(strings.TrimSpace(spec), "=")
	if !ok {
		return Peer{}, fmt.Errorf("peer %q: want AE=host:port", spec)
	}
	if err := ValidateAETitle(ae); err != nil {
		return Peer{}, fmt.Errorf("peer %q: %w", spec, err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return Peer{}, fmt.Errorf("peer %q: want AE=host:port", spec)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Peer{}, fmt.Errorf("peer %q: port must be 1..65535", spec)
	}
	return Peer{AETitle: ae, Host: host, Port: n}, nil
}

// addPeer merges p into c.Peers: an existing peer with the same AE title
// gets p's address (its permissions and other settings are kept), a new one
// is appended.
func (c *Config) addPeer(p Peer) {
	if old, ok := c.Peer(p.AETitle); ok {
		if p.Host != "" {
			old.Host, old.Port = p.Host, p.Port
		}
		return
	}
	c.Peers = append(c.Peers, p)
}
