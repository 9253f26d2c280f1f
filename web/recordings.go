package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/tap"
)

// recordings are the traces recorded through the API, each in a file of
// its own.
type recordings struct {
	dir  string
	mu   sync.Mutex
	next int
	recs map[string]*recording
}

type recording struct {
	id      string
	note    string
	filter  observe.Filter
	started time.Time
	path    string

	mu      sync.Mutex
	f       *os.File
	rec     *observe.Recorder
	stopped time.Time
	count   uint64
	missed  uint64
	err     error
}

// RecordingJSON describes a recording.
type RecordingJSON struct {
	ID      string         `json:"id"`
	Note    string         `json:"note,omitempty"`
	Running bool           `json:"running"`
	Started time.Time      `json:"started"`           // wall clock of the server
	Stopped *time.Time     `json:"stopped,omitempty"` // wall clock of the server
	Events  uint64         `json:"events"`            // events written, gap events included
	Missed  uint64         `json:"missed"`            // events lost because the recorder fell behind
	Bytes   int64          `json:"bytes"`             // size of the trace so far
	Filter  observe.Filter `json:"filter"`
	Error   string         `json:"error,omitempty"` // the first error writing the trace
}

func newRecordings(dir string) *recordings {
	return &recordings{dir: dir, recs: map[string]*recording{}}
}

func (rc *recording) json() RecordingJSON {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	j := RecordingJSON{ID: rc.id, Note: rc.note, Running: rc.rec != nil, Started: rc.started, Filter: rc.filter,
		Events: rc.count, Missed: rc.missed}
	if rc.rec != nil {
		j.Events, j.Missed = rc.rec.Count(), rc.rec.Missed()
	} else {
		st := rc.stopped
		j.Stopped = &st
	}
	if rc.err != nil {
		j.Error = rc.err.Error()
	}
	if fi, err := os.Stat(rc.path); err == nil {
		j.Bytes = fi.Size()
	}
	return j
}

// stop ends the recording; it reports false when it had already ended.
func (rc *recording) stop() (bool, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rec == nil {
		return false, rc.err
	}
	rc.err = rc.rec.Close()
	rc.count, rc.missed = rc.rec.Count(), rc.rec.Missed()
	if err := rc.f.Close(); rc.err == nil {
		rc.err = err
	}
	rc.rec, rc.f = nil, nil
	rc.stopped = time.Now()
	return true, rc.err
}

func (rs *recordings) get(id string) (*recording, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rc, ok := rs.recs[id]
	if !ok {
		return nil, notFound("no recording %q", id)
	}
	return rc, nil
}

func (rs *recordings) closeAll() error {
	rs.mu.Lock()
	all := rs.recs
	rs.recs = map[string]*recording{}
	rs.mu.Unlock()
	var errs []error
	for _, rc := range all {
		rc.stop()
		if err := os.Remove(rc.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type recordRequest struct {
	Note   string `json:"note"`
	Hosts  string `json:"hosts"`  // comma-separated, as the event stream's query
	Layers string `json:"layers"` // comma-separated
	Kinds  string `json:"kinds"`  // comma-separated
	Conn   string `json:"conn"`
}

func (s *Server) startRecording(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Bus == nil {
		return conflict("this server has no live event bus to record (%s mode)", s.cfg.Mode)
	}
	var req recordRequest
	if err := s.decodeOptional(w, r, &req); err != nil {
		return err
	}
	f, err := observe.ParseFilter(req.Hosts, req.Layers, req.Kinds, req.Conn)
	if err != nil {
		return badRequest("filter: %v", err)
	}
	file, err := os.CreateTemp(s.recs.dir, "tipy-recording-*.jsonl")
	if err != nil {
		return fmt.Errorf("create the recording file: %w", err)
	}
	h := observe.TraceHeader{Seed: s.cfg.Seed, Hosts: s.HostInfo(), Mode: s.cfg.Mode, Note: req.Note}
	rec, err := observe.NewRecorder(s.cfg.Bus, file, h, f)
	if err != nil {
		file.Close()
		os.Remove(file.Name())
		return fmt.Errorf("start recording: %w", err)
	}
	rs := s.recs
	rs.mu.Lock()
	rs.next++
	rc := &recording{id: strconv.Itoa(rs.next), note: req.Note, filter: f, started: time.Now(), path: file.Name(), f: file, rec: rec}
	rs.recs[rc.id] = rc
	rs.mu.Unlock()
	writeJSON(w, http.StatusCreated, rc.json())
	return nil
}

func (s *Server) listRecordings(w http.ResponseWriter, _ *http.Request) error {
	s.recs.mu.Lock()
	all := make([]*recording, 0, len(s.recs.recs))
	for _, rc := range s.recs.recs {
		all = append(all, rc)
	}
	s.recs.mu.Unlock()
	out := make([]RecordingJSON, 0, len(all))
	for _, rc := range all {
		out = append(out, rc.json())
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i].ID, out[j].ID) })
	writeJSON(w, http.StatusOK, map[string]any{"recordings": out})
	return nil
}

