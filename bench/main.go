// Command bench runs the same network workloads on tipy, on gVisor's
// netstack and on the Linux kernel in one run, and prints a table of the
// figures and of tipy's ratio to gVisor (issue 7, `make bench-compare`).
//
// The workloads:
//
//  1. TCP bulk between two stacks in one process over an in-memory link
//     (MTU 1500), with each stack's default buffers and with large ones;
//  2. 64-byte TCP request/response round trips between two stacks in one
//     process;
//  3. over a TAP device in a network namespace with the kernel as peer:
//     kernel → stack and stack → kernel bulk, 64-byte TCP and UDP echo
//     round trips, ping;
//  4. heap memory per idle established connection, with 10,000 of them;
//  5. the cost of observing tipy: workload 1 with nobody listening, with
//     the dashboard's event stream subscribed, and while recording a trace.
//
// Every figure is the median of -runs runs; the runs of the systems are
// interleaved so that a burst of load on the machine does not favour one.
// The kernel rows need root (network namespaces, TAP and veth devices) and
// are skipped with a note otherwise. Namespaces are named
// tipybench-PID-..., deleted on exit, and swept at the next start when a
// run was killed.
//
// This is a module of its own (github.com/tipy/tipy/bench) so that the
// main module never depends on gVisor.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"
)

// config holds the command-line flags.
type config struct {
	size     int64           // bytes per bulk run
	runs     int             // runs per figure (median)
	rtts     int             // round trips per latency figure
	conns    int             // idle connections for workload 4
	only     map[int]bool    // workloads to run (all when empty)
	md       string          // file to write the Markdown table to
	large    int             // "large" buffer size for workload 1
	timeout  time.Duration   // limit for one measurement
	tipyLoop string          // "shared" or "split": one loop for both tipy stacks, or one each
	systems  map[string]bool // systems to measure (all when empty)
	cpuProf  string          // write a CPU profile of the whole run here
	memProf  string          // write an allocation profile here at the end
	trace    string          // write an execution trace of the run here
}

func main() {
	var cfg config
	var size, only string
	flag.StringVar(&size, "size", "256MiB", "bytes moved by one bulk run (suffixes KiB, MiB, GiB)")
	flag.IntVar(&cfg.runs, "runs", 3, "runs per figure; the table shows the median")
	flag.IntVar(&cfg.rtts, "rtts", 20000, "round trips per latency figure")
	flag.IntVar(&cfg.conns, "conns", 10000, "idle connections for workload 4")
	flag.StringVar(&only, "only", "", "comma-separated workloads to run, e.g. 1,3 (default: all)")
	flag.StringVar(&cfg.md, "md", "", "also write the table as Markdown to this file")
	flag.IntVar(&cfg.large, "large", 4<<20, "send and receive buffer size of the large-buffer bulk runs")
	flag.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "give up on a measurement after this long")
	flag.StringVar(&cfg.tipyLoop, "tipy-loop", "split", "tipy's in-process pair: split (one loop per stack) or shared (one loop for both)")
	var systems string
	flag.StringVar(&systems, "systems", "", "comma-separated systems to measure: tipy, gVisor, kernel (default: all)")
	flag.StringVar(&cfg.cpuProf, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.StringVar(&cfg.memProf, "memprofile", "", "write an allocation profile to this file at the end")
	flag.StringVar(&cfg.trace, "trace", "", "write an execution trace of the run to this file (go tool trace)")
	flag.Parse()
	n, err := parseSize(size)
	if err != nil {
		fatalf("-size: %v", err)
	}
	cfg.size = n
	cfg.only = map[int]bool{}
	for _, f := range strings.Split(only, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		w, err := strconv.Atoi(f)
		if err != nil || w < 1 || w > 5 {
			fatalf("-only: %q is not a workload (1 to 5)", f)
		}
		cfg.only[w] = true
	}
	cfg.systems = map[string]bool{}
	for _, f := range strings.Split(systems, ",") {
		switch f = strings.TrimSpace(f); strings.ToLower(f) {
		case "":
		case "tipy":
			cfg.systems[sysTipy] = true
		case "gvisor":
			cfg.systems[sysGVisor] = true
		case "kernel":
			cfg.systems[sysKernel] = true
		default:
			fatalf("-systems: %q is not tipy, gVisor or kernel", f)
		}
	}
	if cfg.runs < 1 || cfg.rtts < 1 || cfg.conns < 1 {
		fatalf("-runs, -rtts and -conns must be positive")
	}
	if cfg.tipyLoop != "split" && cfg.tipyLoop != "shared" {
		fatalf("-tipy-loop: want split or shared, not %q", cfg.tipyLoop)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sweepNamespaces()
	defer cleanupNamespaces()

	if cfg.cpuProf != "" {
		f, err := os.Create(cfg.cpuProf)
		if err != nil {
			fatalf("-cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("-cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.trace != "" {
		f, err := os.Create(cfg.trace)
		if err != nil {
			fatalf("-trace: %v", err)
		}
		if err := trace.Start(f); err != nil {
			fatalf("-trace: %v", err)
		}
		defer trace.Stop()
	}
	r := &report{cfg: cfg, start: time.Now()}
	for w, run := range []func(context.Context, *report){workload1, workload2, workload3, workload4, workload5} {
		if len(cfg.only) > 0 && !cfg.only[w+1] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		run(ctx, r)
	}
	if cfg.memProf != "" {
		if f, err := os.Create(cfg.memProf); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	r.print(os.Stdout)
	if cfg.md != "" {
		if err := os.WriteFile(cfg.md, []byte(r.markdown()), 0o644); err != nil {
			fatalf("write %s: %v", cfg.md, err)
		}
	}
	if ctx.Err() != nil {
		cleanupNamespaces()
		os.Exit(130)
	}
}

// parseSize reads "256MiB", "64KiB", "1GiB" or a plain number of bytes.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return n * mult, nil
}

func fatalf(format string, args ...any) {
	cleanupNamespaces()
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

// logf reports progress on stderr, so that stdout holds only the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
