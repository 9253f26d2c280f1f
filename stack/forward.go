package stack

import (
	"fmt"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Forwarding (RFC 1812 §5.2, §5.3.1, §4.3.3.1): a router receives a datagram
// that is not for it, checks the TTL, finds the next hop, decrements the TTL
// (updating the checksum incrementally, RFC 1624) and sends it on, fragmenting
// if the next link is smaller, recording its address in a Record Route
// option on the way (ipv4_rr.go). When it cannot, it tells the source with
// ICMP.

// forward sends on a datagram received on in that is addressed elsewhere.
// ip is the whole validated datagram.
func (s *Stack) forward(now clock.Time, in *Iface, frame wire.Ethernet, ip wire.IPv4) {
	h, err := wire.ParseIPv4(ip)
	if err != nil {
		s.drop(now, observe.LayerIPv4, ReasonIPMalformed, frame, err.Error())
		return
	}
	d := Datagram{Iface: in, Header: h, Raw: ip, Payload: ip.Payload(), LinkSrc: frame.Src(), LinkBroadcast: frame.Dst().IsMulticast(), Frame: frame}
	if h.Dst.IsMulticast() || h.Dst == limitedBroadcast {
		s.drop(now, observe.LayerIPv4, ReasonIPNotForUs, frame, "a router does not forward broadcasts or multicast")
		return
	}
	if ip.TTL() <= 1 {
		s.drop(now, observe.LayerIPv4, ReasonIPTTLExceeded, frame, fmt.Sprintf("ttl %d to %s", ip.TTL(), h.Dst))
		s.icmpError(now, &d, wire.ICMPTimeExceeded, wire.ICMPTTLExceeded, 0)
		return
	}
	nh, ok := s.lookup(now, h.Dst)
	if !ok {
		s.drop(now, observe.LayerIPv4, ReasonIPNoRoute, frame, fmt.Sprintf("no route to %s", h.Dst))
		s.icmpError(now, &d, wire.ICMPDestinationUnreachable, wire.ICMPNetUnreachable, 0)
		return
	}
	out := nh.route.Iface
	// Copy the datagram into a fresh packet with headroom for the Ethernet
	// header: the received frame belongs to the link.
	p := NewPacket(wire.EthernetHeaderLen, len(ip))
	fwd := wire.IPv4(p.Payload())
	copy(fwd, ip)
	fwd.DecrementTTL()
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindTX,
			Summary: fmt.Sprintf("forwarding %s > %s from %s to %s via %s, ttl %d", h.Src, h.Dst, in.name, out.name, nh.addr, fwd.TTL()),
			Explain: "this host is a router: the datagram is for another host, so it decrements the TTL and sends it towards the next hop",
			RFC:     "RFC 1812 §5.2.1",
			Fields:  map[string]any{"src": h.Src.String(), "dst": h.Dst.String(), "in": in.name, "out": out.name, "next_hop": nh.addr.String(), "ttl": fwd.TTL()},
		})
	}
	s.recordRouteForward(now, fwd, out)
	if len(fwd) > out.mtu {
		if ip.DontFragment() {
			s.drop(now, observe.LayerIPv4, ReasonIPNeedFrag, frame, fmt.Sprintf("%d bytes, next-hop MTU %d, DF set", len(fwd), out.mtu))
			s.icmpError(now, &d, wire.ICMPDestinationUnreachable, wire.ICMPFragmentationNeeded, uint32(out.mtu))
			return
		}
		fh, _ := wire.ParseIPv4(fwd)
		body := NewPacket(Headroom, len(fwd.Payload()))
		copy(body.Payload(), fwd.Payload())
		if err := s.fragmentAndSend(now, nh, &fh, body, &SendOptions{}); err != nil {
			s.drop(now, observe.LayerIPv4, ReasonIPNeedFrag, frame, err.Error())
		}
		return
	}
	if err := out.resolveAndSend(now, nh.addr, p, nil); err != nil {
		s.drop(now, observe.LayerIPv4, ReasonLinkError, frame, err.Error())
	}
}
