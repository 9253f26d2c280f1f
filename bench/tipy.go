package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// wallLoop is a running wall-clock loop.
type wallLoop struct {
	*clock.Wall
	cancel context.CancelFunc
	done   chan struct{}
}

func startWall() *wallLoop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &wallLoop{Wall: clock.NewWall(), cancel: cancel, done: make(chan struct{})}
	go func() { defer close(l.done); l.Run(ctx) }()
	return l
}

func (l *wallLoop) stop() { l.cancel(); <-l.done }

// tipyPair is two tipy stacks, a (10.0.9.1) and b (10.0.9.2), joined by
// a memLink, each on a wall-clock loop (one loop each, or one shared),
// publishing to bus (nil: nobody listens).
type tipyPair struct {
	loops []*wallLoop
	a, b  *stack.Stack
	bufs  int // SO_SNDBUF and SO_RCVBUF of every socket; 0: tipy's default
}

var (
	tipyAddrA = netip.MustParseAddr("10.0.9.1")
	tipyAddrB = netip.MustParseAddr("10.0.9.2")
)

func newTipyPair(shared bool, bufs int, bus *observe.Bus) (*tipyPair, error) {
	p := &tipyPair{bufs: bufs}
	la := startWall()
	lb := la
	p.loops = []*wallLoop{la}
	if !shared {
		lb = startWall()
		p.loops = append(p.loops, lb)
	}
	macA, macB := wire.MAC{0x02, 0, 0, 0, 9, 1}, wire.MAC{0x02, 0, 0, 0, 9, 2}
	ea, eb := newMemLinks(la, lb, macA, macB, 1500)
	var sink observe.Sink
	if bus != nil {
		sink = bus
	}
	mk := func(loop *wallLoop, name string, mac wire.MAC, addr netip.Addr, link tap.Link) (*stack.Stack, error) {
		cfg := stack.Config{Name: name, MAC: mac, Addr: netip.PrefixFrom(addr, 24), Seed: 1}
		cfg.ARP.NoProbe = true
		var s *stack.Stack
		var err error
		loop.Call(func() { s, err = stack.New(cfg, link, loop, sink) })
		return s, err
	}
	var err error
	if p.a, err = mk(la, "a", macA, tipyAddrA, ea); err == nil {
		p.b, err = mk(lb, "b", macB, tipyAddrB, eb)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("tipy pair: %w", err)
	}
	return p, nil
}

// socket makes a TCP socket on s with the pair's buffer sizes.
func (p *tipyPair) socket(s *stack.Stack) (*stack.Socket, error) {
	so, err := s.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	if p.bufs > 0 {
		for _, o := range []string{stack.SO_SNDBUF, stack.SO_RCVBUF} {
			if err := so.SetSockopt(stack.SOL_SOCKET, o, p.bufs); err != nil {
				so.Close()
				return nil, err
			}
		}
	}
	return so, nil
}

// Listen listens on b.
func (p *tipyPair) Listen(port uint16) (net.Listener, error) {
	so, err := p.socket(p.b)
	if err != nil {
		return nil, err
	}
	if err := so.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), port)); err != nil {
		so.Close()
		return nil, err
	}
	if err := so.Listen(4096); err != nil {
		so.Close()
		return nil, err
	}
	return stack.NewListener(so), nil
}

// Dial connects a to b.
func (p *tipyPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	so, err := p.socket(p.a)
	if err != nil {
		return nil, err
	}
	if err := so.ConnectContext(ctx, netip.AddrPortFrom(tipyAddrB, port)); err != nil {
		so.Close()
		return nil, err
	}
	return stack.NewConn(so), nil
}

func (p *tipyPair) Close() {
	for _, s := range []*stack.Stack{p.a, p.b} {
		if s != nil {
			s.Call(func() { s.Close() })
		}
	}
	for _, l := range p.loops {
		l.stop()
	}
}

// tipyTAP is tipy on a TAP device whose kernel side is in a namespace.
type tipyTAP struct {
	loop *wallLoop
	s    *stack.Stack
	dev  *tap.TAP
	addr netip.Addr
}

func newTipyTAP(ns *netns, dev string, kernel, addr netip.Addr) (*tipyTAP, error) {
	loop := startWall()
	t := &tipyTAP{loop: loop, addr: addr}
	mac := wire.MAC{0x02, 0x71, 0x70, 0x79, addr.As4()[2], addr.As4()[3]}
	err := ns.do(func() error {
		var err error
		t.dev, err = tap.OpenTAP(dev, loop, tap.TAPConfig{MAC: mac, MTU: 1500, Up: true})
		return err
	})
	if err == nil {
		err = ns.ip("addr", "add", netip.PrefixFrom(kernel, 24).String(), "dev", dev)
	}
	if err == nil {
		cfg := stack.Config{Name: "tipy", MAC: mac, Addr: netip.PrefixFrom(addr, 24), Seed: 1}
		cfg.ARP.NoProbe = true
		loop.Call(func() { t.s, err = stack.New(cfg, t.dev, loop, nil) })
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("tipy on TAP %s: %w", dev, err)
	}
	return t, nil
}

func (t *tipyTAP) Addr() netip.Addr { return t.addr }

func (t *tipyTAP) Listen(port uint16) (net.Listener, error) {
	return t.s.Listen(netip.AddrPortFrom(netip.IPv4Unspecified(), port), 128)
}

func (t *tipyTAP) ListenPacket(port uint16) (net.PacketConn, error) {
	return t.s.ListenPacket(netip.AddrPortFrom(netip.IPv4Unspecified(), port))
}

func (t *tipyTAP) Close() {
	// A TAP's methods are safe from any goroutine: no need for the loop.
	if t.s != nil {
		t.s.Close()
	} else if t.dev != nil {
		t.dev.Close()
	}
	t.loop.stop()
}
