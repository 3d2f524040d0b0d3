package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func keyringPath(t *testing.T) string { return filepath.Join(t.TempDir(), "kek.json") }

func TestCreateLoadKeyring(t *testing.T) {
	path := keyringPath(t)
	kr, err := CreateKeyring(path, bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("keyring mode %#o, want 0600", st.Mode().Perm())
	}
	if kr.CurrentVersion() != 1 || fmt.Sprint(kr.Versions()) != "[1]" {
		t.Errorf("new keyring: current %d, versions %v", kr.CurrentVersion(), kr.Versions())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after create, want just the keyring", len(entries))
	}
	loaded, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.CurrentVersion() != 1 || loaded.Fingerprint(1) != kr.Fingerprint(1) || kr.Fingerprint(1) == "" {
		t.Errorf("loaded keyring differs: %v vs %v", loaded, kr)
	}
	// The injected random source is the key: the file holds it in base64.
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte(`"CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="`)) {
		t.Errorf("keyring file does not hold the injected key:\n%s", data)
	}
	// Create never replaces an existing keyring.
	_, err = CreateKeyring(path, nil)
	if !errors.Is(err, ErrKeyringExists) || !errors.Is(err, fs.ErrExist) {
		t.Errorf("second create: %v", err)
	}
	if again, _ := LoadKeyring(path); again.Fingerprint(1) != kr.Fingerprint(1) {
		t.Error("second create changed the keyring")
	}
}

func TestLoadKeyringMissing(t *testing.T) {
	_, err := LoadKeyring(keyringPath(t))
	if !errors.Is(err, ErrNoKEK) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing keyring: %v", err)
	}
	var zero Keyring
	if _, _, err := zero.Wrap([]byte("x"), nil); !errors.Is(err, ErrNoKEK) {
		t.Errorf("zero Keyring Wrap: %v", err)
	}
	if _, err := zero.Rotate(keyringPath(t), nil); !errors.Is(err, ErrNoKEK) {
		t.Errorf("zero Keyring Rotate: %v", err)
	}
	if zero.CurrentVersion() != 0 || len(zero.Versions()) != 0 || zero.Fingerprint(1) != "" {
		t.Error("zero Keyring is not empty")
	}
}

func TestLoadKeyringPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	path := keyringPath(t)
	if _, err := CreateKeyring(path, nil); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeyring(path)
		if !errors.Is(err, ErrKeyringPermissions) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %#o: %v", mode, err)
		}
		if _, _, err := LoadOrCreateKeyring(path, nil); !errors.Is(err, ErrKeyringPermissions) {
			t.Errorf("LoadOrCreate mode %#o: %v", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := LoadKeyring(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
	if _, err := LoadKeyring(filepath.Dir(path)); err == nil {
		t.Error("a directory loaded as a keyring")
	}
}

func TestLoadOrCreateKeyring(t *testing.T) {
	path := keyringPath(t)
	kr, created, err := LoadOrCreateKeyring(path, nil)
	if err != nil || !created {
		t.Fatalf("first: created %v, %v", created, err)
	}
	kr2, created, err := LoadOrCreateKeyring(path, nil)
	if err != nil || created || kr2.Fingerprint(1) != kr.Fingerprint(1) {
		t.Fatalf("second: created %v, %v", created, err)
	}
	// A malformed keyring is an error, never replaced.
	os.WriteFile(path, []byte("{}"), 0o600)
	if _, _, err := LoadOrCreateKeyring(path, nil); err == nil {
		t.Error("malformed keyring replaced or accepted")
	}
	if data, _ := os.ReadFile(path); string(data) != "{}" {
		t.Error("malformed keyring was overwritten")
	}
	// Concurrent first starts end with one keyring.
	path = keyringPath(t)
	var wg sync.WaitGroup
	fps := make([]string, 8)
	for i := range fps {
		wg.Go(func() {
			kr, _, err := LoadOrCreateKeyring(path, nil)
			if err != nil {
				t.Error(err)
				return
			}
			fps[i] = kr.Fingerprint(1)
		})
	}
	wg.Wait()
	for _, fp := range fps {
		if fp != fps[0] {
			t.Fatalf("concurrent creates gave different keyrings: %v", fps)
		}
	}
}

func TestLoadKeyringMalformed(t *testing.T) {
	const k1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=" // 32 × 0x01
	const k2 = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=" // 32 × 0x02
	valid := `{"format":"shardpacs-kek-keyring","format_version":1,"current":2,"keys":[` +
		`{"version":1,"created":"2026-01-02T03:04:05Z","key":"` + k1 + `"},` +
		`{"version":2,"created":"2026-01-03T03:04:05Z","key":"` + k2 + `"}]}`
	for _, tc := range []struct{ name, body string }{
		{"valid", valid},
		{"empty", ""},
		{"not json", "KEK=abc"},
		{"truncated", valid[:len(valid)-3]},
		{"trailing data", valid + "{}"},
		{"other format", strings.Replace(valid, "shardpacs-kek-keyring", "other", 1)},
		{"format version 2", strings.Replace(valid, `"format_version":1`, `"format_version":2`, 1)},
		{"unknown field", strings.Replace(valid, `"current":2`, `"current":2,"extra":1`, 1)},
		{"no keys", `{"format":"shardpacs-kek-keyring","format_version":1,"current":1,"keys":[]}`},
		{"current missing", strings.Replace(valid, `"current":2`, `"current":3`, 1)},
		{"version 0", strings.Replace(valid, `"version":1`, `"version":0`, 1)},
		{"duplicate version", strings.Replace(valid, `"version":2`, `"version":1`, 1)},
		{"short key", strings.Replace(valid, k1, "AQEB", 1)},
		{"bad base64", strings.Replace(valid, k1, k1[:40]+"!!!=", 1)},
		{"huge", valid + strings.Repeat(" ", maxKeyringFile)},
	} {
		path := keyringPath(t)
		os.WriteFile(path, []byte(tc.body), 0o600)
		kr, err := LoadKeyring(path)
		if tc.name == "valid" {
			if err != nil || kr.CurrentVersion() != 2 || fmt.Sprint(kr.Versions()) != "[1 2]" {
				t.Errorf("valid keyring: %v", err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), k2) {
			t.Errorf("%s: error shows key material: %v", tc.name, err)
		}
	}
}

func TestRotateRetire(t *testing.T) {
	path := keyringPath(t)
	kr, err := CreateKeyring(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("key share of instance 1")
	aad := []byte("object 1/share 2")
	w1, v1, err := kr.Wrap(secret, aad)
	if err != nil || v1 != 1 {
		t.Fatalf("Wrap: v%d, %v", v1, err)
	}
	v2, err := kr.Rotate(path, nil)
	if err != nil || v2 != 2 || kr.CurrentVersion() != 2 {
		t.Fatalf("Rotate: v%d, %v", v2, err)
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("mode after rotate %#o", st.Mode().Perm())
		}
	}
	w2, v, _ := kr.Wrap(secret, aad)
	if v != 2 {
		t.Errorf("Wrap after rotate used version %d", v)
	}
	// Both versions unwrap, in memory and after a reload.
	loaded, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Keyring{kr, loaded} {
		for _, c := range []struct {
			v uint32
			w []byte
		}{{1, w1}, {2, w2}} {
			if got, err := k.Unwrap(c.v, c.w, aad); err != nil || !bytes.Equal(got, secret) {
				t.Errorf("Unwrap v%d: %v", c.v, err)
			}
		}
	}
	if loaded.CurrentVersion() != 2 || loaded.Fingerprint(1) != kr.Fingerprint(1) || kr.Fingerprint(1) == kr.Fingerprint(2) {
		t.Error("reloaded keyring differs after rotate")
	}
	// Retire: not the current one, not an unknown one.
	if err := kr.Retire(path, 2); !errors.Is(err, ErrRetireCurrent) {
		t.Errorf("retire current: %v", err)
	}
	if err := kr.Retire(path, 7); !errors.Is(err, ErrUnknownKEKVersion) {
		t.Errorf("retire unknown: %v", err)
	}
	if err := kr.Retire(path, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Unwrap(1, w1, aad); !errors.Is(err, ErrUnknownKEKVersion) {
		t.Errorf("unwrap retired: %v", err)
	}
	loaded, _ = LoadKeyring(path)
	if fmt.Sprint(loaded.Versions()) != "[2]" {
		t.Errorf("versions on disk after retire: %v", loaded.Versions())
	}
	if _, err := loaded.Unwrap(1, w1, aad); !errors.Is(err, ErrUnknownKEKVersion) {
		t.Errorf("unwrap retired after reload: %v", err)
	}
	if v3, _ := kr.Rotate(path, nil); v3 != 3 {
		t.Errorf("rotate after retire made version %d", v3)
	}
}

func TestRotateFailureLeavesKeyringUnchanged(t *testing.T) {
	path := keyringPath(t)
	kr, _ := CreateKeyring(path, nil)
	if _, err := kr.Rotate(path, bytes.NewReader(nil)); err == nil {
		t.Fatal("rotate with an empty random source succeeded")
	}
	badPath := filepath.Join(t.TempDir(), "missing-dir", "kek.json")
	if _, err := kr.Rotate(badPath, nil); err == nil {
		t.Fatal("rotate to an unwritable path succeeded")
	}
	if kr.CurrentVersion() != 1 || len(kr.Versions()) != 1 {
		t.Errorf("failed rotates changed the keyring: %v", kr)
	}
	if err := kr.Retire(badPath, 1); !errors.Is(err, ErrRetireCurrent) {
		t.Errorf("retire: %v", err)
	}
	kr.Rotate(path, nil)
	if err := kr.Retire(badPath, 1); err == nil || len(kr.Versions()) != 2 {
		t.Errorf("retire with failed write: %v, versions %v", err, kr.Versions())
	}
	if _, err := CreateKeyring(badPath, nil); err == nil {
		t.Error("create in a missing directory succeeded")
	}
}

func TestKeyringPrintsNoKey(t *testing.T) {
	path := keyringPath(t)
	key := bytes.Repeat([]byte{0xAB}, 32)
	kr, _ := CreateKeyring(path, bytes.NewReader(key))
	for _, s := range []string{fmt.Sprint(kr), fmt.Sprintf("%+v", kr), fmt.Sprintf("%#v", kr), kr.String()} {
		if strings.Contains(strings.ToLower(s), "abab") || strings.Contains(s, "q6ur") || strings.Contains(s, "171 171") {
			t.Errorf("printed keyring shows key bytes: %s", s)
		}
		if !strings.Contains(s, kr.Fingerprint(1)) {
			t.Errorf("printed keyring lacks the fingerprint: %s", s)
		}
	}
}

// Wrap and Unwrap run concurrently with Rotate (go test -race).
func TestKeyringConcurrent(t *testing.T) {
	path := keyringPath(t)
	kr, err := CreateKeyring(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			aad := []byte{byte(g)}
			for range 50 {
				w, v, err := kr.Wrap([]byte("share"), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := kr.Unwrap(v, w, aad); err != nil || string(got) != "share" {
					t.Errorf("Unwrap v%d: %v", v, err)
					return
				}
				_ = kr.Versions()
				_ = kr.Fingerprint(kr.CurrentVersion())
			}
		})
	}
	for range 3 {
		if _, err := kr.Rotate(path, nil); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if kr.CurrentVersion() != 4 {
		t.Errorf("current version %d after 3 rotations", kr.CurrentVersion())
	}
}
