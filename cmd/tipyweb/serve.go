package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/stack/lab"
	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
	"github.com/tipy/tipy/web"
)

// world is what tipyweb runs: the hosts, their loop and the bus they publish to.
type world struct {
	mode        string
	seed        uint64
	bus         *observe.Bus
	stacks      []*stack.Stack
	run         func(ctx context.Context) error // drives the loop (TAP mode)
	network     *host.Network                   // the lab's network (lab mode)
	served      map[*stack.Stack]*services.Set
	lab         web.LabControl // nil outside the lab
	experiments *lab.Runner    // nil outside the lab
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
	if w.network != nil {
		if err := w.network.Start(); err != nil {
			return err
		}
		for _, h := range w.network.Hosts() {
			if set := h.Services(); set != nil {
				for _, r := range set.Running {
					fmt.Fprintf(stderr, "tipyweb: %s serves %s\n", h.Name(), r)
				}
			}
		}
		return nil
	}
	for _, s := range w.stacks {
		names := o.services
		if len(names) == 0 {
			continue
		}
		var set *services.Set
		var err error
		s.Call(func() { set, err = services.Start(s.Loop().Now(), s, names) })
		if err != nil {
			return fmt.Errorf("host %s: %w", s.Name(), err)
		}
		if w.served == nil {
			w.served = make(map[*stack.Stack]*services.Set)
		}
		w.served[s] = set
		for _, r := range set.Running {
			fmt.Fprintf(stderr, "tipyweb: %s serves %s\n", s.Name(), r)
		}
	}
	return nil
}

