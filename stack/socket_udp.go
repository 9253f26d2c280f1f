package stack

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
)

// SOCK_DGRAM sockets: UDP as Python's socket module shows it. A datagram
// socket keeps the datagrams it received in a bounded queue; recv returns one
// datagram at a time, truncated to the size asked for (the rest of that
// datagram is lost, as with recv on Linux).

// dgramOverhead is what each queued datagram costs against SO_RCVBUF on top
// of its data: the bookkeeping a kernel keeps per datagram, so that even
// empty datagrams fill a queue.
const dgramOverhead = 64

// queuedDgram is one received datagram waiting to be read.
type queuedDgram struct {
	data []byte
	from netip.AddrPort
}

// dgramQueue is the receive queue of a datagram or raw socket, bounded by the
// socket's SO_RCVBUF.
type dgramQueue struct {
	items     []queuedDgram
	bytes     int    // data bytes waiting to be read
	charged   int    // bytes charged against SO_RCVBUF (data plus overhead)
	queued    uint64 // datagrams accepted
	read      uint64 // datagrams read
	dropped   uint64 // datagrams refused because the queue was full
	truncated uint64 // datagrams read only in part
}

// push queues a copy of data unless the queue is full. A datagram is taken
// when it fits in SO_RCVBUF with what waits, or when nothing waits (so that a
// datagram larger than the buffer is not refused forever).
func (q *dgramQueue) push(rcvBuf int, data []byte, from netip.AddrPort) bool {
	cost := len(data) + dgramOverhead
	if len(q.items) > 0 && q.charged+cost > rcvBuf {
		q.dropped++
		return false
	}
	q.items = append(q.items, queuedDgram{data: append([]byte(nil), data...), from: from})
	q.bytes += len(data)
	q.charged += cost
	q.queued++
	return true
}

// pop returns the first datagram truncated to max bytes, removing it unless
// peek is set.
func (q *dgramQueue) pop(max int, peek bool) ([]byte, netip.AddrPort, bool) {
	if len(q.items) == 0 {
		return nil, netip.AddrPort{}, false
	}
	d := q.items[0]
	data := d.data
	if len(data) > max {
		data = data[:max]
	}
	if peek {
		return append([]byte(nil), data...), d.from, true
	}
	if len(data) < len(d.data) {
		q.truncated++
	}
	q.items[0] = queuedDgram{}
	q.items = q.items[1:]
	q.bytes -= len(d.data)
	q.charged -= len(d.data) + dgramOverhead
	q.read++
	return data, d.from, true
}

// clear empties the queue.
func (q *dgramQueue) clear() {
	q.items, q.bytes, q.charged = nil, 0, 0
}

// counters returns the queue's counters for a socket snapshot.
func (q *dgramQueue) counters() map[string]any {
	return map[string]any{
		"datagrams_waiting": len(q.items), "datagrams_queued": q.queued, "datagrams_read": q.read,
		"datagrams_dropped": q.dropped, "datagrams_truncated": q.truncated,
	}
}

// udpSock is the sockImpl of a UDP socket.
type udpSock struct {
	u              *udpLayer
	so             *Socket
	q              dgramQueue
	rdShut, wrShut bool
	sent           uint64
}

// newSocket makes a SOCK_DGRAM socket; protocol 0 and 17 both mean UDP.
func (u *udpLayer) newSocket(now clock.Time, so *Socket, proto int) (sockImpl, error) {
	if proto != 0 && proto != 17 {
		return nil, sockErr("socket", "", EPROTONOSUPPORT, fmt.Sprintf("a datagram socket speaks UDP (17), not protocol %d", proto))
	}
	so.proto = 17
	return &udpSock{u: u, so: so}, nil
}

// matches reports whether a datagram from → to belongs to the socket:
// bound to its destination address or to the wildcard, and, when connected,
// coming from the peer.
func (us *udpSock) matches(from, to netip.AddrPort) bool {
	so := us.so
	if la := so.local.Addr(); !la.IsUnspecified() && la != to.Addr() {
		return false
	}
	return !so.remote.IsValid() || so.remote == from
}

// deliver queues a received datagram for the socket, or drops it when the
// queue is full.
func (us *udpSock) deliver(now clock.Time, payload []byte, from netip.AddrPort, raw []byte) {
	so, s := us.so, us.u.s
	if !us.q.push(so.opts.rcvBuf, payload, from) {
		s.drop(now, observe.LayerUDP, ReasonSockQueueFull, raw, fmt.Sprintf("socket %d holds %d datagrams, %d bytes; SO_RCVBUF %d", so.id, len(us.q.items), us.q.bytes, so.opts.rcvBuf))
		return
	}
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerSocket, Kind: observe.KindRX,
			Summary: fmt.Sprintf("socket %d (%s) queued %d bytes from %s; %d datagrams wait", so.id, so.local, len(payload), from, len(us.q.items)),
			Fields:  map[string]any{"socket": so.id, "from": from.String(), "len": len(payload), "queue_bytes": us.q.bytes, "queue_datagrams": len(us.q.items)},
		})
	}
	so.wake()
}

