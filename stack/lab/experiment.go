package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/host"
)

// An Experiment is one guided scenario of the lab: it drives the lab's hosts
// through the socket API (and lab controls such as impairments), and names
// the events that prove the mechanism it shows. Running it watches the bus
// and reports, for each Proof, the first event that matched.
type Experiment struct {
	ID      string    // URL-safe name, e.g. "arp-queue"
	Title   string    // e.g. "ARP resolution with queued datagrams"
	Topic   string    // "Ethernet", "ARP", "IPv4", "ICMP", "UDP", "raw", "TCP"
	Explain string    // a few sentences: what happens and why
	Look    []Pointer // where to look while and after it runs
	Proof   []Proof   // events that must appear while it runs
	// Run drives the scenario. It must undo what it changed in the lab
	// (impairments, static ARP entries, routes, sockets) before it returns,
	// and return within a minute of lab time. Log writes one step line.
	Run func(ctx context.Context, env *Env) error `json:"-"`
}

// Pointer is a place in the dashboard to look at: a page with an optional
// event filter, and a sentence saying what to see there.
type Pointer struct {
	Page   string `json:"page"`             // "overview", "frames", "arp", "tcp", "sockets", "routes"
	Host   string `json:"host,omitempty"`   // the host to select on that page
	Layers string `json:"layers,omitempty"` // comma-separated layer filter for the frames page
	Text   string `json:"text"`             // what to see there
}

