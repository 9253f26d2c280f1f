package lab

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
)

// runExperiment runs experiment id on a fresh built-in lab whose clock runs
// at speed and returns its run.
func runExperiment(t *testing.T, id string, speed float64) Run {
	t.Helper()
	r := startLab(t, speed)
	run, err := r.Start(id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err = r.Wait(ctx, id, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// startLab starts a built-in lab with seed 1 at speed, closed when the test
// ends, and returns a runner of its experiments.
func startLab(t *testing.T, speed float64) *Runner {
	t.Helper()
	bus := observe.NewBus(observe.BusOptions{})
	n, err := Builtin(Options{Seed: 1, Bus: bus, Speed: speed})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return NewRunner(n, bus, All())
}

// TestExperiments runs every experiment of the lab and checks that each saw
// the events that prove its mechanism. TIPY_EXPERIMENT=id runs one.
func TestExperiments(t *testing.T) {
	only := os.Getenv("TIPY_EXPERIMENT")
	for _, x := range All() {
		if only != "" && x.ID != only {
			continue
		}
		t.Run(x.ID, func(t *testing.T) {
			t.Parallel()
			run := runExperiment(t, x.ID, 10)
			if run.Status != StatusPassed {
				var b strings.Builder
				for _, p := range run.Proofs {
					b.WriteString("\n  ")
					if p.Passed {
						b.WriteString("seen:     ")
					} else {
						b.WriteString("NOT SEEN: ")
					}
					b.WriteString(p.Text)
				}
				t.Fatalf("%s: %s: %s\nsteps: %q%s", x.ID, run.Status, run.Error, run.Steps, b.String())
			}
		})
	}
}

// TestExperimentCatalogue: every experiment is complete enough for the
// dashboard, and ids are unique.
func TestExperimentCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, x := range All() {
		if x.ID == "" || x.Title == "" || x.Topic == "" || len(x.Explain) < 80 || len(x.Look) == 0 || len(x.Proof) == 0 || x.Run == nil {
			t.Errorf("experiment %q is incomplete: %+v", x.ID, x)
		}
		if seen[x.ID] {
			t.Errorf("experiment id %q twice", x.ID)
		}
		seen[x.ID] = true
		for _, p := range x.Look {
			switch p.Page {
			case "overview", "frames", "arp", "tcp", "sockets", "routes":
			default:
				t.Errorf("%s: pointer to unknown page %q", x.ID, p.Page)
			}
		}
	}
}

// TestRunnerOneAtATime: a second experiment cannot start while one runs,
// and an unknown id is an error.
func TestRunnerOneAtATime(t *testing.T) {
	r := startLab(t, 10)
	if _, err := r.Start("no-such"); err == nil {
		t.Fatal("unknown experiment started")
	}
	run, err := r.Start("arp-queue")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start("arp-queue"); err == nil {
		t.Fatal("second run started while the first runs")
	}
	if _, err := r.Wait(context.Background(), "arp-queue", run.ID); err != nil {
		t.Fatal(err)
	}
}

// TestRunnerCapsSpeed: an experiment started while the clock runs as fast
// as possible runs at MaxRunSpeed, and the speed is put back afterwards.
func TestRunnerCapsSpeed(t *testing.T) {
	r := startLab(t, 10)
	r.net.Loop().SetSpeed(0)
	run, err := r.Start("arp-queue")
	if err != nil {
		t.Fatal(err)
	}
	run, err = r.Wait(context.Background(), "arp-queue", run.ID)
	if err != nil || run.Status != StatusPassed {
		t.Fatalf("%v %+v", err, run)
	}
	if !strings.Contains(strings.Join(run.Steps, "\n"), "runs at 20×") {
		t.Fatalf("steps: %q", run.Steps)
	}
	if sp := r.net.Loop().Speed(); sp != 0 {
		t.Fatalf("speed after the run: %v, want 0 again", sp)
	}
}
