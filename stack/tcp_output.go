package stack

import (
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
	"github.com/tipy/tipy/stack/wire"
)

// Sending: segments are built into a Packet, the payload copied once from
// the send buffer, header and options written into the headroom. output is
// called after every event that may allow sending (an ACK, a window update,
// a write, a timer); it sends what the windows, Nagle (RFC 896) and sender
// silly-window avoidance (RFC 9293 §3.8.6.2.1) allow, then a pure ACK if one
// is still owed.

// sendOpts returns the IPv4 send options of the connection, built once
// from the socket's options and rebuilt when one changes.
func (c *tcpConn) sendOpts(now clock.Time) *SendOptions {
	if c.ipOpts != nil && c.ipOptsFor == c.so && (c.state != TCPSynSent) == (c.ipOpts.OnError == nil) {
		return c.ipOpts
	}
	var o *SendOptions
	if c.so != nil {
		o = c.so.sendOptions()
	} else {
		o = &SendOptions{}
	}
	c.ipOpts, c.ipOptsFor = o, c.so
	o.Src = c.local.Addr()
	if c.state == TCPSynSent {
		o.OnError = func(err error) {
			// ARP failed for our SYN: the host is unreachable.
			c.l.s.loop.Post(func() {
				if c.state == TCPSynSent {
					c.abort(c.l.s.loop.Now(), sockErr("connect", c.remote.String(), EHOSTUNREACH, err.Error()), false, "neighbour unreachable", "RFC 1122 §2.3.2.1")
				}
			})
		}
	}
	return o
}

// advertise returns the window field for a segment and records the right
// edge it promises. Receiver SWS avoidance (§3.8.6.2.2): the right edge moves
// only when it can move by min(buffer/2, MSS); it never moves left.
func (c *tcpConn) advertise(syn bool) uint16 {
	free := c.rcvBuf.Free() - c.ooo.Bytes()
	if c.rdShut {
		free = c.rcvBuf.Cap()
	}
	free = max(free, 0)
	cur := 0
	if c.rcvAdv.GreaterThan(c.rcvNxt) {
		cur = int(c.rcvAdv.Sub(c.rcvNxt))
	}
	wnd := free
	if wnd > cur && wnd-cur < min(c.rcvBuf.Cap()/2, c.rcvMSS) {
		wnd = cur
	}
	wnd = max(wnd, cur)
	if syn {
		wnd = min(wnd, 0xffff)
		c.rcvAdv = c.rcvNxt.Add(seqnum.Size(wnd))
		return uint16(wnd)
	}
	wnd = min(wnd, 0xffff<<c.rcvWndScale)
	field := wnd >> c.rcvWndScale
	c.rcvAdv = c.rcvNxt.Add(seqnum.Size(field << c.rcvWndScale))
	return uint16(field)
}

// rcvWnd is RCV.WND: what the last advertisement still allows.
func (c *tcpConn) rcvWnd() seqnum.Size {
	if c.rcvAdv.GreaterThan(c.rcvNxt) {
		return c.rcvAdv.Sub(c.rcvNxt)
	}
	return 0
}

// sendSYN sends our SYN (active open) or SYN-ACK (passive open, or
// simultaneous open when synAck is set).
func (c *tcpConn) sendSYN(now clock.Time, peer *wire.TCPOptions, synAck bool, analysis string) {
	opts := c.synOptions(now, peer)
	c.offered = opts
	h := wire.TCPHeader{SrcPort: c.local.Port(), DstPort: c.remote.Port(), Seq: uint32(c.iss),
		Flags: wire.TCPFlagSYN, Window: c.advertise(true), Options: opts}
	c.synWnd = h.Window
	if synAck {
		h.Flags |= wire.TCPFlagACK
		h.Ack = uint32(c.rcvNxt)
		c.lastAckSent = c.rcvNxt
	}
	c.sndNxt = c.iss.Add(1)
	if c.sndMax.LessThan(c.sndNxt) {
		c.sndMax = c.sndNxt
	}
	c.lastSend = now
	if err := c.l.transmit(now, c, c.local.Addr(), c.remote.Addr(), &h, analysis, c.sendOpts(now)); err != nil {
		c.sendFailed(now, err)
	}
	c.rtxT.armIfIdle(now, c.rtt.RTO(), "waiting for the answer to our SYN")
}

