package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadEmptyPath(t *testing.T) {
	c, err := Load("")
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(\"\") = %+v, %v", c, err)
	}
}

func TestDecodeTypes(t *testing.T) {
	c, err := Decode([]byte(`
stores = ["/a", "/b", "/c", "/d"]
[limits]
max_pdu_length = 65536          # integer bytes
max_data_set_size = "2 GiB"
idle_timeout = "90s"
[tls]
require_client_cert = false
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxPDULength != 64*KiB || c.Limits.MaxDataSetSize != 2*GiB || c.Limits.IdleTimeout != 90*time.Second {
		t.Errorf("limits = %+v", c.Limits)
	}
	if c.TLS.RequireClientCert == nil || *c.TLS.RequireClientCert {
		t.Error("require_client_cert not decoded as explicit false")
	}
	if len(c.Stores) != 4 || c.Limits.MaxAssociations != 64 {
		t.Errorf("stores %v, untouched limit %d", c.Stores, c.Limits.MaxAssociations)
	}
}

func TestUnknownKeys(t *testing.T) {
	_, err := Decode([]byte(`
ae_title = "X"
aetitel = "typo"
[limits]
max_pdu = 5
[[peers]]
ae_title = "P"
hots = "h"
[extra]
x = 1
`))
	if !errors.Is(err, ErrUnknownSetting) {
		t.Fatalf("err = %v, want ErrUnknownSetting", err)
	}
	for _, key := range []string{"aetitel", "limits.max_pdu", "peers.hots", "extra"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %q", err, key)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := map[string]string{
		"syntax":          "k = = 2",
		"wrong type":      `k = "two"`,
		"bad size":        `[limits]` + "\n" + `max_pdu_length = "lots"`,
		"bad duration":    `[limits]` + "\n" + `idle_timeout = "soon"`,
		"peers not table": `peers = "A=h:1"`,
		"duplicate key":   "k = 2\nk = 3",
	}
	for name, doc := range tests {
		if c, err := Decode([]byte(doc)); err == nil {
			t.Errorf("%s: Decode(%q) = %+v, want error", name, doc, c)
		} else if !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("ae_title = \"X\"\nk = = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("syntax error should name file and line: %v", err)
	}
	typo := filepath.Join(dir, "typo.toml")
	if err := os.WriteFile(typo, []byte("kk = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(typo); !errors.Is(err, ErrUnknownSetting) {
		t.Errorf("Load must wrap ErrUnknownSetting: %v", err)
	}
}
