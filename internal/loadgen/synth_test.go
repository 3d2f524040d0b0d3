package loadgen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shardpacs/shardpacs/dcm"
)

func TestNewRoot(t *testing.T) {
	a, err := NewRoot(bytes.NewReader([]byte{0, 0, 0, 0, 0, 0, 0, 1}))
	if err != nil {
		t.Fatal(err)
	}
	if a != "2.25.9223372036854775809" || !dcm.ValidUID(a) {
		t.Errorf("root %q: want 2.25 and the 64 bits with the top bit set", a)
	}
	if _, err := NewRoot(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("short random source: no error")
	}
	b, _ := NewRoot(nil)
	c, _ := NewRoot(nil)
	if b == c || !strings.HasPrefix(b, "2.25.") {
		t.Errorf("crypto roots %q, %q", b, c)
	}
}

func TestSynthInstance(t *testing.T) {
	s := Synth{Root: "2.25.42"}
	in, err := s.Instance(3, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if in.SOPInstanceUID != "2.25.42.3.1.7" || in.SeriesInstanceUID != "2.25.42.3.1" || in.StudyInstanceUID != "2.25.42.3" {
		t.Errorf("UIDs %+v", in)
	}
	again, _ := s.Instance(3, 1, 7)
	if !bytes.Equal(in.DataSet, again.DataSet) {
		t.Error("the same instance built twice differs")
	}
	other, _ := s.Instance(3, 1, 8)
	if bytes.Equal(in.DataSet[len(in.DataSet)-8192:], other.DataSet[len(other.DataSet)-8192:]) {
		t.Error("two instances have the same pixels")
	}
	sum, err := dcm.Scan(bytes.NewReader(in.DataSet), int64(len(in.DataSet)), in.TransferSyntaxUID, dcm.Limits{})
	if err != nil {
		t.Fatalf("our own scanner refuses the instance: %v", err)
	}
	if sum.SOPInstanceUID != in.SOPInstanceUID || sum.SOPClassUID != in.SOPClassUID {
		t.Errorf("scanned %q %q", sum.SOPClassUID, sum.SOPInstanceUID)
	}
	if want := 2 * DefaultMatrix * DefaultMatrix; len(in.DataSet) < want || len(in.DataSet) > want+1024 {
		t.Errorf("data set of %d bytes, want a 64×64 16-bit image and a small header", len(in.DataSet))
	}
}

func TestSynthBadRoot(t *testing.T) {
	for _, root := range []string{"", "2.25.x", "2.25." + strings.Repeat("1", 60)} {
		if _, err := (Synth{Root: root}).Instance(0, 0, 0); err == nil {
			t.Errorf("root %q: no error", root)
		}
	}
}
