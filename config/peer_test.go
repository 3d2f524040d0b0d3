package config

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

func TestPeerAllows(t *testing.T) {
	all := Peer{AETitle: "A"}
	none := Peer{AETitle: "B", Permissions: []string{}}
	some := Peer{AETitle: "C", Permissions: []string{PermEcho, PermFind}}
	for _, perm := range AllPermissions() {
		if !all.Allows(perm) || none.Allows(perm) {
			t.Errorf("%s: all=%t none=%t", perm, all.Allows(perm), none.Allows(perm))
		}
	}
	if !some.Allows(PermFind) || some.Allows(PermStore) || all.Allows("delete") {
		t.Error("explicit permission list not honoured")
	}
}

func TestPeerAllowsAddr(t *testing.T) {
	p := Peer{AETitle: "A", Networks: []string{"10.1.0.0/16", "192.168.0.7", "fd00::/8", "bogus"}}
	tests := map[string]bool{
		"10.1.2.3": true, "10.2.0.1": false, "192.168.0.7": true, "192.168.0.8": false,
		"fd00::1": true, "fe80::1": false, "::ffff:10.1.0.1": true,
	}
	for a, want := range tests {
		if got := p.AllowsAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("AllowsAddr(%s) = %t, want %t", a, got, want)
		}
	}
	if !(&Peer{}).AllowsAddr(netip.MustParseAddr("8.8.8.8")) {
		t.Error("no networks must mean any address")
	}
}

func TestMoveDestination(t *testing.T) {
	c := Default()
	c.Peers = []Peer{
		{AETitle: "VIEW", Host: "v", Port: 104, MoveDestinations: []string{"VIEW"}},
		{AETitle: "OTHER", Host: "o", Port: 104},
		{AETitle: "CALLER_ONLY"},
		{AETitle: "FREE"},
	}
	tests := []struct {
		caller, dest string
		ok           bool
	}{
		{"VIEW", "VIEW", true},
		{"VIEW", "OTHER", false},           // not among VIEW's destinations
		{"FREE", "OTHER", true},            // no restriction: any known peer
		{"STRANGER", "OTHER", true},        // unknown caller (only if accepted at all)
		{"FREE", "CALLER_ONLY", false},     // no address
		{"FREE", "NOBODY", false},          // unknown destination: 0xA801
		{"FREE", "VIEW            ", true}, // space padding from the wire
	}
	for _, tt := range tests {
		p, ok := c.MoveDestination(tt.caller, tt.dest)
		if ok != tt.ok || (ok && p.Host == "") {
			t.Errorf("MoveDestination(%q, %q) = %v, %t; want ok=%t", tt.caller, tt.dest, p, ok, tt.ok)
		}
	}
	if p, ok := c.Peer(" OTHER "); !ok || p != &c.Peers[1] {
		t.Error("Peer must return a pointer into Peers")
	}
	if _, ok := c.Peer("other"); ok {
		t.Error("AE titles are case sensitive")
	}
}

func TestParseCertSHA256(t *testing.T) {
	sum := sha256.Sum256([]byte("certificate"))
	plain := hex.EncodeToString(sum[:])
	var pairs []string
	for i := 0; i < len(plain); i += 2 {
		pairs = append(pairs, strings.ToUpper(plain[i:i+2]))
	}
	for _, s := range []string{plain, strings.ToUpper(plain), strings.Join(pairs, ":")} {
		got, err := ParseCertSHA256(s)
		if err != nil || got != sum {
			t.Errorf("ParseCertSHA256(%q) = %x, %v; want %x", s, got, err, sum)
		}
	}
	for _, s := range []string{
		"", plain[:62], plain + "00", "zz" + plain[2:], strings.Join(pairs[:31], ":"),
		strings.Join(pairs, ":") + ":", strings.Join(pairs, "::")[:95], strings.Join(pairs, "-"),
		"0:" + strings.Join(pairs[1:], ":") + "0", " " + plain[1:],
	} {
		if _, err := ParseCertSHA256(s); err == nil {
			t.Errorf("ParseCertSHA256(%q) = nil error", s)
		}
	}
}

// TestPeerCertKeys: the TLS binding keys decode and validate.
func TestPeerCertKeys(t *testing.T) {
	fp := strings.Repeat("0A", 32)
	c, err := Decode([]byte("[[peers]]\nae_title = \"MOD1\"\ncert_subject = \"modality-1\"\ncert_sha256 = \"" + fp + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Peers[0]; p.CertSubject != "modality-1" || p.CertSHA256 != fp {
		t.Errorf("decoded %+v", p)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if d := c.Clone(); d.Peers[0].CertSHA256 != fp || d.Peers[0].CertSubject != "modality-1" {
		t.Error("Clone lost cert_sha256")
	}
}
