package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/archive/store"
	"github.com/shardpacs/shardpacs/archive/store/fsstore"
	"github.com/shardpacs/shardpacs/archive/store/storetest"
	"github.com/shardpacs/shardpacs/crypto"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// env is an archive over four faulty-wrapped filesystem stores in a temp dir.
type env struct {
	dir     string
	a       *Archive
	opts    Options
	faulty  [4]*storetest.Faulty
	kr      *crypto.Keyring
	krPath  string
	storeFS [4]string
}

func newEnv(t testing.TB, tweak func(*Options)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, krPath: filepath.Join(dir, "master.key")}
	kr, err := crypto.CreateKeyring(e.krPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.kr = kr
	for i := range 4 {
		e.storeFS[i] = filepath.Join(dir, "stores", fmt.Sprint(i))
		s, err := fsstore.Open(e.storeFS[i])
		if err != nil {
			t.Fatal(err)
		}
		e.faulty[i] = storetest.NewFaulty(s)
		e.opts.Stores[i] = e.faulty[i]
	}
	e.opts.IndexPath = filepath.Join(dir, "index.db")
	e.opts.Keyring = kr
	e.opts.SpoolDir = filepath.Join(dir, "tmp")
	if tweak != nil {
		tweak(&e.opts)
	}
	e.open(t)
	return e
}