// stopServices closes the built-in servers, waiting a little for the http
// server's connections to finish.
func (w *world) stopServices() {
	if w.network != nil {
		w.network.Close()
		return
	}
	for s, set := range w.served {
		s.Call(func() { set.Stop(s.Loop().Now()) })
		if h := set.HTTP(); h != nil {
			select {
			case <-h.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}
}

// stableMAC is the MAC a host gets from its name.
func stableMAC(name string) wire.MAC { return host.StableMAC(name) }

// newLab builds the embedded lab of lab.Builtin (or of the topology file of
// --lab), on one virtual loop paced at real time. Every address lives only
// inside this process.
func newLab(o *options, bus *observe.Bus) (*world, error) {
	opts := lab.Options{Seed: o.seed, Bus: bus, MTU: o.mtu, Name: o.name, Services: o.services, Speed: 1}
	var n *host.Network
	var err error
	if o.lab == "" {
		n, err = lab.Builtin(opts)
	} else {
		n, err = labFromFile(o.lab, opts)
	}
	if err != nil {
		return nil, err
	}
	if o.impair != "" {
		imp, err := tap.ParseImpairment(o.impair)
		if err != nil {
			n.Close()
			return nil, usageError{fmt.Errorf("--impair: %w", err)}
		}
		if err := n.Impair(n.Ports()[0].Name(), imp); err != nil {
			n.Close()
			return nil, usageError{fmt.Errorf("--impair: %w", err)}
		}
	}
	w := &world{mode: "lab", seed: o.seed, bus: bus, stacks: n.Stacks(), network: n}
	w.lab = web.NewVirtualLab(n.Loop(), o.seed, n.Ports()...)
	if o.lab == "" { // the experiments are written for the built-in lab
		w.experiments = lab.NewRunner(n, bus, lab.All())
	}
	return w, nil
}

// labFromFile builds the lab of a topology file (see lab.Topology). A
// file that does not parse is a usage error naming the line.
func labFromFile(path string, opts lab.Options) (*host.Network, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--lab: %w", err)
	}
	defer f.Close()
	t, err := lab.ParseTopology(f)
	if err != nil {
		return nil, usageError{fmt.Errorf("--lab %s: %w", path, err)}
	}
	if opts.MTU == 1500 { // the flag's default: the file's mtu line wins
		opts.MTU = 0
	}
	return t.Build(opts)
}

// newTAPHost attaches host tipy to a real TAP device on wall-clock time.
func newTAPHost(o *options, bus *observe.Bus) (*world, error) {
	var imp tap.Impairment
	if o.impair != "" {
		var err error
		if imp, err = tap.ParseImpairment(o.impair); err != nil {
			return nil, usageError{fmt.Errorf("--impair: %w", err)}
		}
	}
	loop := clock.NewWall()
	mac := o.mac
	if mac == (wire.MAC{}) {
		mac = stableMAC(o.name)
	}
	var dev *tap.TAP
	open := func() error {
		var err error
		dev, err = tap.OpenTAP(o.tapName, loop, tap.TAPConfig{MAC: mac, MTU: o.mtu, Up: true})
		return err
	}
	var err error
	if o.netns != "" {
		err = tap.InNetns(o.netns, open)
	} else {
		err = open()
	}
	if err != nil {
		return nil, err
	}
	var link tap.Link = dev
	if !imp.IsZero() {
		if link, err = tap.NewImpaired(loop, dev, bus, o.seed, imp, imp); err != nil {
			dev.Close()
			return nil, err
		}
	}
	cfg := stack.Config{Name: o.name, MAC: mac, Addr: o.ip, Gateway: o.gateway, MTU: o.mtu, Seed: o.seed}
	s, err := stack.New(cfg, link, loop, bus)
	if err != nil {
		dev.Close()
		return nil, err
	}
	return &world{mode: "tap", seed: o.seed, bus: bus, stacks: []*stack.Stack{s}, run: loop.Run}, nil
}

func serve(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	// In the lab the ring always listens: a page opened late, or a client
	// asking for the events since a restart, finds the recent past.
	bus := observe.NewBus(observe.BusOptions{AlwaysRing: o.tapName == ""})
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
	if o.afterOpen != nil {
		if err := o.afterOpen(); err != nil {
			for _, s := range w.stacks {
				s.Close()
			}
			return err
		}
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
	if w.run != nil {
		go w.run(runCtx)
	}
	token, err := tokenFor(o, stdout)
	if err != nil {
		return err
	}
	c := &current{w: w}
	newServer := func(w *world) (*web.Server, error) {
		cfg := web.Config{Hosts: w.stacks, Bus: bus, Lab: w.lab, Experiments: w.experiments, Mode: w.mode, Seed: w.seed, Listen: o.listen, Token: token}
		if w.network != nil {
			cfg.Restart = func(seed uint64, paused bool) (uint64, error) { return c.restart(o, bus, seed, paused, stderr) }
		}
		return web.New(cfg)
	}
	c.newServer = newServer
	if c.srv, err = newServer(w); err != nil {
		return err
	}
	err = listenAndServe(ctx, o.listen, c, stdout)
	c.close()
	return err
}

// current is the world and server being served. In the lab, POST
// /api/v1/lab/restart replaces both: a new lab from the seed, on the same
// bus (so recordings and the event log go on), and a new server over it.
type current struct {
	restartMu sync.Mutex // one restart at a time
	mu        sync.Mutex
	w         *world
	srv       *web.Server
	newServer func(*world) (*web.Server, error)
}

func (c *current) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	srv := c.srv
	c.mu.Unlock()
	srv.ServeHTTP(rw, r)
}

// restart stops the lab, then builds it anew with seed, paused if asked,
// and swaps it in: the old lab publishes nothing after the new lab's first
// event, whose seq it returns. The old server is closed in the background,
// so the request that asked can still be answered.
func (c *current) restart(o *options, bus *observe.Bus, seed uint64, paused bool, stderr io.Writer) (uint64, error) {
	c.restartMu.Lock()
	defer c.restartMu.Unlock()
	c.mu.Lock()
	oldW := c.w
	c.mu.Unlock()
	oldW.stopServices()
	first := bus.Stats().Published + 1
	o2 := *o
	o2.seed = seed
	w, err := newLab(&o2, bus)
	if err != nil {
		return 0, err
	}
	if paused {
		w.network.Loop().Pause()
	}
	if err := w.startServices(&o2, io.Discard); err != nil {
		w.stopServices()
		return 0, err
	}
	srv, err := c.newServer(w)
	if err != nil {
		w.stopServices()
		return 0, err
	}
	c.mu.Lock()
	oldSrv := c.srv
	c.w, c.srv = w, srv
	c.mu.Unlock()
	state := ""
	if paused {
		state = ", paused"
	}
	fmt.Fprintf(stderr, "tipyweb: lab restarted with seed %d%s\n", seed, state)
	go oldSrv.Close()
	return first, nil
}

func (c *current) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.srv.Close()
	c.w.stopServices()
}

// tokenFor returns the API token: --token, or for a listener that is not
// on loopback a new random one, printed for the user.
func tokenFor(o *options, stdout io.Writer) (string, error) {
	host, _, _ := net.SplitHostPort(o.listen)
	if a, err := netip.ParseAddr(host); o.token != "" || host == "localhost" || (err == nil && a.IsLoopback()) {
		return o.token, nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make an API token: %w", err)
	}
	t := hex.EncodeToString(b)
	fmt.Fprintf(stdout, "tipyweb: API token (send as \"Authorization: Bearer %s\" or open http://%s/?token=%s): %s\n", t, o.listen, t, t)
	return t, nil
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

// replay serves the dashboard and API over a recorded trace.
func replay(ctx context.Context, path string, o *options, stdout io.Writer) error {
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
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	srv, err := web.New(web.Config{Mode: web.ModeReplay, HostInfo: h.Hosts, Seed: h.Seed, Listen: o.listen, Token: o.token})
	if err != nil {
		return err
	}
	defer srv.Close()
	rep, err := srv.AddReplay(filepath.Base(path), f)
	if err != nil {
		return fmt.Errorf("replay %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "tipyweb: replaying %s: %s mode, seed %d, %d hosts, %d events\n", path, h.Mode, h.Seed, len(h.Hosts), rep.Events)
	return listenAndServe(ctx, o.listen, srv, stdout)
}
