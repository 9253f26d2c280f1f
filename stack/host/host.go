package host

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sync"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// Config describes one host on a real network: a TAP device (or a link of
// your own) on wall-clock time.
type Config struct {
	// Name is the host's name in events and the dashboard; "tipy" when empty.
	Name string
	// TAP is the TAP device to attach to, created when missing (root or
	// CAP_NET_ADMIN). Leave it empty and set Link to use another link.
	TAP string
	// Link is the link to use instead of a TAP device. Its handler must be
	// called on the host's loop: give a link built on Loop, or one made by
	// tap.OpenTAP with that loop.
	Link tap.Link
	// Loop is the loop that owns the host when Link is given; a new
	// wall-clock loop otherwise.
	Loop clock.Loop
	// MAC is the host's MAC address; StableMAC(Name) when zero.
	MAC wire.MAC
	// Addr is the host's address with its prefix, e.g. 192.168.2.7/24.
	Addr netip.Prefix
	// Gateway is the default gateway; the zero Addr means none.
	Gateway netip.Addr
	// MTU is the link MTU; 1500 when 0.
	MTU int
	// Seed seeds every random choice of the host (ISNs, IP IDs, ports).
	Seed uint64
	// Bus receives the host's events; nil means nobody listens.
	Bus *observe.Bus
	// Impair impairs the TAP link both ways (loss, delay, ...); zero: none.
	Impair tap.Impairment
	// Services are built-in servers to start (services.Names), or nil.
	Services []string
	// Tune, when set, is called with the stack configuration before the
	// stack is made, to tune ARP, IPv4 or anything else (as
	// HostConfig.Config does in a virtual network).
	Tune func(*stack.Config)
}

// Host is one running tipy stack. It embeds the [stack.Stack], so the
// stack's whole API is a method of Host. The calls that open sockets
// (Socket, Listen, ListenPacket, DialContext, DialTCP, DialUDP) and Ping are
// Host's own: the stack's, except that they fail with ErrClosed once the
// host is closed and that those that wait end when it closes. Dial,
// ListenTCP and ListenUDP take string addresses, as package net does.
//
// Socket calls may come from any goroutine; the rest of the stack's state
// (ARP table, routes, counters) belongs to its loop: reach it inside
// [stack.Stack.Call].
type Host struct {
	*stack.Stack
	services     *services.Set
	wantServices []string   // started by Network.Start
	stop         func()     // stops the loop's driver, if the host owns one
	done         chan error // the driver's result

	// mu is held for reading while a call opens a socket, for writing when
	// Close marks the host closed: a socket is either opened before Close
	// closes every socket, or refused.
	mu     sync.RWMutex
	closed bool
	ctx    context.Context // ends when the host closes; blocking calls end with it
	cancel context.CancelFunc
}

// newHost wraps a stack.
func newHost(s *stack.Stack) *Host {
	h := &Host{Stack: s}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// markClosed marks the host closed and reports whether it was open.
func (h *Host) markClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.closed = true
	h.cancel()
	return true
}

// ErrClosed is returned, possibly wrapped, by calls on a closed host or
// network.
var ErrClosed = errors.New("host: closed")

// Start creates a host on a TAP device (or cfg.Link) and starts it: on
// wall-clock time, driven by a goroutine of its own, unless cfg.Loop is
// given (then whoever owns that loop drives it). Its address is usable once
// the RFC 5227 probes are done; [Host.WaitReady] waits for that. Close stops
// it and closes its link.
func Start(cfg Config) (*Host, error) {
	if cfg.Name == "" {
		cfg.Name = "tipy"
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.MAC == (wire.MAC{}) {
		cfg.MAC = StableMAC(cfg.Name)
	}
	var bus observe.Sink
	if cfg.Bus != nil {
		bus = cfg.Bus
	}
	loop := cfg.Loop
	var wall *clock.Wall
	if loop == nil {
		if cfg.Link != nil {
			return nil, errors.New("host: Config.Link needs Config.Loop, the loop its handler runs on")
		}
		wall = clock.NewWall()
		loop = wall
	}
	link := cfg.Link
	if link == nil {
		if cfg.TAP == "" {
			return nil, errors.New("host: Config needs TAP (a device name) or Link")
		}
		dev, err := tap.OpenTAP(cfg.TAP, loop, tap.TAPConfig{MAC: cfg.MAC, MTU: cfg.MTU, Up: true})
		if err != nil {
			return nil, err
		}
		link = dev
	}
	if !cfg.Impair.IsZero() {
		imp, err := tap.NewImpaired(loop, link, bus, cfg.Seed, cfg.Impair, cfg.Impair)
		if err != nil {
			link.Close()
			return nil, err
		}
		link = imp
	}
	scfg := stack.Config{Name: cfg.Name, MAC: cfg.MAC, Addr: cfg.Addr, Gateway: cfg.Gateway, MTU: cfg.MTU, Seed: cfg.Seed}
	if cfg.Tune != nil {
		cfg.Tune(&scfg)
	}
	s, err := stack.New(scfg, link, loop, bus)
	if err != nil {
		link.Close()
		return nil, err
	}
	h := newHost(s)
	if wall != nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop, h.done = cancel, make(chan error, 1)
		go func() { h.done <- wall.Run(ctx) }()
	}
	if err := h.startServices(cfg.Services); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// startServices starts the built-in servers of names on the host.
func (h *Host) startServices(names []string) error {
	if len(names) == 0 {
		return nil
	}
	var err error
	h.Call(func() { h.services, err = services.Start(h.Loop().Now(), h.Stack, names) })
	if err != nil {
		return fmt.Errorf("host %s: %w", h.Name(), err)
	}
	return nil
}

// Services returns the built-in servers running on the host (nil if none).
func (h *Host) Services() *services.Set { return h.services }

// Close stops the host's services, closes its sockets (calls waiting on
// them return errors at once), stops its loop (if the host started it) and
// closes its links. Calls on its sockets fail afterwards. The hosts of a
// virtual network close with it (Network.Close); closing one alone takes it
// off the network.
func (h *Host) Close() error {
	if !h.markClosed() {
		return nil
	}
	if h.services != nil {
		h.Call(func() { h.services.Stop(h.Loop().Now()) })
	}
	h.Call(func() { h.closeSockets(h.Loop().Now()) })
	var err error
	h.Call(func() { err = h.Stack.Close() })
	if h.stop != nil {
		h.stop()
		<-h.done
	}
	return err
}

// closeSockets closes every socket still open on the host, so that calls
// waiting on them (Accept, Recv, Connect) return instead of waiting for a
// loop that is about to stop. Loop work.
func (h *Host) closeSockets(now clock.Time) {
	for _, so := range h.Sockets() {
		so.CloseNow(now)
	}
}

// StableMAC derives a locally administered unicast MAC address from a name,
// so a host keeps its MAC from one run to the next.
func StableMAC(name string) wire.MAC {
	f := fnv.New32a()
	f.Write([]byte(name))
	v := f.Sum32()
	return wire.MAC{0x02, 0x74, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}
