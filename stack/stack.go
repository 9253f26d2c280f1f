package stack

import (
	"fmt"
	"math/rand/v2"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// Stack is one host: its configuration, its link, and the state of every
// protocol layer. All of it belongs to the stack's loop: the link delivers
// frames on the loop, timers fire on the loop, and other goroutines reach the
// stack only through [Stack.Call].
type Stack struct {
	cfg  Config
	loop clock.Loop
	obs  observe.Sink
	rng  *rand.Rand

	ip       ipv4State
	arpl     *arpLayer   // ARP (arp.go)
	icmp     icmpState   // ICMP (icmp.go)
	reasmS   *reasmState // IPv4 reassembly (ipv4_reasm.go)
	igmpl    *igmpLayer  // IGMPv2 (igmp.go)
	tcpL     *tcpLayer   // TCP (tcp.go)
	ifaces   []*Iface    // ifaces[0] is the interface of Config
	routes   []Route     // static routes; connected and default routes are derived
	handlers map[wire.EtherType]func(now clock.Time, ifc *Iface, frame wire.Ethernet)
	stats    Stats
	dp       dataPath     // free lists of the data path (datapath.go)
	ev       eventScratch // for building events cheaply (event_build.go)

	sockTypes  map[SockType]func(now clock.Time, so *Socket, proto int) (sockImpl, error)
	sockets    map[int]*Socket
	nextSockID int
	congestion string // default TCP congestion control for new sockets
}

// New creates a stack on link, owned by loop, publishing to obs (nil:
// nobody listens). It starts receiving at once.
func New(cfg Config, link tap.Link, loop clock.Loop, obs observe.Sink) (*Stack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if obs == nil {
		obs = observe.Discard
	}
	s := &Stack{
		cfg:      cfg,
		loop:     loop,
		obs:      obs,
		rng:      clock.NewRand(cfg.Seed, "host/"+cfg.Name),
		handlers: make(map[wire.EtherType]func(clock.Time, *Iface, wire.Ethernet)),

		sockTypes:  make(map[SockType]func(clock.Time, *Socket, int) (sockImpl, error)),
		sockets:    make(map[int]*Socket),
		congestion: "cubic",
	}
	if cfg.MTU > link.MTU() {
		return nil, fmt.Errorf("stack %s: mtu %d is larger than link %s allows (%d)", cfg.Name, cfg.MTU, link.Name(), link.MTU())
	}
	s.ip.nextID = uint16(s.rng.Uint32())
	s.Handle(wire.EtherTypeIPv4, s.ipv4Input)
	s.initARP()
	s.initICMP()
	s.initReassembly()
	s.initUDP()
	s.initRaw()
	s.initIGMP()
	s.initTCP()
	if _, err := s.AddInterface(IfaceConfig{Name: "eth0", MAC: cfg.MAC, Addr: cfg.Addr, MTU: cfg.MTU}, link); err != nil {
		return nil, fmt.Errorf("stack %s: %w", cfg.Name, err)
	}
	return s, nil
}

// Name returns the host name.
func (s *Stack) Name() string { return s.cfg.Name }

// Config returns the host's configuration.
func (s *Stack) Config() Config { return s.cfg }

// MTU returns the MTU of the stack's first interface.
func (s *Stack) MTU() int { return s.ifaces[0].mtu }

// Iface returns the stack's first interface, the one of its Config.
func (s *Stack) Iface() *Iface { return s.ifaces[0] }

// Ifaces returns every interface of the stack.
func (s *Stack) Ifaces() []*Iface { return s.ifaces }

// Loop returns the loop that owns the stack.
func (s *Stack) Loop() clock.Loop { return s.loop }

// Link returns the link of the stack's first interface.
func (s *Stack) Link() tap.Link { return s.ifaces[0].link }

// Rand returns the stack's seeded random source. Loop work only.
func (s *Stack) Rand() *rand.Rand { return s.rng }

// Call runs f on the stack's owner and waits for it; see clock.Loop.Call.
func (s *Stack) Call(f func()) { s.loop.Call(f) }

// Close detaches the stack from its links and closes them.
func (s *Stack) Close() error {
	var first error
	for _, ifc := range s.ifaces {
		ifc.link.SetHandler(nil)
		if err := ifc.link.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
