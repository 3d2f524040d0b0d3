// Package dicomtest holds test helpers that need package dcm (which
// internal/testutil cannot import: dcm's own tests use testutil): DICOM
// files split into meta information and data set, and a DCMTK dcmqrscp
// started on a configuration written at test time. Tests only.
package dicomtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// Part10 is a DICOM file: its File Meta Information and the bytes of its
// data set.
type Part10 struct {
	Path string
	Meta *dcm.FileMeta
	Data []byte
}

// ReadPart10 reads a DICOM file; ok is false when it has no usable File
// Meta Information (transfer syntax, SOP class and instance UIDs).
func ReadPart10(t testing.TB, path string) (Part10, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, off, err := dcm.ReadPart10Header(bufio.NewReader(bytes.NewReader(b)), 0)
	if err != nil || meta.TransferSyntaxUID == "" || meta.MediaStorageSOPClassUID == "" || meta.MediaStorageSOPInstanceUID == "" {
		return Part10{Path: path}, false
	}
	return Part10{Path: path, Meta: meta, Data: b[off:]}, true
}

// CorpusPart10 returns the corpus files that have File Meta Information;
// fewer than 3 skips the test (fatal under SHARDPACS_STRICT).
func CorpusPart10(t testing.TB) []Part10 {
	t.Helper()
	var out []Part10
	for _, p := range testutil.CorpusFiles(t) {
		if f, ok := ReadPart10(t, p); ok {
			out = append(out, f)
		}
	}
	if len(out) < 3 {
		testutil.SkipOrFail(t, "the corpus holds only %d DICOM files with File Meta Information", len(out))
	}
	return out
}

// FilesByInstance reads every DICOM file in dir (a storescp output folder,
// say; dot files skipped), by SOP Instance UID. A file without File Meta
// Information, or a second file of one instance, is a test error.
func FilesByInstance(t testing.TB, dir string) map[string]Part10 {
	t.Helper()
	out := make(map[string]Part10)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p, ok := ReadPart10(t, filepath.Join(dir, e.Name()))
		if !ok {
			t.Errorf("%s has no readable File Meta Information", e.Name())
			continue
		}
		if _, dup := out[p.Meta.MediaStorageSOPInstanceUID]; dup {
			t.Errorf("two files for instance %s", p.Meta.MediaStorageSOPInstanceUID)
		}
		out[p.Meta.MediaStorageSOPInstanceUID] = p
	}
	return out
}

// StartDcmqrscp starts DCMTK's dcmqrscp as AE DCMQRSCP, storing into db,
// knowing SHARDSCU (a caller) and MOVEDEST at moveDestPort (a C-MOVE
// destination), with extra command-line options, and returns its port.
// The test skips without dcmqrscp (fatal under SHARDPACS_STRICT).
func StartDcmqrscp(t testing.TB, db string, moveDestPort int, extra ...string) int {
	t.Helper()
	testutil.RequireTool(t, "dcmqrscp")
	cfgPath := filepath.Join(t.TempDir(), "dcmqrscp.cfg")
	port, _ := testutil.StartServer(t, "dcmqrscp", nil, func(port int) []string {
		cfg := fmt.Sprintf(`NetworkTCPPort = %d
MaxPDUSize = 16384
MaxAssociations = 16
HostTable BEGIN
shardscu = (SHARDSCU, localhost, %d)
movedest = (MOVEDEST, localhost, %d)
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
DCMQRSCP %s RW (200, 1024mb) ANY
AETable END
`, port, testutil.FreePort(t), moveDestPort, db)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return append(append([]string{"-c", cfgPath}, extra...), "-dhl", strconv.Itoa(port))
	})
	return port
}

// Distinct returns the sorted distinct values of key over the items that
// pass keep (nil: all).
func Distinct[T any](items []T, key func(T) string, keep func(T) bool) []string {
	var out []string
	for _, it := range items {
		if keep == nil || keep(it) {
			if v := key(it); !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}
