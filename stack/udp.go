package stack

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// UDP (RFC 768, RFC 1122 §4.1): receive, demultiplex, ports.
//
// A received datagram is checked once: its length field against the IP
// payload and its checksum over the pseudo-header (a zero checksum means the
// sender computed none, RFC 768, and is accepted). It then goes to the socket
// that matches it best: a socket connected to the sender beats one bound to
// the destination address, which beats one bound to the wildcard address
// 0.0.0.0. A broadcast or multicast datagram goes to EVERY matching socket,
// which is why several sockets may bind one port with SO_REUSEADDR (RFC 1122
// §4.1.3.5 leaves the choice to the implementation; tipy does what Linux
// does). With no socket, the sender gets ICMP port unreachable (RFC 1122
// §4.1.3.1).

// Ephemeral ports, as Linux's default net.ipv4.ip_local_port_range.
const (
	EphemeralFirst = 32768
	EphemeralLast  = 60999
)

// MaxUDPPayload is the largest UDP payload: 65535 minus a 20-byte IPv4
// header and the 8-byte UDP header.
const MaxUDPPayload = 65535 - 20 - wire.UDPHeaderLen

// udpLayer is the UDP state of one stack: every UDP socket that has a local
// port, by port, in the order they were bound.
type udpLayer struct {
	s     *Stack
	ports map[uint16][]*udpSock
}

// initUDP registers UDP as protocol 17, its ICMP error handler and the
// SOCK_DGRAM socket type.
func (s *Stack) initUDP() {
	u := &udpLayer{s: s, ports: make(map[uint16][]*udpSock)}
	s.HandleProtocol(wire.ProtoUDP, u.input)
	s.HandleTransportError(wire.ProtoUDP, u.transportError)
	s.RegisterSocketType(SOCK_DGRAM, u.newSocket)
}

// input receives one UDP datagram.
func (u *udpLayer) input(now clock.Time, d *Datagram) {
	s := u.s
	v := wire.UDP(d.Payload)
	if err := v.Validate(); err != nil {
		s.dropDatagram(now, observe.LayerUDP, ReasonUDPMalformed, d, fmt.Sprintf("%v (IP payload %d bytes)", err, len(d.Payload)))
		return
	}
	src, dst := d.Header.Src, d.Header.Dst
	if !v.ChecksumValid(src, dst) {
		detail := "checksum"
		if err := v.VerifyChecksum(src, dst); err != nil {
			detail = err.Error()
		}
		s.dropDatagram(now, observe.LayerUDP, ReasonUDPBadChecksum, d, detail)
		return
	}
	from := netip.AddrPortFrom(src, v.SrcPort())
	to := netip.AddrPortFrom(dst, v.DstPort())
	payload := v.Payload()
	if s.obs.Active() {
		h := wire.UDPHeader{SrcPort: v.SrcPort(), DstPort: v.DstPort(), Length: v.Length(), Checksum: v.Checksum()}
		explain := ""
		if v.Checksum() == 0 {
			explain = "the sender sent no checksum (the field is zero), which UDP over IPv4 allows (RFC 768)"
		}
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerUDP, Kind: observe.KindRX,
			Summary: fmt.Sprintf("received %s from %s to %s", h.String(), from, to),
			Explain: explain, RFC: "RFC 768",
			Fields: map[string]any{"src": from.String(), "dst": to.String(), "len": len(payload), "checksum": v.Checksum()},
		})
	}
	if d.Broadcast || d.Multicast {
		n := 0
		for _, us := range u.ports[to.Port()] {
			if us.matches(from, to) {
				us.deliver(now, payload, from, d.Raw)
				n++
			}
		}
		if n == 0 {
			s.dropDatagram(now, observe.LayerUDP, ReasonUDPNoSocket, d, fmt.Sprintf("no socket on port %d for %s", to.Port(), dst))
		}
		return
	}
	if us := u.lookup(from, to); us != nil {
		us.deliver(now, payload, from, d.Raw)
		return
	}
	s.dropDatagram(now, observe.LayerUDP, ReasonUDPNoSocket, d, fmt.Sprintf("no socket on port %d", to.Port()))
	s.icmpError(now, d, wire.ICMPDestinationUnreachable, wire.ICMPPortUnreachable, 0)
}

