package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/tap"
)

// LabControl is what the API needs of the virtual lab: its clock and its
// links. The lab implements it; NewVirtualLab is a ready implementation for
// a lab on one clock.Virtual. Its methods are called from HTTP handler
// goroutines.
type LabControl interface {
	Pause()
	Resume()
	// Step runs one event of the paused lab.
	Step()
	// SetSpeed sets virtual seconds per real second; 0 runs as fast as
	// possible.
	SetSpeed(factor float64) error
	// State returns the clock, the seed and the links.
	State() LabState
	// SetImpairment sets what link does to frames in the given directions
	// ("in": from its host into the network, "out": towards its host). It
	// returns an error wrapping ErrUnknownLink for a link it does not have.
	SetImpairment(link string, dirs []tap.Direction, imp tap.Impairment) (LinkState, error)
}

// ErrUnknownLink: the lab has no link of that name.
var ErrUnknownLink = errors.New("unknown link")

// LabState is the state of the lab, GET /lab.
type LabState struct {
	Paused bool    `json:"paused"`
	Speed  float64 `json:"speed"`  // virtual seconds per real second; 0: as fast as possible
	NowNS  int64   `json:"now_ns"` // virtual time
	Now    string  `json:"now"`    // virtual time for people, "12.345678s"
	Seed   uint64  `json:"seed"`
	// Executed counts the loop events run so far: one Step adds exactly
	// one, however many observer events that loop event publishes.
	Executed uint64      `json:"executed"`
	Links    []LinkState `json:"links"`
}

// LinkState is one link of the lab: its impairments and counters.
type LinkState struct {
	Name  string         `json:"name"`
	In    string         `json:"in"`  // impairment towards the network, as a spec ("none", "loss=1%")
	Out   string         `json:"out"` // impairment towards the host
	Stats *tap.PortStats `json:"stats,omitempty"`
}

// VirtualLab is a LabControl for switch ports on one clock.Virtual.
type VirtualLab struct {
	loop  *clock.Virtual
	seed  uint64
	ports []*tap.Port
}

// NewVirtualLab returns lab controls for loop and the links of ports (all
// on loop), reporting seed.
func NewVirtualLab(loop *clock.Virtual, seed uint64, ports ...*tap.Port) *VirtualLab {
	return &VirtualLab{loop: loop, seed: seed, ports: ports}
}

// Pause stops the clock.
func (l *VirtualLab) Pause() { l.loop.Pause() }

// Resume restarts the clock.
func (l *VirtualLab) Resume() { l.loop.Resume() }

