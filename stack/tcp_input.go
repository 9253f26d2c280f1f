package stack

import (
	"fmt"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
	"github.com/tipy/tipy/stack/wire"
)

// Segment arrival, RFC 9293 §3.10.7. LISTEN is in tcp_listen.go; this file
// has SYN-SENT (§3.10.7.3) and the synchronized states (§3.10.7.4): PAWS
// (RFC 7323 §5), the acceptability test, RST (with RFC 5961 §3), SYN (RFC
// 5961 §4), ACK, text and FIN.

// segmentArrives processes one segment for this connection.
func (c *tcpConn) segmentArrives(now clock.Time, seg *tcpSegment) {
	c.segsIn++
	c.lastRecv = now
	c.keepProbes = 0
	if c.state == TCPSynSent {
		c.l.publishSegment(now, c, observe.KindRX, seg, c.analyseRX(seg), "RFC 9293 §3.10.7.3")
		c.synSentInput(now, seg)
		c.output(now)
		return
	}
	if c.pawsReject(now, seg) {
		c.l.publishSegment(now, c, observe.KindRX, seg, "old timestamp (PAWS): an old duplicate", "RFC 7323 §5.3")
		c.l.drop(now, c, tcpDropPAWS, seg.raw, fmt.Sprintf("TSval %d older than TS.Recent %d", seg.hdr.Options.TSVal, c.tsRecent))
		c.sendAck(now, "ACK for a segment rejected by PAWS")
		return
	}
	if c.state == TCPSynReceived && seg.has(wire.TCPFlagSYN) && seg.seq == c.irs && !seg.has(wire.TCPFlagRST) {
		if !seg.has(wire.TCPFlagACK) || seg.ack != c.iss.Add(1) {
			// The peer did not get our SYN-ACK and repeats its SYN.
			c.l.publishSegment(now, c, observe.KindRX, seg, "retransmitted SYN", "RFC 9293 §3.10.7.4")
			c.sendSYN(now, &c.peerSyn, true, "SYN-ACK again for a retransmitted SYN")
			return
		}
		// Simultaneous open: the peer's SYN-ACK repeats its SYN, which we
		// have, and acknowledges ours (RFC 9293 §3.5, figure 8).
		seg.seq, seg.flags = seg.seq.Add(1), seg.flags&^wire.TCPFlagSYN
	}
	// First: the acceptability test of §3.10.7.4.
	if !c.acceptable(seg) {
		c.l.publishSegment(now, c, observe.KindRX, seg, "not acceptable: outside the receive window", "RFC 9293 §3.10.7.4")
		c.l.drop(now, c, tcpDropOutOfWindow, seg.raw, fmt.Sprintf("seq %d len %d, RCV.NXT %d RCV.WND %d", seg.seq, seg.len(), c.rcvNxt, c.rcvWnd()))
		if !seg.has(wire.TCPFlagRST) {
			if c.state == TCPTimeWait && seg.has(wire.TCPFlagFIN) {
				c.twT.arm(now, 2*c.l.cfg.MSL, "retransmitted FIN in TIME-WAIT restarts 2*MSL")
			}
			c.ackOfUnacceptable(now, seg)
			c.sendAck(now, "ACK for an unacceptable segment")
		}
		return
	}
	c.l.publishSegment(now, c, observe.KindRX, seg, c.analyseRX(seg), "RFC 9293 §3.10.7.4")
	c.trim(seg)
	// Second: RST.
	if seg.has(wire.TCPFlagRST) {
		c.rstInput(now, seg)
		return
	}
	// Fourth: SYN in a synchronized state or SYN-RECEIVED.
	if seg.has(wire.TCPFlagSYN) {
		if c.state == TCPSynReceived && c.passive {
			c.abort(now, nil, false, "SYN in SYN-RECEIVED: back to LISTEN", "RFC 9293 §3.10.7.4")
			return
		}
		c.challengeAck(now, "SYN in a synchronized state", "RFC 5961 §4.2")
		return
	}
	// Fifth: ACK.
	if !seg.has(wire.TCPFlagACK) {
		c.l.drop(now, c, tcpDropNoACK, seg.raw, "segment without ACK in a synchronized state")
		return
	}
	c.updateTSRecent(now, seg)
	if !c.ackInput(now, seg) {
		c.output(now)
		return
	}
	// Sixth: URG is not supported (RFC 6093 discourages it); the data is
	// taken in line. Seventh and eighth: text and FIN.
	c.textAndFIN(now, seg)
	c.output(now)
}

