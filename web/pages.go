package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/static"
	"github.com/tipy/tipy/templates"
)

// maxSummaries bounds the frames of one GET /ui/frames or POST /ui/dissect.
const maxSummaries = 512

// pageComponents maps each page of the dashboard to its component.
var pageComponents = map[string]func(templates.PageData) templ.Component{
	"overview":    templates.Overview,
	"experiments": templates.Experiments,
	"frames":      templates.Frames,
	"arp":         templates.ARP,
	"tcp":         templates.TCP,
	"sockets":     templates.Sockets,
	"network":     templates.Network,
	"recordings":  templates.Recordings,
}

// pages returns the dashboard's handler: one route per page of
// templates.Nav, the embedded assets under /static/, and three helpers of
// the pages under /ui/ (frame summaries for the live list, dissection of
// replayed frames, events by seq for the rows an experiment points at). The
// API's router sends it what the API does not route, so the token check
// applies to it too; what the dashboard does not route either gets the
// API's JSON errors.
func (s *Server) pages(notFound, notAllowed http.HandlerFunc) http.HandlerFunc {
	r := chi.NewRouter()
	r.NotFound(notFound)
	r.MethodNotAllowed(notAllowed)
	for _, n := range templates.Nav {
		page := pageComponents[n.Page]
		name := n.Page
		r.Get(n.Path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			templ.Handler(page(s.pageData(name))).ServeHTTP(w, r)
		})
	}
	assets := http.StripPrefix("/static/", http.FileServerFS(static.Dist()))
	r.Get("/static/*", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		assets.ServeHTTP(w, r)
	})
	r.Get("/ui/frames", s.h(s.frameSummaries))
	r.Post("/ui/dissect", s.h(s.dissectFrames))
	r.Get("/ui/events", s.h(s.eventsBySeq))
	return r.ServeHTTP
}

// pageData is what a page's script starts from.
func (s *Server) pageData(page string) templates.PageData {
	d := templates.PageData{Page: page, Mode: s.cfg.Mode, Seed: s.cfg.Seed, Live: s.cfg.Bus != nil, Hosts: []string{}}
	for _, h := range s.cfg.Hosts {
		d.Hosts = append(d.Hosts, h.Name())
	}
	for _, h := range s.cfg.HostInfo {
		d.Hosts = append(d.Hosts, h.Name)
	}
	return d
}

// FrameSummary is one row of the frame list: the columns the dissector
// finds in a frame's bytes.
type FrameSummary struct {
	Seq         uint64 `json:"seq,omitempty"`
	Length      int    `json:"length"`
	Protocol    string `json:"protocol"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Info        string `json:"info"`
	// Dissection is the full tree (POST /ui/dissect only).
	Dissection *wire.Dissection `json:"dissection,omitempty"`
}

func summarize(frame []byte, full bool) FrameSummary {
	d := wire.Dissect(frame)
	fs := FrameSummary{Length: len(frame), Protocol: d.Protocol, Source: d.Source, Destination: d.Destination, Info: d.Info}
	if full {
		fs.Dissection = &d
	}
	return fs
}

// frameSummaries serves GET /ui/frames?seqs=1,2,3: the list columns of
// frames the event stream announced (has_frame), by seq. Frames no longer
// kept are left out.
func (s *Server) frameSummaries(w http.ResponseWriter, r *http.Request) error {
	raw := r.URL.Query().Get("seqs")
	out := map[string]FrameSummary{}
	if raw == "" {
		writeJSON(w, http.StatusOK, map[string]any{"frames": out})
		return nil
	}
	parts := strings.Split(raw, ",")
	if len(parts) > maxSummaries {
		return badRequest("at most %d seqs at a time, not %d", maxSummaries, len(parts))
	}
	for _, p := range parts {
		seq, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return badRequest("seqs: %q is not an event sequence number", p)
		}
		if e, ok := s.frames.get(seq); ok {
			fs := summarize(e.Frame, false)
			fs.Seq = seq
			out[strconv.FormatUint(seq, 10)] = fs
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"frames": out})
	return nil
}

// dissectRequest is the body of POST /ui/dissect.
type dissectRequest struct {
	Frames [][]byte `json:"frames"` // base64 in JSON
}

// dissectFrames serves POST /ui/dissect: the dissection of frames a page
// holds itself (a replayed trace carries its frames' bytes).
func (s *Server) dissectFrames(w http.ResponseWriter, r *http.Request) error {
	var req dissectRequest
	if err := decodeJSON(w, r, s.cfg.MaxUpload, &req); err != nil {
		return err
	}
	if len(req.Frames) > maxSummaries {
		return badRequest("at most %d frames at a time, not %d", maxSummaries, len(req.Frames))
	}
	out := make([]FrameSummary, len(req.Frames))
	for i, f := range req.Frames {
		out[i] = summarize(f, true)
	}
	writeJSON(w, http.StatusOK, map[string]any{"frames": out})
	return nil
}