// Step runs one event of the paused clock and waits (up to a second) until
// it has run, so the state that follows shows it. With no event armed there
// is nothing to run, and Step returns at once.
func (l *VirtualLab) Step() {
	before := l.loop.Executed()
	l.loop.StepOnce()
	for deadline := time.Now().Add(time.Second); l.loop.Executed() == before && time.Now().Before(deadline); {
		if !l.loop.HasEvents() {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// SetSpeed sets the clock's speed.
func (l *VirtualLab) SetSpeed(f float64) error {
	if math.IsNaN(f) || f < 0 {
		return fmt.Errorf("speed %v must be 0 or more", f)
	}
	l.loop.SetSpeed(f)
	return nil
}

// State returns the clock and links.
func (l *VirtualLab) State() LabState {
	now := l.loop.Now()
	st := LabState{Paused: l.loop.Paused(), Speed: l.loop.Speed(), NowNS: int64(now), Now: now.String(), Seed: l.seed, Executed: l.loop.Executed(), Links: []LinkState{}}
	l.loop.Call(func() {
		for _, p := range l.ports {
			st.Links = append(st.Links, portState(p))
		}
	})
	return st
}

func portState(p *tap.Port) LinkState {
	ps := p.Stats()
	return LinkState{Name: p.Name(), In: p.Impairment(tap.In).String(), Out: p.Impairment(tap.Out).String(), Stats: &ps}
}

// SetImpairment sets a port's impairment. link is the port's full name
// ("lan/tipy") or, when no other port shares it, its name on the switch
// ("tipy").
func (l *VirtualLab) SetImpairment(link string, dirs []tap.Direction, imp tap.Impairment) (LinkState, error) {
	var p *tap.Port
	for _, q := range l.ports {
		if q.Name() == link {
			p = q
			break
		}
	}
	if p == nil {
		for _, q := range l.ports {
			if _, short, _ := strings.Cut(q.Name(), "/"); short == link {
				if p != nil {
					return LinkState{}, fmt.Errorf("link %q is ambiguous: give the full name: %w", link, ErrUnknownLink)
				}
				p = q
			}
		}
	}
	if p == nil {
		return LinkState{}, fmt.Errorf("no link named %q: %w", link, ErrUnknownLink)
	}
	var st LinkState
	var err error
	l.loop.Call(func() {
		for _, d := range dirs {
			if err = p.SetImpairment(d, imp); err != nil {
				return
			}
		}
		st = portState(p)
	})
	return st, err
}

// lab returns the lab controls, or the 404 of a server without a lab.
func (s *Server) lab() (LabControl, error) {
	if s.cfg.Lab == nil {
		return nil, notFound("lab controls exist only in lab mode; this server runs in %s mode", s.cfg.Mode)
	}
	return s.cfg.Lab, nil
}

func (s *Server) labState(w http.ResponseWriter, _ *http.Request) error {
	l, err := s.lab()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l.State())
	return nil
}

func (s *Server) labPause(w http.ResponseWriter, r *http.Request) error {
	return s.labDo(w, func(l LabControl) { l.Pause() })
}

func (s *Server) labResume(w http.ResponseWriter, r *http.Request) error {
	return s.labDo(w, func(l LabControl) { l.Resume() })
}

func (s *Server) labStep(w http.ResponseWriter, r *http.Request) error {
	l, err := s.lab()
	if err != nil {
		return err
	}
	if !l.State().Paused {
		return conflict("the lab is running; pause it before stepping")
	}
	return s.labDo(w, func(l LabControl) { l.Step() })
}

func (s *Server) labDo(w http.ResponseWriter, f func(LabControl)) error {
	l, err := s.lab()
	if err != nil {
		return err
	}
	f(l)
	writeJSON(w, http.StatusOK, l.State())
	return nil
}

func (s *Server) labSpeed(w http.ResponseWriter, r *http.Request) error {
	l, err := s.lab()
	if err != nil {
		return err
	}
	var req struct {
		Factor *float64 `json:"factor"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Factor == nil {
		return badRequest("factor is required: virtual seconds per real second, 0 for as fast as possible")
	}
	if err := l.SetSpeed(*req.Factor); err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusOK, l.State())
	return nil
}

// impairRequest is the body of PUT /lab/links/{link}/impairment: a spec in
// the command-line form, or fields.
type impairRequest struct {
	Direction      string   `json:"direction"` // "both" (default), "in", "out"
	Spec           *string  `json:"spec"`
	RateBPS        *uint64  `json:"rate_bps"`
	QueueBytes     *int     `json:"queue_bytes"`
	Loss           *float64 `json:"loss"` // fractions: 0.01 is 1%
	DelayMS        *float64 `json:"delay_ms"`
	JitterMS       *float64 `json:"jitter_ms"`
	Reorder        *float64 `json:"reorder"`
	ReorderDelayMS *float64 `json:"reorder_delay_ms"`
	Dup            *float64 `json:"dup"`
	Corrupt        *float64 `json:"corrupt"`
	CorruptBits    *int     `json:"corrupt_bits"`
	Burst          *struct {
		P        float64 `json:"p"`
		R        float64 `json:"r"`
		LossBad  float64 `json:"loss_bad"`
		LossGood float64 `json:"loss_good"`
	} `json:"burst"`
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func (req *impairRequest) impairment() (tap.Impairment, error) {
	var imp tap.Impairment
	fields := req.RateBPS != nil || req.QueueBytes != nil || req.Loss != nil || req.DelayMS != nil ||
		req.JitterMS != nil || req.Reorder != nil || req.ReorderDelayMS != nil || req.Dup != nil ||
		req.Corrupt != nil || req.CorruptBits != nil || req.Burst != nil
	if req.Spec != nil {
		if fields {
			return imp, badRequest("give the impairment as spec or as fields, not both")
		}
		i, err := tap.ParseImpairment(*req.Spec)
		if err != nil {
			return imp, badRequest("spec: %v", err)
		}
		return i, nil
	}
	set := func(p *float64, dst *float64) {
		if p != nil {
			*dst = *p
		}
	}
	set(req.Loss, &imp.Loss)
	set(req.Reorder, &imp.Reorder)
	set(req.Dup, &imp.Dup)
	set(req.Corrupt, &imp.Corrupt)
	if req.RateBPS != nil {
		imp.Rate = *req.RateBPS
	}
	if req.QueueBytes != nil {
		imp.Queue = *req.QueueBytes
	}
	if req.CorruptBits != nil {
		imp.CorruptBits = *req.CorruptBits
	}
	if req.DelayMS != nil {
		imp.Delay = ms(*req.DelayMS)
	}
	if req.JitterMS != nil {
		imp.Jitter = ms(*req.JitterMS)
	}
	if req.ReorderDelayMS != nil {
		imp.ReorderDelay = ms(*req.ReorderDelayMS)
	}
	if b := req.Burst; b != nil {
		imp.Burst = tap.GilbertElliott{P: b.P, R: b.R, LossBad: b.LossBad, LossGood: b.LossGood}
	}
	if err := imp.Validate(); err != nil {
		return imp, badRequest("%v", err)
	}
	return imp, nil
}

func (s *Server) labImpair(w http.ResponseWriter, r *http.Request) error {
	l, err := s.lab()
	if err != nil {
		return err
	}
	link, err := url.PathUnescape(chi.URLParam(r, "link"))
	if err != nil {
		return badRequest("link name: %v", err)
	}
	var req impairRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	var dirs []tap.Direction
	switch req.Direction {
	case "", "both":
		dirs = []tap.Direction{tap.In, tap.Out}
	case "in":
		dirs = []tap.Direction{tap.In}
	case "out":
		dirs = []tap.Direction{tap.Out}
	default:
		return badRequest("direction %q is not both, in or out", req.Direction)
	}
	imp, err := req.impairment()
	if err != nil {
		return err
	}
	st, err := l.SetImpairment(link, dirs, imp)
	if errors.Is(err, ErrUnknownLink) {
		return notFound("%v", err)
	}
	if err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
