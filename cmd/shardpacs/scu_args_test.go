package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

func TestParseArgs(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantPos []string
		wantLvl string
		wantErr error
	}{
		{"flags after target", []string{"h:1", "--level", "SERIES"}, []string{"h:1"}, "SERIES", nil},
		{"flags around", []string{"--level", "IMAGE", "h:1", "f1", "--level", "STUDY", "f2"}, []string{"h:1", "f1", "f2"}, "STUDY", nil},
		{"double dash", []string{"h:1", "--", "--level", "x"}, []string{"h:1", "--level", "x"}, "", nil},
		{"none", nil, nil, "", nil},
		{"unknown flag", []string{"h:1", "--nope"}, nil, "", errUsage},
		{"help", []string{"-h"}, nil, "", flag.ErrHelp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			lvl := fs.String("level", "", "")
			pos, err := parseArgs(fs, tc.args)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil && (!slices.Equal(pos, tc.wantPos) || *lvl != tc.wantLvl) {
				t.Errorf("pos %q level %q, want %q %q", pos, *lvl, tc.wantPos, tc.wantLvl)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	cases := []struct {
		in      string
		want    dcm.Element
		wantErr bool
	}{
		{"PatientName=DOE*", dcm.Element{Tag: dcm.TagPatientName, Value: "DOE*"}, false},
		{"StudyDate=20200101-", dcm.Element{Tag: dcm.TagStudyDate, Value: "20200101-"}, false},
		{"(0010,0020)=ID1", dcm.Element{Tag: dcm.TagPatientID, Value: "ID1"}, false},
		{"0010,0020", dcm.Element{Tag: dcm.TagPatientID}, false},
		{"0020000d=1.2.3", dcm.Element{Tag: dcm.TagStudyInstanceUID, Value: "1.2.3"}, false},
		{"ModalitiesInStudy=CT\\MR", dcm.Element{Tag: dcm.TagModalitiesInStudy, Value: "CT\\MR"}, false},
		{"PatientName=A=B", dcm.Element{Tag: dcm.TagPatientName, Value: "A=B"}, false},
		{"(0009,1001)=x", dcm.Element{Tag: 0x00091001, Value: "x"}, false},
		{"SOPInstanceUID", dcm.Element{Tag: dcm.TagSOPInstanceUID}, false},
		{"patientname=x", dcm.Element{}, true}, // keywords are case-sensitive
		{"Patient's Name=x", dcm.Element{}, true},
		{"NoSuchKeyword=x", dcm.Element{}, true},
		{"=x", dcm.Element{}, true},
		{"QueryRetrieveLevel=STUDY", dcm.Element{}, true},
		{"(0002,0010)=1.2", dcm.Element{}, true},
		{"(0000,0900)", dcm.Element{}, true},
		{"(FFFE,E000)", dcm.Element{}, true},
		{"PixelData", dcm.Element{}, true},
		{"(0010,001G)=x", dcm.Element{}, true},
	}
	for _, tc := range cases {
		got, err := parseKey(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseKey(%q): err %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && (got.Tag != tc.want.Tag || got.Value != tc.want.Value) {
			t.Errorf("parseKey(%q) = %v %q, want %v %q", tc.in, got.Tag, got.Value, tc.want.Tag, tc.want.Value)
		}
	}
}

func TestQueryOptionsResolve(t *testing.T) {
	cases := []struct {
		level, root string
		keys        []string
		wantLevel   string
		wantModel   qrModel
		wantErr     bool
	}{
		{"study", "study", nil, levelStudy, studyRoot, false},
		{"instance", "patient", nil, levelImage, patientRoot, false},
		{"PATIENT", "Patient", nil, levelPatient, patientRoot, false},
		{"PATIENT", "study", nil, "", qrModel{}, true},
		{"FRAME", "study", nil, "", qrModel{}, true},
		{"STUDY", "worklist", nil, "", qrModel{}, true},
		{"STUDY", "study", []string{"PatientID=1", "(0010,0020)=2"}, "", qrModel{}, true},
	}
	for _, tc := range cases {
		q := queryOptions{level: tc.level, root: tc.root, keys: tc.keys}
		lvl, m, _, err := q.resolve()
		if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, errUsage)) {
			t.Errorf("%s/%s/%v: err %v, want error %v (usage)", tc.level, tc.root, tc.keys, err, tc.wantErr)
			continue
		}
		if err == nil && (lvl != tc.wantLevel || m != tc.wantModel) {
			t.Errorf("%s/%s: got %s %s, want %s %s", tc.level, tc.root, lvl, m.name, tc.wantLevel, tc.wantModel.name)
		}
	}
}

func TestIdentifier(t *testing.T) {
	keys := []dcm.Element{{Tag: dcm.TagPatientName, Value: "DOE*"}, {Tag: dcm.TagStudyDate, Value: "2020"}}
	got := identifier(levelStudy, keys, []dcm.Tag{dcm.TagStudyDate, dcm.TagStudyInstanceUID})
	want := []dcm.Element{
		{Tag: dcm.TagQueryRetrieveLevel, Value: "STUDY"},
		{Tag: dcm.TagPatientName, Value: "DOE*"},
		{Tag: dcm.TagStudyDate, Value: "2020"}, // a given key is not replaced by an empty return key
		{Tag: dcm.TagStudyInstanceUID},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Tag != want[i].Tag || got[i].Value != want[i].Value {
			t.Errorf("element %d: got %v %q, want %v %q", i, got[i].Tag, got[i].Value, want[i].Tag, want[i].Value)
		}
	}
}

func TestBatchByContext(t *testing.T) {
	var files []storeFile
	for i := range 7 {
		files = append(files, storeFile{path: string(rune('a' + i)), sopClass: "1.2." + string(rune('0'+i%3)), ts: uid.ExplicitVRLittleEndian})
	}
	files = append(files, storeFile{path: "h", sopClass: "1.2.0", ts: uid.ImplicitVRLittleEndian})
	batches := batchByContext(files, 2)
	total := 0
	for _, b := range batches {
		ctxs := make(map[[2]string]bool)
		for _, f := range b {
			ctxs[[2]string{f.sopClass, f.ts}] = true
		}
		if len(ctxs) > 2 {
			t.Errorf("a batch needs %d contexts, max 2", len(ctxs))
		}
		total += len(b)
	}
	if total != len(files) || len(batches) != 2 {
		t.Errorf("%d batches holding %d files, want 2 holding %d", len(batches), total, len(files))
	}
	if got := batchByContext(nil, 2); len(got) != 0 {
		t.Errorf("no files gave %d batches", len(got))
	}
}

func TestResolveTarget(t *testing.T) {
	cleanEnv(t)
	o := newSCUFlags("x", "x", io.Discard)
	if _, err := parseArgs(o.fs, []string{"--peer", "PACS=10.0.0.1:104"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Peers = append(cfg.Peers, config.Peer{AETitle: "CALLER"})
	cases := []struct {
		arg, aec     string
		addr, called string
		wantErr      bool
	}{
		{"PACS", "", "10.0.0.1:104", "PACS", false},
		{"PACS", "OTHER", "10.0.0.1:104", "OTHER", false},
		{"127.0.0.1:11112", "", "127.0.0.1:11112", defaultCalledAE, false},
		{"[::1]:104", "X", "[::1]:104", "X", false},
		{"CALLER", "", "", "", true},          // a peer without an address
		{"UNKNOWN", "", "", "", true},         // neither a peer nor host:port
		{"host:0", "", "", "", true},          // bad port
		{"host:104", "BAD\\AE", "", "", true}, // invalid called AE
	}
	for _, tc := range cases {
		o.calledAE = tc.aec
		got, err := o.resolveTarget(cfg, tc.arg)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.arg, err, tc.wantErr)
			continue
		}
		if err == nil && (got.Addr != tc.addr || got.CalledAE != tc.called) {
			t.Errorf("%s: got %s %s, want %s %s", tc.arg, got.Addr, got.CalledAE, tc.addr, tc.called)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cleanEnv(t)
	for _, args := range [][]string{
		{"echo"},
		{"echo", "a:1", "b:2"},
		{"echo", "--aet", "TOO-LONG-AE-TITLE-X", "127.0.0.1:1"},
		{"store", "127.0.0.1:1"},
		{"find", "127.0.0.1:1", "--level", "PATIENT"},
		{"find", "127.0.0.1:1", "-k", "Nope=1"},
		{"move", "127.0.0.1:1", "-k", "QueryRetrieveLevel=STUDY"},
		{"get", "127.0.0.1:1", "--sop-class", "not-a-uid"},
		{"peers", "extra"},
	} {
		r := runCLI(t, args...)
		if r.code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
	if r := runCLI(t, "find", "-h"); r.code != 0 || !strings.Contains(r.stderr, "-level LEVEL") {
		t.Errorf("find -h: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestWriteElements(t *testing.T) {
	var b bytes.Buffer
	writeElements(&b, "", []dcm.Element{
		{Tag: dcm.TagPatientName, Value: "DOE^J"},
		{Tag: 0x00091001, Value: "line\nbreak"},
		{Tag: 0x00081110, VR: "SQ", Items: [][]dcm.Element{{{Tag: dcm.TagStudyInstanceUID, Value: "1.2"}}}},
		{Tag: 0x00081111, VR: "SQ"},
		{Tag: 0x00291010, VR: "OB", Bytes: []byte{1, 2}},
	})
	want := "PatientName=DOE^J\n(0009,1001)=\"line\\nbreak\"\nReferencedStudySequence[0].StudyInstanceUID=1.2\nReferencedPerformedProcedureStepSequence=\n(0029,1010)=0x0102\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPartWriter(t *testing.T) {
	dir := t.TempDir()
	w := &partWriter{dir: dir}
	data := []byte{0x08, 0x00, 0x18, 0x00, 'U', 'I', 4, 0, '1', '.', '2', 0}
	req := &dimse.StoreRequest{
		Assoc:             &dimse.AssociationInfo{CalledAETitle: "PEER"},
		SOPClassUID:       uid.CTImageStorage,
		SOPInstanceUID:    "1.2.3.4",
		TransferSyntaxUID: uid.ExplicitVRLittleEndian,
		DataSet:           dimse.NewDataSet(data),
	}
	path, err := w.write(req)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "1.2.3.4.dcm") || w.written.Load() != 1 {
		t.Errorf("path %s, written %d", path, w.written.Load())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, off, err := dcm.ReadPart10Header(bufio.NewReader(bytes.NewReader(b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if meta.MediaStorageSOPClassUID != uid.CTImageStorage || meta.MediaStorageSOPInstanceUID != "1.2.3.4" ||
		meta.TransferSyntaxUID != uid.ExplicitVRLittleEndian || meta.SourceApplicationEntityTitle != "PEER" {
		t.Errorf("meta %+v", meta)
	}
	if !bytes.Equal(b[off:], data) {
		t.Errorf("data set %x, want %x", b[off:], data)
	}
	// A UID that is not one cannot name a file: nothing is written.
	for _, bad := range []string{"../../etc/passwd", "1.2/3", "", "1.2.3.4\x00"} {
		req.SOPInstanceUID = bad
		if _, err := w.write(req); !errors.Is(err, errBadInstanceUID) {
			t.Errorf("instance UID %q: err %v", bad, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries in the folder, want 1 (no temporary file left)", len(ents))
	}
}

func TestGetProposals(t *testing.T) {
	props := getProposals(uid.StudyRootQRGet, nil)
	if len(props) > dimse.MaxProposedContexts {
		t.Fatalf("%d contexts, at most %d", len(props), dimse.MaxProposedContexts)
	}
	if props[0].AbstractSyntax != uid.StudyRootQRGet || props[0].SCPRole {
		t.Errorf("first context %+v, want the GET model as SCU", props[0])
	}
	for _, p := range props[1:] {
		if !p.SCPRole || !uid.IsStorageSOPClass(p.AbstractSyntax) {
			t.Errorf("context %+v: want a storage class with the SCP role", p)
		}
	}
	if got := getProposals(uid.PatientRootQRGet, []string{uid.CTImageStorage}); len(got) != 3 {
		t.Errorf("one --sop-class gave %d contexts, want 3", len(got))
	}
}

func TestPlural(t *testing.T) {
	for want, got := range map[string]string{"1 file": plural(1, "file"), "2 files": plural(2, "file"),
		"0 matches": plural(0, "match"), "1 match": plural(1, "match")} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
