package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// AE titles of the benchmark's own ends.
const (
	callingAE = "BENCHSCU"  // storescu, findscu, movescu and our C-FIND client
	destAE    = "BENCHDEST" // the storescp that receives C-MOVE sub-operations
)

// server is one archive under test, started fresh (empty storage) for each
// measurement and stopped after it.
type server interface {
	// Name is the column of the results table.
	Name() string
	AETitle() string
	// Start runs the server with its storage in the empty folder dir; C-MOVE
	// destination destAE is at 127.0.0.1:destPort (0: none).
	Start(ctx context.Context, dir string, destPort int) error
	Port() int
	// Stop ends the server and returns its peak resident memory in bytes.
	Stop() int64
	// DataDirs are what counts as its footprint on disk (index included).
	DataDirs() []string
	// Stored counts the instances it holds; -1 when it cannot tell.
	Stored() int
	CanQuery() bool
	CanMove() bool
	// SerialLoad: untimed loads must use one association at a time
	// (parallel associations lose instances).
	SerialLoad() bool
}

// base holds what every server shares.
type base struct {
	name, ae string
	port     int
	alsoPort int // another port the server must listen on before it is ready (0: none)
	dir      string
	proc     *serverProc
}

func (b *base) Name() string    { return b.name }
func (b *base) AETitle() string { return b.ae }
func (b *base) Port() int       { return b.port }

func (b *base) Stop() int64 {
	if b.proc == nil {
		return 0
	}
	peak := b.proc.Stop(10 * time.Second)
	b.proc = nil
	return peak
}

// launch picks a port and starts the process, retrying once on a port
// taken meanwhile.
func (b *base) launch(ctx context.Context, dir string, args func(port int) (string, []string, error)) error {
	b.dir = dir
	var err error
	for range 2 {
		if b.port, err = freePort(); err != nil {
			return err
		}
		var name string
		var argv []string
		if name, argv, err = args(b.port); err != nil {
			return err
		}
		logPath := filepath.Join(dir, "server.log")
		b.proc, err = startProc(ctx, logPath, b.port, 60*time.Second, name, argv...)
		if err == nil && b.alsoPort > 0 {
			// A second listener (Orthanc's HTTP port): the server may still
			// exit on it, e.g. when the port was taken since freePort.
			err = b.proc.waitListening(ctx, b.alsoPort, time.Now().Add(60*time.Second), name, logPath)
		}
		if err == nil {
			return nil
		}
	}
	return err
}

// storescpServer is DCMTK's storescp: plain files, no index, one process
// forked per association. It only receives.
type storescpServer struct{ base }

func newStorescp() *storescpServer {
	return &storescpServer{base{name: "storescp", ae: "STORESCP"}}
}

func (s *storescpServer) Start(ctx context.Context, dir string, _ int) error {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	return s.launch(ctx, dir, func(port int) (string, []string, error) {
		return "storescp", []string{"--fork", "-aet", s.ae, "+xa", "-od", data, fmt.Sprint(port)}, nil
	})
}

func (s *storescpServer) DataDirs() []string { return []string{filepath.Join(s.dir, "data")} }
func (s *storescpServer) Stored() int {
	return countFiles(filepath.Join(s.dir, "data"), func(string) bool { return true })
}
func (s *storescpServer) CanQuery() bool   { return false }
func (s *storescpServer) CanMove() bool    { return false }
func (s *storescpServer) SerialLoad() bool { return false }

// dcmqrscpServer is DCMTK's dcmqrscp: files and a flat index.dat, one
// process forked per association (its default).
type dcmqrscpServer struct{ base }

func newDcmqrscp() *dcmqrscpServer {
	return &dcmqrscpServer{base{name: "dcmqrscp", ae: "DCMQRSCP"}}
}

// dcmqrscpConfig renders a dcmqrscp.cfg (format of /etc/dcmtk/dcmqrscp.cfg):
// one storage area, quota far above any benchmark set, any caller.
func dcmqrscpConfig(port int, ae, area string, destPort int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "NetworkTCPPort = %d\nMaxPDUSize = 131072\nMaxAssociations = 32\n\n", port)
	b.WriteString("HostTable BEGIN\n")
	if destPort > 0 {
		fmt.Fprintf(&b, "benchdest = (%s, 127.0.0.1, %d)\n", destAE, destPort)
	}
	b.WriteString("HostTable END\n\nVendorTable BEGIN\nVendorTable END\n\nAETable BEGIN\n")
	fmt.Fprintf(&b, "%s %s RW (1000000, 100000mb) ANY\n", ae, area)
	b.WriteString("AETable END\n")
	return b.String()
}

func (s *dcmqrscpServer) Start(ctx context.Context, dir string, destPort int) error {
	area := filepath.Join(dir, "data")
	if err := os.MkdirAll(area, 0o755); err != nil {
		return err
	}
	return s.launch(ctx, dir, func(port int) (string, []string, error) {
		cfg := filepath.Join(dir, "dcmqrscp.cfg")
		if err := os.WriteFile(cfg, []byte(dcmqrscpConfig(port, s.ae, area, destPort)), 0o644); err != nil {
			return "", nil, err
		}
		// +xy also accepts JPEG baseline (the multi-frame cine loops).
		return "dcmqrscp", []string{"-c", cfg, "+xy", fmt.Sprint(port)}, nil
	})
}

