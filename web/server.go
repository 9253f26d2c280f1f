package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/lab"
)

// Modes of a server.
const (
	ModeLab    = "lab"    // the embedded virtual lab
	ModeTAP    = "tap"    // one host on a real TAP device
	ModeReplay = "replay" // a recorded trace, no live network
)

// Defaults of Config.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultMaxBody      = 1 << 20   // 1 MiB for API requests
	DefaultMaxUpload    = 256 << 20 // 256 MiB for uploaded traces
	DefaultEventQueue   = 4096      // events queued per WebSocket client
	DefaultBatchMax     = 1024      // events in one WebSocket message
	DefaultFrameStore   = 4096      // frames kept for GET /frames/{seq}
	DefaultFrameBytes   = 16 << 20  // bytes of frames kept
	DefaultMaxWait      = time.Minute
	DefaultWriteTimeout = time.Minute
	// MessageInterval is the least time between two WebSocket messages to
	// one client: at most about 60 messages per second.
	MessageInterval = time.Second / 60
)

// Config is what a Server serves.
type Config struct {
	// Hosts are the live stacks, each with its loop. Host names must be
	// unique.
	Hosts []*stack.Stack
	// HostInfo describes hosts without a live stack (replay mode); GET
	// /hosts lists them after Hosts.
	HostInfo []observe.HostInfo
	// Bus is the observer bus of the hosts; nil means no event stream.
	Bus *observe.Bus
	// Lab controls the virtual lab; nil outside the lab (lab routes then
	// answer 404).
	Lab LabControl
	// Experiments runs the lab's experiments; nil outside the lab.
	Experiments *lab.Runner
	// Restart rebuilds the lab (POST /lab/restart); nil: not offered.
	Restart RestartFunc
	// Mode is ModeLab, ModeTAP or ModeReplay; empty means ModeLab when Lab
	// is set, else ModeTAP.
	Mode string
	// Seed is the seed of every random choice, shown by /hosts and /lab
	// and written into trace headers.
	Seed uint64
	// Listen is the address the server listens on (DefaultListen when
	// empty). A non-loopback address requires Token.
	Listen string
	// Token is the API token: "Authorization: Bearer T" or the cookie
	// tipy_token. It is required on every request (except GET
	// /api/v1/health) when Listen is not a loopback address.
	Token string
	// RecordDir is where recordings are written (os.TempDir when empty).
	RecordDir string

	MaxBody      int64         // request body limit; DefaultMaxBody when 0
	MaxUpload    int64         // trace upload limit; DefaultMaxUpload when 0
	EventQueue   int           // queue bound per WebSocket client; DefaultEventQueue when 0
	BatchMax     int           // events per WebSocket message; DefaultBatchMax when 0
	FrameStore   int           // frames kept for GET /frames; DefaultFrameStore when 0
	FrameBytes   int           // bytes of frames kept; DefaultFrameBytes when 0
	MaxWait      time.Duration // longest wait of a blocking call without timeout_ms; DefaultMaxWait when 0
	WriteTimeout time.Duration // a WebSocket write that takes longer ends the stream; DefaultWriteTimeout when 0
}

// ErrTokenRequired: a non-loopback listen address without a token.
var ErrTokenRequired = errors.New("a non-loopback listen address requires a token")

// Server serves the API and the event stream. It is an http.Handler.
type Server struct {
	cfg          Config
	router       *chi.Mux
	hosts        map[string]*stack.Stack
	requireToken bool

	frames  *frameStore
	recs    *recordings
	replays *replayStore
	proofs  proofEvents // the events that proved each experiment's last run

	ctx    context.Context // ends at Close: event streams stop
	cancel context.CancelFunc

	mu      sync.Mutex
	clients map[*eventClient]struct{}
	nextCID uint64
}

// New builds a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeTAP
		if cfg.Lab != nil {
			cfg.Mode = ModeLab
		}
	}
	switch cfg.Mode {
	case ModeLab, ModeTAP, ModeReplay:
	default:
		return nil, fmt.Errorf("web: unknown mode %q (want lab, tap or replay)", cfg.Mode)
	}
	setDefault(&cfg.MaxBody, DefaultMaxBody)
	setDefault(&cfg.MaxUpload, DefaultMaxUpload)
	setDefault(&cfg.EventQueue, DefaultEventQueue)
	setDefault(&cfg.BatchMax, DefaultBatchMax)
	setDefault(&cfg.FrameStore, DefaultFrameStore)
	setDefault(&cfg.FrameBytes, DefaultFrameBytes)
	setDefault(&cfg.MaxWait, DefaultMaxWait)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	loop, err := isLoopbackListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if !loop && cfg.Token == "" {
		return nil, fmt.Errorf("web: listen on %s: %w", cfg.Listen, ErrTokenRequired)
	}
	s := &Server{
		cfg:          cfg,
		hosts:        make(map[string]*stack.Stack),
		requireToken: !loop,
		frames:       newFrameStore(cfg.FrameStore, cfg.FrameBytes),
		recs:         newRecordings(cfg.RecordDir),
		replays:      newReplayStore(),
		clients:      make(map[*eventClient]struct{}),
	}
	for _, h := range cfg.Hosts {
		if _, dup := s.hosts[h.Name()]; dup {
			return nil, fmt.Errorf("web: two hosts are named %q", h.Name())
		}
		s.hosts[h.Name()] = h
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.router = s.routes()
	return s, nil
}

func setDefault[T int | int64 | time.Duration](p *T, d T) {
	if *p <= 0 {
		*p = d
	}
}

