package uid

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/shardpacs/shardpacs/internal/testutil"
)

// TestGeneratedUpToDate re-runs gen.go and checks zz_generated.go is what
// it produces. Regenerate with `go generate ./dcm/uid`.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator with go run")
	}
	src := os.Getenv("SHARDPACS_PYDICOM_UID_DICT")
	if src == "" {
		src = "/usr/lib/python3/dist-packages/pydicom/_uid_dict.py"
	}
	if _, err := os.Stat(src); err != nil {
		testutil.SkipOrFail(t, "pydicom UID registry %s not found (apt-get install python3-pydicom, or set SHARDPACS_PYDICOM_UID_DICT): %v", src, err)
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = testutil.RequireTool(t, "go")
	}
	out := filepath.Join(t.TempDir(), "zz_generated.go")
	cmd := exec.Command(goTool, "run", "gen.go", "-src", src, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen.go: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("zz_generated.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Fatal("zz_generated.go is stale: run `go generate ./dcm/uid`")
	}
}