// lookup returns the socket that matches a unicast datagram best: connected
// to the sender (2 points), bound to the destination address (1 point); ties
// go to the socket bound last, as in Linux, whose hash chains put the newest
// socket first.
func (u *udpLayer) lookup(from, to netip.AddrPort) *udpSock {
	var best *udpSock
	bestScore := -1
	for _, us := range u.ports[to.Port()] {
		if !us.matches(from, to) {
			continue
		}
		score := 0
		if us.so.remote.IsValid() {
			score += 2
		}
		if !us.so.local.Addr().IsUnspecified() {
			score++
		}
		if score >= bestScore {
			best, bestScore = us, score
		}
	}
	return best
}

// transportError receives the ICMP errors about UDP datagrams we sent. Like
// Linux without IP_RECVERR, only a connected socket hears of them, and only
// of hard errors (port or protocol unreachable, RFC 1122 §4.1.3.3): an
// unconnected socket could not tell which of its datagrams failed.
func (u *udpLayer) transportError(now clock.Time, e *TransportError) {
	s := u.s
	local := netip.AddrPortFrom(e.Src, e.SrcPort)
	remote := netip.AddrPortFrom(e.Dst, e.DstPort)
	var target *udpSock
	for _, us := range u.ports[e.SrcPort] {
		if us.so.remote == remote && (us.so.local.Addr().IsUnspecified() || us.so.local.Addr() == e.Src) {
			target = us
			break
		}
	}
	reported := target != nil && e.Hard
	if s.obs.Active() {
		var summary, explain string
		switch {
		case reported:
			summary = fmt.Sprintf("socket %d (%s > %s): %s, reported as %s", target.so.id, local, remote, e.Detail, e.Errno.Name())
			explain = fmt.Sprintf("the ICMP error is about a datagram of a connected socket, so its next send or receive fails with %s", e.Errno.Name())
		case target != nil:
			summary = fmt.Sprintf("socket %d (%s > %s): %s, not reported (soft error)", target.so.id, local, remote, e.Detail)
			explain = "a soft ICMP error may be transient, so a UDP socket is not told about it (RFC 1122 §4.1.3.3; Linux without IP_RECVERR)"
		default:
			summary = fmt.Sprintf("%s > %s: %s, no connected socket", local, remote, e.Detail)
			explain = "no connected UDP socket sent this datagram; an unconnected socket is not told about ICMP errors, as on Linux, because it could not tell which destination failed"
		}
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerUDP, Kind: observe.KindError,
			Summary: summary, Explain: explain, RFC: "RFC 1122 §4.1.3.3", Reason: e.Errno.Name(),
			Fields: map[string]any{"local": local.String(), "remote": remote.String(), "from": e.From.String(), "type": uint8(e.Type), "code": e.Code, "errno": e.Errno.Name()},
		})
	}
	if reported {
		target.so.setSoftError(sockErr("recv", remote.String(), e.Errno, e.Detail))
	}
}

// usableLocal reports whether a socket may bind a: the wildcard, one of our
// addresses, a broadcast address of one of our networks, or a multicast
// group.
func (s *Stack) usableLocal(a netip.Addr) bool {
	if a.IsUnspecified() || a.IsMulticast() || a == limitedBroadcast || s.isOwnAddr(a) {
		return true
	}
	for _, ifc := range s.ifaces {
		if ifc.isBroadcast(a) {
			return true
		}
	}
	return false
}

// bind gives us the local address addr (port 0: an ephemeral port).
func (u *udpLayer) bind(now clock.Time, us *udpSock, addr netip.AddrPort) error {
	a := addr.Addr()
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	a = a.Unmap()
	if !a.Is4() {
		return sockErr("bind", addr.String(), EAFNOSUPPORT, "tipy speaks IPv4 only")
	}
	if !u.s.usableLocal(a) {
		return sockErr("bind", addr.String(), EADDRNOTAVAIL, fmt.Sprintf("%s is not an address of this host", a))
	}
	port := addr.Port()
	if port == 0 {
		p, err := u.ephemeral()
		if err != nil {
			return err
		}
		port = p
	} else if other := u.conflict(us, a, port); other != nil {
		detail := fmt.Sprintf("socket %d is bound to %s", other.so.id, other.so.local)
		if other.so.opts.reuseAddr != us.so.opts.reuseAddr {
			detail += "; both sockets need SO_REUSEADDR to share it"
		}
		return sockErr("bind", netip.AddrPortFrom(a, port).String(), EADDRINUSE, detail)
	}
	us.so.local = netip.AddrPortFrom(a, port)
	u.ports[port] = append(u.ports[port], us)
	if u.s.obs.Active() {
		explain := ""
		if addr.Port() == 0 {
			explain = fmt.Sprintf("port 0 asks for an ephemeral port: a free one chosen at random in %d-%d, as Linux does", EphemeralFirst, EphemeralLast)
		}
		u.s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: u.s.cfg.Name, Layer: observe.LayerSocket, Kind: observe.KindState,
			Summary: fmt.Sprintf("socket %d bound to udp %s", us.so.id, us.so.local), Explain: explain,
			Fields: map[string]any{"socket": us.so.id, "local": us.so.local.String()},
		})
	}
	return nil
}