// ackOfUnacceptable takes the acknowledgment of a segment that failed the
// window test by lying beyond the window (typically while our window is
// zero): "special allowance should be made to accept valid ACKs" (RFC 9293
// §3.10.7.4). Its data is not taken. Without this, two ends whose windows
// are both closed would never hear of each other's progress. Old
// duplicates (before RCV.NXT) are not used; the ACK itself is checked as
// any other (RFC 5961 §5).
func (c *tcpConn) ackOfUnacceptable(now clock.Time, seg *tcpSegment) {
	if !seg.has(wire.TCPFlagACK) || seg.has(wire.TCPFlagSYN) || !c.state.synchronized() ||
		seg.seq.LessThan(c.rcvNxt) || seg.seq.GreaterThan(c.rcvNxt.Add(seqnum.Size(c.rcvBuf.Cap()))) {
		return
	}
	ack := *seg
	ack.data, ack.flags = nil, seg.flags&^(wire.TCPFlagFIN|wire.TCPFlagPSH)
	if c.ackInput(now, &ack) {
		c.output(now)
	}
}

// acceptable is the table of §3.10.7.4.
func (c *tcpConn) acceptable(seg *tcpSegment) bool {
	n, wnd := seg.len(), c.rcvWnd()
	switch {
	case n == 0 && wnd == 0:
		return seg.seq == c.rcvNxt
	case n == 0:
		return seg.seq.InWindow(c.rcvNxt, wnd)
	case wnd == 0:
		return false
	default:
		return seg.seq.InWindow(c.rcvNxt, wnd) || seg.seq.Add(n-1).InWindow(c.rcvNxt, wnd)
	}
}

// trim cuts a segment to the receive window: bytes before RCV.NXT (a SYN
// first) and beyond RCV.NXT+RCV.WND (a FIN with them).
func (c *tcpConn) trim(seg *tcpSegment) {
	if seg.seq.LessThan(c.rcvNxt) {
		k := int(c.rcvNxt.Sub(seg.seq))
		if seg.has(wire.TCPFlagSYN) {
			seg.flags &^= wire.TCPFlagSYN
			k--
			seg.seq = seg.seq.Add(1)
		}
		k = min(k, len(seg.data))
		seg.data = seg.data[k:]
		seg.seq = seg.seq.Add(seqnum.Size(k))
	}
	edge := c.rcvNxt.Add(c.rcvWnd())
	if end := seg.seq.Add(seqnum.Size(len(seg.data))); end.GreaterThan(edge) {
		k := int(end.Sub(edge))
		k = min(k, len(seg.data))
		seg.data = seg.data[:len(seg.data)-k]
		seg.flags &^= wire.TCPFlagFIN
	}
}

// rstInput handles a RST that passed the window test (RFC 5961 §3.2): only
// a RST at exactly RCV.NXT resets; one elsewhere in the window draws a
// challenge ACK, since a blind attacker cannot know RCV.NXT.
func (c *tcpConn) rstInput(now clock.Time, seg *tcpSegment) {
	if seg.seq != c.rcvNxt {
		c.challengeAck(now, "RST in the window but not at RCV.NXT", "RFC 5961 §3.2")
		return
	}
	c.l.stats.ResetsReceived++
	switch c.state {
	case TCPSynReceived:
		if c.passive {
			c.abort(now, nil, false, "RST in SYN-RECEIVED: back to LISTEN", "RFC 9293 §3.10.7.4")
			return
		}
		c.abort(now, sockErr("connect", c.remote.String(), ECONNREFUSED, "the peer reset the connection during the handshake"), false, "RST received", "RFC 9293 §3.10.7.4")
	case TCPEstablished, TCPFinWait1, TCPFinWait2, TCPCloseWait:
		c.reset = true
		c.abort(now, sockErr("recv", c.remote.String(), ECONNRESET, "the peer reset the connection"), false, "RST received", "RFC 9293 §3.10.7.4")
	default: // CLOSING, LAST-ACK, TIME-WAIT
		c.abort(now, nil, false, "RST received", "RFC 9293 §3.10.7.4")
	}
}

