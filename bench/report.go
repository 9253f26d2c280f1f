package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// cell is one system's figure in a row; ok is false when it was not
// measured (skipped, failed, or meaningless for that system).
type cell struct {
	v  float64
	ok bool
}

func val(v float64) cell { return cell{v: v, ok: true} }

// row is one line of the table.
type row struct {
	w      int    // workload number
	name   string // what was measured
	unit   string // "MB/s", "µs", "KiB"
	higher bool   // a higher figure is better
	tipy   cell
	gvisor cell
	kernel cell
	target *target
}

// target is an acceptance criterion of issue 7 on a row.
type target struct {
	text string
	// check returns whether the row meets the target; known is false
	// when a figure it needs is missing.
	check func(r *report, x *row) (pass, known bool)
}

// ratioAtLeast: tipy ≥ k × gVisor.
func ratioAtLeast(k float64) *target {
	return &target{text: fmt.Sprintf("tipy ≥ %.3g× gVisor", k), check: func(_ *report, x *row) (bool, bool) {
		if !x.tipy.ok || !x.gvisor.ok {
			return false, false
		}
		return x.tipy.v >= k*x.gvisor.v, true
	}}
}

// ratioAtMost: tipy ≤ k × gVisor (latencies).
func ratioAtMost(k float64) *target {
	return &target{text: fmt.Sprintf("tipy ≤ %.3g× gVisor", k), check: func(_ *report, x *row) (bool, bool) {
		if !x.tipy.ok || !x.gvisor.ok {
			return false, false
		}
		return x.tipy.v <= k*x.gvisor.v, true
	}}
}

// atMost: tipy's figure ≤ limit.
func atMost(limit float64, unit string) *target {
	return &target{text: fmt.Sprintf("tipy ≤ %g %s", limit, unit), check: func(_ *report, x *row) (bool, bool) {
		if !x.tipy.ok {
			return false, false
		}
		return x.tipy.v <= limit, true
	}}
}

// fractionOf: tipy ≥ frac × tipy's figure in the row named base.
func fractionOf(frac float64, base string) *target {
	return &target{text: fmt.Sprintf("≥ %.0f%% of %q", frac*100, base), check: func(r *report, x *row) (bool, bool) {
		b := r.find(base)
		if b == nil || !b.tipy.ok || !x.tipy.ok {
			return false, false
		}
		return x.tipy.v >= frac*b.tipy.v, true
	}}
}

// report collects rows and notes.
type report struct {
	cfg   config
	start time.Time
	rows  []*row
	notes []string
}

func (r *report) add(x *row) *row {
	r.rows = append(r.rows, x)
	return x
}

func (r *report) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	logf("note: %s", n)
	r.notes = append(r.notes, n)
}

func (r *report) find(name string) *row {
	for _, x := range r.rows {
		if x.name == name {
			return x
		}
	}
	return nil
}

// median returns the median of xs (the mean of the middle two for an
// even count), NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// format renders a figure with a precision that suits its size.
func format(c cell) string {
	if !c.ok {
		return "—"
	}
	switch v := c.v; {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// ratio is tipy / gVisor.
func ratio(x *row) string {
	if !x.tipy.ok || !x.gvisor.ok || x.gvisor.v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x.tipy.v/x.gvisor.v)
}

func (r *report) verdict(x *row) string {
	if x.target == nil {
		return ""
	}
	pass, known := x.target.check(r, x)
	switch {
	case !known:
		return x.target.text + ": not measured"
	case pass:
		return x.target.text + ": met"
	}
	return x.target.text + ": NOT met"
}

var header = []string{"#", "workload", "unit", "tipy", "gVisor", "kernel", "tipy/gVisor", "target"}

func (r *report) cells(x *row) []string {
	return []string{fmt.Sprint(x.w), x.name, x.unit, format(x.tipy), format(x.gvisor), format(x.kernel), ratio(x), r.verdict(x)}
}

// print writes the table as aligned text.
func (r *report) print(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintln(bw, machine())
	fmt.Fprintln(bw)
	lines := [][]string{header}
	for _, x := range r.rows {
		lines = append(lines, r.cells(x))
	}
	widths := make([]int, len(header))
	for _, l := range lines {
		for i, c := range l {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, l := range lines {
		for i, c := range l {
			pad := widths[i] - len([]rune(c))
			if i >= 3 && i <= 6 { // figures right-aligned
				fmt.Fprint(bw, strings.Repeat(" ", pad), c)
			} else {
				fmt.Fprint(bw, c, strings.Repeat(" ", pad))
			}
			fmt.Fprint(bw, "  ")
		}
		fmt.Fprintln(bw)
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range r.notes {
			fmt.Fprintln(bw, "note:", n)
		}
	}
	fmt.Fprintf(bw, "\n%s, %d run(s) per figure, median; took %v\n", r.params(), r.cfg.runs, time.Since(r.start).Round(time.Second))
}

// markdown returns the table as Markdown.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s, %d run(s) per figure, median.\n\n", machine(), r.params(), r.cfg.runs)
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(r.cells(x), " | "))
	}
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\n- %s", n)
	}
	if len(r.notes) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

func (r *report) params() string {
	return fmt.Sprintf("bulk %s per run, %d round trips per latency figure, %d idle connections",
		sizeString(r.cfg.size), r.cfg.rtts, r.cfg.conns)
}

func sizeString(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// machine describes where the figures come from: CPU model and count,
// kernel, Go, gVisor's version.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	gv := "gVisor (unknown version)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "gvisor.dev/gvisor" {
				gv = "gVisor " + d.Version
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s, %s, %s", model, runtime.NumCPU(), kernel, runtime.Version(), gv)
}
