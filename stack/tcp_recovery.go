package stack

import (
	"fmt"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
	"github.com/tipy/tipy/stack/tcp"
	"github.com/tipy/tipy/stack/wire"
)

// Loss recovery: fast retransmit on the third duplicate ACK and NewReno
// fast recovery (RFC 5681 §3.2, RFC 6582) through the CongestionControl
// interface; with SACK negotiated, the RFC 6675 scoreboard chooses what to
// retransmit and "pipe" replaces the inflated window.

// tcpSACKBlock is a SACK block in sequence space.
type tcpSACKBlock = tcp.SACKBlock

// sackUpdate gives the scoreboard the ACK's cumulative point and blocks.
func (c *tcpConn) sackUpdate(seg *tcpSegment) tcp.AckResult {
	if !c.sackOK {
		return tcp.AckResult{}
	}
	var buf [4]tcpSACKBlock
	res := c.sb.Update(seg.ack, peerSACK(seg, buf[:0]))
	if res.Sacked > 0 && c.l.s.obs.Active() {
		blocks := c.sb.Blocks(nil)
		list := make([]string, len(blocks))
		for i, b := range blocks {
			list[i] = fmt.Sprintf("%d-%d", b.Left, b.Right)
		}
		c.publishInfo(time0(c), fmt.Sprintf("SACK scoreboard: %d bytes newly SACKed, %d SACKed above SND.UNA %d", res.Sacked, c.sb.SackedBytes(), c.sndUna),
			"the peer holds these blocks beyond a gap; only the holes need resending",
			"RFC 6675 §4", map[string]any{"event": "scoreboard", "blocks": list, "sacked": c.sb.SackedBytes()})
	}
	return res
}

// time0 is the loop's current time, for events raised deep in ACK
// processing.
func time0(c *tcpConn) clock.Time { return c.l.s.loop.Now() }

// dupAck handles a duplicate ACK (RFC 5681 §2 definition).
func (c *tcpConn) dupAck(now clock.Time, seg *tcpSegment) {
	c.dupAcksIn++
	c.dupAcks++
	c.sackUpdate(seg)
	if c.inRecovery {
		if !c.sackRecov {
			c.cc.OnDupAck(now) // RFC 5681 §3.2 step 4: inflate
		}
		return
	}
	lost := c.sackOK && c.sb.IsLost(c.sndUna)
	if c.dupAcks >= c.dupThresh() || lost {
		// Not again for losses of the same window: RFC 6582 §3.2 step 2
		// (SND.UNA beyond "recover"), or with SACK RFC 6675 §5 (SND.UNA at
		// or beyond RecoveryPoint, and not right after an RTO, §5.1).
		ok := c.sndUna.GreaterThan(c.recover) || c.recover == c.iss
		if c.sackOK {
			ok = c.sb.CanEnterRecovery()
		}
		if ok {
			c.enterRecovery(now)
			return
		}
	}
	if c.dupAcks < tcp.DupThresh {
		c.limitedTransmit(now)
	}
}

// dupThresh is the number of duplicate ACKs that start fast retransmit:
// three (RFC 5681), or fewer when less than four segments are outstanding
// and no new data waits, since then three duplicates can never come
// (early retransmit, RFC 5827 §3.1).
func (c *tcpConn) dupThresh() int {
	if c.sndMax.LessThan(c.dataEnd()) {
		return tcp.DupThresh
	}
	segs := (c.flight() + c.effMSS() - 1) / c.effMSS()
	if segs < 4 {
		return max(segs-1, 1)
	}
	return tcp.DupThresh
}

// limitedTransmit sends one new segment for each of the first two
// duplicate ACKs, beyond cwnd but within the peer's window, so that a small
// window still draws the duplicates fast retransmit needs (RFC 3042).
func (c *tcpConn) limitedTransmit(now clock.Time) {
	if c.sndNxt != c.sndMax || !c.state.canSendData() && c.state != TCPFinWait1 {
		return
	}
	avail := 0
	if c.sndNxt.LessThan(c.dataEnd()) {
		avail = int(c.dataEnd().Sub(c.sndNxt))
	}
	room := int(c.sndWnd) - int(c.sndNxt.Sub(c.sndUna))
	n := min(avail, room, c.effMSS())
	if n < c.effMSS() && n < avail || n <= 0 {
		return
	}
	seq := c.sndNxt
	flags := wire.TCPFlags(0)
	if n == avail {
		flags = wire.TCPFlagPSH
	}
	c.sendSegment(now, flags, seq, n, "new data (limited transmit, RFC 3042)")
	c.ltBytes += n
	c.sndNxt = seq.Add(seqnum.Size(n))
	c.sndMax = c.sndNxt
	c.sb.SetHighData(c.sndMax)
}

