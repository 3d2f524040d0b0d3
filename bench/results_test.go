package main

import (
	"strings"
	"testing"
	"time"
)

func TestMarkdownTable(t *testing.T) {
	r := newResults("shardpacs", []string{"shardpacs", "storescp", "orthanc"})
	in := metric{id: "in", label: "ingest CT", unit: "inst/s", higherBetter: true}
	lat := metric{id: "lat", label: "C-FIND | p50", unit: "ms"}
	r.set(in, "shardpacs", value(900))
	r.set(in, "storescp", value(1800))
	r.set(in, "orthanc", noted(300, "(stored 99 of 100)"))
	r.set(lat, "shardpacs", value(0.5))
	r.set(lat, "orthanc", missing("failed"))
	r.note("orthanc: broke")
	got := r.markdown()
	want := []string{
		"| measurement | unit | better | shardpacs | storescp | orthanc | shardpacs / storescp | shardpacs / orthanc |",
		"|---|---|---|---|---|---|---|---|",
		"| ingest CT | inst/s | higher | 900 | 1800 | 300 (stored 99 of 100) | 0.50 | 3.00 |",
		"| C-FIND \\| p50 | ms | lower | 0.500 | — | failed | — | — |",
		"",
		"- orthanc: broke",
	}
	if strings.TrimRight(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// Every row has as many cells as the header.
	lines := strings.Split(got, "\n")
	for _, l := range lines[:4] {
		if n := strings.Count(strings.ReplaceAll(l, "\\|", ""), "|"); n != 9 {
			t.Errorf("%d separators in %q, want 9", n, l)
		}
	}
}

func TestFmtNum(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{1570.4, "1570"}, {100, "100"}, {99.94, "99.9"}, {10, "10.0"}, {2.345, "2.35"}, {0.0421, "0.042"}, {0, "0.000"}} {
		if got := fmtNum(tc.v); got != tc.want {
			t.Errorf("fmtNum(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(ds, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("percentile sorted its argument")
	}
	if percentile(nil, 50) != 0 || percentile([]time.Duration{7}, 95) != 7 {
		t.Error("percentile of 0 or 1 value")
	}
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 || median(nil) != 0 {
		t.Error("median")
	}
}

func TestScales(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "1e4,1e5", want: []int{10000, 100000}},
		{in: "1000, 20000", want: []int{1000, 20000}},
		{in: "1e5,1e4", bad: true},
		{in: "1e4,1e4", bad: true},
		{in: "0", bad: true},
		{in: "1.5", bad: true},
		{in: "x", bad: true},
	} {
		got, err := parseScales(tc.in)
		if tc.bad != (err != nil) || !tc.bad && !equalInts(got, tc.want) {
			t.Errorf("parseScales(%q) = %v, %v", tc.in, got, err)
		}
	}
	for n, want := range map[int]string{1000: "1e3", 100000: "1e5", 1: "1e0", 20000: "20000", 0: "0"} {
		if got := scaleName(n); got != want {
			t.Errorf("scaleName(%d) = %q, want %q", n, got, want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-n", "40", "-only", "query"})
	if err != nil {
		t.Fatal(err)
	}
	if o.nCT != 40 || o.nMF != 12 || !equalInts(o.scales, []int{1000}) || o.queries != 30 {
		t.Errorf("-quick -n 40: %+v", o)
	}
	if !o.phases["query"] || o.phases["ingest"] || len(o.servers) != 5 {
		t.Errorf("phases %v servers %v", o.phases, o.servers)
	}
	o, err = parseFlags(nil)
	if err != nil || o.nCT != 1000 || o.nMF != 100 || !equalInts(o.scales, []int{10000, 100000}) || len(o.phases) != 3 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-only", "ingest,bogus"}, {"-servers", "pacs"}, {"-n", "0"}, {"-queries-scale", "1e5,1e4"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestRotate(t *testing.T) {
	s := []server{newStorescp(), newOrthanc(false), newDcmqrscp()}
	var names []string
	for _, x := range rotate(s, 4) {
		names = append(names, x.Name())
	}
	if strings.Join(names, ",") != "orthanc,dcmqrscp,storescp" {
		t.Errorf("rotate: %v", names)
	}
	if s[0].Name() != "storescp" || rotate(nil, 1) != nil {
		t.Error("rotate modified its argument or failed on empty")
	}
}

func TestHasServe(t *testing.T) {
	with := "Commands:\n  serve      run the node\n  version    print the version\n"
	without := "Commands:\n  version    print the version (not serve)\n  reserve    x\n"
	if !hasServe(with) || hasServe(without) || hasServe("") {
		t.Error("hasServe")
	}
}