// challengeAck answers a suspicious RST or SYN with an ACK that tells a
// legitimate peer where we are, rate-limited (RFC 5961 §3.2, §4.2, §7).
func (c *tcpConn) challengeAck(now clock.Time, why, rfc string) {
	if !c.l.challengeAllowed(now) {
		c.l.drop(now, c, tcpDropChallengeLimit, nil, why)
		return
	}
	c.challenges++
	c.l.stats.ChallengeACKs++
	c.sendAck(now, "challenge ACK: "+why+" ("+rfc+")")
}

// synSentInput is §3.10.7.3.
func (c *tcpConn) synSentInput(now clock.Time, seg *tcpSegment) {
	ackOK := false
	if seg.has(wire.TCPFlagACK) {
		if seg.ack.LessThanEq(c.iss) || seg.ack.GreaterThan(c.sndNxt) {
			c.l.drop(now, c, tcpDropBadACK, seg.raw, fmt.Sprintf("ACK %d does not acknowledge our SYN (ISS %d)", seg.ack, c.iss))
			if !seg.has(wire.TCPFlagRST) {
				c.l.sendReset(now, c, c.local, c.remote, seg.ack, 0, wire.TCPFlagRST, "unacceptable ACK in SYN-SENT")
			}
			return
		}
		ackOK = true
	}
	if seg.has(wire.TCPFlagRST) {
		if ackOK {
			c.l.stats.ResetsReceived++
			c.abort(now, sockErr("connect", c.remote.String(), ECONNREFUSED, "the peer answered our SYN with a reset"), false, "RST received", "RFC 9293 §3.10.7.3")
		} else {
			c.l.drop(now, c, tcpDropRSTInvalid, seg.raw, "RST without ACK in SYN-SENT")
		}
		return
	}
	if !seg.has(wire.TCPFlagSYN) {
		c.l.drop(now, c, tcpDropNoACK, seg.raw, "neither SYN nor RST in SYN-SENT")
		return
	}
	c.irs = seg.seq
	c.rcvNxt = seg.seq.Add(1)
	// Our SYN's window was offered before we knew IRS: it starts at RCV.NXT.
	c.rcvAdv = c.rcvNxt.Add(seqnum.Size(c.synWnd))
	c.peerSyn = seg.hdr.Options
	c.peerSyn.NumUnknown = 0
	c.negotiate(now, seg, c.offered)
	if ackOK {
		c.sndUna = seg.ack
		c.sndWnd, c.sndWl1, c.sndWl2 = uint32(seg.wnd), seg.seq, seg.ack
		c.maxWnd = max(c.maxWnd, c.sndWnd)
		if c.rttTiming && !c.synRetrans {
			c.rtt.SampleSegment(max(now.Sub(c.rttStart), 1), false, false)
		}
		c.rttTiming = false
		c.setState(now, TCPEstablished, "SYN-ACK received", "RFC 9293 §3.10.7.3")
		c.oweAck("ACK of the SYN-ACK: the third segment of the handshake (RFC 9293 §3.5)")
		seg.seq = seg.seq.Add(1)
		seg.flags &^= wire.TCPFlagSYN
		c.textAndFIN(now, seg)
		return
	}
	// Simultaneous open (§3.5, figure 8).
	c.sndWnd, c.sndWl1, c.sndWl2 = uint32(seg.wnd), seg.seq, c.sndUna
	c.setState(now, TCPSynReceived, "SYN received in SYN-SENT: simultaneous open", "RFC 9293 §3.5")
	c.sendSYN(now, &c.peerSyn, true, "SYN-ACK (simultaneous open)")
}

