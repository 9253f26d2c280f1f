package host

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/tap"
)

// AsFastAsPossible is the NetworkConfig.Speed at which virtual time jumps
// from one event to the next without waiting.
var AsFastAsPossible = math.Inf(1)

// NetworkConfig describes a virtual network.
type NetworkConfig struct {
	// Seed seeds every random choice of every host and link: the same
	// seed, the same calls and the same order give the same trace.
	Seed uint64
	// Bus receives the events of every host and switch; nil means nobody
	// listens.
	Bus *observe.Bus
	// Speed is virtual seconds per real second once the network runs:
	// 0 means 1 (virtual time keeps pace with the wall clock, so timeouts
	// of blocking calls mean what they say); AsFastAsPossible jumps.
	Speed float64
	// MTU is the default MTU of hosts and switch ports; 1500 when 0.
	MTU int
}

// HostConfig describes one host of a virtual network.
type HostConfig struct {
	Name     string   // unique host name; its first interface's port has this name
	Switch   string   // switch of the first interface; "lan" when empty
	Addr     string   // address and prefix, e.g. "10.0.0.1/24"
	Gateway  string   // default gateway, or ""
	MTU      int      // the network's MTU when 0
	Services []string // built-in servers (services.Names) that Start starts, or nil
	// Forwarding makes the host a router between its interfaces.
	Forwarding bool
	// Config, when set, is called with the stack configuration before the
	// stack is made, to tune ARP, IPv4 or anything else.
	Config func(*stack.Config)
}

// Network is a virtual network: switches, hosts on them, all on one
// virtual clock. Build it, then Start it; Close stops everything.
//
// Building (NewNetwork, Switch, AddHost, AddInterface) must happen before
// Start, from one goroutine. Once started, the hosts' sockets may be used
// from any goroutine.
type Network struct {
	cfg      NetworkConfig
	loop     *clock.Virtual
	sink     observe.Sink
	switches map[string]*tap.Switch
	swOrder  []*tap.Switch
	hosts    map[string]*Host
	order    []*Host
	ports    []*tap.Port

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan error
	started bool
	closed  bool
	closing chan struct{} // closed by Close, so that WaitReady gives up
}

// NewNetwork returns an empty virtual network.
func NewNetwork(cfg NetworkConfig) *Network {
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	n := &Network{cfg: cfg, loop: clock.NewVirtual(), sink: observe.Discard, switches: map[string]*tap.Switch{}, hosts: map[string]*Host{}, closing: make(chan struct{})}
	if cfg.Bus != nil {
		n.sink = cfg.Bus
	}
	return n
}

// Loop returns the network's virtual clock, the owner of every host.
func (n *Network) Loop() *clock.Virtual { return n.loop }

// Seed returns the network's seed.
func (n *Network) Seed() uint64 { return n.cfg.Seed }

// Bus returns the network's bus (nil if none).
func (n *Network) Bus() *observe.Bus { return n.cfg.Bus }

// Switch returns the switch called name, creating it when missing.
func (n *Network) Switch(name string) *tap.Switch {
	if sw, ok := n.switches[name]; ok {
		return sw
	}
	sw := tap.NewSwitch(n.loop, name, n.sink, n.cfg.Seed)
	n.switches[name] = sw
	n.swOrder = append(n.swOrder, sw)
	return sw
}

// Switches returns the switches in the order they were made.
func (n *Network) Switches() []*tap.Switch { return append([]*tap.Switch(nil), n.swOrder...) }

// AddHost adds a host with one interface on switch c.Switch.
func (n *Network) AddHost(c HostConfig) (*Host, error) {
	if c.Name == "" {
		return nil, errors.New("host: HostConfig.Name is empty")
	}
	if _, dup := n.hosts[c.Name]; dup {
		return nil, fmt.Errorf("host %s: a host of that name exists", c.Name)
	}
	addr, err := netip.ParsePrefix(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("host %s: address %q: want an IPv4 address with prefix, like 10.0.0.1/24", c.Name, c.Addr)
	}
	cfg := stack.Config{Name: c.Name, MAC: StableMAC(c.Name), Addr: addr, MTU: c.MTU, Seed: n.cfg.Seed}
	if cfg.MTU == 0 {
		cfg.MTU = n.cfg.MTU
	}
	if c.Gateway != "" {
		if cfg.Gateway, err = netip.ParseAddr(c.Gateway); err != nil {
			return nil, fmt.Errorf("host %s: gateway %q: want an IPv4 address", c.Name, c.Gateway)
		}
	}
	if c.Config != nil {
		c.Config(&cfg)
	}
	if c.Switch == "" {
		c.Switch = "lan"
	}
	port := n.Switch(c.Switch).AddPort(c.Name, cfg.MAC, cfg.MTU)
	s, err := stack.New(cfg, port, n.loop, n.sink)
	if err != nil {
		port.Close()
		return nil, err
	}
	n.ports = append(n.ports, port)
	h := newHost(s)
	n.hosts[c.Name] = h
	n.order = append(n.order, h)
	if c.Forwarding {
		s.SetForwarding(true)
	}
	h.wantServices = c.Services
	return h, nil
}

