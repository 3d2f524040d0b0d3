package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/archive/shredkeys"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/crypto"
)

func init() {
	register(&command{name: "keys", summary: "manage the master key (KEK): create | show | rotate | rewrap | retire VERSION | shred-init", run: runKeys})
}

// runKeys manages the keyring file (cfg.KEKPath). Run rotate, rewrap and
// retire with the node stopped: a running node keeps its keyring in memory.
// A rotation is recorded in the audit trail (cfg.AuditPath) as a Security
// Configuration alert; it is refused when the trail cannot be opened.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newArchiveFlags("keys", "keys create|show|rotate|rewrap|retire VERSION|shred-init", stderr)
	rest, err := parseArgs(o.fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return fmt.Errorf("%w: keys needs create, show, rotate, rewrap, retire VERSION or shred-init", errUsage)
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	path := cfg.KEKPath()
	switch rest[0] {
	case "create":
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		kr, err := crypto.CreateKeyring(path, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s: version %d (%s); back it up now — losing it loses the archive\n",
			path, kr.CurrentVersion(), kr.Fingerprint(kr.CurrentVersion()))
	case "show":
		kr, err := crypto.LoadKeyring(path)
		if err != nil {
			return err
		}
		for _, v := range kr.Versions() {
			cur := ""
			if v == kr.CurrentVersion() {
				cur = " (current)"
			}
			fmt.Fprintf(stdout, "version %d: %s%s\n", v, kr.Fingerprint(v), cur)
		}
		if ks, err := shredkeys.Open(ctx, cfg.ShredKeyPath(), shredkeys.Options{}); err == nil {
			l, err := ks.List(ctx)
			ks.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "shred key store %s: %d keys (shred_keys = %v)\n", cfg.ShredKeyPath(), len(l), cfg.ShredKeys)
		} else if !errors.Is(err, shredkeys.ErrMissing) {
			return err
		}
	case "shred-init":
		// Turning shred mode on for an archive that holds data: serve
		// refuses to create the key store over data (a lost one must be
		// restored, not silently replaced).
		p, err := archive.CreateShredKeys(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s; set shred_keys = true, and back it up with the KEK from now on — reindex needs it\n", p)
	case "rotate":
		kr, err := crypto.LoadKeyring(path)
		if err != nil {
			return err
		}
		al, err := openAudit(cfg) // a rotation that cannot be audited is not done
		if err != nil {
			return err
		}
		defer al.Close()
		old := kr.CurrentVersion()
		v, err := kr.Rotate(path, nil)
		if err != nil {
			return err
		}
		if err := al.Log(audit.KeyRotation(old, v)); err != nil {
			fmt.Fprintf(stderr, "warning: the rotation is done but could not be audited: %v\n", err)
		}
		fmt.Fprintf(stdout, "new current version %d (%s); run shardpacs keys rewrap, then retire the old versions\n", v, kr.Fingerprint(v))
	case "rewrap":
		a, err := openArchive(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		n, err := a.RewrapKeys(ctx)
		fmt.Fprintf(stdout, "rewrapped %d shares under version %d\n", n, a.Keyring().CurrentVersion())
		if err != nil {
			return err
		}
	case "retire":
		if len(rest) != 2 {
			return fmt.Errorf("%w: keys retire VERSION", errUsage)
		}
		v, err := strconv.ParseUint(rest[1], 10, 32)
		if err != nil {
			return fmt.Errorf("%w: bad version %q", errUsage, rest[1])
		}
		a, err := openArchive(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		use, err := a.KEKUsage(ctx)
		if err != nil {
			return err
		}
		if n := use[uint32(v)]; n > 0 {
			return fmt.Errorf("version %d still wraps %d shares: run shardpacs keys rewrap first", v, n)
		}
		if n := use[0]; n > 0 {
			return fmt.Errorf("%d shares could not be read to check their KEK version: run shardpacs verify --repair first", n)
		}
		if err := a.Keyring().Retire(path, uint32(v)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retired version %d\n", v)
	default:
		return fmt.Errorf("%w: unknown keys action %q", errUsage, rest[0])
	}
	return nil
}
