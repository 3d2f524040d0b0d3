package archive

import (
	cryptorand "crypto/rand"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/shredkeys"
	"github.com/shardpacs/shardpacs/archive/store"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// DuplicatePolicy says what Store does with a SOP Instance UID that is
// already stored with different content.
type DuplicatePolicy int

const (
	// KeepFirst (default) keeps the stored instance: a different one
	// fails with ErrDuplicateDifferent.
	KeepFirst DuplicatePolicy = iota
	// Replace stores the new instance and deletes the old one's shares.
	Replace
)

func (p DuplicatePolicy) String() string {
	switch p {
	case KeepFirst:
		return "keep-first"
	case Replace:
		return "replace"
	}
	return "DuplicatePolicy(?)"
}

// Default File Meta Information values of the canonical Part-10 bytes.
const (
	DefaultImplementationClassUID    = uid.ImplementationClassUID
	DefaultImplementationVersionName = uid.ImplementationVersionName
)

// DefaultMemoryLimit is the canonical size up to which Archive.Open decodes
// into memory; larger instances are decoded into a spool file.
const DefaultMemoryLimit = 64 << 20

// Options configures Open. Every field but Stores, Index (or IndexPath) and
// Keyring has a working zero value, documented on the field; defaults are
// resolved at use and never written back.
type Options struct {
	// Stores are the four share stores; share i of every object goes to
	// Stores[i]. Required.
	Stores [4]store.ShareStore
	// Index is an open index, owned by the caller (Close does not close
	// it). When nil, IndexPath is opened (and closed by Close).
	Index     *index.DB
	IndexPath string
	// Keyring wraps and unwraps key shares. Required.
	Keyring *crypto.Keyring
	// ShredKeys is an open shred key store, owned by the caller (Close
	// does not close it). When nil and ShredKeyPath is set, that file is
	// opened — created when missing — and closed by Close (OpenDir decides
	// whether a missing file may be created). With a key store, the
	// archive reads shred-sealed instances and Delete destroys their keys;
	// without one (the default), such instances fail to read with
	// pipeline.ErrShredKeyMissing. See docs/security.md §7.
	ShredKeys    *shredkeys.Store
	ShredKeyPath string
	// Shred gives every instance stored from now on a fresh random shred
	// key, kept in the key store (durable before any share is written),
	// that seals its key shares under the KEK layer; deleting the instance
	// destroys the key, so copies of its shares no longer decrypt even
	// with the KEK. Requires a key store. Default false: instances are
	// stored as before, and the stores plus the KEK rebuild everything.
	// Instances already stored keep their format either way.
	Shred bool
	// K is the number of shares needed to read an instance: 2 (default),
	// 3 or 4. The write quorum is min(K+1, 4).
	K int
	// Codec is "zstd" (default: zstd at its fastest level, after a byte
	// shuffle when a sample says it pays — 16-bit pixel data —, unless it
	// does not pay at all; never for encapsulated transfer syntaxes), "s2"
	// (the same with S2: ~40% less time per CT slice than zstd+shuffle,
	// ~16% more bytes; for ingest rates the CPU cannot sustain with zstd)
	// or "none". The codec is recorded per instance (pipeline.Codec), so a
	// change applies to new instances only.
	Codec string
	// Duplicates: KeepFirst (default) or Replace.
	Duplicates DuplicatePolicy
	// SpoolDir holds decoded instances larger than MemoryLimit while they
	// are read. Default os.TempDir().
	SpoolDir string
	// MemoryLimit: see DefaultMemoryLimit (0 means the default).
	MemoryLimit int64
	// ReadHedge is how long Open waits for the data shares (the k that
	// need no Reed–Solomon reconstruction) before it opens the other
	// shares too and reads the first k to open. 0 (default) opens every
	// share at once: the fastest k stores serve the read, whichever they
	// are, and the slower opens are cancelled and closed. A positive value
	// saves requests on stores that charge per request (S3), at the price
	// of that delay when a data share's store is slow; a data share that
	// fails to open starts the others at once either way.
	ReadHedge time.Duration
	// ScanLimits bound dcm.Scan of incoming data sets.
	ScanLimits dcm.Limits
	// ImplementationClassUID and ImplementationVersionName go into the File
	// Meta Information of the canonical bytes. Defaults above.
	ImplementationClassUID, ImplementationVersionName string
	// Rand is the source of object names, data keys and Shamir
	// coefficients. Default crypto/rand.Reader.
	Rand io.Reader
	// Now is the clock (ReceivedAt, GC ages). Default time.Now.
	Now func() time.Time
	// Logger receives operational events (no patient data: objects are
	// named by their random IDs). The zero value logs nothing.
	Logger zerolog.Logger
	// NoRepairer disables the background goroutine that repairs shares
	// missed by a write or found bad by a read; Verify(repair) still
	// repairs. Tests use it to observe degraded states.
	NoRepairer bool
	// OnIntegrity, when not nil, is called once for every bad share found
	// (adversarial row 34): by Open (the instance served degraded from
	// the other shares, or not at all), by the background repairer, and
	// by Verify — see IntegrityEvent; Archive.ObserveIntegrity adds more
	// observers after Open. It is observe-only: it is called synchronously
	// by the goroutine that found the share, after the operation's
	// per-instance lock is released (it may call the archive), and before
	// Open or Verify returns; it must be cheap (it delays the read), safe
	// for concurrent use, and must not panic. Nil: nothing is called (the
	// archive still logs and repairs).
	OnIntegrity func(IntegrityEvent)

	// testHook, when set, is called at named points of every operation
	// (see hookpoints in crash_test.go); the crash test's child process
	// kills itself there.
	testHook func(point string)
}

func (o *Options) k() int {
	if o.K == 0 {
		return 2
	}
	return o.K
}

func (o *Options) quorum() int { return min(o.k()+1, 4) }

func (o *Options) rand() io.Reader {
	if o.Rand == nil {
		return cryptorand.Reader
	}
	return o.Rand
}

func (o *Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o *Options) spoolDir() string {
	if o.SpoolDir == "" {
		return os.TempDir()
	}
	return o.SpoolDir
}

func (o *Options) memoryLimit() int64 {
	if o.MemoryLimit <= 0 {
		return DefaultMemoryLimit
	}
	return o.MemoryLimit
}

func (o *Options) implClassUID() string {
	if o.ImplementationClassUID == "" {
		return DefaultImplementationClassUID
	}
	return o.ImplementationClassUID
}

func (o *Options) implVersionName() string {
	if o.ImplementationVersionName == "" {
		return DefaultImplementationVersionName
	}
	return o.ImplementationVersionName
}

func (o *Options) hook(point string) {
	if o.testHook != nil {
		o.testHook(point)
	}
}
