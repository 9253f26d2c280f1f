package stack

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
)

// SOCK_STREAM sockets: the user calls of RFC 9293 §3.10 (OPEN, SEND,
// RECEIVE, CLOSE, ABORT) as the socket API presents them. Every method runs
// on the loop and returns EAGAIN when the caller must wait.

// tcpSock is the sockImpl of a TCP socket.
type tcpSock struct {
	l     *tcpLayer
	so    *Socket
	c     *tcpConn     // after connect or accept
	ls    *tcpListener // after listen
	bound bool         // holds so.local's port in the port table
}

// newSocket makes a SOCK_STREAM socket; protocol 0 and 6 both mean TCP.
func (l *tcpLayer) newSocket(now clock.Time, so *Socket, proto int) (sockImpl, error) {
	if proto != 0 && proto != 6 {
		return nil, sockErr("socket", "", EPROTONOSUPPORT, fmt.Sprintf("a stream socket speaks TCP (6), not protocol %d", proto))
	}
	so.proto = 6
	return &tcpSock{l: l, so: so}, nil
}

func (ts *tcpSock) bind(now clock.Time, addr netip.AddrPort) error {
	l, so := ts.l, ts.so
	if ts.bound || ts.c != nil || ts.ls != nil {
		return sockErr("bind", addr.String(), EINVAL, "the socket is already bound")
	}
	a := addr.Addr()
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	if !a.Is4() {
		return sockErr("bind", addr.String(), EAFNOSUPPORT, "tipy speaks IPv4 only")
	}
	if !a.IsUnspecified() && !l.s.isOwnAddr(a) {
		return sockErr("bind", addr.String(), EADDRNOTAVAIL, "no interface has this address")
	}
	port := addr.Port()
	if port == 0 {
		p, err := l.ephemeralPort()
		if err != nil {
			return err
		}
		port = p
	} else if l.ports[port] > 0 && !(so.opts.reuseAddr && !l.hasListener(port)) {
		return sockErr("bind", addr.String(), EADDRINUSE, fmt.Sprintf("port %d is in use (SO_REUSEADDR allows it while no socket listens on it)", port))
	}
	l.holdPort(port)
	ts.bound = true
	so.local = netip.AddrPortFrom(a, port)
	return nil
}

// hasListener reports whether a socket listens on port.
func (l *tcpLayer) hasListener(port uint16) bool {
	for a := range l.listeners {
		if a.Port() == port {
			return true
		}
	}
	return false
}

func (ts *tcpSock) connect(now clock.Time, addr netip.AddrPort) error {
	l, so := ts.l, ts.so
	if ts.ls != nil {
		return sockErr("connect", addr.String(), EINVAL, "the socket is listening")
	}
	if c := ts.c; c != nil && c.state == TCPClosed && !c.connecting && !c.connDone {
		// A failed attempt: the socket may try again, as on Linux.
		ts.c = nil
	}
	if c := ts.c; c != nil {
		if !c.connecting {
			return sockErr("connect", addr.String(), EISCONN, "the socket is already connected")
		}
		switch {
		case c.state == TCPClosed:
			c.connecting = false
			return c.takeErr("connect")
		case c.state.synchronized():
			c.connecting, c.connDone = false, true
			return nil
		case so.timeout == 0:
			return sockErr("connect", addr.String(), EALREADY, "the handshake is still under way")
		}
		return errAgain
	}
	if !addr.Addr().Is4() || addr.Port() == 0 || addr.Addr().IsUnspecified() {
		return sockErr("connect", addr.String(), EINVAL, "want an IPv4 address and a port other than 0")
	}
	if addr.Addr().IsMulticast() || addr.Addr() == limitedBroadcast {
		return sockErr("connect", addr.String(), ENETUNREACH, "TCP cannot connect to a broadcast or multicast address")
	}
	_, _, src, err := l.s.RouteTo(now, addr.Addr(), so.sendOptions())
	if err != nil {
		if se, ok := err.(*SocketError); ok {
			return sockErr("connect", addr.String(), se.Errno, se.Detail)
		}
		return err
	}
	if !ts.bound {
		p, err := l.ephemeralPort()
		if err != nil {
			return err
		}
		l.holdPort(p)
		so.local = netip.AddrPortFrom(src, p)
	} else if so.local.Addr().IsUnspecified() {
		so.local = netip.AddrPortFrom(src, so.local.Port())
	}
	if l.conns[tcpTuple{so.local, addr}] != nil {
		if !ts.bound {
			l.releasePort(so.local.Port())
		}
		return sockErr("connect", addr.String(), EADDRNOTAVAIL, "a connection with this address pair exists (TIME-WAIT?)")
	}
	ts.bound = false // the connection holds the port from now on
	c := l.newConn(now, so.local, addr, &so.opts)
	c.so = so
	ts.c = c
	so.remote = addr
	l.addConn(c)
	l.stats.ActiveOpens++
	c.setState(now, TCPSynSent, "connect: active open", "RFC 9293 §3.10.1")
	c.rttTiming, c.rttSeq, c.rttStart = true, c.iss.Add(1), now
	c.connecting = true
	c.sendSYN(now, nil, false, "SYN (active open)")
	if c.state == TCPClosed {
		c.connecting = false
		return c.takeErr("connect")
	}
	if so.timeout == 0 {
		return sockErr("connect", addr.String(), EINPROGRESS, "the handshake has started")
	}
	return errAgain
}