// sendFailed handles an error of the IPv4 layer for a segment.
func (c *tcpConn) sendFailed(now clock.Time, err error) {
	if c.state == TCPSynSent {
		if se, ok := err.(*SocketError); ok && (se.Errno == ENETUNREACH || se.Errno == EHOSTUNREACH || se.Errno == EADDRNOTAVAIL) {
			c.abort(now, sockErr("connect", c.remote.String(), se.Errno, se.Detail), false, "no route to the peer", "RFC 1122 §4.2.3.9")
			return
		}
	}
	c.softErr = err
}

// sendSegment sends a segment of the connection at seq with n bytes of the
// send buffer and the flags given (ACK is added once synchronized).
func (c *tcpConn) sendSegment(now clock.Time, flags wire.TCPFlags, seq seqnum.Value, n int, analysis string) {
	h := wire.TCPHeader{SrcPort: c.local.Port(), DstPort: c.remote.Port(), Seq: uint32(seq),
		Flags: flags | wire.TCPFlagACK, Ack: uint32(c.rcvNxt), Options: c.segOptions(now, true)}
	// Data and options together must fit the peer's MSS (RFC 9293
	// §3.7.1): SACK blocks give way on a full-sized data segment, so that
	// a segment never needs IP fragmentation.
	for n > 0 && h.Options.NumSACK > 0 && n+h.Options.Len() > c.sndMSS {
		h.Options.NumSACK--
	}
	h.Window = c.advertise(false)
	c.lastAckSent = c.rcvNxt
	c.ackPending, c.ackNow, c.ackWhy = 0, false, ""
	c.delackT.stop(now, "an ACK goes out with this segment")
	off := 0
	if n > 0 {
		off = int(seq.Sub(c.bufSeq))
	}
	c.lastSend = now
	if err := c.l.transmitN(now, c, c.local.Addr(), c.remote.Addr(), &h, c.sndBuf, off, n, analysis, c.sendOpts(now)); err != nil {
		c.sendFailed(now, err)
	}
}

// sendAck sends a pure ACK (with SACK blocks when data is held out of
// order). Its sequence number is the highest we sent, not SND.NXT: after a
// retransmission timeout SND.NXT went back, and an ACK carrying it would
// lie left of the peer's window and be discarded as unacceptable.
func (c *tcpConn) sendAck(now clock.Time, analysis string) {
	c.sendSegment(now, 0, c.sndMax, 0, analysis)
}

// output sends whatever may be sent now, then an owed ACK.
func (c *tcpConn) output(now clock.Time) {
	if c.state.synchronized() && c.state != TCPTimeWait {
		if c.sackRecov {
			c.sackOutput(now)
		} else {
			for c.sendData(now, false) {
			}
		}
		c.checkPersist(now)
	}
	if c.ackNow && c.state != TCPClosed && c.state != TCPListen && c.state != TCPSynSent {
		why := c.ackWhy
		if why == "" {
			why = "acknowledgment"
		}
		c.sendAck(now, why)
	}
	c.sample(now)
}

// oweAck asks for an ACK at the next output, saying why (RFC 9293
// §3.8.6.3 lets a receiver delay an ACK, but not these). The first reason
// given is the one the ACK's event shows.
func (c *tcpConn) oweAck(why string) {
	if !c.ackNow || c.ackWhy == "" {
		c.ackWhy = why
	}
	c.ackNow = true
}

// usableWindow is how many new bytes the windows allow from SND.NXT on:
// min(peer window, congestion window) beyond what is in flight.
func (c *tcpConn) usableWindow() int {
	wnd := min(int(c.sndWnd), c.cc.Cwnd())
	inFlight := int(c.sndNxt.Sub(c.sndUna))
	return wnd - inFlight
}