// enterRecovery is fast retransmit and the start of fast recovery.
func (c *tcpConn) enterRecovery(now clock.Time) {
	// FlightSize excludes what limited transmit sent (RFC 3042 §2, RFC 5681
	// §3.2 step 2).
	flight := c.flight() - c.ltBytes
	c.cc.OnEnterRecovery(now, flight)
	c.inRecovery = true
	c.recover = c.sndMax
	c.fastRetrans++
	useSACK := c.sackOK && c.sb.CanEnterRecovery()
	if c.l.s.obs.Active() {
		how := "NewReno (RFC 6582)"
		if useSACK {
			how = "SACK-based (RFC 6675)"
		}
		c.publish(now, observe.KindInfo, fmt.Sprintf("enter loss recovery (%s) at SND.UNA %d, recovery point %d", how, c.sndUna, c.recover),
			fmt.Sprintf("%d duplicate ACKs say the segment at SND.UNA was lost while later ones arrived: retransmit it now instead of waiting for the timer, and halve the window", c.dupAcks),
			"RFC 5681 §3.2", map[string]any{"event": "recovery-enter", "cc": c.cc.Name(), "flight": flight, "cwnd": c.cc.Cwnd(), "ssthresh": c.cc.Ssthresh(), "sack": useSACK})
	}
	if useSACK {
		c.sackRecov = true
		seg := c.sb.EnterRecovery()
		n := c.retransmitAt(now, seg.Seq, seg.Len, "fast retransmit (third duplicate ACK, SACK)")
		c.sb.Sent(tcp.Segment{Seq: seg.Seq, Len: n, Rule: seg.Rule})
		return
	}
	c.retransmitAt(now, c.sndUna, c.effMSS(), "fast retransmit (third duplicate ACK)")
}

// ackRecovery tells congestion control about an ACK of new data, inside or
// outside recovery.
func (c *tcpConn) ackRecovery(now clock.Time, seg *tcpSegment, acked, flightBefore int, rtt time.Duration) {
	res := c.sackUpdate(seg)
	c.dupAcks, c.ltBytes = 0, 0
	if !c.inRecovery {
		c.cc.OnAck(now, acked, rtt, flightBefore)
		return
	}
	if seg.ack.GreaterThanEq(c.recover) || res.RecoveryDone {
		c.cc.OnExitRecovery(now)
		c.inRecovery, c.sackRecov = false, false
		if c.l.s.obs.Active() {
			c.publish(now, observe.KindInfo, fmt.Sprintf("exit loss recovery at SND.UNA %d", c.sndUna),
				"everything outstanding when the loss was detected is now acknowledged: cwnd = ssthresh",
				"RFC 6582 §3.2", map[string]any{"event": "recovery-exit", "cc": c.cc.Name(), "cwnd": c.cc.Cwnd(), "ssthresh": c.cc.Ssthresh()})
		}
		return
	}
	if c.sackRecov {
		return // sackOutput retransmits what the scoreboard says
	}
	// Partial ACK (RFC 6582 §3.2 step 5): retransmit the next hole, deflate.
	c.cc.OnRecoveryAck(now, acked)
	c.retransmitAt(now, c.sndUna, c.effMSS(), "retransmission after a partial ACK")
}

// sackOutput sends during SACK recovery while pipe leaves room under
// ssthresh (RFC 6675 §5 (C)).
func (c *tcpConn) sackOutput(now clock.Time) {
	c.sb.SetPipe()
	for i := 0; i < 64 && c.cc.Ssthresh()-c.sb.Pipe() >= c.effMSS(); i++ {
		newData := 0
		if c.sndMax.LessThan(c.dataEnd()) {
			newData = int(c.dataEnd().Sub(c.sndMax))
			room := int(c.sndWnd) - int(c.sndMax.Sub(c.sndUna))
			newData = max(min(newData, room), 0)
		}
		seg, ok := c.sb.NextSeg(newData)
		if !ok {
			return
		}
		if seg.Rule == tcp.RuleNewData {
			n := min(seg.Len, newData, c.effMSS())
			if n <= 0 {
				return
			}
			start := c.sndMax
			c.sendSegment(now, 0, start, n, "new data (SACK recovery)")
			c.sndNxt = start.Add(seqnum.Size(n))
			c.sndMax = c.sndNxt
			c.sb.Sent(tcp.Segment{Seq: start, Len: n, Rule: seg.Rule})
			c.rtxT.armIfIdle(now, c.rtt.RTO(), "data in flight")
			continue
		}
		n := c.retransmitAt(now, seg.Seq, seg.Len, "retransmission ("+seg.Rule.String()+")")
		if n == 0 {
			return
		}
		c.sb.Sent(tcp.Segment{Seq: seg.Seq, Len: n, Rule: seg.Rule})
	}
}

