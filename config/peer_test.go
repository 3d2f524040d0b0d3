package config

import (
	"net/netip"
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
