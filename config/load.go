package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxFileSize caps a configuration file; larger files are refused unread.
const MaxFileSize = 1 << 20

// ErrUnknownSetting is wrapped by the error for a file with keys that match
// no setting (typos must not be silently ignored).
var ErrUnknownSetting = errors.New("unknown setting")

// Load returns Default() overlaid with the TOML file at path; path "" gives
// the defaults alone. Keys missing from the file keep their defaults; keys
// that match no setting are an error naming them (wrapping
// ErrUnknownSetting). Load does not Validate: env and flags come later.
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, MaxFileSize)
	}
	c, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Decode is Load for TOML bytes already in memory.
func Decode(data []byte) (*Config, error) {
	c, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

func decode(data []byte) (*Config, error) {
	c := Default()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, errors.New(pe.Error())
		}
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%w: %s", ErrUnknownSetting, strings.Join(keys, ", "))
	}
	return c, nil
}

// LoadAll builds the configuration every subcommand uses: Load(path), then
// ApplyEnv(getenv), then ApplyFlags(fs) for the flags set on the command
// line (fs may be nil), then Validate. Precedence: defaults < file < env <
// flags.
func LoadAll(path string, getenv func(string) string, fs *flag.FlagSet) (*Config, error) {
	c, err := Load(path)
	if err != nil {
		return nil, err
	}
	if getenv != nil {
		if err := c.ApplyEnv(getenv); err != nil {
			return nil, err
		}
	}
	if fs != nil {
		if err := c.ApplyFlags(fs); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
