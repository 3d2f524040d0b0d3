package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// TestAdversarialServeWithoutKEK (adversarial row 38): `serve` over a data
// folder that holds shares but whose KEK file is gone exits with status 1
// and a message naming the KEK file, before listening, and creates no new
// key over the existing data.
func TestAdversarialServeWithoutKEK(t *testing.T) {
	t.Setenv("SHARDPACS_CONFIG", "")
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	ctx := context.Background()
	arch, err := archive.OpenDir(ctx, cfg, archive.Options{NoRepairer: true})
	if err != nil {
		t.Fatal(err)
	}
	const sop = "1.2.826.0.1.3680043.10.1397.89.1"
	ds, err := dcm.EncodeIdentifier([]dcm.Element{
		{Tag: dcm.TagSOPClassUID, VR: "UI", Value: uid.SecondaryCaptureImageStorage},
		{Tag: dcm.TagSOPInstanceUID, VR: "UI", Value: sop},
		{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: sop + ".1"},
		{Tag: dcm.TagSeriesInstanceUID, VR: "UI", Value: sop + ".1.1"},
	}, uid.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.dcm")
	meta := dcm.AppendPart10Header(nil, &dcm.FileMeta{MediaStorageSOPClassUID: uid.SecondaryCaptureImageStorage,
		MediaStorageSOPInstanceUID: sop, TransferSyntaxUID: uid.ExplicitVRLittleEndian, ImplementationClassUID: "1.2.826.0.1.3680043.10.1397.99"})
	if err := os.WriteFile(path, append(meta, ds...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := arch.StoreFile(ctx, path, "TEST"); err != nil {
		t.Fatal(err)
	}
	if err := arch.Close(); err != nil {
		t.Fatal(err)
	}
	kek := cfg.KEKPath()
	if err := os.Remove(kek); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr strings.Builder
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	code := runMain(rctx, []string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("serve without the KEK: exit status %d, want 1\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, kek) || !strings.Contains(msg, archive.ErrKEKMissing.Error()) {
		t.Errorf("message does not name the KEK file %s: %s", kek, msg)
	}
	if strings.Contains(stdout.String(), "listening") {
		t.Errorf("serve listened: %s", stdout.String())
	}
	if _, err := os.Stat(kek); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a KEK file was created over the existing data: %v", err)
	}
}
