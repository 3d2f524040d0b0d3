package ul

import (
	"strings"
	"testing"
)

// table9_10 is PS3.8 Table 9-10 typed in the standard's own layout (rows:
// events, columns: states), independently of the Go literal in state.go.
// "." is an empty cell.
const table9_10 = `
       Sta1 Sta2 Sta3 Sta4 Sta5 Sta6 Sta7 Sta8 Sta9 Sta10 Sta11 Sta12 Sta13
Evt1   AE-1 .    .    .    .    .    .    .    .    .     .     .     .
Evt2   .    .    .    AE-2 .    .    .    .    .    .     .     .     .
Evt3   .    AA-1 AA-8 .    AE-3 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt4   .    AA-1 AA-8 .    AE-4 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt5   AE-5 .    .    .    .    .    .    .    .    .     .     .     .
Evt6   .    AE-6 AA-8 .    AA-8 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-7
Evt7   .    .    AE-7 .    .    .    .    .    .    .     .     .     .
Evt8   .    .    AE-8 .    .    .    .    .    .    .     .     .     .
Evt9   .    .    .    .    .    DT-1 .    AR-7 .    .     .     .     .
Evt10  .    AA-1 AA-8 .    AA-8 DT-2 AR-6 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt11  .    .    .    .    .    AR-1 .    .    .    .     .     .     .
Evt12  .    AA-1 AA-8 .    AA-8 AR-2 AR-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt13  .    AA-1 AA-8 .    AA-8 AA-8 AR-3 AA-8 AA-8 AR-10 AR-3  AA-8  AA-6
Evt14  .    .    .    .    .    .    .    AR-4 AR-9 .     .     AR-4  .
Evt15  .    .    AA-1 AA-2 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1  AA-1  AA-1  .
Evt16  .    AA-2 AA-3 .    AA-3 AA-3 AA-3 AA-3 AA-3 AA-3  AA-3  AA-3  AA-2
Evt17  .    AA-5 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4  AA-4  AA-4  AR-5
Evt18  .    AA-2 .    .    .    .    .    .    .    .     .     .     AA-2
Evt19  .    AA-1 AA-8 .    AA-8 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-7
`

// nextStateStd is the next state column of PS3.8 Tables 9-6 to 9-9, typed
// independently of state.go. AE-6 and AR-8 branch and are listed with the
// branch the cell test takes (valid request; acceptor).
var nextStateStd = map[string]string{
	"AE-1": "Sta4", "AE-2": "Sta5", "AE-3": "Sta6", "AE-4": "Sta1", "AE-5": "Sta2", "AE-6": "Sta3", "AE-7": "Sta6", "AE-8": "Sta13",
	"DT-1": "Sta6", "DT-2": "Sta6",
	"AR-1": "Sta7", "AR-2": "Sta8", "AR-3": "Sta1", "AR-4": "Sta13", "AR-5": "Sta1", "AR-6": "Sta7", "AR-7": "Sta8",
	"AR-8": "Sta10", "AR-9": "Sta11", "AR-10": "Sta12",
	"AA-1": "Sta13", "AA-2": "Sta1", "AA-3": "Sta1", "AA-4": "Sta1", "AA-5": "Sta1", "AA-6": "Sta13", "AA-7": "Sta13", "AA-8": "Sta13",
}

// stdCell returns the standard's action label for (s, e), "" when empty.
func stdCell(t testing.TB, s State, e Event) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table9_10), "\n")
	if len(lines) != 20 {
		t.Fatalf("table9_10 has %d lines", len(lines))
	}
	header := strings.Fields(lines[0])
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 14 {
			t.Fatalf("table9_10 row %q has %d fields", line, len(f))
		}
		if f[0] != e.String() {
			continue
		}
		for i, h := range header {
			if h == s.String() {
				if f[i+1] == "." {
					return ""
				}
				return f[i+1]
			}
		}
	}
	t.Fatalf("no cell for %s %s", s, e)
	return ""
}

func TestLabels(t *testing.T) {
	tests := []struct{ got, want string }{
		{Sta1.String(), "Sta1"}, {Sta13.String(), "Sta13"}, {State(0).String(), "State(0)"}, {State(14).String(), "State(14)"},
		{Evt1.String(), "Evt1"}, {Evt19.String(), "Evt19"}, {Event(20).String(), "Event(20)"},
		{AE1.String(), "AE-1"}, {AE8.String(), "AE-8"}, {DT1.String(), "DT-1"}, {DT2.String(), "DT-2"},
		{AR1.String(), "AR-1"}, {AR10.String(), "AR-10"}, {AA1.String(), "AA-1"}, {AA8.String(), "AA-8"},
		{noAction.String(), "undefined"}, {Action(99).String(), "Action(99)"},
		{Received.String(), "received"}, {Sent.String(), "sent"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestTableMatchesStandard walks every (state, event) cell and compares the
// Go table with the standard's layout above.
func TestTableMatchesStandard(t *testing.T) {
	defined := 0
	for s := Sta1; s <= Sta13; s++ {
		for e := Evt1; e <= Evt19; e++ {
			want := stdCell(t, s, e)
			got, ok := Lookup(s, e)
			switch {
			case want == "" && (ok || got != AA8):
				t.Errorf("%s+%s: got %s (defined=%v), want undefined → AA-8", s, e, got, ok)
			case want != "" && (!ok || got.String() != want):
				t.Errorf("%s+%s: got %s (defined=%v), want %s", s, e, got, ok, want)
			}
			if ok {
				defined++
			}
		}
	}
	// The non-empty cells of Table 9-10 (a guard against rows lost in both).
	if defined != 123 {
		t.Errorf("%d defined cells, want 123", defined)
	}
}

func TestLookupOutOfRange(t *testing.T) {
	for _, c := range []struct {
		s State
		e Event
	}{{0, Evt1}, {14, Evt1}, {Sta1, 0}, {Sta1, 20}, {255, 255}} {
		if a, ok := Lookup(c.s, c.e); ok || a != AA8 {
			t.Errorf("Lookup(%d,%d) = %s,%v; want AA-8,false", c.s, c.e, a, ok)
		}
	}
}

func TestNextStates(t *testing.T) {
	for a := AE1; a <= AA8; a++ {
		ns := a.NextStates()
		want := nextStateStd[a.String()]
		switch a {
		case AE6:
			if len(ns) != 2 || ns[0] != Sta3 || ns[1] != Sta13 {
				t.Errorf("AE-6 next %v", ns)
			}
		case AR8:
			if len(ns) != 2 || ns[0] != Sta9 || ns[1] != Sta10 {
				t.Errorf("AR-8 next %v", ns)
			}
		default:
			if len(ns) != 1 || ns[0].String() != want {
				t.Errorf("%s next %v, want %s", a, ns, want)
			}
		}
	}
	if noAction.NextStates() != nil {
		t.Error("undefined action has next states")
	}
}
