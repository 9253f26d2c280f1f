package stack

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// IPv4 send path: route, header, fragmentation, neighbour resolution.

// SendOptions are the per-datagram choices of a sender, mostly from socket
// options (IP_TTL, IP_TOS, IP_OPTIONS, IP_MULTICAST_*, SO_BROADCAST).
type SendOptions struct {
	TTL            uint8             // 0: DefaultTTL (unicast) or MulticastTTL (multicast)
	TOS            uint8             // type of service
	DontFragment   bool              // set DF; a datagram over the MTU is then EMSGSIZE
	Options        []wire.IPv4Option // IP options to send
	Src            netip.Addr        // source address; zero: the address of the outgoing interface
	MulticastTTL   uint8             // TTL for multicast destinations; 0 means 1 (RFC 1112 §6.1)
	MulticastLoop  bool              // deliver a copy of multicast datagrams to ourselves too
	MulticastIface *Iface            // interface for multicast; nil: the route's
	Broadcast      bool              // SO_BROADCAST: sending to a broadcast address is allowed
	OnError        func(err error)   // called later if delivery fails after Send returned (ARP failure)
	ID             func() uint16     // for IP_HDRINCL-less senders who need a fixed ID in tests; nil: seeded
}

// RouteTo returns where a datagram to dst would go and from which source
// address, as the transport layers need it for their pseudo-header.
// Broadcast and multicast destinations go out of the first interface (or
// o.MulticastIface) without a gateway.
func (s *Stack) RouteTo(now clock.Time, dst netip.Addr, o *SendOptions) (ifc *Iface, nextHopAddr, src netip.Addr, err error) {
	nh, err := s.route(now, dst, o)
	if err != nil {
		return nil, netip.Addr{}, netip.Addr{}, err
	}
	return nh.route.Iface, nh.addr, nh.src, nil
}

func (s *Stack) route(now clock.Time, dst netip.Addr, o *SendOptions) (nextHop, error) {
	if !dst.Is4() {
		return nextHop{}, sockErr("route", dst.String(), EAFNOSUPPORT, "tipy speaks IPv4 only")
	}
	if dst == limitedBroadcast || dst.IsMulticast() {
		ifc := s.ifaces[0]
		if o != nil && o.MulticastIface != nil && dst.IsMulticast() {
			ifc = o.MulticastIface
		}
		if dst == limitedBroadcast && (o == nil || !o.Broadcast) {
			return nextHop{}, sockErr("send", dst.String(), EACCES, "sending to a broadcast address needs SO_BROADCAST")
		}
		return nextHop{route: Route{Dst: netip.PrefixFrom(dst, 32), Iface: ifc, Kind: RouteConnected}, addr: dst, src: s.srcFor(ifc, o)}, nil
	}
	nh, ok := s.lookup(now, dst)
	if !ok {
		return nextHop{}, sockErr("send", dst.String(), ENETUNREACH, "no route: not on a connected network and no default gateway")
	}
	if nh.route.Iface.isBroadcast(dst) && (o == nil || !o.Broadcast) {
		return nextHop{}, sockErr("send", dst.String(), EACCES, "sending to a broadcast address needs SO_BROADCAST")
	}
	nh.src = s.srcFor(nh.route.Iface, o)
	if !nh.route.Iface.addrUsable() && nh.src == nh.route.Iface.addr.Addr() {
		return nextHop{}, sockErr("send", dst.String(), EADDRNOTAVAIL, fmt.Sprintf("%s is being probed for conflicts or is in conflict (RFC 5227)", nh.src))
	}
	return nh, nil
}

func (s *Stack) srcFor(ifc *Iface, o *SendOptions) netip.Addr {
	if o != nil && o.Src.IsValid() && !o.Src.IsUnspecified() {
		return o.Src
	}
	return ifc.addr.Addr()
}

// nextIPID returns the identification of the next datagram. IDs come from
// the stack's seeded source: a random start, then increasing, as RFC 6864
// allows for datagrams that may be fragmented.
func (s *Stack) nextIPID() uint16 {
	s.ip.nextID++
	return s.ip.nextID
}