// takeErr returns the connection's pending error once.
func (c *tcpConn) takeErr(op string) error {
	err := c.err
	if err == nil {
		return sockErr(op, c.remote.String(), ECONNABORTED, "the connection was closed")
	}
	if se, ok := err.(*SocketError); ok {
		e := *se
		e.Op = op
		return &e
	}
	return err
}

func (ts *tcpSock) listen(now clock.Time, backlog int) error {
	l, so := ts.l, ts.so
	if ts.c != nil {
		return sockErr("listen", "", EISCONN, "the socket is connected")
	}
	if backlog <= 0 {
		backlog = l.cfg.DefaultBacklog
	}
	backlog = min(backlog, 4096)
	if ts.ls != nil {
		ts.ls.backlog = backlog
		return nil
	}
	if !ts.bound {
		if err := ts.bind(now, netip.AddrPortFrom(netip.IPv4Unspecified(), 0)); err != nil {
			return err
		}
	}
	if l.listeners[so.local] != nil {
		return sockErr("listen", so.local.String(), EADDRINUSE, "another socket listens on this address")
	}
	ts.ls = &tcpListener{l: l, so: so, addr: so.local, backlog: backlog}
	l.listeners[so.local] = ts.ls
	if l.s.obs.Active() {
		l.s.obs.Publish(observe.Event{TimeNS: int64(now), Host: l.s.cfg.Name, Layer: observe.LayerTCP, Kind: observe.KindState,
			Conn: so.local.String(), Summary: "CLOSED → LISTEN on " + so.local.String(),
			Explain: "a passive open: the socket waits for SYNs", RFC: "RFC 9293 §3.10.1",
			Fields: map[string]any{"from": "CLOSED", "to": "LISTEN", "trigger": "listen", "backlog": backlog}})
	}
	return nil
}

func (ts *tcpSock) accept(now clock.Time) (*Socket, error) {
	ls := ts.ls
	if ls == nil {
		return nil, sockErr("accept", "", EINVAL, "the socket is not listening")
	}
	if len(ls.acceptQ) == 0 {
		return nil, errAgain
	}
	c := ls.acceptQ[0]
	ls.acceptQ = ls.acceptQ[1:]
	c.parent = nil
	so := ts.so
	ns := &Socket{s: so.s, typ: SOCK_STREAM, proto: 6, timeout: -1, opts: so.opts}
	ns.opts.memberships = nil
	ns.impl = &tcpSock{l: ts.l, so: ns, c: c}
	ns.local, ns.remote = c.local, c.remote
	so.s.addSocket(ns)
	c.so = ns
	c.connDone = true
	c.armKeepalive(now)
	return ns, nil
}

