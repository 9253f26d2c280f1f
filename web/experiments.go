package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/lab"
)

// CodeBusy is the error code of POST /experiments while another experiment
// runs: experiments share the lab, so they run one at a time.
const CodeBusy = "busy"

// How many matching events per proof the server keeps while a run goes on,
// and how many events its watcher may queue before it counts a gap.
const (
	proofCandidates = 64
	proofQueue      = 1 << 16
	// proofWatchMax bounds a watcher whose run never reports its end.
	proofWatchMax = 5 * time.Minute
)

// ExperimentJSON is one experiment of GET /experiments: what it shows,
// where to look, the events that prove it, and its last run (null when it
// has not run since the server started).
type ExperimentJSON struct {
	ID      string        `json:"id"`
	Title   string        `json:"title"`
	Topic   string        `json:"topic"`
	Explain string        `json:"explain"`
	Look    []lab.Pointer `json:"look"`
	Proof   []lab.Proof   `json:"proof"`
	LastRun *lab.Run      `json:"last_run"`
}

// runRequest is the body of POST /experiments.
type runRequest struct {
	ID string `json:"id"`
	// Wait makes the call return the finished run, waiting at most
	// TimeoutMS (wall time) or the server's MaxWait, whichever is shorter.
	Wait      bool   `json:"wait"`
	TimeoutMS *int64 `json:"timeout_ms"`
}

// runner returns the lab's experiment runner, or the 404 of a server
// without a lab.
func (s *Server) runner() (*lab.Runner, error) {
	if s.cfg.Experiments == nil {
		return nil, notFound("experiments exist only in lab mode; this server runs in %s mode", s.cfg.Mode)
	}
	return s.cfg.Experiments, nil
}

func experimentJSON(r *lab.Runner, x *lab.Experiment) ExperimentJSON {
	out := ExperimentJSON{ID: x.ID, Title: x.Title, Topic: x.Topic, Explain: x.Explain, Look: x.Look, Proof: x.Proof}
	if out.Look == nil {
		out.Look = []lab.Pointer{}
	}
	if out.Proof == nil {
		out.Proof = []lab.Proof{}
	}
	if run, ok := r.Last(x.ID); ok {
		out.LastRun = runJSON(run)
	}
	return out
}

// runJSON gives a run's lists as [] rather than null.
func runJSON(run lab.Run) *lab.Run {
	if run.Steps == nil {
		run.Steps = []string{}
	}
	if run.Proofs == nil {
		run.Proofs = []lab.ProofResult{}
	}
	return &run
}

func (s *Server) listExperiments(w http.ResponseWriter, _ *http.Request) error {
	r, err := s.runner()
	if err != nil {
		return err
	}
	out := []ExperimentJSON{}
	for _, x := range r.Experiments() {
		out = append(out, experimentJSON(r, x))
	}
	writeJSON(w, http.StatusOK, map[string]any{"experiments": out})
	return nil
}

func (s *Server) getExperiment(w http.ResponseWriter, req *http.Request) error {
	r, err := s.runner()
	if err != nil {
		return err
	}
	x, err := r.Experiment(chi.URLParam(req, "id"))
	if err != nil {
		return notFound("%v (GET /api/v1/experiments lists them)", err)
	}
	writeJSON(w, http.StatusOK, experimentJSON(r, x))
	return nil
}

// startExperiment serves POST /experiments: it starts a run and answers 202
// with it, or, with "wait": true, 201 with the finished run (202 with the
// run as it stands when the wait ends first).
func (s *Server) startExperiment(w http.ResponseWriter, req *http.Request) error {
	r, err := s.runner()
	if err != nil {
		return err
	}
	var body runRequest
	if err := s.decode(w, req, &body); err != nil {
		return err
	}
	if body.ID == "" {
		return badRequest("id is required: the experiment to run (GET /api/v1/experiments lists them)")
	}
	wait := s.cfg.MaxWait
	if body.TimeoutMS != nil {
		if *body.TimeoutMS < 0 {
			return badRequest("timeout_ms %d must be 0 or more", *body.TimeoutMS)
		}
		if !body.Wait {
			return badRequest("timeout_ms applies only with \"wait\": true")
		}
		wait = min(wait, time.Duration(*body.TimeoutMS)*time.Millisecond)
	}
	if _, err := r.Experiment(body.ID); err != nil {
		return notFound("%v (GET /api/v1/experiments lists them)", err)
	}
	// Watch the bus from before the start, so that the events proving the
	// run are kept for the dashboard even after the ring has moved on.
	var sub *observe.Subscription
	if s.cfg.Bus != nil {
		sub = s.cfg.Bus.Subscribe(observe.Filter{}, proofQueue)
	}
	run, err := r.Start(body.ID)
	if err != nil {
		if sub != nil {
			sub.Close()
		}
		switch {
		case errors.Is(err, lab.ErrBusy):
			return errorf(http.StatusConflict, CodeBusy, "%v: wait for it to finish (GET /api/v1/experiments shows its status)", err)
		case errors.Is(err, lab.ErrUnknownExperiment):
			return notFound("%v", err)
		}
		return err
	}
	if sub != nil {
		go s.keepProofEvents(r, run, sub)
	}
	w.Header().Set("Location", "/api/v1/experiments/"+body.ID)
	if !body.Wait {
		writeJSON(w, http.StatusAccepted, runJSON(run))
		return nil
	}
	ctx, cancel := context.WithTimeout(req.Context(), wait)
	defer cancel()
	done, err := r.Wait(ctx, body.ID, run.ID)
	if err != nil {
		if req.Context().Err() != nil {
			return nil // the client went away
		}
		if ctx.Err() == nil {
			return err
		}
		// Still running when the wait ended: say so, with what it did so far.
		if cur, ok := r.Last(body.ID); ok && cur.ID == run.ID {
			run = cur
		}
		writeJSON(w, http.StatusAccepted, runJSON(run))
		return nil
	}
	writeJSON(w, http.StatusCreated, runJSON(done))
	return nil
}