// isLoopbackListen reports whether a listen address only accepts loopback
// connections. An empty host ("":8080) listens everywhere.
func isLoopbackListen(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("web: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil // a host name: assume it may be reached from elsewhere
	}
	return a.IsLoopback(), nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Router returns the server's router, for the pages and static assets of
// the dashboard to be added to before the server starts serving. The token
// check applies to everything on it.
func (s *Server) Router() chi.Router { return s.router }

// Mode returns the server's mode.
func (s *Server) Mode() string { return s.cfg.Mode }

// Close ends the event streams, stops running recordings and removes their
// files.
func (s *Server) Close() error {
	s.cancel()
	return s.recs.closeAll()
}

// routes builds the router: the token check, the API under /api/v1 and a
// JSON 404 for the rest of /api.
func (s *Server) routes() *chi.Mux {
	r := chi.NewRouter()
	r.Use(s.authenticate)
	notFoundH := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("no route for %s %s", r.Method, r.URL.Path))
	}
	notAllowedH := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusMethodNotAllowed, CodeNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
	}
	r.NotFound(s.pages(notFoundH, notAllowedH)) // the dashboard (pages.go), outside the API's routes
	r.MethodNotAllowed(notAllowedH)
	r.Route("/api/v1", s.apiRoutes)
	return r
}

// apiRoutes mounts every endpoint of the API. Each one is described in the
// OpenAPI document (openapi.go); a test checks both lists agree.
func (s *Server) apiRoutes(r chi.Router) {
	r.Get("/health", s.h(s.health))
	r.Get("/openapi.json", s.openAPI)
	r.Get("/hosts", s.h(s.listHosts))
	r.Route("/hosts/{host}", func(r chi.Router) {
		r.Get("/", s.h(s.getHost))
		r.Post("/sockets", s.h(s.createSocket))
		r.Get("/sockets", s.h(s.listSockets))
		r.Route("/sockets/{id}", func(r chi.Router) {
			r.Get("/", s.h(s.getSocket))
			r.Delete("/", s.h(s.closeSocket))
			r.Post("/bind", s.h(s.bindSocket))
			r.Post("/connect", s.h(s.connectSocket))
			r.Post("/listen", s.h(s.listenSocket))
			r.Post("/accept", s.h(s.acceptSocket))
			r.Post("/send", s.h(s.sendSocket))
			r.Post("/sendto", s.h(s.sendtoSocket))
			r.Post("/recv", s.h(s.recvSocket))
			r.Post("/recvfrom", s.h(s.recvfromSocket))
			r.Post("/shutdown", s.h(s.shutdownSocket))
			r.Post("/setsockopt", s.h(s.setsockopt))
			r.Post("/getsockopt", s.h(s.getsockopt))
			r.Post("/settimeout", s.h(s.settimeout))
		})
		r.Get("/arp", s.h(s.listARP))
		r.Post("/arp", s.h(s.addARP))
		r.Post("/arp/announce", s.h(s.announceARP))
		r.Delete("/arp/{address}", s.h(s.deleteARP))
		r.Get("/routes", s.h(s.listRoutes))
		r.Post("/routes", s.h(s.addRoute))
		r.Delete("/routes", s.h(s.deleteRoute))
		r.Post("/ping", s.h(s.ping))
		r.Get("/tcp", s.h(s.listTCP))
		r.Get("/stats", s.h(s.stats))
	})
	r.Route("/lab", func(r chi.Router) {
		r.Get("/", s.h(s.labState))
		r.Post("/pause", s.h(s.labPause))
		r.Post("/resume", s.h(s.labResume))
		r.Post("/step", s.h(s.labStep))
		r.Post("/speed", s.h(s.labSpeed))
		r.Post("/restart", s.h(s.labRestart))
		r.Put("/links/{link}/impairment", s.h(s.labImpair))
	})
	r.Get("/experiments", s.h(s.listExperiments))
	r.Post("/experiments", s.h(s.startExperiment))
	r.Get("/experiments/{id}", s.h(s.getExperiment))
	r.Post("/recordings", s.h(s.startRecording))
	r.Get("/recordings", s.h(s.listRecordings))
	r.Get("/recordings/{id}", s.h(s.getRecording))
	r.Post("/recordings/{id}/stop", s.h(s.stopRecording))
	r.Get("/recordings/{id}/trace", s.h(s.recordingTrace))
	r.Get("/recordings/{id}/pcapng", s.h(s.recordingPcapng))
	r.Delete("/recordings/{id}", s.h(s.deleteRecording))
	r.Post("/replays", s.h(s.uploadReplay))
	r.Get("/replays", s.h(s.listReplays))
	r.Get("/replays/{id}", s.h(s.getReplay))
	r.Get("/replays/{id}/events", s.h(s.replayEvents))
	r.Get("/frames/{seq}", s.h(s.getFrame))
	r.Get("/events", s.events)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("no API endpoint %s %s", r.Method, r.URL.Path))
	})
}

// h adapts a handler that returns an error.
func (s *Server) h(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			writeError(w, err)
		}
	}
}

// decode reads a JSON request body under the API's size limit.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSON(w, r, s.cfg.MaxBody, v)
}

// decodeOptional reads a JSON request body that may be empty.
func (s *Server) decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeOptionalJSON(w, r, s.cfg.MaxBody, v)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// host returns the live stack named by the {host} parameter.
func (s *Server) host(r *http.Request) (*stack.Stack, error) {
	name := chi.URLParam(r, "host")
	if h, ok := s.hosts[name]; ok {
		return h, nil
	}
	for _, hi := range s.cfg.HostInfo {
		if hi.Name == name {
			return nil, notFound("host %q has no live stack (%s mode)", name, s.cfg.Mode)
		}
	}
	return nil, notFound("no host named %q", name)
}
