package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
)

// queryAll runs one query per level with common return keys and returns
// the matches as sorted strings.
func queryAll(t testing.TB, a *Archive) map[index.Level][]string {
	t.Helper()
	keys := map[index.Level][]dcm.Tag{
		index.LevelPatient: {dcm.TagPatientID, dcm.TagPatientName, dcm.TagPatientBirthDate, dcm.TagPatientSex},
		index.LevelStudy: {dcm.TagStudyInstanceUID, dcm.TagStudyDate, dcm.TagModalitiesInStudy, dcm.TagPatientName,
			dcm.NewTag(0x0020, 0x1208), dcm.NewTag(0x0020, 0x1206), dcm.TagStudyDescription, dcm.TagAccessionNumber},
		index.LevelSeries: {dcm.TagSeriesInstanceUID, dcm.TagModality, dcm.NewTag(0x0020, 0x1209), dcm.TagSeriesDescription},
		index.LevelImage:  {dcm.TagSOPInstanceUID, dcm.TagSOPClassUID, dcm.NewTag(0x0020, 0x0013)},
	}
	out := map[index.Level][]string{}
	for lvl, tags := range keys {
		q := &index.Query{Root: index.PatientRoot, Level: lvl}
		if lvl != index.LevelPatient {
			q.Root = index.StudyRoot
		}
		for _, tg := range tags {
			q.Keys = append(q.Keys, index.Key{Tag: tg})
		}
		err := a.Query(ctxb, q, func(m index.Match) error {
			var parts []string
			for tg, v := range m {
				parts = append(parts, fmt.Sprintf("%v=%s", tg, v))
			}
			slices.Sort(parts)
			out[lvl] = append(out[lvl], strings.Join(parts, "|"))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out[lvl])
	}
	return out
}

// TestReindex: rm index.db → Reindex → identical query results at every
// level, every instance readable, Verify clean.
func TestReindex(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.NoRepairer = true })
	for _, f := range corpusSample(t) {
		e.a.StoreFile(ctxb, f, "MODALITY")
	}
	study := newUID()
	for range 5 {
		s := newSynth(study, "", 100)
		if _, err := e.a.Store(ctxb, s.instance()); err != nil {
			t.Fatal(err)
		}
	}
	before := queryAll(t, e.a)
	var recs []*index.InstanceRecord
	e.a.Index().Each(ctxb, func(r *index.InstanceRecord) error { recs = append(recs, r); return nil })
	if len(recs) < 50 {
		t.Fatalf("only %d instances", len(recs))
	}
	e.a.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(e.opts.IndexPath + suffix)
	}
	e.open(t)
	if n := len(queryAll(t, e.a)[index.LevelImage]); n != 0 {
		t.Fatalf("fresh index has %d instances", n)
	}
	if _, err := e.a.CollectGarbage(ctxb, 0); !errors.Is(err, ErrIndexEmpty) {
		t.Fatalf("GC on an empty index over full stores: %v", err)
	}
	rep, err := e.a.Reindex(ctxb)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != len(recs) || rep.Failed+rep.Incomplete+rep.Foreign+rep.Superseded != 0 {
		t.Fatalf("reindex report %+v, want %d indexed", rep, len(recs))
	}
	after := queryAll(t, e.a)
	for lvl := range before {
		if !slices.Equal(before[lvl], after[lvl]) {
			t.Fatalf("level %s differs after reindex:\nbefore %d\nafter  %d", lvl, len(before[lvl]), len(after[lvl]))
		}
	}
	for _, r := range recs {
		got, err := e.a.Lookup(ctxb, r.SOPInstanceUID)
		if err != nil || got.SHA256 != r.SHA256 || got.SourceAE != r.SourceAE || got.TransferSyntaxUID != r.TransferSyntaxUID {
			t.Fatalf("record differs after reindex: %v", err)
		}
	}
	mustVerifyClean(t, e.a)
	if rep, err := e.a.Reindex(ctxb); err != nil || rep.Objects != 0 {
		t.Fatalf("second reindex: %+v %v", rep, err)
	}
}

// TestOpenDir: the keyring is created on first start only; a missing KEK
// with existing data is fatal (row 38).
func TestOpenDir(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	a, err := OpenDir(ctxb, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := newSynth("", "", 100)
	if _, err := a.Store(ctxb, s.instance()); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := os.Rename(cfg.KEKPath(), cfg.KEKPath()+".bak"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(ctxb, cfg, Options{}); !errors.Is(err, ErrKEKMissing) {
		t.Fatalf("missing KEK over existing data: %v", err)
	}
	if _, err := os.Stat(cfg.KEKPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new KEK was created over existing data")
	}
	// Wrong KEK: another key file; the node starts but reads fail closed.
	other := t.TempDir()
	cfg2 := config.Default()
	cfg2.DataDir = other
	b, err := OpenDir(ctxb, cfg2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := os.Rename(cfg2.KEKPath(), cfg.KEKPath()); err != nil {
		t.Fatal(err)
	}
	a, err = OpenDir(ctxb, cfg, Options{NoRepairer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Open(ctxb, s.SOP); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("wrong KEK read: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "index.db")); err != nil {
		t.Fatal(err)
	}
}