func (e *env) open(t testing.TB) {
	t.Helper()
	a, err := Open(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	t.Cleanup(func() { a.Close() })
}

func (e *env) reopen(t testing.TB) {
	t.Helper()
	if err := e.a.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

// objects lists every object name per store (through the inner stores).
func (e *env) objects(t testing.TB) [4][]string {
	t.Helper()
	var out [4][]string
	for i, f := range e.faulty {
		err := f.Inner().List(context.Background(), func(name string, _ int64, _ time.Time) error {
			out[i] = append(out[i], name)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(out[i])
	}
	return out
}

func (e *env) objectCount(t testing.TB) int {
	n := 0
	for _, l := range e.objects(t) {
		n += len(l)
	}
	return n
}

// objectPath is where fsstore keeps an object.
func (e *env) objectPath(i int, name string) string {
	return filepath.Join(e.storeFS[i], name[:2], name)
}

// uidSeq makes fresh valid UIDs.
var uidSeq atomic.Int64

func newUID() string {
	return fmt.Sprintf("1.2.826.0.1.3680043.10.1397.99.%d.%d", time.Now().UnixNano()%1e9, uidSeq.Add(1))
}

// elem appends one Explicit VR Little Endian element.
func elem(b []byte, tag dcm.Tag, vr string, v []byte) []byte {
	if len(v)%2 == 1 {
		pad := byte(' ')
		if vr == "UI" || vr == "OB" {
			pad = 0
		}
		v = append(append([]byte(nil), v...), pad)
	}
	b = binary.LittleEndian.AppendUint16(b, tag.Group())
	b = binary.LittleEndian.AppendUint16(b, tag.Element())
	b = append(b, vr...)
	switch vr {
	case "OB", "OW", "SQ", "UN", "UT":
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	default:
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	}
	return append(b, v...)
}

// synth describes a synthetic instance.
type synth struct {
	PatientName, PatientID, Study, Series, SOP, Modality string
	Payload                                              []byte
}

// dataSet encodes s in Explicit VR Little Endian (tags ascending).
func (s synth) dataSet() []byte {
	var b []byte
	b = elem(b, dcm.TagSOPClassUID, "UI", []byte(uid.CTImageStorage))
	b = elem(b, dcm.TagSOPInstanceUID, "UI", []byte(s.SOP))
	b = elem(b, dcm.TagStudyDate, "DA", []byte("20240102"))
	mod := s.Modality
	if mod == "" {
		mod = "CT"
	}
	b = elem(b, dcm.TagModality, "CS", []byte(mod))
	b = elem(b, dcm.TagPatientName, "PN", []byte(s.PatientName))
	b = elem(b, dcm.TagPatientID, "LO", []byte(s.PatientID))
	b = elem(b, dcm.TagStudyInstanceUID, "UI", []byte(s.Study))
	b = elem(b, dcm.TagSeriesInstanceUID, "UI", []byte(s.Series))
	b = elem(b, dcm.NewTag(0x7FE0, 0x0010), "OB", s.Payload)
	return b
}

func (s synth) instance() *Instance {
	ds := s.dataSet()
	return &Instance{SOPClassUID: uid.CTImageStorage, SOPInstanceUID: s.SOP, TransferSyntaxUID: uid.ExplicitVRLittleEndian,
		DataSet: bytes.NewReader(ds), Size: int64(len(ds)), SourceAE: "TESTSCU"}
}

// newSynth returns a fresh synthetic instance with a payload of n bytes
// (compressible when n is large: a repeated pattern plus noise).
func newSynth(study, series string, n int) synth {
	if study == "" {
		study = newUID()
	}
	if series == "" {
		series = newUID()
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7 % 251)
	}
	return synth{PatientName: "Doe^Jane^Quentin", PatientID: "PID-" + study[len(study)-6:], Study: study, Series: series, SOP: newUID(), Payload: p}
}

// fileInstance reads a DICOM file as the network would deliver it.
func fileInstance(t testing.TB, path string) (*Instance, []byte, bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, off, err := dcm.ReadPart10Header(bytes.NewReader(data), 0)
	ts := ""
	switch {
	case errors.Is(err, dcm.ErrNoPart10Header):
		var ok bool
		if ts, ok = dcm.SniffTransferSyntax(data); !ok {
			return nil, nil, false
		}
		off = 0
	case err != nil:
		return nil, nil, false
	default:
		ts = meta.TransferSyntaxUID
		if ts == "" {
			var ok bool
			if ts, ok = dcm.SniffTransferSyntax(data[off:]); !ok {
				return nil, nil, false
			}
		}
	}
	ds := data[off:]
	return &Instance{TransferSyntaxUID: ts, DataSet: bytes.NewReader(ds), Size: int64(len(ds))}, ds, true
}

// readAll opens an instance and returns its canonical bytes and data set.
func readAll(t testing.TB, a *Archive, sop string) (canonical, dataSet []byte) {
	t.Helper()
	obj, err := a.Open(context.Background(), sop)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	canonical, err = io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := io.ReadAll(obj.DataSet())
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(canonical); sum != obj.Record.SHA256 {
		t.Fatalf("canonical SHA-256 differs from the index")
	}
	return canonical, ds
}

// mustVerifyClean fails unless a Verify without repair is clean.
func mustVerifyClean(t testing.TB, a *Archive) *VerifyReport {
	t.Helper()
	rep, err := a.Verify(context.Background(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Fatalf("verify not clean: %v", rep)
	}
	return rep
}

// memStore is an in-memory ShareStore for tests where fsync costs would
// dominate (the concurrency tests).
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	mod  map[string]time.Time
}

func newMemStore() *memStore {
	return &memStore{objs: map[string][]byte{}, mod: map[string]time.Time{}}
}

func (m *memStore) Put(ctx context.Context, name string, r io.Reader) (int64, [32]byte, error) {
	if err := store.CheckName(name); err != nil {
		return 0, [32]byte{}, store.NewError("put", m, name, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, [32]byte{}, store.NewError("put", m, name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[name]; ok {
		return 0, [32]byte{}, store.NewError("put", m, name, store.ErrExists)
	}
	m.objs[name] = b
	m.mod[name] = time.Now()
	return int64(len(b)), sha256.Sum256(b), nil
}

func (m *memStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[name]
	if !ok {
		return nil, store.NewError("open", m, name, store.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memStore) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, name)
	delete(m.mod, name)
	return nil
}

func (m *memStore) List(ctx context.Context, fn func(string, int64, time.Time) error) error {
	m.mu.Lock()
	type e struct {
		n   string
		s   int64
		mod time.Time
	}
	var l []e
	for n, b := range m.objs {
		l = append(l, e{n, int64(len(b)), m.mod[n]})
	}
	m.mu.Unlock()
	for _, x := range l {
		if err := fn(x.n, x.s, x.mod); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) CleanTemp(context.Context, time.Duration) (int, error) { return 0, nil }
func (m *memStore) String() string                                        { return "mem" }

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.objs)
}

// walkFiles lists every regular file under dir.
func walkFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

var _ = index.LevelStudy

// storeStudyAndOther stores n synthetic instances of size bytes in one new
// study, and one more in another study: the fixture of the delete tests.
func (e *env) storeStudyAndOther(t testing.TB, n, size int) (study string, sops []string, other synth) {
	t.Helper()
	study = newUID()
	for range n {
		s := newSynth(study, "", size)
		if _, err := e.a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
		sops = append(sops, s.SOP)
	}
	other = newSynth("", "", size)
	if _, err := e.a.Store(ctxb, other.instance()); err != nil {
		t.Fatal(err)
	}
	return study, sops, other
}