// autobind binds an unbound socket to 0.0.0.0 and an ephemeral port, as a
// send or connect on an unbound socket does.
func (us *udpSock) autobind(now clock.Time) error {
	if us.so.local.IsValid() {
		return nil
	}
	return us.u.bind(now, us, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
}

func (us *udpSock) bind(now clock.Time, addr netip.AddrPort) error {
	if us.so.local.IsValid() {
		return sockErr("bind", addr.String(), EINVAL, "the socket is already bound to "+us.so.local.String())
	}
	return us.u.bind(now, us, addr)
}

// connect fixes the peer: sends go to it, and only its datagrams are
// received. The zero address dissolves the association (AF_UNSPEC).
func (us *udpSock) connect(now clock.Time, addr netip.AddrPort) error {
	so, s := us.so, us.u.s
	if !addr.IsValid() {
		so.remote = netip.AddrPort{}
		return nil
	}
	addr = unmap(addr)
	if addr.Port() == 0 {
		return sockErr("connect", addr.String(), EINVAL, "port 0 cannot be connected to")
	}
	_, _, src, err := s.RouteTo(now, addr.Addr(), so.sendOptions())
	if err != nil {
		return err
	}
	if err := us.autobind(now); err != nil {
		return err
	}
	if so.local.Addr().IsUnspecified() {
		// As Linux: a connected socket takes the route's source address.
		so.local = netip.AddrPortFrom(src, so.local.Port())
	}
	so.remote = addr
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerSocket, Kind: observe.KindState,
			Summary: fmt.Sprintf("socket %d connected: %s > %s", so.id, so.local, so.remote),
			Explain: "connecting a UDP socket sends nothing: it fixes the peer, so that send needs no address and only the peer's datagrams are received",
			Fields:  map[string]any{"socket": so.id, "local": so.local.String(), "remote": so.remote.String()},
		})
	}
	return nil
}

func (us *udpSock) listen(now clock.Time, backlog int) error {
	return sockErr("listen", "", EOPNOTSUPP, "a datagram socket does not listen")
}

func (us *udpSock) accept(now clock.Time) (*Socket, error) {
	return nil, sockErr("accept", "", EOPNOTSUPP, "a datagram socket does not accept")
}

func (us *udpSock) send(now clock.Time, b []byte, to netip.AddrPort, hasTo bool) (int, error) {
	so := us.so
	if err := so.takeSoftError(); err != nil {
		return 0, err
	}
	if us.wrShut {
		return 0, sockErr("send", "", EPIPE, "the socket was shut down for writing")
	}
	dst := so.remote
	if hasTo && to.IsValid() {
		dst = unmap(to)
	}
	if !dst.IsValid() {
		return 0, sockErr("send", "", EDESTADDRREQ, "the socket is not connected: use sendto with an address")
	}
	if err := us.autobind(now); err != nil {
		return 0, err
	}
	if err := us.u.output(now, us, b, dst); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (us *udpSock) recv(now clock.Time, max int, peek bool) ([]byte, netip.AddrPort, error) {
	so := us.so
	if err := so.takeSoftError(); err != nil {
		return nil, netip.AddrPort{}, err
	}
	if max < 0 {
		return nil, netip.AddrPort{}, sockErr("recv", "", EINVAL, "negative buffer size")
	}
	b, from, ok := us.q.pop(max, peek)
	if !ok {
		if us.rdShut {
			return []byte{}, netip.AddrPort{}, nil
		}
		return nil, netip.AddrPort{}, errAgain
	}
	return b, from, nil
}

func (us *udpSock) shutdown(now clock.Time, how How) error {
	if !us.so.remote.IsValid() {
		return sockErr("shutdown", "", ENOTCONN, "the socket is not connected")
	}
	switch how {
	case SHUT_RD:
		us.rdShut = true
	case SHUT_WR:
		us.wrShut = true
	case SHUT_RDWR:
		us.rdShut, us.wrShut = true, true
	default:
		return sockErr("shutdown", "", EINVAL, fmt.Sprintf("how %d", how))
	}
	us.so.wake()
	return nil
}

func (us *udpSock) close(now clock.Time) error {
	if us.so.local.IsValid() {
		us.u.unbind(us)
	}
	us.q.clear()
	return nil
}

func (us *udpSock) info(si *SocketInfo) {
	if si.State != "closed" {
		switch {
		case us.so.remote.IsValid():
			si.State = "connected"
		case us.so.local.IsValid():
			si.State = "bound"
		default:
			si.State = "unbound"
		}
	}
	si.RecvQueue = us.q.bytes
	c := us.q.counters()
	c["datagrams_sent"] = us.sent
	si.Counters = c
}