// ackInput is the fifth step; it reports whether processing goes on.
func (c *tcpConn) ackInput(now clock.Time, seg *tcpSegment) bool {
	if c.state == TCPSynReceived {
		if !seg.ack.GreaterThan(c.sndUna) || seg.ack.GreaterThan(c.sndNxt) {
			c.l.drop(now, c, tcpDropBadACK, seg.raw, "ACK does not acknowledge our SYN-ACK")
			c.l.sendReset(now, c, c.local, c.remote, seg.ack, 0, wire.TCPFlagRST, "unacceptable ACK in SYN-RECEIVED")
			return false
		}
		c.sndWnd, c.sndWl1, c.sndWl2 = uint32(seg.wnd)<<c.sndWndScale, seg.seq, seg.ack
		c.maxWnd = max(c.maxWnd, c.sndWnd)
		c.sndUna = c.iss.Add(1)
		if c.rttTiming && !c.synRetrans {
			c.rtt.SampleSegment(max(now.Sub(c.rttStart), 1), false, false)
		}
		c.rttTiming = false
		c.setState(now, TCPEstablished, "ACK of our SYN-ACK", "RFC 9293 §3.10.7.4")
		if c.state != TCPEstablished {
			return false
		}
	}
	if seg.ack.GreaterThan(c.sndMax) {
		c.l.drop(now, c, tcpDropBadACK, seg.raw, fmt.Sprintf("ACK %d for data not yet sent (SND.NXT %d)", seg.ack, c.sndMax))
		c.challengeAck(now, "ACK of data never sent", "RFC 5961 §5.2")
		return false
	}
	if seg.ack.LessThan(c.sndUna - seqnum.Value(max(c.maxWnd, 1))) {
		c.l.drop(now, c, tcpDropBadACK, seg.raw, "ACK older than SND.UNA - MAX.SND.WND")
		c.challengeAck(now, "ACK too old", "RFC 5961 §5.2")
		return false
	}
	wnd := uint32(seg.wnd) << c.sndWndScale
	switch {
	case seg.ack.GreaterThan(c.sndUna):
		c.newAck(now, seg)
	case seg.ack == c.sndUna && len(seg.data) == 0 && !seg.has(wire.TCPFlagFIN) && c.sndMax != c.sndUna &&
		(wnd == c.sndWnd || (c.sackOK && seg.hdr.Options.NumSACK > 0)):
		// RFC 5681 §2; with SACK, any ACK bringing SACK blocks (RFC 6675 §2).
		c.dupAck(now, seg)
	}
	// Window update (§3.10.7.4: SND.WL1 < SEG.SEQ or WL1 = SEQ and WL2 =< ACK).
	if c.sndWl1.LessThan(seg.seq) || (c.sndWl1 == seg.seq && c.sndWl2.LessThanEq(seg.ack)) {
		if wnd != c.sndWnd && c.l.s.obs.Active() {
			c.publishWindow(now, seg, wnd)
		}
		if c.sndWnd == 0 && wnd > 0 {
			c.persistT.stop(now, "the peer's window opened")
			c.persistShift = 0
		}
		c.sndWnd, c.sndWl1, c.sndWl2 = wnd, seg.seq, seg.ack
		c.maxWnd = max(c.maxWnd, wnd)
	}
	switch c.state {
	case TCPFinWait1:
		if c.finAcked() {
			c.setState(now, TCPFinWait2, "our FIN was acknowledged", "RFC 9293 §3.10.7.4")
			c.armFinWait2(now)
		}
	case TCPClosing:
		if c.finAcked() {
			c.setState(now, TCPTimeWait, "our FIN was acknowledged", "RFC 9293 §3.10.7.4")
		}
	case TCPLastAck:
		if c.finAcked() {
			c.setState(now, TCPClosed, "our FIN was acknowledged", "RFC 9293 §3.10.7.4")
			return false
		}
	}
	return true
}

