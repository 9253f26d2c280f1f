package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/link/tun"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// gVisor's netstack, set up as its own examples and tests do: IPv4 and ARP
// over Ethernet, TCP, UDP and ICMP, everything else at its defaults. The
// applications use its gonet adapters (net.Conn, net.Listener).

const gvNIC tcpip.NICID = 1

// newGVStack builds a stack on ep with address addr; bufs > 0 sets the
// default (and largest) TCP send and receive buffer.
func newGVStack(ep stack.LinkEndpoint, addr netip.Prefix, bufs int) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	if err := s.CreateNIC(gvNIC, ep); err != nil {
		s.Close()
		return nil, fmt.Errorf("gVisor: create NIC: %s", err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{
		Address: tcpip.AddrFrom4(addr.Addr().As4()), PrefixLen: addr.Bits()}}
	if err := s.AddProtocolAddress(gvNIC, pa, stack.AddressProperties{}); err != nil {
		s.Close()
		return nil, fmt.Errorf("gVisor: add address: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: pa.AddressWithPrefix.Subnet(), NIC: gvNIC}})
	if bufs > 0 {
		snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: bufs, Max: bufs}
		rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: bufs, Max: bufs}
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd); err != nil {
			s.Close()
			return nil, fmt.Errorf("gVisor: send buffer: %s", err)
		}
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv); err != nil {
			s.Close()
			return nil, fmt.Errorf("gVisor: receive buffer: %s", err)
		}
	}
	return s, nil
}

func gvAddr(a netip.Addr, port uint16) tcpip.FullAddress {
	fa := tcpip.FullAddress{NIC: gvNIC, Port: port}
	if a.IsValid() {
		fa.Addr = tcpip.AddrFrom4(a.As4())
	}
	return fa
}

// gvPair is two gVisor stacks joined by gVisor's pipe link (delivery in
// the sender's goroutine, as its tests do) under Ethernet framing, at
// the addresses of the tipy pair.
type gvPair struct {
	a, b *stack.Stack
}

func newGVPair(bufs int) (*gvPair, error) {
	// The Ethernet wrapper reports the pipe's MTU less its 14-byte header.
	pa, pb := pipe.New("\x02\x00\x00\x00\x0a\x01", "\x02\x00\x00\x00\x0a\x02", 1500+14)
	a, err := newGVStack(ethernet.New(pa), netip.PrefixFrom(tipyAddrA, 24), bufs)
	if err != nil {
		return nil, err
	}
	b, err := newGVStack(ethernet.New(pb), netip.PrefixFrom(tipyAddrB, 24), bufs)
	if err != nil {
		a.Close()
		return nil, err
	}
	return &gvPair{a: a, b: b}, nil
}

func (p *gvPair) Listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(p.b, gvAddr(netip.Addr{}, port), ipv4.ProtocolNumber)
}

func (p *gvPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, p.a, gvAddr(tipyAddrB, port), ipv4.ProtocolNumber)
}

func (p *gvPair) Close() {
	for _, s := range []*stack.Stack{p.a, p.b} {
		s.Close()
		s.Wait()
	}
}

// gvTAP is gVisor on a TAP device whose kernel side is in a namespace,
// through its fdbased link endpoint (Ethernet frames, its default
// dispatch mode).
type gvTAP struct {
	s    *stack.Stack
	fd   int
	addr netip.Addr
}

func newGVTAP(ns *netns, dev string, kernel, addr netip.Addr) (*gvTAP, error) {
	var fd int
	if err := ns.do(func() (err error) { fd, err = tun.OpenTAP(dev); return err }); err != nil {
		return nil, fmt.Errorf("gVisor: open TAP %s: %w", dev, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	for _, args := range [][]string{
		{"link", "set", "dev", dev, "mtu", "1500", "up"},
		{"addr", "add", netip.PrefixFrom(kernel, 24).String(), "dev", dev},
	} {
		if err := ns.ip(args...); err != nil {
			return nil, err
		}
	}
	mac := tcpip.LinkAddress([]byte{0x02, 0x67, 0x76, 0x69, addr.As4()[2], addr.As4()[3]})
	ep, err := fdbased.New(&fdbased.Options{FDs: []int{fd}, MTU: 1500, EthernetHeader: true, Address: mac})
	if err != nil {
		return nil, fmt.Errorf("gVisor: fdbased endpoint: %w", err)
	}
	s, err := newGVStack(ep, netip.PrefixFrom(addr, 24), 0)
	if err != nil {
		return nil, err
	}
	ok = true
	return &gvTAP{s: s, fd: fd, addr: addr}, nil
}

func (t *gvTAP) Addr() netip.Addr { return t.addr }

func (t *gvTAP) Listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(t.s, gvAddr(netip.Addr{}, port), ipv4.ProtocolNumber)
}

func (t *gvTAP) ListenPacket(port uint16) (net.PacketConn, error) {
	return gonet.DialUDP(t.s, &tcpip.FullAddress{NIC: gvNIC, Port: port}, nil, ipv4.ProtocolNumber)
}

func (t *gvTAP) Close() {
	t.s.Close()
	t.s.Wait()
	unix.Close(t.fd) // the endpoint does not own the descriptor
}
