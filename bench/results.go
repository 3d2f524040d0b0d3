package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// metric is one row of the results table.
type metric struct {
	id    string
	label string
	unit  string
	// higherBetter: throughputs; otherwise (latency, memory, disk) lower
	// is better. Shown in the table so a ratio reads the right way.
	higherBetter bool
}

// cell is one measured value, or a text saying why there is none.
type cell struct {
	v    float64
	ok   bool
	text string // shown instead of v when !ok; appended after v when ok
}

func value(v float64) cell           { return cell{v: v, ok: true} }
func noted(v float64, n string) cell { return cell{v: v, ok: true, text: n} }
func missing(why string) cell        { return cell{text: why} }

// results collects the cells of one run. Rows keep the order of their first
// set; columns are the servers in the order given.
type results struct {
	servers []string
	ref     string // the column the ratios divide: "shardpacs"
	metrics []metric
	cells   map[string]map[string]cell
	notes   []string
}

func newResults(ref string, servers []string) *results {
	return &results{servers: servers, ref: ref, cells: map[string]map[string]cell{}}
}

func (r *results) set(m metric, server string, c cell) {
	row, ok := r.cells[m.id]
	if !ok {
		row = map[string]cell{}
		r.cells[m.id] = row
		r.metrics = append(r.metrics, m)
	}
	row[server] = c
}

func (r *results) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// fmtNum prints with three significant digits at most, no exponent.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func (c cell) String() string {
	switch {
	case !c.ok && c.text == "":
		return "—"
	case !c.ok:
		return c.text
	case c.text != "":
		return fmtNum(c.v) + " " + c.text
	}
	return fmtNum(c.v)
}

// markdown renders the table: one row per metric, a column per server,
// then a ratio column ref/peer for every other server.
func (r *results) markdown() string {
	var b strings.Builder
	var peers []string
	for _, s := range r.servers {
		if s != r.ref {
			peers = append(peers, s)
		}
	}
	head := []string{"measurement", "unit", "better"}
	head = append(head, r.servers...)
	for _, p := range peers {
		head = append(head, r.ref+" / "+p)
	}
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString(strings.Repeat("|---", len(head)) + "|\n")
	for _, m := range r.metrics {
		row := r.cells[m.id]
		better := "lower"
		if m.higherBetter {
			better = "higher"
		}
		cols := []string{escapeCell(m.label), escapeCell(m.unit), better}
		for _, s := range r.servers {
			c, ok := row[s]
			if !ok {
				c = missing("")
			}
			cols = append(cols, escapeCell(c.String()))
		}
		refc := row[r.ref]
		for _, p := range peers {
			pc := row[p]
			if refc.ok && pc.ok && pc.v != 0 {
				cols = append(cols, fmt.Sprintf("%.2f", refc.v/pc.v))
			} else {
				cols = append(cols, "—")
			}
		}
		b.WriteString("| " + strings.Join(cols, " | ") + " |\n")
	}
	if len(r.notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

// escapeCell keeps a cell's text from breaking the Markdown table.
func escapeCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of ds
// (which it does not modify); 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median of float64 values (0 for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
