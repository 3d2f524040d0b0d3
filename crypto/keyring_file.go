package crypto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// The keyring file: its format (documented on Keyring), creating, loading
// and atomically rewriting it.

const (
	keyringFormat        = "shardpacs-kek-keyring"
	keyringFormatVersion = 1
	maxKeyringFile       = 1 << 20
)

type keyringFile struct {
	Format        string           `json:"format"`
	FormatVersion int              `json:"format_version"`
	Current       uint32           `json:"current"`
	Keys          []keyringFileKey `json:"keys"`
}

type keyringFileKey struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	Key     string    `json:"key"`
}

// CreateKeyring makes a new keyring file at path holding one fresh KEK
// (version 1, current) read from rand (crypto/rand.Reader when nil). The file
// has mode 0600 and appears atomically, complete or not at all. It fails
// with an error wrapping ErrKeyringExists (and fs.ErrExist) when path
// exists: it never replaces a keyring. The directory must exist.
func CreateKeyring(path string, rand io.Reader) (*Keyring, error) {
	key, err := NewDataKey(rand)
	if err != nil {
		return nil, fmt.Errorf("crypto: keyring: %w", err)
	}
	kr := &Keyring{}
	if err := kr.add(1, key, time.Now().UTC().Truncate(time.Second)); err != nil {
		return nil, err
	}
	kr.current = 1
	if err := writeKeyringFile(path, kr.marshal(), true); err != nil {
		return nil, err
	}
	return kr, nil
}

// LoadKeyring reads the keyring file at path. A missing file gives an error
// wrapping ErrNoKEK (and fs.ErrNotExist); a file that group or others may
// access (on Unix) gives one wrapping ErrKeyringPermissions, whose message
// says to chmod 600 it; a malformed file gives a descriptive error. The
// node must refuse to start on any of these (fail closed).
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("crypto: keyring %s: %w: %w", path, ErrNoKEK, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("crypto: keyring: %w", err)
	}
	defer f.Close()
	st, err := f.Stat() // the opened file, not the path: no check-then-use race
	if err != nil {
		return nil, fmt.Errorf("crypto: keyring: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("crypto: keyring %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("crypto: keyring %s has mode %#o, readable or writable by group or others; run chmod 600 %s: %w",
			path, perm, path, ErrKeyringPermissions)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyringFile+1))
	if err != nil {
		return nil, fmt.Errorf("crypto: keyring: reading %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > maxKeyringFile {
		return nil, fmt.Errorf("crypto: keyring %s: larger than %d bytes", path, maxKeyringFile)
	}
	kr, err := parseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("crypto: keyring %s: %w", path, err)
	}
	return kr, nil
}

func (kr *Keyring) marshal() []byte {
	f := keyringFile{Format: keyringFormat, FormatVersion: keyringFormatVersion, Current: kr.current}
	for _, v := range kr.versionsLocked() {
		k := kr.keys[v]
		f.Keys = append(f.Keys, keyringFileKey{Version: v, Created: k.created, Key: base64.StdEncoding.EncodeToString(k.key)})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		panic("crypto: keyring: marshal: " + err.Error()) // plain structs: cannot fail
	}
	return append(data, '\n')
}

func parseKeyring(data []byte) (*Keyring, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f keyringFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("malformed: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed: data after the JSON object")
	}
	switch {
	case f.Format != keyringFormat:
		return nil, fmt.Errorf("format %q, want %q", f.Format, keyringFormat)
	case f.FormatVersion != keyringFormatVersion:
		return nil, fmt.Errorf("format_version %d not supported (want %d)", f.FormatVersion, keyringFormatVersion)
	case len(f.Keys) == 0:
		return nil, fmt.Errorf("no keys: %w", ErrNoKEK)
	}
	kr := &Keyring{}
	for _, k := range f.Keys {
		if k.Version == 0 {
			return nil, errors.New("key version 0 (versions start at 1)")
		}
		if _, dup := kr.keys[k.Version]; dup {
			return nil, fmt.Errorf("key version %d appears twice", k.Version)
		}
		key, err := base64.StdEncoding.Strict().DecodeString(k.Key)
		if err != nil {
			return nil, fmt.Errorf("key version %d: bad base64", k.Version)
		}
		if len(key) != DataKeySize {
			return nil, fmt.Errorf("key version %d: %d bytes, want %d", k.Version, len(key), DataKeySize)
		}
		if err := kr.add(k.Version, key, k.Created); err != nil {
			return nil, err
		}
	}
	if _, ok := kr.keys[f.Current]; !ok {
		return nil, fmt.Errorf("current version %d is not among the keys", f.Current)
	}
	kr.current = f.Current
	return kr, nil
}

// writeKeyringFile writes data to path atomically with mode 0600: a
// temporary file in the same directory, fsync, then rename over path — or,
// when exclusive, a hard link that fails if path exists — then fsync of the
// directory.
func writeKeyringFile(path string, data []byte, exclusive bool) (err error) {
	defer clear(data)
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyring-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("crypto: keyring: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // after link or on failure; harmless after rename
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("crypto: keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("crypto: keyring: writing %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("crypto: keyring: fsync %s: %w", tmpName, err)
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return fmt.Errorf("crypto: keyring: %w", err)
	}
	if exclusive {
		if err := os.Link(tmpName, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("crypto: keyring %s: %w: %w", path, ErrKeyringExists, fs.ErrExist)
			}
			// No hard links on this file system: check, then rename (a
			// narrow race with another creator, not with a crash).
			if _, serr := os.Lstat(path); serr == nil {
				return fmt.Errorf("crypto: keyring %s: %w: %w", path, ErrKeyringExists, fs.ErrExist)
			}
			if err := os.Rename(tmpName, path); err != nil {
				return fmt.Errorf("crypto: keyring: %w", err)
			}
		}
	} else if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("crypto: keyring: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be fsynced there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("crypto: keyring: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("crypto: keyring: fsync %s: %w", dir, err)
	}
	return nil
}
