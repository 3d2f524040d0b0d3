package dimse

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/internal/dicomtest"
	"github.com/shardpacs/shardpacs/internal/testutil"
)

// TestClientStorescp stores every corpus file into DCMTK storescp, in
// bit-preserving mode (+B: it writes the data set exactly as received,
// behind a File Meta Information of its own), and checks that each data
// set arrived byte for byte. Runs with large PDUs (ours 1 MiB, storescp's
// maximum 128 KiB), and with small ones both ways (4096: every instance in
// many fragments) over one file of each SOP class and transfer syntax and
// the largest file: the whole corpus in 4 KiB fragments only takes longer.
func TestClientStorescp(t *testing.T) {
	testutil.RequireTool(t, "storescp")
	var files []part10
	var invalid []string
	for _, p := range testutil.CorpusFiles(t) {
		if f, ok := dicomtest.ReadPart10(t, p); ok {
			files = append(files, f)
		} else {
			invalid = append(invalid, p)
		}
	}
	if len(files) == 0 {
		t.Fatal("no usable corpus file")
	}
	for _, tc := range []struct {
		name           string
		ourPDU, scpPDU uint32
		subset         bool
	}{
		{"pdu1MiB", 1 << 20, 131072, false},
		{"pdu4096", 4096, 4096, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			files, invalid := files, invalid
			if tc.subset {
				files, invalid = storageSubset(files), nil
			}
			dir := t.TempDir()
			port, _ := testutil.StartServer(t, "storescp", nil, func(port int) []string {
				return []string{"-aet", "STORESCP", "-od", dir, "+B", "-pm", "+xa", "-dhl",
					"-pdu", strconv.Itoa(int(tc.scpPDU)), strconv.Itoa(port)}
			})

			ctx := testCtx(t, 2*time.Minute)
			c := &Client{AETitle: "SHARDSCU", MaxPDULength: tc.ourPDU}
			props := append([]ContextProposal{EchoContext()}, storageProposals(files, false)...)
			cc, err := c.Dial(ctx, "127.0.0.1:"+strconv.Itoa(port), "STORESCP", props)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Abort()
			if got := cc.Association().MaxSendPDULength(); got != tc.scpPDU {
				t.Errorf("MaxSendPDULength = %d, want storescp's %d", got, tc.scpPDU)
			}
			if err := cc.Echo(ctx); err != nil {
				t.Fatalf("Echo: %v", err)
			}
			want := make(map[string][]byte)
			for _, f := range files {
				st, err := cc.StoreFile(ctx, f.Path)
				if err != nil {
					t.Fatalf("StoreFile(%s): status %v, %v", f.Path, st, err)
				}
				want[f.Meta.MediaStorageSOPInstanceUID] = padEven(f.Data)
			}
			for _, p := range invalid {
				if _, err := cc.StoreFile(ctx, p); !errors.Is(err, dcm.ErrNoPart10Header) && !errors.Is(err, ErrInvalidFile) && !errors.Is(err, dcm.ErrFormat) {
					t.Errorf("StoreFile(%s) of a non-Part-10 file: %v", p, err)
				}
			}
			if err := cc.Echo(ctx); err != nil {
				t.Fatalf("Echo after the stores: %v", err)
			}
			if err := cc.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			got := dicomtest.FilesByInstance(t, dir)
			t.Logf("%d instances stored and compared, %d non-Part-10 files refused", len(got), len(invalid))
			if len(got) != len(want) {
				t.Errorf("storescp wrote %d files, want %d", len(got), len(want))
			}
			for uid, data := range want {
				g, ok := got[uid]
				switch {
				case !ok:
					t.Errorf("instance %s not received", uid)
				case !bytes.Equal(g.Data, data):
					t.Errorf("instance %s: received data set (%d bytes) differs from the one sent (%d bytes)", uid, len(g.Data), len(data))
				}
			}
		})
	}
}

// padEven is what Store sends for data: one NUL byte added to an odd length.
func padEven(data []byte) []byte {
	if len(data)%2 == 1 {
		return append(append([]byte(nil), data...), 0)
	}
	return data
}

// storageSubset is the first file of each (SOP class, transfer syntax)
// pair of files, and the largest file.
func storageSubset(files []part10) []part10 {
	var out []part10
	seen := make(map[[2]string]bool)
	largest := 0
	for i, f := range files {
		if len(f.Data) > len(files[largest].Data) {
			largest = i
		}
		k := [2]string{f.Meta.MediaStorageSOPClassUID, f.Meta.TransferSyntaxUID}
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	if !slices.ContainsFunc(out, func(f part10) bool { return f.Path == files[largest].Path }) {
		out = append(out, files[largest])
	}
	return out
}
