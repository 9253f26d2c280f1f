package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// world is what tipyweb runs: the hosts, their loop and the bus they publish to.
type world struct {
	mode   string
	seed   uint64
	bus    *observe.Bus
	stacks []*stack.Stack
	run    func(ctx context.Context) error // drives the loop
}

func (w *world) hostInfo() []observe.HostInfo {
	var out []observe.HostInfo
	for _, s := range w.stacks {
		c := s.Config()
		h := observe.HostInfo{Name: c.Name, MAC: c.MAC.String(), Addresses: []string{c.Addr.String()}, MTU: s.MTU(), Link: s.Link().Name()}
		if c.Gateway.IsValid() {
			h.Gateway = c.Gateway.String()
		}
		out = append(out, h)
	}
	return out
}

// startServices starts the built-in servers: on host tipy those of
// --services, and in the lab every service on host peer.
func (w *world) startServices(o *options, stderr io.Writer) error {
	for _, s := range w.stacks {
		names := o.services
		if w.mode == "lab" && s.Name() == "peer" {
			names = services.Names
		}
		if len(names) == 0 {
			continue
		}
		var set *services.Set
		var err error
		s.Call(func() { set, err = services.Start(s.Loop().Now(), s, names) })
		if err != nil {
			return fmt.Errorf("host %s: %w", s.Name(), err)
		}
		for _, r := range set.Running {
			fmt.Fprintf(stderr, "tipyweb: %s serves %s\n", s.Name(), r)
		}
		for _, u := range set.Unavailable {
			fmt.Fprintf(stderr, "tipyweb: %s: %s\n", s.Name(), u)
		}
	}
	return nil
}

// stableMAC derives a locally administered unicast MAC from a host name, so a
// host keeps its MAC from one run to the next.
func stableMAC(name string) wire.MAC {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	return wire.MAC{0x02, 0x74, byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
}

// newLab builds the embedded lab: hosts on one virtual switch, on one virtual
// loop paced at real time.
func newLab(o *options, bus *observe.Bus) (*world, error) {
	loop := clock.NewVirtual()
	loop.SetSpeed(1)
	sw := tap.NewSwitch(loop, "lan", bus, o.seed)
	w := &world{mode: "lab", seed: o.seed, bus: bus, run: loop.Run}
	gw := netip.MustParseAddr("192.168.2.1")
	for _, h := range []struct {
		name string
		addr string
	}{{o.name, "192.168.2.7/24"}, {"peer", "192.168.2.20/24"}} {
		cfg := stack.Config{Name: h.name, MAC: stableMAC(h.name), Addr: netip.MustParsePrefix(h.addr), Gateway: gw, MTU: o.mtu, Seed: o.seed}
		port := sw.AddPort(h.name, cfg.MAC, o.mtu)
		if h.name == o.name && o.impair != "" {
			imp, err := tap.ParseImpairment(o.impair)
			if err != nil {
				return nil, usageError{fmt.Errorf("--impair: %w", err)}
			}
			if err := port.SetImpairmentBoth(imp); err != nil {
				return nil, usageError{fmt.Errorf("--impair: %w", err)}
			}
		}
		s, err := stack.New(cfg, port, loop, bus)
		if err != nil {
			return nil, err
		}
		w.stacks = append(w.stacks, s)
	}
	return w, nil
}

// newTAPHost attaches host tipy to a real TAP device on wall-clock time.
func newTAPHost(o *options, bus *observe.Bus) (*world, error) {
	if o.impair != "" {
		return nil, usageError{errors.New("--impair applies to the lab's virtual links; on a TAP device use tc netem on the kernel side")}
	}
	loop := clock.NewWall()
	mac := o.mac
	if mac == (wire.MAC{}) {
		mac = stableMAC(o.name)
	}
	dev, err := tap.OpenTAP(o.tapName, loop, tap.TAPConfig{MAC: mac, MTU: o.mtu, Up: true})
	if err != nil {
		return nil, err
	}
	cfg := stack.Config{Name: o.name, MAC: mac, Addr: o.ip, Gateway: o.gateway, MTU: o.mtu, Seed: o.seed}
	s, err := stack.New(cfg, dev, loop, bus)
	if err != nil {
		dev.Close()
		return nil, err
	}
	return &world{mode: "tap", seed: o.seed, bus: bus, stacks: []*stack.Stack{s}, run: loop.Run}, nil
}

func serve(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	bus := observe.NewBus(observe.BusOptions{})
	var w *world
	var err error
	if o.tapName != "" {
		w, err = newTAPHost(o, bus)
	} else {
		w, err = newLab(o, bus)
	}
	if err != nil {
		return err
	}
	if o.record != "" {
		f, err := os.Create(o.record)
		if err != nil {
			return fmt.Errorf("--record: %w", err)
		}
		rec, err := observe.NewRecorder(bus, f, observe.TraceHeader{Format: observe.TraceFormat, Version: observe.TraceVersion, Seed: w.seed, Hosts: w.hostInfo(), Mode: w.mode}, observe.Filter{})
		if err != nil {
			f.Close()
			return err
		}
		defer func() {
			rec.Close()
			f.Close()
		}()
	}
	if err := w.startServices(o, stderr); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !o.quiet {
		go logEvents(runCtx, bus, stderr)
	}
	go w.run(runCtx)
	return listenAndServe(ctx, o.listen, apiRouter(w.mode, w.seed, w.hostInfo()), stdout)
}

func listenAndServe(ctx context.Context, addr string, h http.Handler, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "tipyweb: serving on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// apiRouter serves the parts of the REST API of ../shared/contracts.md that
// exist so far.
func apiRouter(mode string, seed uint64, hosts []observe.HostInfo) http.Handler {
	r := chi.NewRouter()
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})
		r.Get("/hosts", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"mode": mode, "seed": seed, "hosts": hosts})
		})
	})
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// logEvents writes one line per event to w until ctx ends: what happened,
// where, and why. Samples (cwnd, RTT) are left out: the dashboard graphs them.
func logEvents(ctx context.Context, bus *observe.Bus, w io.Writer) {
	f := observe.Filter{Kinds: []observe.Kind{observe.KindRX, observe.KindTX, observe.KindDrop, observe.KindState,
		observe.KindCache, observe.KindRoute, observe.KindError, observe.KindImpair, observe.KindGap, observe.KindInfo}}
	sub := bus.Subscribe(f, 4096)
	defer sub.Close()
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			return
		}
		line := fmt.Sprintf("%s %-6s %-5s %-5s %s", clock.Time(e.TimeNS), e.Host, e.Layer, e.Kind, e.Summary)
		if e.Kind == observe.KindDrop && e.Explain != "" {
			line += " — " + e.Explain
		}
		fmt.Fprintln(w, line)
	}
}

// replay loads a trace file and reports what it holds.
func replay(path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := observe.NewReader(f)
	if err != nil {
		return fmt.Errorf("replay %s: %w", path, err)
	}
	h := r.Header()
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("replay %s: %w", path, err)
		}
		n++
	}
	fmt.Fprintf(stdout, "trace %s: %s mode, seed %d, %d hosts, %d events\n", path, h.Mode, h.Seed, len(h.Hosts), n)
	return nil
}