func (ts *tcpSock) send(now clock.Time, b []byte, to netip.AddrPort, hasTo bool) (int, error) {
	c := ts.c
	if c == nil {
		return 0, sockErr("send", "", ENOTCONN, "the socket is not connected")
	}
	if hasTo && to != c.remote {
		return 0, sockErr("send", to.String(), EISCONN, "a stream socket sends only to its peer")
	}
	switch {
	case c.wrShut:
		return 0, sockErr("send", c.remote.String(), EPIPE, "the sending side was shut down")
	case c.reset:
		return 0, sockErr("send", c.remote.String(), EPIPE, "the peer reset the connection")
	case c.state == TCPClosed:
		if c.err != nil {
			return 0, c.takeErr("send")
		}
		return 0, sockErr("send", c.remote.String(), EPIPE, "the connection is closed")
	case c.state == TCPSynSent || c.state == TCPSynReceived:
		return 0, errAgain
	case !c.state.canSendData():
		return 0, sockErr("send", c.remote.String(), EPIPE, "the connection is closing")
	}
	if len(b) == 0 {
		return 0, nil
	}
	n := c.sndBuf.Write(b)
	if n == 0 {
		return 0, errAgain
	}
	c.output(now)
	return n, nil
}

func (ts *tcpSock) recv(now clock.Time, max int, peek bool) ([]byte, netip.AddrPort, error) {
	c := ts.c
	if c == nil {
		return nil, netip.AddrPort{}, sockErr("recv", "", ENOTCONN, "the socket is not connected")
	}
	from := c.remote
	if c.rdShut || max <= 0 {
		return []byte{}, from, nil
	}
	if n := c.rcvBuf.Len(); n > 0 && max > 0 {
		buf := make([]byte, min(n, max))
		if peek {
			c.rcvBuf.Peek(0, buf)
			return buf, from, nil
		}
		c.rcvBuf.Read(buf)
		c.windowUpdate(now)
		return buf, from, nil
	}
	switch {
	case c.reset:
		err := &SocketError{Op: "recv", Addr: from.String(), Errno: ECONNRESET, Detail: "the peer reset the connection"}
		ts.publishError(now, err)
		return nil, from, err
	case c.finRcvd:
		return []byte{}, from, nil
	case c.state == TCPClosed:
		if c.err != nil {
			return nil, from, c.takeErr("recv")
		}
		return []byte{}, from, nil
	}
	return nil, from, errAgain
}

// publishError publishes an error a call of the socket returns because
// of the connection (a reset), so that it shows next to the segment that
// caused it.
func (ts *tcpSock) publishError(now clock.Time, err *SocketError) {
	s := ts.l.s
	if !s.obs.Active() {
		return
	}
	so := ts.so
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerSocket, Kind: observe.KindError,
		Conn: ts.c.id, Summary: fmt.Sprintf("socket %d: %s", so.id, err.Error()), Reason: err.Errno.Name(),
		Explain: "the peer sent a reset: the connection is gone, and the data it had not yet delivered is lost",
		RFC:     "RFC 9293 §3.10.7.4",
		Fields:  map[string]any{"socket": so.id, "op": err.Op, "errno": err.Errno.Name()}})
}

// windowUpdate sends a window update when reading freed enough room to
// move the right edge by min(buffer/2, MSS) (RFC 9293 §3.8.6.2.2).
func (c *tcpConn) windowUpdate(now clock.Time) {
	if !c.state.canReceiveData() {
		return
	}
	free := c.rcvBuf.Free() - c.ooo.Bytes()
	if free-int(c.rcvWnd()) >= min(c.rcvBuf.Cap()/2, c.rcvMSS) {
		c.oweAck("window update: the application read, the window opens (RFC 9293 §3.8.6.2.2)")
		c.output(now)
	}
}

func (ts *tcpSock) shutdown(now clock.Time, how How) error {
	c := ts.c
	if c == nil || c.state == TCPSynSent {
		return sockErr("shutdown", "", ENOTCONN, "the socket is not connected")
	}
	if how == SHUT_RD || how == SHUT_RDWR {
		c.rdShut = true
		c.rcvBuf.Reset()
		c.wake()
	}
	if how == SHUT_WR || how == SHUT_RDWR {
		c.closeSend(now)
	}
	return nil
}

