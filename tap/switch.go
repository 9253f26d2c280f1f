package tap

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Switch defaults.
const (
	// DefaultPropagationDelay is the time a frame takes from one host to
	// another across an unimpaired switch: 10 µs, a few hundred metres of
	// cable and a store-and-forward switch, small enough not to matter and
	// large enough that a trace shows the frame in flight.
	DefaultPropagationDelay = 10 * time.Microsecond
	// DefaultAgingTime is how long the switch remembers where a MAC address
	// is after it last saw a frame from it (IEEE 802.1D's default, 300 s).
	DefaultAgingTime = 300 * time.Second
	// DefaultMTU is the MTU of a port added with mtu <= 0.
	DefaultMTU = 1500
)

// Reasons under which a switch counts and reports a dropped frame.
const (
	DropTooShort  = "too-short"  // shorter than the 14-byte Ethernet header
	DropTooBig    = "too-big"    // longer than 14+MTU of the sending or receiving port
	DropLoss      = "loss"       // random loss impairment
	DropBurstLoss = "burst-loss" // Gilbert-Elliott burst loss impairment
	DropQueueFull = "queue-full" // tail drop at a rate-limited port's queue
	DropSamePort  = "same-port"  // the destination is on the port the frame came from
	DropNoHandler = "no-handler" // the receiving port has no handler set
	DropClosed    = "closed"     // the port closed while the frame was in flight
)

// Errors of a switch port's Send; they are wrapped with the port's name.
var (
	// ErrPortClosed: the port was closed.
	ErrPortClosed = errors.New("switch port closed")
	// ErrFrameSize: the frame is shorter than an Ethernet header or longer
	// than 14 bytes plus the port's MTU.
	ErrFrameSize = errors.New("frame size out of range")
)

const ethHeaderLen = 14

// Switch is an in-process learning Ethernet switch. Each [Port] is a [Link]
// for one stack. The switch learns which port each source MAC address is
// behind; a frame to a known unicast address goes out of that port only, and
// a frame to an unknown unicast, multicast or broadcast address is flooded
// to every port but the one it came in on. A frame never goes back out of
// its ingress port.
//
// A frame sent at time t is delivered at t plus the impairments of the
// sending port's In direction, plus those of the receiving port's Out
// direction, plus the propagation delay ([DefaultPropagationDelay] unless
// set). Delivery calls the receiving port's handler on the switch's loop.
//
// Everything happens on the one loop: a Switch starts no goroutines and
// reads no clock but the loop's. Its methods, like a stack's, must be called
// from loop work or through [clock.Loop.Call]. The random choices of every
// port and direction come from clock.NewRand(seed, "switch/port/dir"), so
// one seed gives one sequence of decisions.
type Switch struct {
	loop  clock.Loop
	name  string
	sink  observe.Sink
	seed  uint64
	prop  time.Duration
	aging time.Duration
	ports []*Port
	table map[wire.MAC]macEntry
	free  [][]byte // recycled frame buffers
}

type macEntry struct {
	port *Port
	seen clock.Time
}

// NewSwitch returns a switch with no ports on loop. Its decisions go to sink
// (nil is observe.Discard) and its randomness derives from seed.
func NewSwitch(loop clock.Loop, name string, sink observe.Sink, seed uint64) *Switch {
	if sink == nil {
		sink = observe.Discard
	}
	return &Switch{
		loop:  loop,
		name:  name,
		sink:  sink,
		seed:  seed,
		prop:  DefaultPropagationDelay,
		aging: DefaultAgingTime,
		table: make(map[wire.MAC]macEntry),
	}
}

// Name returns the switch's name, the prefix of its ports' names.
func (s *Switch) Name() string { return s.name }

// SetPropagationDelay sets the delay every delivered frame takes on top of
// its impairments (0 is allowed: delivery is then at the next loop turn).
func (s *Switch) SetPropagationDelay(d time.Duration) { s.prop = max(d, 0) }

// PropagationDelay returns the delay set by [Switch.SetPropagationDelay].
func (s *Switch) PropagationDelay() time.Duration { return s.prop }

// SetAgingTime sets how long a learned address is kept without traffic.
func (s *Switch) SetAgingTime(d time.Duration) { s.aging = d }

// Ports returns the open ports in the order they were added, which is also
// the order in which a flood delivers.
func (s *Switch) Ports() []*Port { return append([]*Port(nil), s.ports...) }

// AddPort connects a new port named name (its full name is "switch/name")
// for a host whose MAC is mac. mtu <= 0 means [DefaultMTU]. Port names
// should be unique on a switch: the name seeds the port's random choices.
func (s *Switch) AddPort(name string, mac wire.MAC, mtu int) *Port {
	if mtu <= 0 {
		mtu = DefaultMTU
	}
	p := &Port{
		sw:    s,
		name:  name,
		full:  s.name + "/" + name,
		mac:   mac,
		mtu:   mtu,
		drops: make(map[string]uint64),
		imps:  make(map[string]uint64),
	}
	for d, pipe := range []*impairPipe{&p.in, &p.out} {
		dir := Direction(d)
		*pipe = impairPipe{sw: s, port: p, dir: dir, rng: clock.NewRand(s.seed, p.full+"/"+dir.String())}
	}
	p.in.emit = p.arrived
	p.out.emit = p.departed
	p.arrive.init(s.loop, p.forward)
	p.deliver.init(s.loop, p.deliverNow)
	s.ports = append(s.ports, p)
	return p
}

