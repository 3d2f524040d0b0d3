package node

import (
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// TestGDCM checks C-ECHO and C-FIND with GDCM's gdcmscu: the studies it
// lists are the corpus's.
func TestGDCM(t *testing.T) {
	files := testutil.CorpusFiles(t)
	testutil.RequireTool(t, "gdcmscu")
	// gdcmscu 3.0.21 as packaged here aborts ("ProtocolStream as nullptr is
	// invalid") even against DCMTK's storescp: when it cannot echo storescp,
	// the tool is broken, not the node.
	scpPort, _ := startStorescp(t, "GDCMCHECK")
	if out, err := runTool(t, "", "gdcmscu", "--echo", "--call", "GDCMCHECK", "127.0.0.1", strconv.Itoa(scpPort)); err != nil {
		t.Skipf("!!! SKIPPING: gdcmscu cannot even echo DCMTK storescp (broken tool): %v\n%s", err, out)
	}
	tn := startNode(t, nil)
	if out, err := runTool(t, "", "gdcmscu", "--echo", "--call", tn.cfg.AETitle, "127.0.0.1", tn.port); err != nil {
		t.Fatalf("gdcmscu --echo: %v\n%s", err, out)
	}
	storeCorpus(t, tn, files, 2)
	want := distinct(validCorpus(t, files), nil, func(m fileMeta) string { return m.study })
	out, err := runTool(t, "", "gdcmscu", "--find", "--studyroot", "--study", "--call", tn.cfg.AETitle,
		"--key", "20,d", "--key", "10,10", "127.0.0.1", tn.port)
	if err != nil {
		t.Fatalf("gdcmscu --find: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`\(0020,000d\) UI \[([0-9.]+)`)
	set := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		set[m[1]] = true
	}
	var got []string
	for s := range set {
		got = append(got, s)
	}
	sort.Strings(got)
	if !equalStrings(got, want) {
		t.Fatalf("gdcmscu found studies %v, want %v\n%s", got, want, out)
	}
}
