package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	yes := true
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string // substring naming the setting and the reason
	}{
		{"empty AE", func(c *Config) { c.AETitle = "" }, "config: ae_title: AE title must not be empty"},
		{"spaces AE", func(c *Config) { c.AETitle = "    " }, "config: ae_title: AE title must not be empty or all spaces"},
		{"long AE", func(c *Config) { c.AETitle = "ABCDEFGHIJKLMNOPQ" }, "config: ae_title: AE title \"ABCDEFGHIJKLMNOPQ\" is longer than 16"},
		{"backslash AE", func(c *Config) { c.AETitle = `A\B` }, "config: ae_title:"},
		{"control AE", func(c *Config) { c.AETitle = "A\nB" }, "config: ae_title:"},
		{"non-ASCII AE", func(c *Config) { c.AETitle = "PACSé" }, "config: ae_title:"},
		{"padded AE", func(c *Config) { c.AETitle = " PACS" }, "config: ae_title: AE title \" PACS\" must not start or end with a space"},
		{"no listener", func(c *Config) { c.Listen = "" }, "config: listen: must be set"},
		{"bad listen", func(c *Config) { c.Listen = "localhost" }, "config: listen: \"localhost\": want host:port"},
		{"bad port", func(c *Config) { c.Listen = "127.0.0.1:99999" }, "config: listen: \"127.0.0.1:99999\": port must be"},
		{"no data dir", func(c *Config) { c.DataDir = " " }, "config: data_dir: must not be empty"},
		{"3 stores", func(c *Config) { c.Stores = []string{"a", "b", "c"} }, "config: stores: must list exactly 4 locations, got 3"},
		{"empty store", func(c *Config) { c.Stores = []string{"a", "", "c", "d"} }, "config: stores[1]: must not be empty"},
		{"same store", func(c *Config) { c.Stores = []string{"a", "b", "./a", "d"} }, "config: stores[2]: \"./a\" is the same location as stores[0]"},
		{"s3 store", func(c *Config) { c.Stores = []string{"s3://b/x", "b", "c", "d"} }, "config: stores[0]: \"s3://b/x\": only filesystem"},
		{"k=5", func(c *Config) { c.K = 5 }, "config: k: must be 2, 3 or 4, got 5"},
		{"k=1", func(c *Config) { c.K = 1 }, "config: k: must be 2, 3 or 4, got 1"},
		{"compression", func(c *Config) { c.Compression = "gzip" }, "config: compression: must be \"zstd\" or \"s2\" or \"none\", got \"gzip\""},
		{"duplicates", func(c *Config) { c.Duplicates = "keep" }, "config: duplicates: must be \"keep-first\" or \"replace\""},
		{"unknown calling", func(c *Config) { c.UnknownCallingAE = "deny" }, "config: unknown_calling_ae: must be \"accept\" or \"reject\""},
		{"max assoc", func(c *Config) { c.Limits.MaxAssociations = 0 }, "config: limits.max_associations: must be positive, got 0"},
		{"per AE", func(c *Config) { c.Limits.MaxAssociationsPerAE = -1 }, "config: limits.max_associations_per_ae: must be positive"},
		{"per AE > global", func(c *Config) { c.Limits.MaxAssociationsPerAE = 65 }, "config: limits.max_associations_per_ae: must not exceed limits.max_associations (64), got 65"},
		{"pdu small", func(c *Config) { c.Limits.MaxPDULength = 100 }, "config: limits.max_pdu_length: must be 4KiB..64MiB, got 100"},
		{"pdu big", func(c *Config) { c.Limits.MaxPDULength = GiB }, "config: limits.max_pdu_length: must be 4KiB..64MiB, got 1GiB"},
		{"rq", func(c *Config) { c.Limits.MaxAssociateRQLength = 10 }, "config: limits.max_associate_rq_length:"},
		{"data set", func(c *Config) { c.Limits.MaxDataSetSize = 0 }, "config: limits.max_data_set_size: must be positive"},
		{"spool", func(c *Config) { c.Limits.SpoolThreshold = 0 }, "config: limits.spool_threshold: must be positive"},
		{"spool > max", func(c *Config) { c.Limits.MaxDataSetSize = MiB }, "config: limits.spool_threshold: must not exceed limits.max_data_set_size (1MiB), got 8MiB"},
		{"depth", func(c *Config) { c.Limits.MaxSequenceDepth = 1000 }, "config: limits.max_sequence_depth: must be 1..256, got 1000"},
		{"read hedge", func(c *Config) { c.ReadHedge = -time.Second }, "config: read_hedge: must not be negative, got -1s"},
		{"inflate", func(c *Config) { c.Limits.MaxInflatedSize = -1 }, "config: limits.max_inflated_size: must be positive"},
		{"find", func(c *Config) { c.Limits.MaxFindResults = 0 }, "config: limits.max_find_results: must be positive"},
		{"artim", func(c *Config) { c.Limits.ARTIMTimeout = 0 }, "config: limits.artim_timeout: must be at least 1ms"},
		{"artim ns", func(c *Config) { c.Limits.ARTIMTimeout = 30 }, "config: limits.artim_timeout: must be at least 1ms, got 30ns"},
		{"idle", func(c *Config) { c.Limits.IdleTimeout = -time.Second }, "config: limits.idle_timeout:"},
		{"op", func(c *Config) { c.Limits.OperationTimeout = 0 }, "config: limits.operation_timeout:"},
		{"dial", func(c *Config) { c.Limits.DialTimeout = 0 }, "config: limits.dial_timeout:"},
		{"shutdown", func(c *Config) { c.Limits.ShutdownTimeout = 0 }, "config: limits.shutdown_timeout:"},
		{"tls listen", func(c *Config) { c.TLS.Listen = "2762" }, "config: tls.listen: \"2762\": want host:port"},
		{"tls same port", func(c *Config) {
			c.TLS.Listen, c.TLS.CertFile, c.TLS.KeyFile = c.Listen, "c", "k"
		}, "config: tls.listen: \"127.0.0.1:11112\" is also the plain listen address"},
		{"tls no cert", func(c *Config) { c.TLS.Listen = ":2762" }, "config: tls.cert_file: tls.cert_file and tls.key_file are required"},
		{"tls half cert", func(c *Config) { c.TLS.CertFile = "c.pem" }, "config: tls.key_file: tls.cert_file and tls.key_file must be set together"},
		{"tls require no CA", func(c *Config) { c.TLS.RequireClientCert = &yes }, "config: tls.require_client_cert: needs tls.ca_file"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "config: log.level: must be \"trace\" or \"debug\" or \"info\" or \"warn\" or \"error\", got \"verbose\""},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "config: log.format: must be \"console\" or \"json\", got \"xml\""},
		{"peer AE", func(c *Config) { c.Peers = []Peer{{AETitle: ""}} }, "config: peers[0].ae_title: AE title must not be empty"},
		{"peer dup", func(c *Config) { c.Peers = []Peer{{AETitle: "A"}, {AETitle: "A"}} }, "config: peers[1] (A).ae_title: duplicate peer \"A\""},
		{"peer port", func(c *Config) { c.Peers = []Peer{{AETitle: "A", Host: "h"}} }, "config: peers[0] (A).port: must be 1..65535, got 0"},
		{"peer host", func(c *Config) { c.Peers = []Peer{{AETitle: "A", Port: 104}} }, "config: peers[0] (A).host: must be set when port is"},
		{"peer tls no host", func(c *Config) { c.Peers = []Peer{{AETitle: "A", TLS: true}} }, "config: peers[0] (A).tls: needs host and port"},
		{"peer tls no cert", func(c *Config) { c.Peers = []Peer{{AETitle: "A", Host: "h", Port: 1, TLS: true}} }, "config: tls.cert_file:"},
		{"peer perm", func(c *Config) { c.Peers = []Peer{{AETitle: "A", Permissions: []string{"echo", "delete"}}} }, "config: peers[0] (A).permissions: unknown permission \"delete\""},
		{"peer network", func(c *Config) { c.Peers = []Peer{{AETitle: "A", Networks: []string{"10.0.0.0/33"}}} }, "config: peers[0] (A).networks: \"10.0.0.0/33\" is not a CIDR"},
		{"peer sha256 short", func(c *Config) { c.Peers = []Peer{{AETitle: "A", CertSHA256: "abcd"}} }, "config: peers[0] (A).cert_sha256: fingerprint \"abcd\": want 64 hex digits"},
		{"peer sha256 not hex", func(c *Config) { c.Peers = []Peer{{AETitle: "A", CertSHA256: strings.Repeat("g", 64)}} }, "config: peers[0] (A).cert_sha256: fingerprint \"ggg"},
		{"peer subject blank", func(c *Config) { c.Peers = []Peer{{AETitle: "A", CertSubject: "  "}} }, "config: peers[0] (A).cert_subject: must not be blank"},
		{"peer subject long", func(c *Config) { c.Peers = []Peer{{AETitle: "A", CertSubject: strings.Repeat("x", 65)}} }, "config: peers[0] (A).cert_subject: \"xxx"},
		{"peer subject control", func(c *Config) { c.Peers = []Peer{{AETitle: "A", CertSubject: "MOD\x001"}} }, "config: peers[0] (A).cert_subject: \"MOD\\x001\" contains the control character"},
		{"shred key file in a store", func(c *Config) { c.ShredKeyFile = "data/stores/2/keys.db" }, "config: shred_key_file: \"data/stores/2/keys.db\" is inside share store 2"},
		{"shred key file in a custom store", func(c *Config) {
			c.Stores = []string{"/s/0", "/s/1", "/s/2", "/s/3"}
			c.KEKFile = "/s/1/master.key"
		}, "config: shred_key_file: \"/s/1/shred-keys.db\" is inside share store 1"},
		{"shred key file is the KEK", func(c *Config) { c.ShredKeyFile = "data/master.key" }, "config: shred_key_file: \"data/master.key\" is the KEK file"},
		{"shred key file is the index", func(c *Config) { c.ShredKeyFile = "./data/index.db" }, "config: shred_key_file: \"./data/index.db\" is the index"},
		{"shred key file blank", func(c *Config) { c.ShredKeyFile = " " }, "config: shred_key_file: must not be blank"},
		{"move dest unknown", func(c *Config) { c.Peers = []Peer{{AETitle: "A", MoveDestinations: []string{"B"}}} }, "config: peers[0] (A).move_destinations: \"B\" is not a configured peer"},
		{"move dest no addr", func(c *Config) {
			c.Peers = []Peer{{AETitle: "A", MoveDestinations: []string{"B"}}, {AETitle: "B"}}
		}, "config: peers[0] (A).move_destinations: peer \"B\" has no host and port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateJoinsAllProblems(t *testing.T) {
	c := Default()
	c.K, c.Compression, c.Log.Format = 7, "lz4", "yaml"
	err := c.Validate()
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Fatalf("want 3 joined errors, got %v", err)
	}
	for _, key := range []string{"config: k:", "config: compression:", "config: log.format:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("%q missing from %v", key, err)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	no := false
	c := Default()
	c.Listen = ""
	c.TLS = TLS{Listen: "[::]:2762", CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem", RequireClientCert: &no}
	c.Stores = []string{"/s/0", "/s/1", "/s/2", "/s/3"}
	c.K = 4
	c.ShredKeys, c.ShredKeyFile = true, "/s/shred-keys.db" // beside the stores, not inside one
	c.AETitle = "A-B_C.D 1"
	c.Peers = []Peer{
		{AETitle: "MOD", Networks: []string{"10.0.0.0/8", "192.168.1.5", "::1"}, Permissions: []string{}},
		{AETitle: "VIEW", Host: "::1", Port: 104, TLS: true, MoveDestinations: []string{"VIEW"},
			CertSubject: "viewer.example.org", CertSHA256: strings.Repeat("aB", 32)},
		{AETitle: "CT", CertSHA256: strings.TrimSuffix(strings.Repeat("0f:", 32), ":")},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
