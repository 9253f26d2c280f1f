package stack

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Passive open: a listener (state LISTEN, RFC 9293 §3.10.7.2) answers a SYN
// with a SYN-ACK from a new connection in SYN-RECEIVED, which waits in the
// SYN queue; when the handshake completes it moves to the accept queue,
// where Accept takes it. Both queues hold at most backlog connections.
// A SYN that finds the SYN queue full is answered with a SYN cookie
// (tcp_cookie.go, RFC 4987 §3.6); one that finds the accept queue full is
// dropped and counted, and the client retransmits it.

// tcpListener is a socket in LISTEN.
type tcpListener struct {
	l           *tcpLayer
	so          *Socket
	addr        netip.AddrPort
	backlog     int
	synQ        []*tcpConn
	acceptQ     []*tcpConn
	synDrop     uint64
	cookiesSent uint64
}

// segmentArrives is §3.10.7.2.
func (ls *tcpListener) segmentArrives(now clock.Time, seg *tcpSegment) {
	l := ls.l
	l.publishSegment(now, nil, observe.KindRX, seg, "to a listening socket", "RFC 9293 §3.10.7.2")
	switch {
	case seg.has(wire.TCPFlagRST):
		l.drop(now, nil, tcpDropRSTInvalid, seg.raw, "RST to a listening socket is ignored")
		return
	case seg.has(wire.TCPFlagACK):
		if ls.cookieACK(now, seg) {
			return
		}
		l.drop(now, nil, tcpDropBadACK, seg.raw, "ACK to a listening socket")
		l.sendResetFor(now, seg, "ACK to a listening socket")
		return
	case !seg.has(wire.TCPFlagSYN):
		l.drop(now, nil, tcpDropNoACK, seg.raw, "neither SYN, ACK nor RST to a listening socket")
		return
	}
	if len(ls.synQ) >= ls.backlog && len(ls.acceptQ) < ls.backlog && !l.cfg.DisableSYNCookies {
		ls.sendCookie(now, seg)
		return
	}
	if len(ls.synQ) >= ls.backlog || len(ls.acceptQ) >= ls.backlog {
		ls.synDrop++
		l.drop(now, nil, tcpDropSYNQueueFull, seg.raw, fmt.Sprintf("SYN queue %d, accept queue %d, backlog %d", len(ls.synQ), len(ls.acceptQ), ls.backlog))
		return
	}
	c := l.newConn(now, seg.dst, seg.src, &ls.so.opts)
	c.passive, c.parent = true, ls
	c.state = TCPListen
	l.holdPort(seg.dst.Port())
	l.addConn(c)
	ls.synQ = append(ls.synQ, c)
	l.stats.PassiveOpens++
	c.segsIn++
	c.irs = seg.seq
	c.rcvNxt = seg.seq.Add(1)
	c.rcvAdv = c.rcvNxt // nothing advertised yet: the SYN-ACK's window starts here
	c.peerSyn = seg.hdr.Options
	c.peerSyn.NumUnknown = 0
	c.negotiate(now, seg, c.synOptions(now, &c.peerSyn))
	c.sndWnd, c.sndWl1, c.sndWl2 = uint32(seg.wnd), seg.seq, c.iss
	c.maxWnd = c.sndWnd
	c.setState(now, TCPSynReceived, "SYN received on a listening socket", "RFC 9293 §3.10.7.2")
	c.rttTiming, c.rttSeq, c.rttStart = true, c.iss.Add(1), now
	c.sendSYN(now, &c.peerSyn, true, "SYN-ACK")
}

// handshakeDone moves a connection from the SYN queue to the accept queue.
func (ls *tcpListener) handshakeDone(now clock.Time, c *tcpConn) {
	ls.remove(&ls.synQ, c)
	ls.acceptQ = append(ls.acceptQ, c)
	if ls.so != nil {
		ls.so.wake()
	}
}

// forget removes a connection that closed before it was accepted.
func (ls *tcpListener) forget(c *tcpConn) {
	ls.remove(&ls.synQ, c)
	ls.remove(&ls.acceptQ, c)
	c.parent = nil
}

func (ls *tcpListener) remove(q *[]*tcpConn, c *tcpConn) {
	for i, o := range *q {
		if o == c {
			*q = append((*q)[:i], (*q)[i+1:]...)
			return
		}
	}
}

// close stops listening: connections not yet accepted are reset.
func (ls *tcpListener) close(now clock.Time) {
	delete(ls.l.listeners, ls.addr)
	for _, c := range append(append([]*tcpConn(nil), ls.synQ...), ls.acceptQ...) {
		c.parent = nil
		c.abort(now, nil, true, "the listening socket was closed", "RFC 9293 §3.10.4")
	}
	ls.synQ, ls.acceptQ = nil, nil
}