// sendData sends one data (or FIN) segment at SND.NXT if the rules allow,
// and reports whether it did. force overrides Nagle and SWS avoidance (the
// persist timer's override, §3.8.6.2.1).
func (c *tcpConn) sendData(now clock.Time, force bool) bool {
	switch c.state {
	case TCPEstablished, TCPCloseWait, TCPFinWait1, TCPClosing, TCPLastAck:
	default:
		return false
	}
	if c.sndNxt.LessThan(c.sndMax) && len(c.rtoSacked) > 0 {
		c.skipSacked()
	}
	end := c.dataEnd()
	avail := 0
	if c.sndNxt.LessThan(end) {
		avail = int(end.Sub(c.sndNxt))
	}
	usable := c.usableWindow()
	n := min(avail, max(usable, 0), c.effMSS())
	fin := c.finQd && c.sndNxt.Add(seqnum.Size(n)) == c.finSeq && c.sndNxt.LessThanEq(c.finSeq)
	if n <= 0 && !fin {
		return false
	}
	if fin && n == 0 && avail > 0 {
		return false
	}
	idle := c.sndNxt == c.sndUna
	noDelay := c.so != nil && c.so.opts.noDelay
	ok := force || n == c.effMSS() || fin ||
		(n == avail && (noDelay || idle)) ||
		(c.maxWnd > 0 && n >= int(c.maxWnd)/2 && (noDelay || idle))
	if !ok {
		return false
	}
	flags := wire.TCPFlags(0)
	if n > 0 && n == avail {
		flags |= wire.TCPFlagPSH
	}
	if fin {
		flags |= wire.TCPFlagFIN
	}
	seq := c.sndNxt
	rexmit := seq.LessThan(c.sndMax)
	analysis := "new data"
	switch {
	case rexmit:
		analysis = "retransmission"
		c.retrans++
		c.l.stats.Retransmissions++
		if c.rttTiming && c.rttSeq.GreaterThan(seq) {
			c.rttTiming = false // Karn: a retransmitted range is not timed
		}
	case n == 0:
		analysis = "FIN"
	}
	c.sendSegment(now, flags, seq, n, analysis)
	size := seqnum.Size(n)
	if fin {
		size++
	}
	c.sndNxt = seq.Add(size)
	if c.sndMax.LessThan(c.sndNxt) {
		if !c.rttTiming && !rexmit {
			c.rttTiming, c.rttSeq, c.rttStart = true, c.sndNxt, now
		}
		c.sndMax = c.sndNxt
		c.sb.SetHighData(c.sndMax)
	}
	if fin && c.state == TCPEstablished {
		c.setState(now, TCPFinWait1, "close: FIN sent", "RFC 9293 §3.10.4")
	} else if fin && c.state == TCPCloseWait {
		c.setState(now, TCPLastAck, "close: FIN sent", "RFC 9293 §3.10.4")
	}
	c.rtxT.armIfIdle(now, c.rtt.RTO(), "data in flight")
	c.persistT.stop(now, "data can be sent")
	return true
}

// retransmitAt resends the segment at seq (fast retransmit, partial ACK,
// SACK recovery) without moving SND.NXT, and returns the sequence space it
// covers (data, plus one for a FIN).
func (c *tcpConn) retransmitAt(now clock.Time, seq seqnum.Value, maxLen int, analysis string) int {
	// A retransmission repeats what was sent: never past SND.MAX. Queued
	// data beyond it is new data, sent (and counted) by the send path.
	end := seqnum.Min(c.dataEnd(), c.sndMax)
	n := 0
	if seq.LessThan(end) {
		n = min(int(end.Sub(seq)), maxLen, c.effMSS())
	}
	flags := wire.TCPFlags(0)
	if n > 0 && seq.Add(seqnum.Size(n)) == end {
		flags |= wire.TCPFlagPSH
	}
	if c.finQd && seq.Add(seqnum.Size(n)) == c.finSeq && c.sndMax.GreaterThan(c.finSeq) {
		flags |= wire.TCPFlagFIN
	}
	if n == 0 && flags == 0 {
		return 0
	}
	c.retrans++
	c.l.stats.Retransmissions++
	if c.rttTiming && c.rttSeq.GreaterThan(seq) {
		c.rttTiming = false
	}
	c.sendSegment(now, flags, seq, n, analysis)
	c.rtxT.armIfIdle(now, c.rtt.RTO(), "retransmitted data in flight")
	if flags&wire.TCPFlagFIN != 0 {
		return n + 1
	}
	return n
}

// checkPersist arms the persist timer when data waits but the peer's window
// (or sender SWS avoidance) keeps it back and nothing is in flight to bring
// an ACK (RFC 9293 §3.8.6.1).
func (c *tcpConn) checkPersist(now clock.Time) {
	waiting := c.sndNxt.LessThan(c.dataEnd()) || (c.finQd && c.sndNxt.LessThanEq(c.finSeq))
	if waiting && c.sndNxt == c.sndUna && !c.rtxT.armed() {
		if !c.persistT.armed() {
			d := c.persistInterval()
			c.persistT.arm(now, d, "the peer's window keeps data back and nothing is in flight")
		}
	} else if !waiting {
		c.persistShift = 0
	}
}

// persistInterval is the RTO backed off by the number of probes sent so
// far, capped at MaxPersist.
func (c *tcpConn) persistInterval() (d time.Duration) {
	d = c.rtt.RTO() << c.persistShift
	if d > c.l.cfg.MaxPersist || d <= 0 {
		d = c.l.cfg.MaxPersist
	}
	return d
}
