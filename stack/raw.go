package stack

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Raw IPv4 sockets (SOCK_RAW), as Linux raw(7) has them.
//
// A raw socket of protocol N receives a copy of every datagram of protocol N
// the host accepts, IPv4 header and options included, after reassembly and
// before the protocol's own layer sees it (an ICMP raw socket sees the echo
// requests the stack then answers). A socket bound to an address receives
// only datagrams sent to it; a connected one only datagrams from its peer.
//
// Sending, the stack builds the IPv4 header from the socket's options
// (IP_TTL, IP_TOS, IP_OPTIONS, ...) around the data, fragmenting if needed.
// With IP_HDRINCL the program supplies the whole datagram and the stack only
// fills in what raw(7) says: the total length and the header checksum always,
// the identification and the source address when they are zero; such a
// datagram is never fragmented (EMSGSIZE when it exceeds the MTU).
//
// Protocol numbers follow Linux: 0 is refused (EPROTONOSUPPORT), and 255
// (IPPROTO_RAW) is send-only with IP_HDRINCL implied.

// IPPROTO_RAW is the raw protocol number: send-only, header included.
const IPPROTO_RAW = 255

// rawLayer is the raw-socket state of one stack.
type rawLayer struct {
	s     *Stack
	socks []*rawSock // in creation order
}

// initRaw installs the raw-socket hook of the IPv4 input path and the
// SOCK_RAW socket type.
func (s *Stack) initRaw() {
	r := &rawLayer{s: s}
	s.ip.rawInput = r.input
	s.RegisterSocketType(SOCK_RAW, r.newSocket)
}

// input offers an accepted datagram to the raw sockets of its protocol and
// reports whether one of them took a copy.
func (r *rawLayer) input(now clock.Time, d *Datagram) bool {
	took := false
	for _, rs := range r.socks {
		if rs.matches(d) {
			if rs.deliver(now, d) {
				took = true
			}
		}
	}
	return took
}

// rawSock is the sockImpl of a raw socket.
type rawSock struct {
	r    *rawLayer
	so   *Socket
	q    dgramQueue
	sent uint64
}

func (r *rawLayer) newSocket(now clock.Time, so *Socket, proto int) (sockImpl, error) {
	if proto <= 0 || proto > 255 {
		return nil, sockErr("socket", "", EPROTONOSUPPORT, fmt.Sprintf("a raw socket needs an IP protocol number from 1 to 255, not %d (as Linux)", proto))
	}
	rs := &rawSock{r: r, so: so}
	if proto == IPPROTO_RAW {
		so.opts.hdrIncl = true
	}
	r.socks = append(r.socks, rs)
	return rs, nil
}

// matches reports whether the socket receives d: same protocol, bound
// address (if any) equal to the destination, connected peer (if any) equal
// to the source. IPPROTO_RAW sockets receive nothing.
func (rs *rawSock) matches(d *Datagram) bool {
	so := rs.so
	if so.proto == IPPROTO_RAW || uint8(so.proto) != uint8(d.Header.Protocol) {
		return false
	}
	if la := so.local.Addr(); so.local.IsValid() && !la.IsUnspecified() && la != d.Header.Dst {
		return false
	}
	return !so.remote.IsValid() || so.remote.Addr() == d.Header.Src
}

// deliver queues a copy of the whole datagram.
func (rs *rawSock) deliver(now clock.Time, d *Datagram) bool {
	so, s := rs.so, rs.r.s
	from := netip.AddrPortFrom(d.Header.Src, 0)
	if !rs.q.push(so.opts.rcvBuf, d.Raw, from) {
		s.dropDatagram(now, observe.LayerSocket, ReasonSockQueueFull, d, fmt.Sprintf("raw socket %d holds %d datagrams, %d bytes; SO_RCVBUF %d", so.id, len(rs.q.items), rs.q.bytes, so.opts.rcvBuf))
		return false
	}
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerSocket, Kind: observe.KindRX,
			Summary: fmt.Sprintf("raw socket %d (protocol %d) got a copy of %d bytes from %s", so.id, so.proto, len(d.Raw), d.Header.Src),
			Explain: "a raw socket receives a copy of every datagram of its protocol, IPv4 header included, while the stack goes on to handle the datagram itself (raw(7))",
			Fields:  map[string]any{"socket": so.id, "proto": so.proto, "from": d.Header.Src.String(), "len": len(d.Raw)},
		})
	}
	so.wake()
	return true
}

