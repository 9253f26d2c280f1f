package stack

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// IPv4 receive path (RFC 791, RFC 1122 §3.2.1, RFC 1812 for forwarding).
//
// A datagram is validated once (version, header length, total length, header
// checksum, options), its source checked, its destination accepted if it is
// one of ours (weak host model, RFC 1122 §3.3.4.2), a broadcast (limited or
// directed to one of our networks) or a multicast group joined on the
// interface; otherwise it is forwarded when forwarding is on, else dropped.
// Fragments go to reassembly. The complete datagram is offered to raw
// sockets, then to the handler of its protocol; with neither, the sender gets
// ICMP protocol unreachable.

// DefaultTTL is the TTL of datagrams a host originates (RFC 1700, as Linux).
const DefaultTTL = 64

// Datagram is a received IPv4 datagram as the layers above IPv4 see it.
type Datagram struct {
	Iface     *Iface
	Header    wire.IPv4Header
	Raw       wire.IPv4 // the whole datagram, header included (after reassembly, the reassembled copy)
	Payload   []byte    // the transport-layer bytes
	LinkSrc   wire.MAC  // the Ethernet source, for ARP-less replies and events
	Broadcast bool      // sent to a limited or directed broadcast address
	Multicast bool      // sent to a multicast group
	// LinkBroadcast: the Ethernet destination was broadcast or multicast
	// (no ICMP error may answer it, RFC 1122 §3.2.2).
	LinkBroadcast bool
	// TakenByRaw: a raw socket received a copy before the protocol handler.
	TakenByRaw bool
	// Frame is the Ethernet frame the datagram came in (valid only while the
	// datagram is being processed); nil for a reassembled datagram.
	Frame wire.Ethernet
}

// frameOf returns the Ethernet frame of d for an event: the frame it came
// in, or for a reassembled datagram the whole datagram behind an Ethernet
// header as if it had come in one frame.
func (d *Datagram) frameOf() []byte {
	if d.Frame != nil {
		return d.Frame
	}
	b := make([]byte, wire.EthernetHeaderLen+len(d.Raw))
	eh := wire.EthernetHeader{Dst: d.Iface.mac, Src: d.LinkSrc, Type: wire.EtherTypeIPv4}
	eh.Marshal(b)
	copy(b[wire.EthernetHeaderLen:], d.Raw)
	return b
}

// dropDatagram counts and traces a received datagram that a layer above
// IPv4 discards; the event carries the Ethernet frame it came in.
func (s *Stack) dropDatagram(now clock.Time, layer observe.Layer, reason Reason, d *Datagram, detail string) {
	if !s.obs.Active() {
		s.stats.Drops[reason]++
		return
	}
	s.drop(now, layer, reason, d.frameOf(), detail)
}

// ProtocolHandler receives the datagrams of one IP protocol.
type ProtocolHandler func(now clock.Time, d *Datagram)

// ipv4State is the IPv4 layer's part of a Stack.
type ipv4State struct {
	nextID            uint16
	protocols         [256]ProtocolHandler
	errHandlers       [256]func(now clock.Time, e *TransportError)
	forwarding        bool
	acceptSourceRoute bool
	// rawInput, when set, offers every accepted datagram to raw sockets;
	// it reports whether a raw socket took a copy.
	rawInput func(now clock.Time, d *Datagram) bool
}

// HandleProtocol registers the handler of IP protocol p. Loop work only.
func (s *Stack) HandleProtocol(p wire.IPProtocol, h ProtocolHandler) { s.ip.protocols[p] = h }

// SetForwarding turns IPv4 forwarding between the stack's interfaces on or
// off (off by default: a host, not a router).
func (s *Stack) SetForwarding(on bool) { s.ip.forwarding = on }

// Forwarding reports whether the stack forwards datagrams.
func (s *Stack) Forwarding() bool { return s.ip.forwarding }

// SetAcceptSourceRoute lets datagrams carrying LSRR/SSRR options in; they
// are refused by default (RFC 1122 §3.3.5 allows a host to refuse them, and
// Linux does since source routing can bypass filtering).
func (s *Stack) SetAcceptSourceRoute(on bool) { s.ip.acceptSourceRoute = on }

// isOwnAddr reports whether a is an address of one of the stack's interfaces.
func (s *Stack) isOwnAddr(a netip.Addr) bool {
	for _, ifc := range s.ifaces {
		if ifc.addr.Addr() == a {
			return true
		}
	}
	return false
}