// newAck processes an ACK that acknowledges new data: SND.UNA moves, the
// acknowledged bytes leave the send buffer, the RTT is sampled (Karn's rule)
// and congestion control hears of it.
func (c *tcpConn) newAck(now clock.Time, seg *tcpSegment) {
	acked := int(seg.ack.Sub(c.sndUna))
	flightBefore := c.flight()
	limit := seqnum.Min(seg.ack, c.dataEnd())
	if limit.GreaterThan(c.bufSeq) {
		k := int(limit.Sub(c.bufSeq))
		c.sndBuf.Discard(k)
		c.bufSeq = limit
	}
	c.sndUna = seg.ack
	c.bytesAcked += uint64(acked)
	if c.sndNxt.LessThan(c.sndUna) {
		c.sndNxt = c.sndUna
	}
	var sample = c.rtt.SRTT()
	if c.rttTiming && seg.ack.GreaterThanEq(c.rttSeq) {
		r := max(now.Sub(c.rttStart), 1)
		if c.rtt.SampleSegment(r, false, false) {
			sample = r
		}
		c.rttTiming = false
	} else if !c.rttTiming && c.backoffs > 0 && c.tsOK && seg.hdr.Options.HasTS &&
		int32(seg.hdr.Options.TSEcr-c.rtoTSval) >= 0 {
		// After a timeout Karn's rule forbids timing the retransmission,
		// but a timestamp echo names the transmission (RFC 7323 §4.1).
		// Only an echo of the retransmission itself or later counts: an
		// older TS.Recent at the peer would inflate the sample.
		if r := c.tsRTT(now, seg); r > 0 && c.rtt.SampleSegment(r, true, true) {
			sample = r
		}
	}
	c.backoffs = 0
	c.ackRecovery(now, seg, acked, flightBefore, sample)
	if c.sndUna == c.sndMax {
		c.rtxT.stop(now, "everything sent is acknowledged")
	} else {
		c.rtxT.arm(now, c.rtt.RTO(), "new data acknowledged: restart the timer (RFC 6298 (5.3))")
	}
	c.wake()
}

// textAndFIN are the seventh and eighth steps.
func (c *tcpConn) textAndFIN(now clock.Time, seg *tcpSegment) {
	if len(seg.data) > 0 {
		switch {
		case !c.state.canReceiveData():
			c.l.drop(now, c, tcpDropAfterFIN, seg.raw, "data after the peer's FIN")
		case c.userGone:
			// Nobody will read it: the application closed the socket. Tell
			// the peer its data is lost (RFC 2525 §2.17, as Linux).
			c.abort(now, nil, true, "data for a closed socket", "RFC 2525 §2.17")
			return
		case c.rdShut:
			// Linux: data after SHUT_RD is acknowledged and thrown away.
			if seg.seq == c.rcvNxt {
				c.rcvNxt = c.rcvNxt.Add(seqnum.Size(len(seg.data)))
			}
			c.l.drop(now, c, tcpDropReadShut, nil, fmt.Sprintf("%d bytes after SHUT_RD", len(seg.data)))
			c.oweAck("ACK of data discarded after SHUT_RD")
		default:
			c.dataInput(now, seg)
		}
	}
	if seg.has(wire.TCPFlagFIN) && c.state != TCPClosed {
		at := seg.seq.Add(seqnum.Size(len(seg.data)))
		switch {
		case at == c.rcvNxt:
			c.finInput(now)
		case at.GreaterThan(c.rcvNxt) && c.state.canReceiveData():
			c.finPend, c.finAt = true, at
			c.oweAck("immediate ACK: a FIN arrived beyond a gap (RFC 5681 §4.2)")
		}
	}
	if c.finPend && c.finAt == c.rcvNxt && !c.finRcvd {
		c.finPend = false
		c.finInput(now)
	}
}