// SendIPv4 sends the transport payload in p (which already holds the
// transport header) to dst as protocol proto. The IPv4 header goes into p's
// headroom; a datagram larger than the interface MTU is fragmented (or, with
// DontFragment, refused with EMSGSIZE). Loop work only.
func (s *Stack) SendIPv4(now clock.Time, dst netip.Addr, proto wire.IPProtocol, p *Packet, o *SendOptions) error {
	if o == nil {
		o = &SendOptions{}
	}
	nh, err := s.route(now, dst, o)
	if err != nil {
		return err
	}
	h := wire.IPv4Header{
		TOS:      o.TOS,
		ID:       s.nextIPID(),
		TTL:      o.TTL,
		Protocol: proto,
		Src:      nh.src,
		Dst:      dst,
		Options:  o.Options,
	}
	if o.ID != nil {
		h.ID = o.ID()
	}
	if h.TTL == 0 {
		h.TTL = DefaultTTL
		if dst.IsMulticast() {
			h.TTL = o.MulticastTTL
			if h.TTL == 0 {
				h.TTL = 1
			}
		}
	}
	if o.DontFragment {
		h.Flags |= wire.IPv4FlagDF
	}
	return s.sendDatagram(now, nh, &h, p, o)
}

// sendDatagram adds h in front of p and sends it towards nh, fragmenting
// when it does not fit the interface MTU.
func (s *Stack) sendDatagram(now clock.Time, nh nextHop, h *wire.IPv4Header, p *Packet, o *SendOptions) error {
	ifc := nh.route.Iface
	if h.HeaderLen()+p.Len() > 65535 {
		return sockErr("send", h.Dst.String(), EMSGSIZE, fmt.Sprintf("%d bytes do not fit in one IPv4 datagram (65535)", h.HeaderLen()+p.Len()))
	}
	if h.HeaderLen()+p.Len() > ifc.mtu {
		if h.DontFragment() {
			return sockErr("send", h.Dst.String(), EMSGSIZE, fmt.Sprintf("%d bytes exceed the MTU %d of %s and DF is set", h.HeaderLen()+p.Len(), ifc.mtu, ifc.name))
		}
		return s.fragmentAndSend(now, nh, h, p, o)
	}
	if err := h.Marshal(p.Prepend(h.HeaderLen())); err != nil {
		return fmt.Errorf("ipv4 send: %w", err)
	}
	return s.transmit(now, nh, h, p, o)
}

// transmit hands a complete datagram to the link, looping back what is ours
// to receive as well.
func (s *Stack) transmit(now clock.Time, nh nextHop, h *wire.IPv4Header, p *Packet, o *SendOptions) error {
	ifc := nh.route.Iface
	if s.obs.Active() {
		s.publishIPv4(now, observe.KindTX, h, "sent")
	}
	dst := h.Dst
	if s.isOwnAddr(dst) {
		s.loopback(ifc, p.Bytes())
		return nil
	}
	if dst.IsMulticast() && o.MulticastLoop && ifc.InGroup(dst) {
		s.loopback(ifc, p.Bytes())
	}
	var mac wire.MAC
	switch {
	case dst.IsMulticast():
		mac = wire.MulticastMAC(dst)
	case ifc.isBroadcast(dst):
		mac = wire.BroadcastMAC
	default:
		return ifc.resolveAndSend(now, nh.addr, p, o.OnError)
	}
	return ifc.SendFrame(now, mac, wire.EtherTypeIPv4, p)
}

// loopback delivers a copy of a datagram we sent to ourselves, as a new
// event on the loop (never re-entering the sender).
func (s *Stack) loopback(ifc *Iface, datagram []byte) {
	frame := make([]byte, wire.EthernetHeaderLen+len(datagram))
	eh := wire.EthernetHeader{Dst: ifc.mac, Src: ifc.mac, Type: wire.EtherTypeIPv4}
	eh.Marshal(frame)
	copy(frame[wire.EthernetHeaderLen:], datagram)
	s.loop.Post(func() {
		now := s.loop.Now()
		if s.obs.Active() {
			s.publishFrame(now, observe.KindRX, frame, "looped back")
		}
		s.ipv4Input(now, ifc, wire.Ethernet(frame))
	})
}
