package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// setting is one scalar or list setting of Config, found by reflection over
// the toml tags so that the env table cannot drift from the struct.
type setting struct {
	Key   string // TOML key path, "limits.max_pdu_length"
	Env   string // environment variable
	index []int  // reflect field index path from Config
}

// envOverrides are the env names that do not follow the SHARDPACS_<KEY> rule.
var envOverrides = map[string]string{"data_dir": "SHARDPACS_DATA"}

// peersEnv is the env variable holding "AE=host:port,..." peer specs.
const peersEnv = "SHARDPACS_PEERS"

var settings = func() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "peers" {
				continue
			}
			key := prefix + tag
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key+".", idx)
				continue
			}
			env := envOverrides[key]
			if env == "" {
				env = "SHARDPACS_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
			}
			out = append(out, setting{Key: key, Env: env, index: idx})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}()

var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[time.Duration]()
)

// set parses s into the setting's field of c.
func (st setting) set(c *Config, s string) error {
	v := reflect.ValueOf(c).Elem().FieldByIndex(st.index)
	switch {
	case v.Type() == sizeType:
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. 30s, 5m)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", s)
		}
		v.Set(reflect.ValueOf(&b))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var list []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("config: internal: setting %s has unsupported type %s", st.Key, v.Type())
	}
	return nil
}

// ApplyEnv overrides settings from SHARDPACS_* environment variables read
// through getenv (os.Getenv in production), as listed in the package
// documentation. An empty value counts as unset. SHARDPACS_PEERS
// ("AE=host:port,AE2=host:port") is merged into Peers: a known AE gets the
// new address and keeps its permissions, a new one gets every permission.
// All malformed values are reported together, each naming its variable;
// on error c may be partly updated.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	var errs []string
	for _, st := range settings {
		s := getenv(st.Env)
		if s == "" {
			continue
		}
		if err := st.set(c, s); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", st.Env, err))
		}
	}
	if s := getenv(peersEnv); s != "" {
		for _, spec := range strings.Split(s, ",") {
			if spec = strings.TrimSpace(spec); spec == "" {
				continue
			}
			p, err := ParsePeerSpec(spec)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", peersEnv, err))
				continue
			}
			c.addPeer(p)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: environment: %s", strings.Join(errs, "; "))
	}
	return nil
}