// bind fixes the local address (the port is ignored, as raw(7) says).
func (rs *rawSock) bind(now clock.Time, addr netip.AddrPort) error {
	a := addr.Addr()
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	a = a.Unmap()
	if !a.Is4() {
		return sockErr("bind", addr.String(), EAFNOSUPPORT, "tipy speaks IPv4 only")
	}
	if !rs.r.s.usableLocal(a) {
		return sockErr("bind", addr.String(), EADDRNOTAVAIL, fmt.Sprintf("%s is not an address of this host", a))
	}
	rs.so.local = netip.AddrPortFrom(a, 0)
	return nil
}

// connect fixes the peer address (the port is ignored).
func (rs *rawSock) connect(now clock.Time, addr netip.AddrPort) error {
	if !addr.IsValid() {
		rs.so.remote = netip.AddrPort{}
		return nil
	}
	addr = unmap(addr)
	if _, _, _, err := rs.r.s.RouteTo(now, addr.Addr(), rs.so.sendOptions()); err != nil {
		return err
	}
	rs.so.remote = netip.AddrPortFrom(addr.Addr(), 0)
	return nil
}

func (rs *rawSock) listen(now clock.Time, backlog int) error {
	return sockErr("listen", "", EOPNOTSUPP, "a raw socket does not listen")
}

func (rs *rawSock) accept(now clock.Time) (*Socket, error) {
	return nil, sockErr("accept", "", EOPNOTSUPP, "a raw socket does not accept")
}

func (rs *rawSock) send(now clock.Time, b []byte, to netip.AddrPort, hasTo bool) (int, error) {
	so, s := rs.so, rs.r.s
	if err := so.takeSoftError(); err != nil {
		return 0, err
	}
	dst := so.remote.Addr()
	if hasTo && to.IsValid() {
		dst = to.Addr().Unmap()
	}
	if !dst.IsValid() {
		return 0, sockErr("send", "", EDESTADDRREQ, "the socket is not connected: use sendto with an address")
	}
	o := so.sendOptions()
	if la := so.local.Addr(); s.isOwnAddr(la) {
		o.Src = la
	}
	o.OnError = func(err error) {
		if !so.closed {
			so.setSoftError(err)
		}
	}
	var err error
	if so.opts.hdrIncl {
		err = rs.sendHeaderIncluded(now, b, dst, o)
	} else {
		if max := 65535 - optionsHeaderLen(o.Options); len(b) > max {
			return 0, sockErr("sendto", dst.String(), EMSGSIZE, fmt.Sprintf("%d bytes exceed the largest IPv4 payload of %d", len(b), max))
		}
		p := NewPacket(Headroom, len(b))
		copy(p.Payload(), b)
		rs.publishSend(now, dst, len(b), false)
		err = s.SendIPv4(now, dst, wire.IPProtocol(so.proto), p, o)
	}
	if err != nil {
		return 0, err
	}
	rs.sent++
	return len(b), nil
}

