package uid_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
)

// The Implementation Class UID is a valid UID (PS3.5 9.1) of the UUID form
// (PS3.5 B.2): "2.25." and the UUID named in its doc comment as an
// unsigned decimal, and the version name fits its 16 characters.
func TestImplementationUID(t *testing.T) {
	u := uid.ImplementationClassUID
	if !dcm.ValidUID(u) {
		t.Fatalf("%q is not a valid UID", u)
	}
	want, _ := new(big.Int).SetString(strings.ReplaceAll("ee50cb7a-4b01-4b34-a29b-de3ce167d76c", "-", ""), 16)
	if u != "2.25."+want.String() {
		t.Fatalf("%q is not 2.25.%s", u, want)
	}
	if n := len(uid.ImplementationVersionName); n == 0 || n > 16 {
		t.Fatalf("version name %q: %d characters", uid.ImplementationVersionName, n)
	}
}
