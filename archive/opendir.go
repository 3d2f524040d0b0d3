package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/shredkeys"
	"github.com/shardpacs/shardpacs/archive/store/fsstore"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
)

// OpenDir opens the archive a configuration describes: the four
// filesystem stores (cfg.StorePaths), the index (cfg.IndexPath) and the
// keyring (cfg.KEKPath). base supplies the fields a configuration does not
// (Logger, Now, Rand, NoRepairer); OpenDir sets Stores, Index, Keyring, K,
// Codec, Duplicates, SpoolDir and ScanLimits from cfg.
//
// The keyring is created on first start only: when a store already holds
// share objects or the index already lists instances, a missing keyring
// file is the fatal error ErrKEKMissing — never is a new key made over
// existing data (adversarial row 38). Any other keyring problem (mode,
// format) is fatal too.
//
// The shred key store (cfg.ShredKeyPath) is opened whenever its file
// exists, so instances stored in shred mode stay readable and deletable
// after cfg.ShredKeys is turned off; with cfg.ShredKeys, new instances get
// shred keys. With cfg.ShredKeys and no file, it is created on first start
// only: over existing data it is ErrShredKeysMissing (restore it from the
// backup taken with the KEK, or create it with CreateShredKeys when shred
// mode is being turned on for that archive). Any other key store problem
// (mode, not a key store) is fatal.
func OpenDir(ctx context.Context, cfg *config.Config, base Options) (*Archive, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	opts := base
	for i, p := range cfg.StorePaths() {
		if i > 3 {
			break
		}
		s, err := fsstore.Open(p)
		if err != nil {
			return nil, err
		}
		opts.Stores[i] = s
	}
	existing, err := hasData(ctx, opts, cfg.IndexPath())
	if err != nil {
		return nil, err
	}
	var kr *crypto.Keyring
	if existing {
		kr, err = crypto.LoadKeyring(cfg.KEKPath())
		if errors.Is(err, crypto.ErrNoKEK) {
			return nil, fmt.Errorf("%w: %s does not exist but the data directory holds shares; restore the key file from its backup (never create a new one over existing data): %w",
				ErrKEKMissing, cfg.KEKPath(), err)
		}
	} else {
		kr, _, err = crypto.LoadOrCreateKeyring(cfg.KEKPath(), base.Rand)
	}
	if err != nil {
		return nil, err
	}
	opts.Keyring = kr
	keys, err := openDirShredKeys(ctx, cfg, existing, base)
	if err != nil {
		return nil, err
	}
	opts.ShredKeys, opts.ShredKeyPath, opts.Shred = nil, "", cfg.ShredKeys
	if keys != nil {
		opts.ShredKeyPath = keys.Path()
		keys.Close()
	}
	opts.Index, opts.IndexPath = nil, cfg.IndexPath()
	opts.K = cfg.K
	opts.ReadHedge = cfg.ReadHedge
	opts.Codec = cfg.Compression
	switch cfg.Duplicates {
	case config.DuplicatesReplace:
		opts.Duplicates = Replace
	case config.DuplicatesKeepFirst, "":
		opts.Duplicates = KeepFirst
	default:
		return nil, fmt.Errorf("archive: unknown duplicates policy %q", cfg.Duplicates)
	}
	opts.SpoolDir = cfg.SpoolPath()
	opts.ScanLimits = dcm.Limits{
		MaxDepth:        cfg.Limits.MaxSequenceDepth,
		MaxDataSetSize:  int64(cfg.Limits.MaxDataSetSize),
		MaxInflatedSize: int64(cfg.Limits.MaxInflatedSize),
	}
	return Open(ctx, opts)
}

// MakeFolders prepares the fan-out folders of the filesystem stores, the
// four in parallel (fsstore.Store.MakeFolders), so that no Put creates
// one. `shardpacs serve` and `import` call it at start: the first start
// on a new data directory makes 4 × 256 folders (a fraction of a second);
// later starts find them. Other stores are left alone.
func (a *Archive) MakeFolders(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(a.opts.Stores))
	for i, s := range a.opts.Stores {
		if fss, ok := s.(*fsstore.Store); ok {
			wg.Go(func() { errs[i] = fss.MakeFolders(ctx) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// openDirShredKeys applies OpenDir's key store policy: it returns the
// opened store (to be closed by the caller) or nil when there is none to
// open.
func openDirShredKeys(ctx context.Context, cfg *config.Config, existing bool, base Options) (*shredkeys.Store, error) {
	path := cfg.ShredKeyPath()
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, fs.ErrNotExist)
	switch {
	case missing && !cfg.ShredKeys:
		return nil, nil
	case missing && existing:
		return nil, fmt.Errorf("%w: shred_keys is on, %s does not exist, and the data directory holds data: restore the key store from the backup taken with the KEK, or, if shred mode is being turned on for this archive, create it with `shardpacs keys shred-init`",
			ErrShredKeysMissing, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	s, err := shredkeys.Open(ctx, path, shredkeys.Options{Create: missing, Now: base.Now})
	if err != nil {
		return nil, fmt.Errorf("archive: shred key store: %w", err)
	}
	return s, nil
}

// CreateShredKeys creates an empty shred key store at cfg.ShredKeyPath()
// (mode 0600), for turning shred mode on in an archive that already holds
// data (OpenDir refuses to create one over data, which would hide a lost
// key store). It fails when the file exists.
func CreateShredKeys(ctx context.Context, cfg *config.Config) (string, error) {
	path := cfg.ShredKeyPath()
	if _, err := os.Stat(path); err == nil {
		return path, fmt.Errorf("archive: %s already exists", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return path, fmt.Errorf("archive: %w", err)
	}
	s, err := shredkeys.Open(ctx, path, shredkeys.Options{Create: true})
	if err != nil {
		return path, err
	}
	return path, s.Close()
}

var errFound = errors.New("found")

// hasData reports whether a store holds an object or the index file lists
// an instance.
func hasData(ctx context.Context, opts Options, indexPath string) (bool, error) {
	for _, s := range opts.Stores {
		err := s.List(ctx, func(string, int64, time.Time) error { return errFound })
		if errors.Is(err, errFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	if _, err := os.Stat(indexPath); err != nil {
		return false, nil
	}
	db, err := index.Open(ctx, indexPath, index.Options{ReadConns: 1})
	if err != nil {
		return false, err
	}
	defer db.Close()
	a := &Archive{db: db}
	empty, err := a.indexEmpty(ctx)
	return !empty, err
}