// closeSend is CLOSE for the sending direction: a FIN follows the data
// already queued (RFC 9293 §3.10.4).
func (c *tcpConn) closeSend(now clock.Time) {
	if c.wrShut {
		return
	}
	c.wrShut = true
	switch c.state {
	case TCPSynSent:
		c.abort(now, nil, false, "close in SYN-SENT", "RFC 9293 §3.10.4")
	case TCPSynReceived, TCPEstablished, TCPCloseWait:
		c.finQd = true
		c.finSeq = c.dataEnd()
		c.output(now)
	}
	c.wake()
}

func (ts *tcpSock) close(now clock.Time) error {
	l := ts.l
	if ts.ls != nil {
		ts.ls.close(now)
		if ts.bound {
			l.releasePort(ts.so.local.Port())
			ts.bound = false
		}
		return nil
	}
	c := ts.c
	if c == nil {
		if ts.bound {
			l.releasePort(ts.so.local.Port())
			ts.bound = false
		}
		return nil
	}
	c.userGone = true
	lg := ts.so.opts.linger
	switch {
	case lg.On && lg.Seconds == 0:
		c.abort(now, nil, true, "close with SO_LINGER 0: abort", "RFC 9293 §3.10.5")
	case c.rcvBuf.Len() > 0 && c.state.synchronized():
		// Unread data is lost: tell the peer with a reset (RFC 2525 §2.17, as Linux).
		c.abort(now, nil, true, "close with unread data", "RFC 2525 §2.17")
	default:
		c.closeSend(now)
		c.armFinWait2(now)
		if lg.On && c.state != TCPClosed && !c.finAcked() && !c.lingerT.armed() {
			c.lingerT.arm(now, secondsDur(lg.Seconds), "SO_LINGER: the data must be acknowledged in time")
		}
	}
	return nil
}

// lingerWait is the blocking half of Close with SO_LINGER on and a positive
// time, for the socket layer to call in a wait loop before closing: the
// first call starts the graceful close; it returns EAGAIN until everything
// sent, FIN included, is acknowledged or the connection ended. The linger
// timer armed here resets the connection when the time runs out, which
// ends the wait too. Not yet called by Socket.Close (see the report).
func (ts *tcpSock) lingerWait(now clock.Time) error {
	c, lg := ts.c, ts.so.opts.linger
	if c == nil || !lg.On || lg.Seconds == 0 {
		return nil
	}
	if !c.wrShut {
		c.closeSend(now)
		if c.state != TCPClosed && !c.finAcked() {
			c.lingerT.arm(now, secondsDur(lg.Seconds), "SO_LINGER: Close waits for the acknowledgment")
		}
	}
	if c.state == TCPClosed || c.state == TCPTimeWait || c.finAcked() {
		return nil
	}
	return errAgain
}

func (ts *tcpSock) info(si *SocketInfo) {
	switch {
	case ts.ls != nil:
		si.State = "LISTEN"
		si.RecvQueue = len(ts.ls.acceptQ)
		ls := ts.ls
		si.TCP = TCPListener{Local: ls.addr.String(), State: "LISTEN", SocketID: ls.so.id, Backlog: ls.backlog,
			SYNQueue: len(ls.synQ), AcceptQueue: len(ls.acceptQ), SYNDrops: ls.synDrop, SYNCookies: ls.cookiesSent}
	case ts.c != nil:
		c := ts.c
		si.State = c.state.String()
		si.RecvQueue = c.rcvBuf.Len()
		si.SendQueue = c.sndBuf.Len()
		snap := c.snapshot(ts.l.s.loop.Now())
		si.TCP = snap
	default:
		si.State = "CLOSED"
	}
}

// optionChanged applies TCP_NODELAY and the keepalive options at once.
func (ts *tcpSock) optionChanged(now clock.Time, name string) {
	c := ts.c
	if c == nil {
		return
	}
	c.ipOpts = nil // IP_TTL, IP_TOS, IP_OPTIONS... take effect on the next segment
	switch name {
	case SO_KEEPALIVE, TCP_KEEPIDLE:
		c.armKeepalive(now)
	case TCP_NODELAY:
		c.output(now)
	}
}