// proofEvents keeps, per experiment, the events that proved its last run
// (by seq), so that the dashboard can show them however many events came
// after: the bus's ring and the frame store only hold the latest ones.
type proofEvents struct {
	mu    sync.Mutex
	byExp map[string]map[uint64]observe.Event
}

func (p *proofEvents) set(exp string, evs map[uint64]observe.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byExp == nil {
		p.byExp = map[string]map[uint64]observe.Event{}
	}
	p.byExp[exp] = evs
}

func (p *proofEvents) get(seq uint64) (observe.Event, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, evs := range p.byExp {
		if e, ok := evs[seq]; ok {
			return e, true
		}
	}
	return observe.Event{}, false
}

// keepProofEvents watches the bus during run: it keeps the first events
// that match each proof until the run's end marker, then keeps only those
// the runner reported (their seqs are in its proof results). Frames among
// them go to the frame store too, for GET /frames/{seq}.
func (s *Server) keepProofEvents(r *lab.Runner, run lab.Run, sub *observe.Subscription) {
	defer sub.Close()
	ctx, cancel := context.WithTimeout(s.ctx, proofWatchMax)
	defer cancel()
	kept := map[uint64]observe.Event{}
	counts := make([]int, len(run.Proofs))
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			return // the server closes, or the run never ended
		}
		if e.Kind == observe.KindGap {
			continue
		}
		for i := range run.Proofs {
			if counts[i] < proofCandidates && run.Proofs[i].Proof.Match(&e) {
				counts[i]++
				kept[e.Seq] = e
			}
		}
		if isRunEnd(&e, run) {
			break
		}
	}
	sub.Close()
	final, err := r.Wait(ctx, run.Experiment, run.ID)
	if err != nil {
		return
	}
	proved := map[uint64]observe.Event{}
	for _, p := range final.Proofs {
		for _, seq := range p.Seqs {
			if e, ok := kept[seq]; ok {
				proved[seq] = e
				if len(e.Frame) > 0 {
					s.frames.put(e)
				}
			}
		}
	}
	s.proofs.set(run.Experiment, proved)
}

// isRunEnd reports whether e is the runner's marker that run has finished.
func isRunEnd(e *observe.Event, run lab.Run) bool {
	return e.Layer == observe.LayerLab && e.Fields["end"] == true && e.Fields["run"] == any(run.ID) && e.Fields["experiment"] == any(run.Experiment)
}

// maxEventLookups bounds the seqs of one GET /ui/events.
const maxEventLookups = 256

// eventsBySeq serves GET /ui/events?seqs=1,2,3: events the dashboard points
// at (an experiment's proofs), without their frame bytes. They come from
// the proofs kept of each experiment's last run, the frame store, or the
// bus's ring; events kept nowhere any more are left out.
func (s *Server) eventsBySeq(w http.ResponseWriter, r *http.Request) error {
	raw := r.URL.Query().Get("seqs")
	out := map[string]StreamEvent{}
	if raw == "" {
		writeJSON(w, http.StatusOK, map[string]any{"events": out})
		return nil
	}
	parts := strings.Split(raw, ",")
	if len(parts) > maxEventLookups {
		return badRequest("at most %d seqs at a time, not %d", maxEventLookups, len(parts))
	}
	var missing []uint64
	for _, p := range parts {
		seq, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil || seq == 0 {
			return badRequest("seqs: %q is not an event sequence number", p)
		}
		e, ok := s.proofs.get(seq)
		if !ok {
			e, ok = s.frames.get(seq)
		}
		if ok {
			out[strconv.FormatUint(seq, 10)] = streamEvent(e)
		} else {
			missing = append(missing, seq)
		}
	}
	if len(missing) > 0 && s.cfg.Bus != nil {
		for _, e := range ringEvents(s.cfg.Bus, missing) {
			out[strconv.FormatUint(e.Seq, 10)] = streamEvent(e)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

// ringSpan is the widest range of seqs ringEvents reads from the ring at once.
const ringSpan = 4096

// ringEvents returns the events with the given seqs that the bus's ring
// still holds, reading at most ringSpan events from the lowest one.
func ringEvents(b *observe.Bus, seqs []uint64) []observe.Event {
	lo := seqs[0]
	want := map[uint64]bool{}
	for _, s := range seqs {
		lo = min(lo, s)
		want[s] = true
	}
	if st := b.Stats(); lo < st.Oldest {
		lo = st.Oldest
	}
	if lo == 0 {
		return nil
	}
	sub, ok := b.SubscribeSince(lo-1, observe.Filter{}, ringSpan)
	defer sub.Close()
	if !ok {
		return nil
	}
	buf := make([]observe.Event, ringSpan)
	n := sub.TryNextN(buf)
	var out []observe.Event
	for _, e := range buf[:n] {
		if e.Kind != observe.KindGap && e.Kind != observe.KindReset && want[e.Seq] {
			out = append(out, e)
		}
	}
	return out
}