// dataInput takes in-window data: in order into the receive buffer (with
// whatever the out-of-order queue then completes), out of order into the
// queue with an immediate duplicate ACK (RFC 5681 §4.2, RFC 2018 §4).
func (c *tcpConn) dataInput(now clock.Time, seg *tcpSegment) {
	if seg.seq != c.rcvNxt {
		stored, err := c.ooo.Insert(c.rcvNxt, seg.seq, seg.data)
		c.oooSegs++
		if err != nil {
			c.l.drop(now, c, tcpDropOOOFull, nil, err.Error())
		} else if stored > 0 && c.l.s.obs.Active() {
			c.publishInfo(now, fmt.Sprintf("held out of order: %d bytes at seq %d, %d bytes beyond RCV.NXT %d wait for the gap",
				stored, seg.seq, c.ooo.Bytes(), c.rcvNxt),
				"a segment arrived with a gap before it: it is kept in the out-of-order queue, not delivered, until the missing bytes arrive",
				"RFC 9293 §3.10.7.4", map[string]any{"event": "ooo-queued", "seq": uint32(seg.seq), "len": stored,
					"rcv_nxt": uint32(c.rcvNxt), "ooo_bytes": c.ooo.Bytes()})
		}
		c.oweAck("immediate ACK: out-of-order segment, a gap before it (RFC 5681 §4.2)")
		return
	}
	n := c.rcvBuf.Write(seg.data)
	c.rcvNxt = c.rcvNxt.Add(seqnum.Size(n))
	c.bytesRcvd += uint64(n)
	if n < len(seg.data) {
		c.l.drop(now, c, tcpDropRcvBufFull, nil, fmt.Sprintf("%d bytes beyond the receive buffer", len(seg.data)-n))
	}
	if c.ooo.Bytes() > 0 {
		if k := c.ooo.PopTo(c.rcvNxt, c.rcvBuf); k > 0 {
			c.rcvNxt = c.rcvNxt.Add(seqnum.Size(k))
			c.bytesRcvd += uint64(k)
			if c.l.s.obs.Active() {
				c.publishInfo(now, fmt.Sprintf("gap filled: %d bytes from the out-of-order queue delivered in order, RCV.NXT now %d, %d bytes still held",
					k, c.rcvNxt, c.ooo.Bytes()),
					"the missing segment arrived: it and the bytes held behind it go to the application in sequence order",
					"RFC 9293 §3.10.7.4", map[string]any{"event": "gap-filled", "bytes": k, "rcv_nxt": uint32(c.rcvNxt), "ooo_bytes": c.ooo.Bytes()})
			}
			c.oweAck("immediate ACK: the segment filled a gap (RFC 5681 §4.2)")
		}
		if c.ooo.Len() > 0 {
			c.oweAck("immediate ACK: data is still held out of order (RFC 5681 §4.2)")
		}
	}
	c.ackPending += n
	// A full-sized segment is our MSS less the timestamp option, or the
	// largest segment the peer has sent if that is smaller (its MSS may be).
	full := c.rcvMSS
	if c.tsOK {
		full -= 12
	}
	c.maxSegIn = max(c.maxSegIn, len(seg.data))
	full = min(full, c.maxSegIn)
	if c.ackPending >= 2*full {
		c.oweAck("ACK at once: two full-sized segments arrived (RFC 9293 §3.8.6.3)")
	} else if !c.ackNow && !c.delackT.armed() {
		c.delackT.arm(now, c.l.cfg.DelayedACK, "delayed ACK")
	}
	c.wake()
}

// finInput processes the peer's FIN once every byte before it arrived.
func (c *tcpConn) finInput(now clock.Time) {
	c.rcvNxt = c.rcvNxt.Add(1)
	c.finRcvd = true
	c.oweAck("ACK of the FIN")
	switch c.state {
	case TCPSynReceived, TCPEstablished:
		c.setState(now, TCPCloseWait, "FIN received", "RFC 9293 §3.10.7.4")
	case TCPFinWait1:
		if c.finAcked() {
			c.setState(now, TCPTimeWait, "FIN received, ours acknowledged", "RFC 9293 §3.10.7.4")
		} else {
			c.setState(now, TCPClosing, "FIN received before ours was acknowledged: simultaneous close", "RFC 9293 §3.6")
		}
	case TCPFinWait2:
		c.setState(now, TCPTimeWait, "FIN received", "RFC 9293 §3.10.7.4")
	case TCPTimeWait:
		c.twT.arm(now, 2*c.l.cfg.MSL, "FIN again in TIME-WAIT restarts 2*MSL")
	}
	c.wake()
}