// MACEntry is one line of a switch's address table.
type MACEntry struct {
	MAC      wire.MAC
	Port     string     // the port's full name
	LastSeen clock.Time // when a frame from MAC last arrived
}

// MACTable returns the learned addresses, sorted by MAC.
func (s *Switch) MACTable() []MACEntry {
	out := make([]MACEntry, 0, len(s.table))
	for mac, e := range s.table {
		out = append(out, MACEntry{MAC: mac, Port: e.port.full, LastSeen: e.seen})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].MAC[:], out[j].MAC[:]) < 0 })
	return out
}

// forward switches buf, which arrived from port from at the loop's current
// time. The switch owns buf.
func (s *Switch) forward(from *Port, buf []byte) {
	now := s.loop.Now()
	var dst, src wire.MAC
	copy(dst[:], buf[0:6])
	copy(src[:], buf[6:12])
	if !src.IsMulticast() && src != wire.ZeroMAC {
		s.learn(src, from, now)
	}
	if !dst.IsMulticast() {
		if e, ok := s.lookup(dst, now); ok {
			if e.port == from {
				from.countDrop(DropSamePort)
				if s.sink.Active() {
					s.publish(from, observe.KindDrop, DropSamePort, buf, now,
						fmt.Sprintf("dropped %d-byte frame to %v: it is behind the port it came from", len(buf), dst),
						"a switch never sends a frame back out of the port it arrived on; the destination is on that same segment and has the frame already",
						map[string]any{"dst": dst.String()})
				}
				s.putBuf(buf)
				return
			}
			e.port.egress(buf, now)
			return
		}
		if s.sink.Active() {
			s.publish(from, observe.KindInfo, "", buf, now,
				fmt.Sprintf("flooding %d-byte frame: %v not yet learned", len(buf), dst),
				"the switch has not yet seen a frame from the destination, so it does not know its port and sends the frame out of every other port",
				map[string]any{"dst": dst.String()})
		}
	}
	s.flood(from, buf, now)
}

// flood sends buf out of every port but from, in port order.
func (s *Switch) flood(from *Port, buf []byte, now clock.Time) {
	var last *Port
	for _, p := range s.ports {
		if p == from {
			continue
		}
		if last != nil {
			c := s.getBuf(len(buf))
			copy(c, buf)
			last.egress(c, now)
		}
		last = p
	}
	if last == nil {
		s.putBuf(buf)
		return
	}
	last.egress(buf, now)
}

func (s *Switch) lookup(mac wire.MAC, now clock.Time) (macEntry, bool) {
	e, ok := s.table[mac]
	if !ok {
		return e, false
	}
	if s.aging > 0 && now.Sub(e.seen) > s.aging {
		delete(s.table, mac)
		if s.sink.Active() {
			s.publish(e.port, observe.KindCache, "", nil, now,
				fmt.Sprintf("forgot %v: no frame from it for %v", mac, now.Sub(e.seen)),
				"switches forget addresses that have been silent for the aging time, in case the host moved",
				map[string]any{"mac": mac.String()})
		}
		return e, false
	}
	return e, true
}

func (s *Switch) learn(mac wire.MAC, p *Port, now clock.Time) {
	old, ok := s.table[mac]
	s.table[mac] = macEntry{port: p, seen: now}
	if ok && old.port == p || !s.sink.Active() {
		return
	}
	summary := fmt.Sprintf("learned %v is behind port %s", mac, p.full)
	fields := map[string]any{"mac": mac.String(), "port": p.full}
	if ok {
		summary = fmt.Sprintf("%v moved from port %s to %s", mac, old.port.full, p.full)
		fields["from"] = old.port.full
	}
	s.publish(p, observe.KindCache, "", nil, now, summary,
		"a learning switch notes the port each source address arrives on, so that frames to that address go out of that port only",
		fields)
}

// publish sends one event about port p; the caller has checked Active.
func (s *Switch) publish(p *Port, kind observe.Kind, reason string, frame []byte, t clock.Time, summary, explain string, fields map[string]any) {
	s.sink.Publish(observe.Event{
		TimeNS:  int64(t),
		Host:    p.full,
		Layer:   observe.LayerLink,
		Kind:    kind,
		Summary: summary,
		Explain: explain,
		Reason:  reason,
		Fields:  fields,
		Frame:   bytes.Clone(frame),
	})
}

// getBuf returns a buffer of length n, recycled when possible.
func (s *Switch) getBuf(n int) []byte {
	if k := len(s.free); k > 0 {
		b := s.free[k-1]
		s.free = s.free[:k-1]
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]byte, n, max(n, ethHeaderLen+DefaultMTU))
}

// putBuf recycles a buffer nobody refers to any more.
func (s *Switch) putBuf(b []byte) {
	if len(s.free) < 1024 {
		s.free = append(s.free, b[:0])
	}
}