// isBroadcastFor reports whether a is the limited broadcast or the directed
// broadcast address of ifc's network.
func (ifc *Iface) isBroadcast(a netip.Addr) bool {
	return a == limitedBroadcast || a == directedBroadcast(ifc.addr)
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// directedBroadcast returns the all-ones host address of p's network.
func directedBroadcast(p netip.Prefix) netip.Addr {
	if p.Bits() >= 31 { // RFC 3021: /31 links have no broadcast address
		return netip.Addr{}
	}
	a := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<hostBits - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ipv4Input is the EtherType 0x0800 handler.
func (s *Stack) ipv4Input(now clock.Time, ifc *Iface, frame wire.Ethernet) {
	ip := wire.IPv4(frame.Payload())
	if err := ip.Validate(); err != nil {
		reason := ReasonIPMalformed
		if errors.Is(err, wire.ErrTruncated) {
			reason = ReasonIPTruncated
		}
		s.drop(now, observe.LayerIPv4, reason, frame, err.Error())
		return
	}
	if !ip.ChecksumValid() {
		s.drop(now, observe.LayerIPv4, ReasonIPBadChecksum, frame, fmt.Sprintf("header checksum 0x%04x, computed 0x%04x", ip.Checksum(), ip.ComputeChecksum()))
		return
	}
	// Trim Ethernet padding: Validate checked total length <= len(ip).
	ip = ip[:ip.TotalLen()]
	src, dst := ip.Src(), ip.Dst()
	if src.IsMulticast() || src == limitedBroadcast || ifc.isBroadcast(src) {
		s.drop(now, observe.LayerIPv4, ReasonIPBadSource, frame, fmt.Sprintf("source %s", src))
		return
	}
	d := s.dp.datagram()
	defer s.dp.releaseDatagram(d)
	*d = Datagram{Iface: ifc, Raw: ip, LinkSrc: frame.Src(), LinkBroadcast: frame.Dst().IsMulticast(), Frame: frame}
	switch {
	case s.isOwnAddr(dst):
		if own := s.ifaceByAddr(dst); !own.addrUsable() {
			s.drop(now, observe.LayerIPv4, ReasonIPAddrTentative, frame, fmt.Sprintf("%s is not usable yet", dst))
			return
		}
	case ifc.isBroadcast(dst):
		d.Broadcast = true
	case dst.IsMulticast():
		if !ifc.InGroup(dst) {
			s.drop(now, observe.LayerIPv4, ReasonIPNotMember, frame, fmt.Sprintf("group %s not joined on %s", dst, ifc.name))
			return
		}
		d.Multicast = true
	default:
		if s.ip.forwarding {
			s.forward(now, ifc, frame, ip)
			return
		}
		s.drop(now, observe.LayerIPv4, ReasonIPNotForUs, frame, fmt.Sprintf("destination %s", dst))
		return
	}
	h, err := wire.ParseIPv4(ip)
	if err != nil { // Validate passed, so this cannot happen; keep the invariant visible
		s.drop(now, observe.LayerIPv4, ReasonIPMalformed, frame, err.Error())
		return
	}
	if !s.ip.acceptSourceRoute {
		for _, o := range h.Options {
			if o.Type == wire.IPv4OptLSRR || o.Type == wire.IPv4OptSSRR {
				s.drop(now, observe.LayerIPv4, ReasonIPSourceRoute, frame, o.Name())
				return
			}
		}
	}
	if h.IsFragment() {
		whole := s.reassemble(now, ifc, h, ip, frame)
		if whole == nil {
			return
		}
		ip = whole
		d.Frame = nil
		if h, err = wire.ParseIPv4(ip); err != nil {
			s.drop(now, observe.LayerIPv4, ReasonIPMalformed, frame, "reassembled: "+err.Error())
			return
		}
		d.Raw = ip
	}
	d.Header = h
	d.Payload = ip.Payload()
	if s.obs.Active() {
		s.publishIPv4(now, observe.KindRX, &h, "received")
	}
	d.TakenByRaw = s.ip.rawInput != nil && s.ip.rawInput(now, d)
	if handler := s.ip.protocols[h.Protocol]; handler != nil {
		handler(now, d)
		return
	}
	if d.TakenByRaw {
		return
	}
	s.drop(now, observe.LayerIPv4, ReasonIPUnknownProtocol, frame, h.Protocol.String())
	if !d.Broadcast && !d.Multicast {
		s.icmpError(now, d, wire.ICMPDestinationUnreachable, wire.ICMPProtocolUnreachable, 0)
	}
}

// publishIPv4 publishes an IPv4 rx or tx event.
func (s *Stack) publishIPv4(now clock.Time, kind observe.Kind, h *wire.IPv4Header, verb string) {
	fields := map[string]any{"src": s.boxAddr(h.Src), "dst": s.boxAddr(h.Dst), "ttl": h.TTL, "id": h.ID, "proto": uint8(h.Protocol), "len": h.TotalLen}
	explain := ""
	if len(h.Options) > 0 {
		opts := make([]string, len(h.Options))
		for i, o := range h.Options {
			opts[i] = o.String()
		}
		fields["options"] = opts
		explain = "the header carries IP options (RFC 791 §3.1), shown in the fields"
	}
	b := append(s.ev.buf[:0], verb...)
	b = append(b, ' ')
	b = appendIPv4Header(b, h)
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: kind,
		Summary: s.summary(b), Explain: explain, RFC: "RFC 791",
		Fields: fields,
	})
}

// TransportError is an ICMP error about a datagram this host sent, as the
// transport layer of that datagram sees it (RFC 1122 §3.2.2.1, §4.1.3.3,
// §4.2.3.9).
type TransportError struct {
	From             netip.Addr // the host that sent the ICMP message
	Type             wire.ICMPType
	Code             uint8
	Proto            wire.IPProtocol // protocol of the quoted datagram
	Src, Dst         netip.Addr      // addresses of the quoted datagram (ours, theirs)
	SrcPort, DstPort uint16          // from the quoted transport header (0 when absent)
	Errno            Errno           // the socket error it maps to
	Hard             bool            // a hard error aborts a connection; a soft one is only remembered
	MTU              int             // fragmentation needed: the next-hop MTU
	Detail           string          // in words, e.g. "ICMP port unreachable from 192.168.2.20"
}

// HandleTransportError registers the function that receives the ICMP errors
// about datagrams of protocol p that this host sent.
func (s *Stack) HandleTransportError(p wire.IPProtocol, h func(now clock.Time, e *TransportError)) {
	s.ip.errHandlers[p] = h
}