// AddInterface gives host another interface, called ifname, on switch sw
// with address addr (e.g. "10.0.5.1/24"). Its switch port is named after
// the host, and its MAC is StableMAC(host + "/" + ifname).
func (n *Network) AddInterface(host, ifname, sw, addr string) error {
	h := n.hosts[host]
	if h == nil {
		return fmt.Errorf("host %s: no such host", host)
	}
	p, err := netip.ParsePrefix(addr)
	if err != nil {
		return fmt.Errorf("host %s: interface %s: address %q: want an IPv4 address with prefix", host, ifname, addr)
	}
	mac := StableMAC(host + "/" + ifname)
	port := n.Switch(sw).AddPort(host, mac, h.MTU())
	if _, err := h.AddInterface(stack.IfaceConfig{Name: ifname, MAC: mac, Addr: p, MTU: h.MTU()}, port); err != nil {
		port.Close()
		return fmt.Errorf("host %s: %w", host, err)
	}
	n.ports = append(n.ports, port)
	return nil
}

// Host returns the host called name, or nil.
func (n *Network) Host(name string) *Host { return n.hosts[name] }

// Hosts returns the hosts in the order they were added.
func (n *Network) Hosts() []*Host { return append([]*Host(nil), n.order...) }

// Stacks returns the hosts' stacks in the order they were added.
func (n *Network) Stacks() []*stack.Stack {
	out := make([]*stack.Stack, len(n.order))
	for i, h := range n.order {
		out[i] = h.Stack
	}
	return out
}

// Ports returns every switch port (one per interface), in the order made.
// Port names are "switch/host".
func (n *Network) Ports() []*tap.Port { return append([]*tap.Port(nil), n.ports...) }

// Port returns the port of a link by its full name ("lan/tipy") or nil.
func (n *Network) Port(name string) *tap.Port {
	for _, p := range n.ports {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Impair sets the impairment of a link (a port's full name, "lan/tipy") in
// both directions.
func (n *Network) Impair(link string, imp tap.Impairment) error {
	p := n.Port(link)
	if p == nil {
		return fmt.Errorf("no link named %q", link)
	}
	var err error
	n.loop.Call(func() { err = p.SetImpairmentBoth(imp) })
	return err
}

// Start starts the hosts' built-in services, then runs the network's clock
// in the background at the configured speed. Sockets of its hosts block
// until it runs.
func (n *Network) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.started {
		return nil
	}
	n.started = true
	for _, h := range n.order {
		if err := h.startServices(h.wantServices); err != nil {
			return err
		}
	}
	switch sp := n.cfg.Speed; {
	case sp == 0:
		n.loop.SetSpeed(1)
	case math.IsInf(sp, 1):
		n.loop.SetSpeed(0)
	default:
		n.loop.SetSpeed(sp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.loop.Run(ctx) }()
	return nil
}

// Close stops every host's services, closes every socket (calls waiting on
// them return errors at once), stops the clock, and closes every link.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.closing)
	n.mu.Unlock()
	var errs []error
	var open []*Host // hosts not closed one by one before
	for _, h := range n.order {
		if h.markClosed() {
			open = append(open, h)
		}
	}
	for _, h := range open {
		if h.services != nil {
			n.loop.Call(func() { errs = append(errs, h.services.Stop(n.loop.Now())) })
		}
		n.loop.Call(func() { h.closeSockets(n.loop.Now()) })
	}
	if n.cancel != nil {
		n.cancel()
		<-n.done
	}
	for _, h := range open {
		errs = append(errs, h.Stack.Close())
	}
	return errors.Join(errs...)
}