// idLess orders numeric ids numerically.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) error {
	rc, err := s.recs.get(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rc.json())
	return nil
}

func (s *Server) stopRecording(w http.ResponseWriter, r *http.Request) error {
	rc, err := s.recs.get(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	stopped, err := rc.stop()
	if !stopped {
		return conflict("recording %s has already stopped", rc.id)
	}
	if err != nil {
		return fmt.Errorf("recording %s: %w", rc.id, err)
	}
	writeJSON(w, http.StatusOK, rc.json())
	return nil
}

func (s *Server) deleteRecording(w http.ResponseWriter, r *http.Request) error {
	rc, err := s.recs.get(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	rc.stop()
	s.recs.mu.Lock()
	delete(s.recs.recs, rc.id)
	s.recs.mu.Unlock()
	if err := os.Remove(rc.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// traceBytes returns the trace as written so far: the whole file of a
// stopped recording; for a running one, up to its last complete line.
func (rc *recording) traceBytes() ([]byte, error) {
	b, err := os.ReadFile(rc.path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	return b, nil
}

func (s *Server) recordingTrace(w http.ResponseWriter, r *http.Request) error {
	rc, err := s.recs.get(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	b, err := rc.traceBytes()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="tipy-recording-%s.jsonl"`, rc.id))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
	return nil
}

func (s *Server) recordingPcapng(w http.ResponseWriter, r *http.Request) error {
	rc, err := s.recs.get(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	b, err := rc.traceBytes()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	n, err := TraceToPcapng(&out, bytes.NewReader(b))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pcapng")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="tipy-recording-%s.pcapng"`, rc.id))
	w.Header().Set("X-Tipy-Packets", strconv.Itoa(n))
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.Write(out.Bytes())
	return nil
}

// TraceToPcapng writes the frames of a trace's events to w as pcapng: one
// interface per host (the host the event is about), timestamped with the
// event's time, the event's summary as the packet comment. It returns the
// number of packets written. A trace that ends in the middle of a line (a
// recording still being written) ends the file there.
func TraceToPcapng(w io.Writer, trace io.Reader) (int, error) {
	tr, err := observe.NewReader(trace)
	if err != nil {
		return 0, badRequest("%v", err)
	}
	first := "tipy"
	if hs := tr.Header().Hosts; len(hs) > 0 {
		first = hs[0].Name
	}
	pw, err := tap.NewPcapngWriter(w, first)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		e, err := tr.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, observe.ErrTruncatedLine) {
			break
		}
		var te *observe.TraceError
		if errors.As(err, &te) {
			continue // a line that is not an event has no frame to write
		}
		if err != nil {
			return n, err
		}
		if len(e.Frame) == 0 {
			continue
		}
		ifc, err := pw.Interface(e.Host)
		if err != nil {
			return n, err
		}
		if err := pw.WritePacketOn(ifc, clock.Time(e.TimeNS), e.Frame, e.Summary); err != nil {
			return n, err
		}
		n++
	}
	return n, pw.Flush()
}