// sendHeaderIncluded sends b, a whole datagram the program built, towards
// dst (the routing uses dst; the header's destination is sent as written).
func (rs *rawSock) sendHeaderIncluded(now clock.Time, b []byte, dst netip.Addr, o *SendOptions) error {
	s := rs.r.s
	if len(b) < wire.IPv4MinHeaderLen {
		return sockErr("sendto", dst.String(), EINVAL, fmt.Sprintf("IP_HDRINCL: %d bytes cannot hold an IPv4 header", len(b)))
	}
	if hl := int(b[0]&0x0f) * 4; hl < wire.IPv4MinHeaderLen || hl > len(b) {
		return sockErr("sendto", dst.String(), EINVAL, fmt.Sprintf("IP_HDRINCL: header length %d does not fit the %d bytes given", hl, len(b)))
	}
	nh, err := s.route(now, dst, o)
	if err != nil {
		return err
	}
	if len(b) > nh.route.Iface.mtu {
		return sockErr("sendto", dst.String(), EMSGSIZE, fmt.Sprintf("IP_HDRINCL: %d bytes exceed the MTU %d of %s, and a datagram with its own header is not fragmented", len(b), nh.route.Iface.mtu, nh.route.Iface.name))
	}
	p := NewPacket(wire.EthernetHeaderLen, len(b))
	ip := wire.IPv4(p.Payload())
	copy(ip, b)
	var filled []string
	ip.SetTotalLen(uint16(len(b)))
	if ip.Src().IsUnspecified() {
		ip.SetSrc(nh.src)
		filled = append(filled, "source")
	}
	if ip.ID() == 0 {
		ip.SetID(s.nextIPID())
		filled = append(filled, "identification")
	}
	ip.UpdateChecksum()
	h, err := wire.ParseIPv4(ip)
	if err != nil {
		return sockErr("sendto", dst.String(), EINVAL, "IP_HDRINCL: "+err.Error())
	}
	if s.obs.Active() {
		explain := "with IP_HDRINCL the program wrote the IPv4 header itself; the stack filled in the total length and the checksum"
		if len(filled) > 0 {
			explain += fmt.Sprintf(" and the zero %v, as raw(7) says", filled)
		}
		so := rs.so
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerSocket, Kind: observe.KindTX,
			Summary: fmt.Sprintf("raw socket %d sends its own header: %s", so.id, h.String()),
			Explain: explain,
			Fields:  map[string]any{"socket": so.id, "dst": h.Dst.String(), "src": h.Src.String(), "proto": uint8(h.Protocol), "len": len(b)},
		})
	}
	return s.transmit(now, nh, &h, p, o)
}

func (rs *rawSock) publishSend(now clock.Time, dst netip.Addr, n int, hdrIncl bool) {
	s, so := rs.r.s, rs.so
	if !s.obs.Active() {
		return
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerSocket, Kind: observe.KindTX,
		Summary: fmt.Sprintf("raw socket %d sends %d bytes of protocol %d to %s", so.id, n, so.proto, dst),
		Explain: "the stack builds the IPv4 header from the socket's options around the program's data (raw(7))",
		Fields:  map[string]any{"socket": so.id, "dst": dst.String(), "proto": so.proto, "len": n, "hdrincl": hdrIncl},
	})
}

func (rs *rawSock) recv(now clock.Time, max int, peek bool) ([]byte, netip.AddrPort, error) {
	if err := rs.so.takeSoftError(); err != nil {
		return nil, netip.AddrPort{}, err
	}
	if max < 0 {
		return nil, netip.AddrPort{}, sockErr("recv", "", EINVAL, "negative buffer size")
	}
	b, from, ok := rs.q.pop(max, peek)
	if !ok {
		return nil, netip.AddrPort{}, errAgain
	}
	return b, from, nil
}

func (rs *rawSock) shutdown(now clock.Time, how How) error {
	return sockErr("shutdown", "", ENOTCONN, "a raw socket has no connection to shut down")
}

func (rs *rawSock) close(now clock.Time) error {
	for i, o := range rs.r.socks {
		if o == rs {
			rs.r.socks = append(rs.r.socks[:i:i], rs.r.socks[i+1:]...)
			break
		}
	}
	rs.q.clear()
	return nil
}

func (rs *rawSock) info(si *SocketInfo) {
	si.RecvQueue = rs.q.bytes
	c := rs.q.counters()
	c["datagrams_sent"] = rs.sent
	si.Counters = c
}