// conflict returns a socket whose binding forbids us to bind a:port, or nil.
// Two bindings of one port overlap when their addresses are equal or one is
// the wildcard; they may share it only when both set SO_REUSEADDR.
func (u *udpLayer) conflict(us *udpSock, a netip.Addr, port uint16) *udpSock {
	for _, o := range u.ports[port] {
		if o == us {
			continue
		}
		oa := o.so.local.Addr()
		if oa != a && !oa.IsUnspecified() && !a.IsUnspecified() {
			continue
		}
		if o.so.opts.reuseAddr && us.so.opts.reuseAddr {
			continue
		}
		return o
	}
	return nil
}

// ephemeral picks a free port at random in the ephemeral range: a random
// start from the stack's seeded source, then the next free one.
func (u *udpLayer) ephemeral() (uint16, error) {
	const n = EphemeralLast - EphemeralFirst + 1
	start := u.s.rng.IntN(n)
	for i := 0; i < n; i++ {
		p := uint16(EphemeralFirst + (start+i)%n)
		if len(u.ports[p]) == 0 {
			return p, nil
		}
	}
	return 0, sockErr("bind", "", EADDRINUSE, fmt.Sprintf("every ephemeral port %d-%d is in use", EphemeralFirst, EphemeralLast))
}

// unbind removes us from the port table.
func (u *udpLayer) unbind(us *udpSock) {
	port := us.so.local.Port()
	list := u.ports[port]
	for i, o := range list {
		if o == us {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(u.ports, port)
	} else {
		u.ports[port] = list
	}
}

// output sends payload from us to dst.
func (u *udpLayer) output(now clock.Time, us *udpSock, payload []byte, dst netip.AddrPort) error {
	s := u.s
	if dst.Port() == 0 {
		return sockErr("sendto", dst.String(), EINVAL, "port 0 cannot be sent to")
	}
	o := us.so.sendOptions()
	if la := us.so.local.Addr(); s.isOwnAddr(la) {
		o.Src = la
	}
	if max := MaxUDPPayload - (optionsHeaderLen(o.Options) - 20); len(payload) > max {
		return sockErr("sendto", dst.String(), EMSGSIZE, fmt.Sprintf("%d bytes exceed the largest UDP payload of %d", len(payload), max))
	}
	_, _, src, err := s.RouteTo(now, dst.Addr(), o)
	if err != nil {
		return err
	}
	p := NewPacket(Headroom, wire.UDPHeaderLen+len(payload))
	copy(p.Payload()[wire.UDPHeaderLen:], payload)
	h := wire.UDPHeader{SrcPort: us.so.local.Port(), DstPort: dst.Port()}
	if err := h.Marshal(p.Payload(), src, dst.Addr()); err != nil {
		return sockErr("sendto", dst.String(), EINVAL, err.Error())
	}
	so := us.so
	o.OnError = func(err error) {
		if so.closed {
			return
		}
		var se *SocketError
		if errors.As(err, &se) {
			so.setSoftError(sockErr("send", dst.String(), se.Errno, se.Detail))
			return
		}
		so.setSoftError(err)
	}
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerUDP, Kind: observe.KindTX,
			Summary: fmt.Sprintf("socket %d sends %s from %s to %s", so.id, h.String(), netip.AddrPortFrom(src, h.SrcPort), dst),
			RFC:     "RFC 768",
			Fields:  map[string]any{"socket": so.id, "src": netip.AddrPortFrom(src, h.SrcPort).String(), "dst": dst.String(), "len": len(payload), "checksum": h.Checksum},
		})
	}
	if err := s.SendIPv4(now, dst.Addr(), wire.ProtoUDP, p, o); err != nil {
		return err
	}
	us.sent++
	return nil
}

// optionsHeaderLen returns the length of an IPv4 header carrying opts.
func optionsHeaderLen(opts []wire.IPv4Option) int {
	h := wire.IPv4Header{Options: opts}
	return h.HeaderLen()
}