// onRTO is the retransmission timeout (RFC 6298 §5, RFC 5681 §3.1).
func (c *tcpConn) onRTO(now clock.Time) {
	cfg := &c.l.cfg
	switch c.state {
	case TCPSynSent, TCPSynReceived:
		limit := cfg.SYNRetries
		if c.state == TCPSynReceived {
			limit = cfg.SYNACKRetries
		}
		if c.synTries >= limit {
			err := c.softErr
			if err == nil {
				err = sockErr("connect", c.remote.String(), ETIMEDOUT, fmt.Sprintf("no answer to %d SYN retransmissions", c.synTries))
			}
			if c.passive {
				err = nil
			}
			c.abort(now, err, false, "handshake timed out", "RFC 9293 §3.8.3")
			return
		}
		c.synTries++
		c.synRetrans = true
		c.rttTiming = false
		c.rtt.Backoff()
		c.retrans++
		c.l.stats.Retransmissions++
		if c.state == TCPSynSent {
			c.sendSYN(now, nil, false, "retransmission of SYN")
		} else {
			c.sendSYN(now, &c.peerSyn, true, "retransmission of SYN-ACK")
		}
		return
	case TCPEstablished, TCPCloseWait, TCPFinWait1, TCPClosing, TCPLastAck:
	default:
		return
	}
	if c.sndMax == c.sndUna {
		return
	}
	if c.sndWnd == 0 {
		// The peer closed its window: what was sent beyond it is taken
		// back and the persist timer probes instead (RFC 9293 §3.8.6.1).
		c.sndNxt, c.rttTiming = c.sndUna, false
		c.checkPersist(now)
		return
	}
	c.rtoCount++
	c.backoffs++
	if c.backoffs > cfg.Retries {
		err := c.softErr
		if err == nil {
			err = sockErr("send", c.remote.String(), ETIMEDOUT, fmt.Sprintf("no acknowledgment after %d retransmissions", cfg.Retries))
		}
		c.abort(now, err, true, "too many retransmissions", "RFC 9293 §3.8.3")
		return
	}
	rto := c.rtt.Backoff()
	c.cc.OnRTO(now, c.flight())
	// Remember what the peer SACKed: the go-back after the timeout skips it
	// (as Linux does; tipy's own receiver never reneges, RFC 2018 §8).
	c.rtoSacked = c.sb.Blocks(c.rtoSacked[:0])
	c.sb.OnRTO()
	c.inRecovery, c.sackRecov, c.dupAcks, c.ltBytes = false, false, 0, 0
	c.recover = c.sndMax
	c.rttTiming = false
	if c.l.s.obs.Active() {
		c.publish(now, observe.KindInfo, fmt.Sprintf("retransmission timeout: go back to SND.UNA %d, RTO now %v", c.sndUna, rto),
			"no ACK came within the RTO: the segment at SND.UNA is resent, the RTO doubles (exponential backoff) and cwnd falls to one segment",
			"RFC 6298 §5", map[string]any{"event": "rto", "cc": c.cc.Name(), "backoffs": c.backoffs, "rto_ms": rto.Milliseconds(),
				"cwnd": c.cc.Cwnd(), "ssthresh": c.cc.Ssthresh()})
	}
	c.rtoTSval = c.tsNow(now)
	n := c.retransmitAt(now, c.sndUna, c.effMSS(), "retransmission (RTO)")
	c.sndNxt = c.sndUna.Add(seqnum.Size(n))
	c.output(now)
}

// skipSacked moves SND.NXT past data the peer SACKed before a timeout, so
// that the go-back resends only the holes. It reports whether it moved.
func (c *tcpConn) skipSacked() bool {
	for len(c.rtoSacked) > 0 && c.rtoSacked[0].Right.LessThanEq(c.sndUna) {
		c.rtoSacked = c.rtoSacked[1:]
	}
	for _, b := range c.rtoSacked {
		if c.sndNxt.GreaterThanEq(b.Left) && c.sndNxt.LessThan(b.Right) {
			c.sndNxt = seqnum.Min(b.Right, c.sndMax)
			return true
		}
	}
	return false
}
