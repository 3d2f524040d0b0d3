package config

import (
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Setting values.
const (
	CompressionZstd = "zstd" // zstd, skipped when it does not pay (default)
	CompressionS2   = "s2"   // S2: faster than zstd, ~16% larger output, for ingest rates zstd cannot sustain
	CompressionNone = "none" // store the canonical bytes uncompressed

	DuplicatesKeepFirst = "keep-first" // the stored instance is never replaced (default)
	DuplicatesReplace   = "replace"    // a resent instance with different content replaces the stored one

	UnknownCallingAccept = "accept" // callers not in Peers get every permission (default)
	UnknownCallingReject = "reject" // callers not in Peers: A-ASSOCIATE-RJ (1,1,3), PS3.8 9.3.4

	LogFormatConsole = "console"
	LogFormatJSON    = "json"
)

// Config is the whole configuration. Default returns it filled with the
// defaults; the zero Config is not valid (Validate names what is missing).
// A Config is a plain value: it is not safe to modify concurrently with
// readers, and nothing in it changes after loading.
type Config struct {
	// AETitle is this node's Application Entity title (PS3.5 AE VR, PS3.8
	// 9.3.2): 1 to 16 ASCII characters, no backslash or control characters,
	// not all spaces. Default "SHARDPACS".
	AETitle string `toml:"ae_title"`
	// Listen is the host:port of the plain DICOM listener. Default
	// "127.0.0.1:11112" (loopback, for the quick start); "0.0.0.0:11112"
	// listens on the network. Empty disables it (TLS only).
	Listen string `toml:"listen"`
	// DataDir holds index.db, the default share stores stores/0 .. stores/3,
	// the KEK file, the spool and the audit log. Default "./data".
	DataDir string `toml:"data_dir"`
	// KEKFile is the node master key file. Empty (default) means
	// "<DataDir>/master.key": use KEKPath.
	KEKFile string `toml:"kek_file"`
	// ShredKeys turns on crypto-shredding for instances stored from now on
	// (docs/security.md §7): each gets a random shred key, kept in
	// ShredKeyFile and destroyed when the instance is deleted, so copies
	// of its shares (store snapshots, backups) no longer decrypt even with
	// the KEK. The key store must then be backed up with the KEK: rebuilding
	// the index needs the stores, the KEK and the key store. Default false
	// (stores + KEK rebuild everything; copies of deleted instances' shares
	// still decrypt with the KEK). Instances already stored keep their
	// format; the key store, once it exists, is opened whatever this says.
	ShredKeys bool `toml:"shred_keys"`
	// ShredKeyFile is the shred key store (SQLite, mode 0600). Empty
	// (default) means "shred-keys.db" in the KEK file's directory: use
	// ShredKeyPath.
	ShredKeyFile string `toml:"shred_key_file"`
	// Stores are the 4 share store locations (filesystem directories).
	// Empty (default) means <DataDir>/stores/0 .. /3: use StorePaths.
	Stores []string `toml:"stores"`
	// K is the number of shares needed to read an instance: 2 (default),
	// 3 or 4 (4 = plain split, no redundancy).
	K int `toml:"k"`
	// ReadHedge: 0 (default) opens the four shares of an instance at once
	// and reads the first k to open (the slower stores are cancelled); a
	// positive duration opens the k data shares first and the others only
	// after that delay or a failure (fewer requests, for stores that charge
	// per request). archive.Options.ReadHedge.
	ReadHedge time.Duration `toml:"read_hedge"`
	// Compression is CompressionZstd (default), CompressionS2 or
	// CompressionNone; recorded per instance, so a change applies to new
	// instances only.
	Compression string `toml:"compression"`
	// Duplicates says what a C-STORE of an already stored SOP Instance UID
	// does: DuplicatesKeepFirst (default; Orthanc's behaviour) keeps the
	// stored instance (an identical resend succeeds, a different one is
	// refused), DuplicatesReplace replaces it.
	Duplicates string `toml:"duplicates"`
	// AcceptAnyCalledAE accepts associations whatever the Called AE Title.
	// Default false: the called AE must equal AETitle, else A-ASSOCIATE-RJ
	// (1,1,7) (PS3.8 9.3.4).
	AcceptAnyCalledAE bool `toml:"accept_any_called_ae"`
	// UnknownCallingAE is UnknownCallingAccept (default, for the quick
	// start) or UnknownCallingReject (deny by default: only Peers may call).
	UnknownCallingAE string `toml:"unknown_calling_ae"`
	// Peers are the known remote AEs: C-MOVE destinations and/or callers
	// with specific permissions.
	Peers []Peer `toml:"peers"`
	// Limits are the hard limits on peers and data.
	Limits Limits `toml:"limits"`
	// TLS configures the DICOM TLS listener (PS3.15 B.1, BCP 195).
	TLS TLS `toml:"tls"`
	// Log configures the operational log and the audit trail.
	Log Log `toml:"log"`
	// SpoolDir holds incoming data sets larger than Limits.SpoolThreshold
	// while they are received. Empty (default) means "<DataDir>/tmp": use
	// SpoolPath.
	SpoolDir string `toml:"spool_dir"`
}

// Limits are the hard limits (design brief section 4). Every field must be
// positive.
type Limits struct {
	// MaxAssociations is the number of simultaneous associations; beyond it
	// A-ASSOCIATE-RJ (2,3,2). Default 64.
	MaxAssociations int `toml:"max_associations"`
	// MaxAssociationsPerAE is the same limit per calling AE title. Default 16.
	MaxAssociationsPerAE int `toml:"max_associations_per_ae"`
	// MaxPDULength is the Maximum Length we advertise and accept for
	// P-DATA-TF PDUs (PS3.8 D.1). Default 1 MiB; 4 KiB .. 64 MiB.
	MaxPDULength Size `toml:"max_pdu_length"`
	// MaxAssociateRQLength caps an A-ASSOCIATE-RQ PDU. Default 64 KiB;
	// 1 KiB .. 1 MiB.
	MaxAssociateRQLength Size `toml:"max_associate_rq_length"`
	// MaxDataSetSize caps one received data set. Default 4 GiB.
	MaxDataSetSize Size `toml:"max_data_set_size"`
	// SpoolThreshold: data sets larger than this are spooled to SpoolDir
	// instead of memory. Default 8 MiB; at most MaxDataSetSize.
	SpoolThreshold Size `toml:"spool_threshold"`
	// MaxSequenceDepth caps sequence nesting in parsed data sets. Default 32;
	// at most 256.
	MaxSequenceDepth int `toml:"max_sequence_depth"`
	// MaxInflatedSize caps the inflated size of a Deflated Explicit VR
	// Little Endian data set (PS3.5 A.5). Default 4 GiB.
	MaxInflatedSize Size `toml:"max_inflated_size"`
	// MaxFindResults caps the matches of one C-FIND; beyond it the query is
	// refused with 0xA700. Default 10000.
	MaxFindResults int `toml:"max_find_results"`
	// ARTIMTimeout is the ARTIM timer (PS3.8 9.1.5): waiting for the
	// A-ASSOCIATE-RQ after connect and for the close after release.
	// Default 30s.
	ARTIMTimeout time.Duration `toml:"artim_timeout"`
	// IdleTimeout aborts an established association that sends nothing.
	// Default 5m.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// OperationTimeout bounds one DIMSE operation we wait on: a C-FIND query,
	// one C-MOVE/C-GET sub-operation, a peer's response. Default 10m.
	OperationTimeout time.Duration `toml:"operation_timeout"`
	// DialTimeout bounds opening an outbound connection (C-MOVE destination,
	// SCU subcommands). Default 10s.
	DialTimeout time.Duration `toml:"dial_timeout"`
	// ShutdownTimeout is how long serve waits for associations to finish
	// before aborting them. Default 30s.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`
}

// TLS configures DICOM over TLS (PS3.15 B.1 / BCP 195: TLS 1.2+, AEAD
// suites; the protocol choices are not configurable).
type TLS struct {
	// Listen is the host:port of the TLS listener, e.g. ":2762"; "" (default)
	// disables it.
	Listen string `toml:"listen"`
	// CertFile and KeyFile are this node's PEM certificate chain and key,
	// used by the listener and as client certificate towards TLS peers.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// CAFile is a PEM bundle of the CAs that issue client certificates (and
	// peers' server certificates; system roots when empty).
	CAFile string `toml:"ca_file"`
	// RequireClientCert demands a client certificate signed by CAFile.
	// Unset (nil, default) means true when CAFile is set: see
	// ClientCertRequired.
	RequireClientCert *bool `toml:"require_client_cert"`
}

// ClientCertRequired reports the effective RequireClientCert.
func (t TLS) ClientCertRequired() bool {
	if t.RequireClientCert != nil {
		return *t.RequireClientCert
	}
	return t.CAFile != ""
}

// Log configures logging.
type Log struct {
	// Level is trace, debug, info (default), warn or error.
	Level string `toml:"level"`
	// Format is "console" (default, human readable) or "json".
	Format string `toml:"format"`
	// AuditFile receives the audit trail (PS3.15 A.5 events), one JSON
	// object per line. Empty (default) means "<DataDir>/audit.log": use
	// AuditPath.
	AuditFile string `toml:"audit_file"`
}

// Default returns a new Config holding every default.
func Default() *Config {
	return &Config{
		AETitle:          "SHARDPACS",
		Listen:           "127.0.0.1:11112",
		DataDir:          "./data",
		K:                2,
		Compression:      CompressionZstd,
		Duplicates:       DuplicatesKeepFirst,
		UnknownCallingAE: UnknownCallingAccept,
		Limits: Limits{
			MaxAssociations:      64,
			MaxAssociationsPerAE: 16,
			MaxPDULength:         1 * MiB,
			MaxAssociateRQLength: 64 * KiB,
			MaxDataSetSize:       4 * GiB,
			SpoolThreshold:       8 * MiB,
			MaxSequenceDepth:     32,
			MaxInflatedSize:      4 * GiB,
			MaxFindResults:       10000,
			ARTIMTimeout:         30 * time.Second,
			IdleTimeout:          5 * time.Minute,
			OperationTimeout:     10 * time.Minute,
			DialTimeout:          10 * time.Second,
			ShutdownTimeout:      30 * time.Second,
		},
		Log: Log{Level: "info", Format: LogFormatConsole},
	}
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	d := *c
	d.Stores = slices.Clone(c.Stores)
	d.Peers = make([]Peer, len(c.Peers))
	for i, p := range c.Peers {
		d.Peers[i] = p.clone()
	}
	if c.Peers == nil {
		d.Peers = nil
	}
	if c.TLS.RequireClientCert != nil {
		v := *c.TLS.RequireClientCert
		d.TLS.RequireClientCert = &v
	}
	return &d
}

// KEKPath is KEKFile, or "<DataDir>/master.key" when it is empty.
func (c *Config) KEKPath() string { return c.orData(c.KEKFile, "master.key") }

// ShredKeyPath is ShredKeyFile, or "shred-keys.db" beside the KEK file
// (KEKPath) when it is empty: the two are backed up together.
func (c *Config) ShredKeyPath() string {
	if c.ShredKeyFile != "" {
		return c.ShredKeyFile
	}
	return filepath.Join(filepath.Dir(c.KEKPath()), "shred-keys.db")
}

// SpoolPath is SpoolDir, or "<DataDir>/tmp" when it is empty.
func (c *Config) SpoolPath() string { return c.orData(c.SpoolDir, "tmp") }

// AuditPath is Log.AuditFile, or "<DataDir>/audit.log" when it is empty.
func (c *Config) AuditPath() string { return c.orData(c.Log.AuditFile, "audit.log") }

// IndexPath is the SQLite index file, "<DataDir>/index.db".
func (c *Config) IndexPath() string { return filepath.Join(c.DataDir, "index.db") }

// StorePaths returns the 4 share store locations: Stores, or
// <DataDir>/stores/0 .. /3 when Stores is empty. The slice is the caller's.
func (c *Config) StorePaths() []string {
	if len(c.Stores) > 0 {
		return slices.Clone(c.Stores)
	}
	out := make([]string, 4)
	for i := range out {
		out[i] = filepath.Join(c.DataDir, "stores", strconv.Itoa(i))
	}
	return out
}

// Effective returns a copy of c with the derived defaults (KEKFile,
// ShredKeyFile, Stores, SpoolDir, Log.AuditFile, TLS.RequireClientCert)
// filled in, for display.
func (c *Config) Effective() *Config {
	d := c.Clone()
	d.KEKFile, d.Stores, d.SpoolDir, d.Log.AuditFile = c.KEKPath(), c.StorePaths(), c.SpoolPath(), c.AuditPath()
	d.ShredKeyFile = c.ShredKeyPath()
	req := c.TLS.ClientCertRequired()
	d.TLS.RequireClientCert = &req
	return d
}

func (c *Config) orData(v, name string) string {
	if v != "" {
		return v
	}
	return filepath.Join(c.DataDir, name)
}