// Proof is an event an experiment must cause. Each non-empty field must
// match: Host, Layer and Kind exactly, Reason exactly, Summary as a
// substring; Field names a key of the event's Fields that must be present,
// and FieldValue (when set) its value printed with %v.
type Proof struct {
	Text       string        `json:"text"` // what this event proves, in words
	Host       string        `json:"host,omitempty"`
	Layer      observe.Layer `json:"layer,omitempty"`
	Kind       observe.Kind  `json:"kind,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Summary    string        `json:"summary,omitempty"`
	Field      string        `json:"field,omitempty"`
	FieldValue string        `json:"field_value,omitempty"`
	// Count is how many matching events are needed (1 when 0).
	Count int `json:"count,omitempty"`

	tipy string // what host "tipy" is called in this lab
}

// Match reports whether e is an event p asks for.
func (p *Proof) Match(e *observe.Event) bool {
	if p.Host != "" && e.Host != p.Host && !(p.Host == "tipy" && e.Host == p.tipy) || p.Layer != "" && e.Layer != p.Layer || p.Kind != "" && e.Kind != p.Kind {
		return false
	}
	if p.Reason != "" && e.Reason != p.Reason || p.Summary != "" && !strings.Contains(e.Summary, p.Summary) {
		return false
	}
	if p.Field != "" {
		v, ok := e.Fields[p.Field]
		if !ok || p.FieldValue != "" && fmt.Sprint(v) != p.FieldValue {
			return false
		}
	}
	return true
}

// Env is what an experiment runs against.
type Env struct {
	Net *host.Network
	log func(string)
}

// Host returns the lab host called name; it panics on a name the lab does
// not have, which is a bug in the experiment, not a user error.
func (e *Env) Host(name string) *host.Host {
	h := e.Net.Host(name)
	if h == nil {
		panic("lab experiment: no host " + name)
	}
	return h
}

// Logf records one step of the run, shown by the dashboard.
func (e *Env) Logf(format string, args ...any) { e.log(fmt.Sprintf(format, args...)) }

// Sleep waits d of the lab's clock (not the wall clock), or until ctx ends.
func (e *Env) Sleep(ctx context.Context, d time.Duration) error {
	done := make(chan struct{})
	loop := e.Net.Loop()
	var once sync.Once
	loop.Call(func() { loop.Schedule(loop.Now().Add(d), func() { once.Do(func() { close(done) }) }) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// After runs f on the lab's loop d of lab time from now, and waits until
// it has run (or ctx ends). Use it for a check or an action that must
// happen at an exact lab time: between two calls of the experiment's own
// goroutine, the lab's clock runs on by however long the goroutine waited
// for the CPU, times the lab's speed.
func (e *Env) After(ctx context.Context, d time.Duration, f func()) error {
	done := make(chan struct{})
	loop := e.Net.Loop()
	loop.Call(func() {
		loop.Schedule(loop.Now().Add(d), func() {
			f()
			close(done)
		})
	})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status of a run.
const (
	StatusRunning = "running"
	StatusPassed  = "passed" // it ran and every proof was seen
	StatusFailed  = "failed" // it returned an error or a proof was not seen
)

// Run is one run of an experiment.
type Run struct {
	ID         int           `json:"run"`
	Experiment string        `json:"experiment"`
	Status     string        `json:"status"`
	Error      string        `json:"error,omitempty"`
	Steps      []string      `json:"steps"`
	Proofs     []ProofResult `json:"proofs"`
	FirstSeq   uint64        `json:"first_seq"`          // first event of the run
	LastSeq    uint64        `json:"last_seq,omitempty"` // last event seen when it ended
	StartNS    int64         `json:"start_ns"`           // lab clock at the start
	EndNS      int64         `json:"end_ns,omitempty"`   // lab clock at the end
}

// ProofResult says whether a proof was seen, and where.
type ProofResult struct {
	Proof
	Seen   int      `json:"seen"`            // matching events counted
	Seqs   []uint64 `json:"seqs,omitempty"`  // seq of the first matching events (up to Count)
	Event  string   `json:"event,omitempty"` // summary of the first one
	Host   string   `json:"event_host,omitempty"`
	Passed bool     `json:"passed"`
}

// ErrUnknownExperiment: no experiment has that id.
var ErrUnknownExperiment = errors.New("no such experiment")

// ErrBusy: another experiment is running; experiments share the lab, so
// they run one at a time.
var ErrBusy = errors.New("another experiment is running")

// Runner runs the experiments of one lab, one at a time, and keeps the last
// run of each.
type Runner struct {
	net  *host.Network
	bus  *observe.Bus
	exps []*Experiment

	mu      sync.Mutex
	running *Run
	runs    map[string]*Run
	nextID  int
	done    map[int]chan struct{}
}

// NewRunner returns a runner of exps on the lab network n, watching bus
// (which must be n's bus).
func NewRunner(n *host.Network, bus *observe.Bus, exps []*Experiment) *Runner {
	return &Runner{net: n, bus: bus, exps: exps, runs: map[string]*Run{}, done: map[int]chan struct{}{}}
}

// Experiments returns the experiments in their order.
func (r *Runner) Experiments() []*Experiment { return r.exps }

// Experiment returns the experiment called id.
func (r *Runner) Experiment(id string) (*Experiment, error) {
	for _, x := range r.exps {
		if x.ID == id {
			return x, nil
		}
	}
	return nil, fmt.Errorf("experiment %q: %w", id, ErrUnknownExperiment)
}

// Last returns a copy of the last run of experiment id, if any.
func (r *Runner) Last(id string) (Run, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.runs[id]
	if !ok {
		return Run{}, false
	}
	return run.copy(), true
}

func (run *Run) copy() Run {
	c := *run
	c.Steps = slices.Clone(run.Steps)
	c.Proofs = slices.Clone(run.Proofs)
	for i := range c.Proofs {
		c.Proofs[i].Seqs = slices.Clone(run.Proofs[i].Seqs)
	}
	return c
}

// Start starts experiment id in the background and returns its run.
func (r *Runner) Start(id string) (Run, error) {
	x, err := r.Experiment(id)
	if err != nil {
		return Run{}, err
	}
	r.mu.Lock()
	if r.running != nil {
		busy := r.running.Experiment
		r.mu.Unlock()
		return Run{}, fmt.Errorf("%w: %s", ErrBusy, busy)
	}
	r.nextID++
	run := &Run{ID: r.nextID, Experiment: id, Status: StatusRunning, Steps: []string{}}
	for _, p := range x.Proof {
		p.tipy = r.net.Hosts()[0].Name()
		run.Proofs = append(run.Proofs, ProofResult{Proof: p})
	}
	r.running = run
	r.runs[id] = run
	done := make(chan struct{})
	r.done[run.ID] = done
	// Subscribe before anything happens, so no proof can be missed.
	sub := r.bus.Subscribe(observe.Filter{}, 1<<16)
	r.publish(x, "experiment %q started", observe.KindInfo, map[string]any{"experiment": id, "run": run.ID})
	run.StartNS = int64(r.net.Loop().Now())
	c := run.copy()
	r.mu.Unlock()
	go r.run(x, run, sub, done)
	return c, nil
}

// Wait waits for run id to end (or ctx) and returns it.
func (r *Runner) Wait(ctx context.Context, expID string, runID int) (Run, error) {
	r.mu.Lock()
	done := r.done[runID]
	r.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return Run{}, ctx.Err()
		}
	}
	run, ok := r.Last(expID)
	if !ok || run.ID != runID {
		return Run{}, fmt.Errorf("run %d of %q is no longer kept", runID, expID)
	}
	return run, nil
}

func (r *Runner) publish(x *Experiment, format string, kind observe.Kind, fields map[string]any) {
	if !r.bus.Active() {
		return
	}
	r.bus.Publish(observe.Event{TimeNS: int64(r.net.Loop().Now()), Host: "lab", Layer: observe.LayerLab, Kind: kind,
		Summary: fmt.Sprintf(format, x.ID), Explain: x.Title, Fields: fields})
}

func (r *Runner) run(x *Experiment, run *Run, sub *observe.Subscription, done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Match events as they come, so the queue never fills.
	watchDone := make(chan struct{})
	var last uint64
	go func() {
		defer close(watchDone)
		for {
			e, err := sub.Next(context.Background())
			if err != nil {
				return
			}
			r.mu.Lock()
			if run.FirstSeq == 0 {
				run.FirstSeq = e.Seq
			}
			last = e.Seq
			for i := range run.Proofs {
				p := &run.Proofs[i]
				if p.Proof.Match(&e) {
					p.Seen++
					want := max(p.Proof.Count, 1)
					if len(p.Seqs) < want {
						p.Seqs = append(p.Seqs, e.Seq)
					}
					if p.Event == "" {
						p.Event, p.Host = e.Summary, e.Host
					}
					p.Passed = p.Seen >= want
				}
			}
			r.mu.Unlock()
		}
	}()
	env := &Env{Net: r.net, log: func(s string) {
		r.mu.Lock()
		run.Steps = append(run.Steps, s)
		r.mu.Unlock()
		r.publish(x, "experiment %q: "+strings.ReplaceAll(s, "%", "%%"), observe.KindInfo, map[string]any{"experiment": x.ID, "run": run.ID})
	}}
	// Experiments drive the lab from a goroutine of their own, like a
	// user: a clock running as fast as possible would race ahead of them
	// between two calls, so a run caps the speed and puts it back after.
	loop := r.net.Loop()
	if sp := loop.Speed(); sp == 0 || sp > MaxRunSpeed {
		loop.SetSpeed(MaxRunSpeed)
		env.Logf("the lab's clock runs at %v× during the experiment (it was %s)", MaxRunSpeed, speedWords(sp))
		defer func() {
			if loop.Speed() == MaxRunSpeed {
				loop.SetSpeed(sp)
			}
		}()
	}
	err := env.WaitReady(ctx)
	if err == nil {
		err = safeRun(ctx, x, env)
	}
	// Let the events published by the last step reach the watcher: publish
	// a marker and wait until the watcher has seen it.
	r.publish(x, "experiment %q finished", observe.KindInfo, map[string]any{"experiment": x.ID, "run": run.ID, "end": true})
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		seen := last
		r.mu.Unlock()
		if seen >= r.bus.Stats().Published || r.waitTick(deadline) {
			break
		}
	}
	sub.Close()
	<-watchDone
	r.mu.Lock()
	run.LastSeq = last
	run.EndNS = int64(r.net.Loop().Now())
	run.Status = StatusPassed
	if err != nil {
		run.Status, run.Error = StatusFailed, err.Error()
	} else {
		for _, p := range run.Proofs {
			if !p.Passed {
				run.Status = StatusFailed
				run.Error = fmt.Sprintf("not seen: %s", p.Text)
				break
			}
		}
	}
	r.running = nil
	delete(r.done, run.ID)
	r.mu.Unlock()
	close(done)
}

// MaxRunSpeed is the fastest the lab's clock runs while an experiment runs.
const MaxRunSpeed = 20.0

func speedWords(sp float64) string {
	if sp == 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%v×", sp)
}

// waitTick sleeps a little and reports whether deadline has passed.
func (r *Runner) waitTick(deadline <-chan time.Time) bool {
	select {
	case <-deadline:
		return true
	case <-time.After(5 * time.Millisecond):
		return false
	}
}

// safeRun runs x, turning a panic into an error so one broken experiment
// cannot take the lab down.
func safeRun(ctx context.Context, x *Experiment, env *Env) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("experiment %s panicked: %v", x.ID, p)
		}
	}()
	return x.Run(ctx, env)
}
