package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func newFlagSet(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	return fs
}

func TestFlagsWriteOwner(t *testing.T) {
	c := Default()
	fs := newFlagSet(c)
	err := fs.Parse([]string{"--data", "/d", "--listen", "0.0.0.0:11112", "--ae-title", "FLAGAE", "--k", "3",
		"--log-level", "debug", "--log-format", "json", "--peer", "DEST=127.0.0.1:11113", "--peer", "V=h:104",
		"--allow-calling", "MOD"})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.DataDir, want.Listen, want.AETitle, want.K = "/d", "0.0.0.0:11112", "FLAGAE", 3
	want.Log.Level, want.Log.Format = "debug", "json"
	want.UnknownCallingAE = UnknownCallingReject
	want.Peers = []Peer{{AETitle: "DEST", Host: "127.0.0.1", Port: 11113}, {AETitle: "V", Host: "h", Port: 104}, {AETitle: "MOD"}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestFlagsSyntaxErrorsAtParse(t *testing.T) {
	for _, args := range [][]string{
		{"--k", "two"}, {"--peer", "nohostport"}, {"--allow-calling", "WAY_TOO_LONG_AE_TITLE"}, {"--peer", "A=h:0"},
	} {
		if err := newFlagSet(Default()).Parse(args); err == nil {
			t.Errorf("Parse(%q) = nil, want error", args)
		}
	}
}

func TestFlagsHelpShowsDefaults(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var b strings.Builder
	fs.SetOutput(&b)
	Default().RegisterFlags(fs)
	fs.PrintDefaults()
	for _, want := range []string{"-data DIR", "(default ./data)", "-k N", "-peer AE=HOST:PORT", "-allow-calling AE", "(default SHARDPACS)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, b.String())
		}
	}
}

func TestAllowCallingGrantsEverything(t *testing.T) {
	c := Default()
	c.Peers = []Peer{{AETitle: "MOD", Permissions: []string{"echo"}}}
	if err := newFlagSet(c).Parse([]string{"--allow-calling", "MOD"}); err != nil {
		t.Fatal(err)
	}
	p, _ := c.Peer("MOD")
	if !p.Allows(PermStore) || len(c.Peers) != 1 || c.UnknownCallingAE != UnknownCallingReject {
		t.Errorf("after --allow-calling: %+v", c)
	}
}

// TestPrecedence: defaults < file < env < flags.
func TestPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shardpacs.toml")
	file := `
ae_title = "FILEAE"
listen = "127.0.0.1:2000"
k = 3
compression = "none"
[limits]
max_find_results = 7
[[peers]]
ae_title = "V"
host = "file-host"
port = 104
permissions = ["find", "move"]
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := mapEnv(map[string]string{
		"SHARDPACS_AE_TITLE": "ENVAE", "SHARDPACS_K": "4", "SHARDPACS_LIMITS_MAX_FIND_RESULTS": "8",
		"SHARDPACS_PEERS": "V=env-host:105",
	})
	fs := newFlagSet(Default())
	if err := fs.Parse([]string{"--ae-title", "FLAGAE", "--peer", "V=flag-host:106"}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadAll(path, env, fs)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ae_title (flag over env over file)", c.AETitle, "FLAGAE"},
		{"k (env over file)", c.K, 4},
		{"max_find_results (env over file)", c.Limits.MaxFindResults, 8},
		{"listen (file over default)", c.Listen, "127.0.0.1:2000"},
		{"compression (file)", c.Compression, "none"},
		{"duplicates (default)", c.Duplicates, DuplicatesKeepFirst},
		{"peer host (flag)", c.Peers[0].Host, "flag-host"},
		{"peer port (flag)", c.Peers[0].Port, 106},
		{"peer permissions (file kept)", c.Peers[0].Permissions, []string{"find", "move"}},
		{"peer count", len(c.Peers), 1},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestLoadAllValidates(t *testing.T) {
	_, err := LoadAll("", mapEnv(map[string]string{"SHARDPACS_K": "9"}), nil)
	if err == nil || !strings.Contains(err.Error(), "config: k: must be 2, 3 or 4, got 9") {
		t.Errorf("LoadAll = %v", err)
	}
	c, err := LoadAll("", nil, nil)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("LoadAll with nothing = %+v, %v", c, err)
	}
}
