package web

import (
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/observe"
)

// replayStore keeps the traces uploaded for playback, parsed.
type replayStore struct {
	mu   sync.Mutex
	next int
	all  map[string]*replay
}

type replay struct {
	info   ReplayJSON
	events []observe.Event
}

// ReplayJSON describes an uploaded trace.
type ReplayJSON struct {
	ID      string              `json:"id"`
	Name    string              `json:"name,omitempty"`
	Header  observe.TraceHeader `json:"header"`
	Events  int                 `json:"events"`
	Frames  int                 `json:"frames"`   // events that carry a frame
	FirstNS int64               `json:"first_ns"` // time of the first event
	LastNS  int64               `json:"last_ns"`  // time of the last event
	Gaps    int                 `json:"gaps"`     // gap events: the trace is incomplete
	// Skipped counts lines that were not events and were left out.
	Skipped int `json:"skipped,omitempty"`
}

func newReplayStore() *replayStore { return &replayStore{all: map[string]*replay{}} }

// AddReplay parses a trace and keeps it for playback under a new id. Lines
// that are not events are skipped and counted; a trace cut short in its last
// line keeps the events before it.
func (s *Server) AddReplay(name string, trace io.Reader) (ReplayJSON, error) {
	tr, err := observe.NewReader(trace)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ReplayJSON{}, apiError(mbe)
	}
	if err != nil {
		return ReplayJSON{}, badRequest("%v", err)
	}
	rp := &replay{info: ReplayJSON{Name: name, Header: tr.Header()}}
	for {
		e, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var te *observe.TraceError
		if errors.As(err, &te) {
			if errors.Is(err, observe.ErrTruncatedLine) {
				rp.info.Skipped++
				break
			}
			rp.info.Skipped++
			continue
		}
		if err != nil {
			return ReplayJSON{}, apiError(err)
		}
		if len(rp.events) == 0 {
			rp.info.FirstNS = e.TimeNS
		}
		rp.info.LastNS = e.TimeNS
		if len(e.Frame) > 0 {
			rp.info.Frames++
		}
		if e.Kind == observe.KindGap {
			rp.info.Gaps++
		}
		rp.events = append(rp.events, e)
	}
	rp.info.Events = len(rp.events)
	st := s.replays
	st.mu.Lock()
	st.next++
	rp.info.ID = strconv.Itoa(st.next)
	st.all[rp.info.ID] = rp
	st.mu.Unlock()
	return rp.info, nil
}

func (s *Server) uploadReplay(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	info, err := s.AddReplay(r.URL.Query().Get("name"), r.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, info)
	return nil
}

func (s *Server) listReplays(w http.ResponseWriter, _ *http.Request) error {
	st := s.replays
	st.mu.Lock()
	out := make([]ReplayJSON, 0, len(st.all))
	for _, rp := range st.all {
		out = append(out, rp.info)
	}
	st.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return idLess(out[i].ID, out[j].ID) })
	writeJSON(w, http.StatusOK, map[string]any{"replays": out})
	return nil
}

func (s *Server) replay(r *http.Request) (*replay, error) {
	id := chi.URLParam(r, "id")
	s.replays.mu.Lock()
	defer s.replays.mu.Unlock()
	rp, ok := s.replays.all[id]
	if !ok {
		return nil, notFound("no replay %q", id)
	}
	return rp, nil
}

func (s *Server) getReplay(w http.ResponseWriter, r *http.Request) error {
	rp, err := s.replay(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rp.info)
	return nil
}

// replayEvents serves a page of a replay's events: ?offset=N (from 0) and
// ?limit=M (default 1000, at most 10000).
func (s *Server) replayEvents(w http.ResponseWriter, r *http.Request) error {
	rp, err := s.replay(r)
	if err != nil {
		return err
	}
	offset, err := queryInt(r, "offset", 0, 0, len(rp.events))
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 1000, 1, 10000)
	if err != nil {
		return err
	}
	end := min(offset+limit, len(rp.events))
	writeJSON(w, http.StatusOK, map[string]any{"offset": offset, "total": len(rp.events), "events": rp.events[offset:end]})
	return nil
}

// queryInt reads an integer query parameter within [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	q := r.URL.Query().Get(name)
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s=%q must be a whole number in [%d, %d]", name, q, lo, hi)
	}
	return n, nil
}
