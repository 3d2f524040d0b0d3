package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestApplyEnvEverySetting sets every setting through its variable and
// checks the field changed to the value given.
func TestApplyEnvEverySetting(t *testing.T) {
	values := map[string]string{
		"SHARDPACS_AE_TITLE": "ENVAE", "SHARDPACS_LISTEN": "0.0.0.0:104", "SHARDPACS_DATA": "/var/lib/sp",
		"SHARDPACS_KEK_FILE": "/k/master.key", "SHARDPACS_SHRED_KEYS": "true", "SHARDPACS_SHRED_KEY_FILE": "/k/shred.db",
		"SHARDPACS_STORES": "/s/0, /s/1,/s/2 ,/s/3", "SHARDPACS_K": "3", "SHARDPACS_READ_HEDGE": "50ms",
		"SHARDPACS_COMPRESSION": "none", "SHARDPACS_DUPLICATES": "replace", "SHARDPACS_ACCEPT_ANY_CALLED_AE": "true",
		"SHARDPACS_UNKNOWN_CALLING_AE": "reject", "SHARDPACS_SPOOL_DIR": "/spool",
		"SHARDPACS_LIMITS_MAX_ASSOCIATIONS": "10", "SHARDPACS_LIMITS_MAX_ASSOCIATIONS_PER_AE": "5",
		"SHARDPACS_LIMITS_MAX_PDU_LENGTH": "16KiB", "SHARDPACS_LIMITS_MAX_ASSOCIATE_RQ_LENGTH": "32768",
		"SHARDPACS_LIMITS_MAX_DATA_SET_SIZE": "1GiB", "SHARDPACS_LIMITS_SPOOL_THRESHOLD": "1 MiB",
		"SHARDPACS_LIMITS_MAX_SEQUENCE_DEPTH": "16", "SHARDPACS_LIMITS_MAX_INFLATED_SIZE": "2GB",
		"SHARDPACS_LIMITS_MAX_FIND_RESULTS": "500", "SHARDPACS_LIMITS_ARTIM_TIMEOUT": "5s",
		"SHARDPACS_LIMITS_IDLE_TIMEOUT": "1m", "SHARDPACS_LIMITS_OPERATION_TIMEOUT": "2m",
		"SHARDPACS_LIMITS_DIAL_TIMEOUT": "3s", "SHARDPACS_LIMITS_SHUTDOWN_TIMEOUT": "4s",
		"SHARDPACS_TLS_LISTEN": ":2762", "SHARDPACS_TLS_CERT_FILE": "c.pem", "SHARDPACS_TLS_KEY_FILE": "k.pem",
		"SHARDPACS_TLS_CA_FILE": "ca.pem", "SHARDPACS_TLS_REQUIRE_CLIENT_CERT": "false",
		"SHARDPACS_LOG_LEVEL": "debug", "SHARDPACS_LOG_FORMAT": "json", "SHARDPACS_LOG_AUDIT_FILE": "/log/audit",
	}
	for _, st := range settings {
		if _, ok := values[st.Env]; !ok {
			t.Errorf("test has no value for %s (%s)", st.Env, st.Key)
		}
	}
	c := Default()
	if err := c.ApplyEnv(mapEnv(values)); err != nil {
		t.Fatal(err)
	}
	no := false
	want := &Config{
		AETitle: "ENVAE", Listen: "0.0.0.0:104", DataDir: "/var/lib/sp", KEKFile: "/k/master.key",
		ShredKeys: true, ShredKeyFile: "/k/shred.db",
		Stores: []string{"/s/0", "/s/1", "/s/2", "/s/3"}, K: 3, ReadHedge: 50 * time.Millisecond, Compression: "none", Duplicates: "replace",
		AcceptAnyCalledAE: true, UnknownCallingAE: "reject", SpoolDir: "/spool",
		Limits: Limits{
			MaxAssociations: 10, MaxAssociationsPerAE: 5, MaxPDULength: 16 * KiB, MaxAssociateRQLength: 32 * KiB,
			MaxDataSetSize: GiB, SpoolThreshold: MiB, MaxSequenceDepth: 16, MaxInflatedSize: 2e9, MaxFindResults: 500,
			ARTIMTimeout: 5 * time.Second, IdleTimeout: time.Minute, OperationTimeout: 2 * time.Minute,
			DialTimeout: 3 * time.Second, ShutdownTimeout: 4 * time.Second,
		},
		TLS: TLS{Listen: ":2762", CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem", RequireClientCert: &no},
		Log: Log{Level: "debug", Format: "json", AuditFile: "/log/audit"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("after ApplyEnv:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("env-built config invalid: %v", err)
	}
}

func TestApplyEnvEmptyIsUnset(t *testing.T) {
	c := Default()
	if err := c.ApplyEnv(mapEnv(map[string]string{"SHARDPACS_AE_TITLE": "", "SHARDPACS_K": ""})); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Error("empty variables changed the config")
	}
}

func TestApplyEnvErrorsNameTheVariable(t *testing.T) {
	c := Default()
	err := c.ApplyEnv(mapEnv(map[string]string{
		"SHARDPACS_K":                        "two",
		"SHARDPACS_LIMITS_IDLE_TIMEOUT":      "5 minutes",
		"SHARDPACS_LIMITS_MAX_PDU_LENGTH":    "-1",
		"SHARDPACS_ACCEPT_ANY_CALLED_AE":     "maybe",
		"SHARDPACS_TLS_REQUIRE_CLIENT_CERT":  "sometimes",
		"SHARDPACS_PEERS":                    "GOOD=h:104,BAD",
		"SHARDPACS_LIMITS_MAX_DATA_SET_SIZE": "99999999999TiB",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{
		`SHARDPACS_K: invalid integer "two"`, `SHARDPACS_LIMITS_IDLE_TIMEOUT: invalid duration "5 minutes"`,
		"SHARDPACS_LIMITS_MAX_PDU_LENGTH: invalid size", `SHARDPACS_ACCEPT_ANY_CALLED_AE: invalid boolean "maybe"`,
		"SHARDPACS_TLS_REQUIRE_CLIENT_CERT: invalid boolean", `SHARDPACS_PEERS: peer "BAD"`,
		"SHARDPACS_LIMITS_MAX_DATA_SET_SIZE: size \"99999999999TiB\" overflows",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, ok := c.Peer("GOOD"); !ok {
		t.Error("the good peer of SHARDPACS_PEERS was dropped")
	}
}

func TestApplyEnvPeersMerge(t *testing.T) {
	c := Default()
	c.Peers = []Peer{{AETitle: "VIEW", Host: "old", Port: 1, Permissions: []string{"find"}}}
	err := c.ApplyEnv(mapEnv(map[string]string{"SHARDPACS_PEERS": " VIEW=new:104 , DEST=[::1]:11113,, "}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Peer{
		{AETitle: "VIEW", Host: "new", Port: 104, Permissions: []string{"find"}},
		{AETitle: "DEST", Host: "::1", Port: 11113},
	}
	if !reflect.DeepEqual(c.Peers, want) {
		t.Errorf("peers = %+v, want %+v", c.Peers, want)
	}
	if d, _ := c.Peer("DEST"); d.Address() != "[::1]:11113" {
		t.Errorf("Address = %q", d.Address())
	}
}

func TestParsePeerSpec(t *testing.T) {
	good := map[string]Peer{
		"A=h:104":          {AETitle: "A", Host: "h", Port: 104},
		" B=10.0.0.1:1 ":   {AETitle: "B", Host: "10.0.0.1", Port: 1},
		"C=[fe80::1]:4242": {AETitle: "C", Host: "fe80::1", Port: 4242},
	}
	for spec, want := range good {
		got, err := ParsePeerSpec(spec)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParsePeerSpec(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"", "A", "A=", "=h:1", "A=h", "A=h:0", "A=h:65536", "A=h:x", "A=:104",
		"WAY_TOO_LONG_AE_TITLE=h:1", `A\B=h:1`} {
		if p, err := ParsePeerSpec(spec); err == nil {
			t.Errorf("ParsePeerSpec(%q) = %+v, want error", spec, p)
		}
	}
}