func (s *dcmqrscpServer) DataDirs() []string { return []string{filepath.Join(s.dir, "data")} }
func (s *dcmqrscpServer) Stored() int {
	return countFiles(filepath.Join(s.dir, "data"), func(n string) bool { return n != "index.dat" })
}
func (s *dcmqrscpServer) CanQuery() bool   { return true }
func (s *dcmqrscpServer) CanMove() bool    { return true }
func (s *dcmqrscpServer) SerialLoad() bool { return true }

// orthancServer is Debian's Orthanc: SQLite index and files, optionally
// zlib-compressed (StorageCompression).
type orthancServer struct {
	base
	compress bool
	httpPort int
}

func newOrthanc(compress bool) *orthancServer {
	name := "orthanc"
	if compress {
		name = "orthanc-z"
	}
	return &orthancServer{base: base{name: name, ae: "ORTHANC"}, compress: compress}
}

// orthancConfig renders Orthanc's JSON configuration: storage in dir, no
// plugins, every DICOM request accepted from anyone, no result limits.
func orthancConfig(dir string, port, httpPort int, compress bool, destPort int) ([]byte, error) {
	mods := map[string]any{}
	if destPort > 0 {
		mods["dest"] = []any{destAE, "127.0.0.1", destPort}
	}
	cfg := map[string]any{
		"Name":                    "shardpacs-bench",
		"StorageDirectory":        filepath.Join(dir, "storage"),
		"IndexDirectory":          filepath.Join(dir, "index"),
		"StorageCompression":      compress,
		"DicomServerEnabled":      true,
		"DicomAet":                "ORTHANC",
		"DicomPort":               port,
		"DicomCheckCalledAet":     false,
		"DicomModalities":         mods,
		"DicomAlwaysAllowEcho":    true,
		"DicomAlwaysAllowStore":   true,
		"DicomAlwaysAllowFind":    true,
		"DicomAlwaysAllowMove":    true,
		"DicomAlwaysAllowGet":     true,
		"UnknownSopClassAccepted": true,
		"HttpServerEnabled":       true,
		"HttpPort":                httpPort,
		"RemoteAccessAllowed":     false,
		"AuthenticationEnabled":   false,
		"LimitFindResults":        0,
		"LimitFindInstances":      0,
		"SaveJobs":                false,
		"Plugins":                 []string{},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

func (s *orthancServer) Start(ctx context.Context, dir string, destPort int) error {
	return s.launch(ctx, dir, func(port int) (string, []string, error) {
		hp, err := freePort()
		if err != nil {
			return "", nil, err
		}
		s.httpPort, s.alsoPort = hp, hp
		b, err := orthancConfig(dir, port, hp, s.compress, destPort)
		if err != nil {
			return "", nil, err
		}
		cfg := filepath.Join(dir, "orthanc.json")
		if err := os.WriteFile(cfg, b, 0o644); err != nil {
			return "", nil, err
		}
		return "Orthanc", []string{cfg}, nil
	})
}

func (s *orthancServer) DataDirs() []string {
	return []string{filepath.Join(s.dir, "storage"), filepath.Join(s.dir, "index")}
}

// Stored asks Orthanc's REST API (/statistics).
func (s *orthancServer) Stored() int {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/statistics", s.httpPort))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct{ CountInstances int }
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	return st.CountInstances
}

// CanQuery: the index does not depend on StorageCompression, so queries
// are timed on the uncompressed Orthanc only.
func (s *orthancServer) CanQuery() bool   { return !s.compress }
func (s *orthancServer) CanMove() bool    { return true }
func (s *orthancServer) SerialLoad() bool { return false }

// shardpacsServer is our node, run as `shardpacs serve --config FILE`.
type shardpacsServer struct {
	base
	bin string
}

func newShardpacs(bin string) *shardpacsServer {
	return &shardpacsServer{base: base{name: "shardpacs", ae: "SHARDPACS"}, bin: bin}
}

// shardpacsConfig renders the TOML configuration (config/shardpacs.example.toml).
func shardpacsConfig(port int, ae, data string, destPort int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ae_title = %q\nlisten = \"127.0.0.1:%d\"\ndata_dir = %q\nunknown_calling_ae = \"accept\"\n\n", ae, port, data)
	b.WriteString("[limits]\nmax_find_results = 1000000\n\n[log]\nlevel = \"warn\"\n")
	if destPort > 0 {
		fmt.Fprintf(&b, "\n[[peers]]\nae_title = %q\nhost = \"127.0.0.1\"\nport = %d\n", destAE, destPort)
	}
	return b.String()
}

func (s *shardpacsServer) Start(ctx context.Context, dir string, destPort int) error {
	return s.launch(ctx, dir, func(port int) (string, []string, error) {
		cfg := filepath.Join(dir, "shardpacs.toml")
		if err := os.WriteFile(cfg, []byte(shardpacsConfig(port, s.ae, filepath.Join(dir, "data"), destPort)), 0o644); err != nil {
			return "", nil, err
		}
		return s.bin, []string{"serve", "--config", cfg}, nil
	})
}

func (s *shardpacsServer) DataDirs() []string { return []string{filepath.Join(s.dir, "data")} }
func (s *shardpacsServer) Stored() int        { return -1 }
func (s *shardpacsServer) CanQuery() bool     { return true }
func (s *shardpacsServer) CanMove() bool      { return true }
func (s *shardpacsServer) SerialLoad() bool   { return false }
