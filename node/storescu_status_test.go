package node

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// notSent is the status storescuStatuses reports for a file that storescu
// did not send (no accepted presentation context, or it could not read
// or convert the file).
const notSent = -1

var (
	sendingFileLine = regexp.MustCompile(`(?m)^I: Sending file: (.*)$`)
	dimseStatusLine = regexp.MustCompile(`(?m)^D: DIMSE Status *: 0x([0-9a-fA-F]{4})`)
)

// parseStorescuStatuses reads storescu's debug (-d) output: the status of
// each C-STORE-RSP, attributed to the file announced before it. A file
// announced without a following status was not sent (notSent).
func parseStorescuStatuses(out string) map[string]int {
	res := map[string]int{}
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		if m := sendingFileLine.FindStringSubmatch(line); m != nil {
			cur = strings.TrimSpace(m[1])
			res[cur] = notSent
			continue
		}
		if m := dimseStatusLine.FindStringSubmatch(line); m != nil && cur != "" {
			v, _ := strconv.ParseUint(m[1], 16, 16)
			res[cur] = int(v)
			cur = ""
		}
	}
	return res
}

func TestParseStorescuStatuses(t *testing.T) {
	out := `I: Sending file: /x/a.dcm
D: Presentation Context ID       : 3
D: DIMSE Status                  : 0xc010: Error: Cannot understand
I: Sending file: /x/b.dcm
W: DIMSE Warning: (STORESCU,SHARDPACS): sendMessage: unable to convert dataset
E: Store Failed, file: /x/b.dcm:
I: Sending file: /x/c.dcm
D: DIMSE Status                  : 0x0000: Success
`
	got := parseStorescuStatuses(out)
	want := map[string]int{"/x/a.dcm": 0xC010, "/x/b.dcm": notSent, "/x/c.dcm": 0}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %#x, want %#x", k, got[k], v)
		}
	}
}

// storescuStatuses stores files into the node with storescu (-R: propose
// exactly the files' SOP classes; -nh: go on after a failure), one run per
// transfer syntax family (see storescuOption), each split over assocs
// parallel associations, and returns the C-STORE status of every file that
// storescu announced (notSent when it could not send it). Families run one
// after the other in a fixed order, so that with assocs = 1 the order in
// which instances reach the archive is repeatable.
func storescuStatuses(t *testing.T, tn *testNode, files []string, assocs int) map[string]int {
	t.Helper()
	groups := map[string][]string{}
	for _, f := range files {
		opt := storescuOption[fileTS(t, f)]
		groups[opt] = append(groups[opt], f)
	}
	opts := make([]string, 0, len(groups))
	for o := range groups {
		opts = append(opts, o)
	}
	sort.Strings(opts)
	res := map[string]int{}
	var mu sync.Mutex
	for _, opt := range opts {
		group := groups[opt]
		var wg sync.WaitGroup
		for i := range assocs {
			var part []string
			for j := i; j < len(group); j += assocs {
				part = append(part, group[j])
			}
			if len(part) == 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				args := []string{"-d", "-R", "-nh", "-aec", tn.cfg.AETitle, "-aet", "MODALITY"}
				if opt != "" {
					args = append(args, opt)
				}
				args = append(append(args, "127.0.0.1", tn.port), part...)
				out, _ := runTool(t, "", "storescu", args...) // non-zero whenever a file fails
				got := parseStorescuStatuses(out)
				mu.Lock()
				defer mu.Unlock()
				for k, v := range got {
					res[k] = v
				}
			}()
		}
		wg.Wait()
	}
	return res
}
