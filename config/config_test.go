package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	tests := []struct{ got, want any }{
		{c.AETitle, "SHARDPACS"},
		{c.Listen, "127.0.0.1:11112"},
		{c.K, 2},
		{c.KEKPath(), filepath.Join("data", "master.key")},
		{c.ShredKeys, false},
		{c.ShredKeyPath(), filepath.Join("data", "shred-keys.db")},
		{c.SpoolPath(), filepath.Join("data", "tmp")},
		{c.AuditPath(), filepath.Join("data", "audit.log")},
		{c.IndexPath(), filepath.Join("data", "index.db")},
		{c.StorePaths(), []string{"data/stores/0", "data/stores/1", "data/stores/2", "data/stores/3"}},
		{c.Limits.MaxPDULength, 1 * MiB},
		{c.Limits.ARTIMTimeout, 30 * time.Second},
		{c.TLS.ClientCertRequired(), false},
	}
	for i, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%d: got %v, want %v", i, tt.got, tt.want)
		}
	}
	if Default() == Default() {
		t.Error("Default must return a new Config each time")
	}
}

func TestDerivedPathsFollowDataDir(t *testing.T) {
	c := Default()
	c.DataDir = "/srv/pacs"
	if got := c.KEKPath(); got != "/srv/pacs/master.key" {
		t.Errorf("KEKPath = %q", got)
	}
	if got := c.StorePaths()[3]; got != "/srv/pacs/stores/3" {
		t.Errorf("StorePaths[3] = %q", got)
	}
	if got := c.ShredKeyPath(); got != "/srv/pacs/shred-keys.db" {
		t.Errorf("ShredKeyPath = %q", got)
	}
	c.KEKFile, c.Stores = "/keys/k", []string{"/a", "/b", "/c", "/d"}
	if c.KEKPath() != "/keys/k" || c.StorePaths()[0] != "/a" {
		t.Error("explicit paths not used")
	}
	if got := c.ShredKeyPath(); got != "/keys/shred-keys.db" {
		t.Errorf("ShredKeyPath beside an explicit KEK = %q", got)
	}
	c.ShredKeyFile = "/vault/sk.db"
	if got := c.ShredKeyPath(); got != "/vault/sk.db" {
		t.Errorf("explicit ShredKeyPath = %q", got)
	}
	c.ShredKeyFile = ""
	c.StorePaths()[0] = "changed"
	if c.Stores[0] != "/a" {
		t.Error("StorePaths returned shared storage")
	}
	e := c.Effective()
	if e.SpoolDir != "/srv/pacs/tmp" || e.Log.AuditFile != "/srv/pacs/audit.log" || e.TLS.RequireClientCert == nil ||
		e.ShredKeyFile != "/keys/shred-keys.db" {
		t.Errorf("Effective() = %+v", e)
	}
	if c.SpoolDir != "" || c.TLS.RequireClientCert != nil {
		t.Error("Effective modified its receiver")
	}
}

func TestClientCertRequired(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		ca   string
		req  *bool
		want bool
	}{
		{"", nil, false}, {"ca.pem", nil, true}, {"ca.pem", &no, false}, {"ca.pem", &yes, true}, {"", &yes, true},
	}
	for _, tt := range tests {
		if got := (TLS{CAFile: tt.ca, RequireClientCert: tt.req}).ClientCertRequired(); got != tt.want {
			t.Errorf("ca=%q req=%v: got %t", tt.ca, tt.req, got)
		}
	}
}

func TestClone(t *testing.T) {
	yes := true
	c := Default()
	c.Stores = []string{"a", "b", "c", "d"}
	c.Peers = []Peer{{AETitle: "X", Permissions: []string{"echo"}, Networks: []string{"10.0.0.0/8"}}}
	c.TLS.RequireClientCert = &yes
	d := c.Clone()
	if !reflect.DeepEqual(c, d) {
		t.Fatal("clone differs")
	}
	d.Stores[0], d.Peers[0].Permissions[0], d.Peers[0].Networks[0], *d.TLS.RequireClientCert = "z", "find", "z", false
	if c.Stores[0] != "a" || c.Peers[0].Permissions[0] != "echo" || c.Peers[0].Networks[0] != "10.0.0.0/8" || !*c.TLS.RequireClientCert {
		t.Error("Clone shares memory with the original")
	}
}

// TestExampleFile: the example's active settings are exactly the defaults.
func TestExampleFile(t *testing.T) {
	c, err := Load("shardpacs.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("example file differs from Default():\n got %+v\nwant %+v", c, Default())
	}
}

// acceptanceTOML extracts the "#a " block of the example file.
func acceptanceTOML(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("shardpacs.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "#a"); ok {
			b.WriteString(strings.TrimPrefix(rest, " ") + "\n")
		}
	}
	if b.Len() == 0 {
		t.Fatal("no acceptance block in the example file")
	}
	return b.String()
}

// TestExampleAcceptanceSetup: the documented differences of the
// acceptance-test block are its data folder, deny-by-default callers and
// two peers; everything else is the default.
func TestExampleAcceptanceSetup(t *testing.T) {
	c, err := Decode([]byte(acceptanceTOML(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.DataDir = "./acceptance-data"
	want.UnknownCallingAE = UnknownCallingReject
	want.Peers = []Peer{
		{AETitle: "ACCEPT_SCU"},
		{AETitle: "ACCEPT_DEST", Host: "127.0.0.1", Port: 11113, Permissions: []string{"echo"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("acceptance setup:\n got %+v\nwant %+v", c, want)
	}
	scu, _ := c.Peer("ACCEPT_SCU")
	for _, p := range AllPermissions() {
		if !scu.Allows(p) {
			t.Errorf("ACCEPT_SCU lacks %s", p)
		}
	}
	if d, ok := c.MoveDestination("ACCEPT_SCU", "ACCEPT_DEST"); !ok || d.Address() != "127.0.0.1:11113" {
		t.Errorf("MoveDestination = %v, %t", d, ok)
	}
}

// TestDocsListEverySetting keeps README.md, doc.go and the example file in
// step with the struct.
func TestDocsListEverySetting(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	readme, doc, example := read("README.md"), read("doc.go"), read("shardpacs.example.toml")
	if len(settings) < 30 {
		t.Fatalf("only %d settings found by reflection", len(settings))
	}
	for _, st := range settings {
		if !strings.Contains(readme, "`"+st.Key+"`") || !strings.Contains(readme, "`"+st.Env+"`") {
			t.Errorf("README.md lacks %s / %s", st.Key, st.Env)
		}
		if !strings.Contains(doc, st.Key+" ") || !strings.Contains(doc, st.Env) {
			t.Errorf("doc.go env table lacks %s / %s", st.Key, st.Env)
		}
		leaf := st.Key[strings.LastIndex(st.Key, ".")+1:]
		if !strings.Contains(example, "\n"+leaf+" = ") && !strings.Contains(example, "\n# "+leaf+" = ") {
			t.Errorf("example file lacks %s", st.Key)
		}
	}
	if !strings.Contains(readme, peersEnv) || !strings.Contains(doc, peersEnv) {
		t.Error("docs lack SHARDPACS_PEERS")
	}
}
