package config

import (
	"os"
	"testing"
)

// FuzzLoad: decoding, validating and resolving any bytes must not panic, and
// a decoded config must survive Clone and Effective unchanged.
func FuzzLoad(f *testing.F) {
	if ex, err := os.ReadFile("shardpacs.example.toml"); err == nil {
		f.Add(ex)
	}
	for _, s := range []string{
		"", "k = 2", "k = = 2", `[limits]` + "\nmax_pdu_length = \"99999999999999TiB\"",
		"[[peers]]\nae_title = \"A\"\nnetworks = [\"10.0.0.0/8\", \"::1\", \"x/99\"]\nmove_destinations = [\"A\"]",
		"[tls]\nrequire_client_cert = true", "stores = [\"a\",\"a\",\"s3://x\",\"\"]",
		"[limits]\nidle_timeout = 5\nartim_timeout = \"-1s\"", "peers = [{ae_title = \"\\\\\"}]",
		"[[peers]]\n[[peers]]\n[[peers]]",
		"[[peers]]\nae_title = \"A\"\ncert_subject = \"\\u0001\"\ncert_sha256 = \"AB:CD:zz\"", "a.b.c.d = 1", "\x00\xff", `ae_title = "\u0000"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		_ = c.Validate()
		_ = c.Effective().Validate()
		_, _ = c.MoveDestination("A", "B")
		d := c.Clone()
		if d.Validate() == nil != (c.Validate() == nil) {
			t.Fatal("Clone changed validity")
		}
	})
}

// FuzzApplyEnv: any variable value must give a value or an error, never a panic.
func FuzzApplyEnv(f *testing.F) {
	f.Add("SHARDPACS_PEERS", "A=h:1,B=[::1]:2,,=,C")
	f.Add("SHARDPACS_LIMITS_MAX_PDU_LENGTH", "1 MiB")
	f.Add("SHARDPACS_K", "99999999999999999999")
	f.Add("SHARDPACS_STORES", ",,,")
	f.Add("SHARDPACS_LIMITS_IDLE_TIMEOUT", "-9223372036854775808ns")
	f.Fuzz(func(t *testing.T, name, value string) {
		c := Default()
		_ = c.ApplyEnv(func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		_ = c.Validate()
	})
}
