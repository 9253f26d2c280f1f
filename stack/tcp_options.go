package stack

import (
	"fmt"
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
	"github.com/tipy/tipy/stack/wire"
)

// TCP option negotiation.
//
// MSS (RFC 9293 §3.7.1): a SYN announces the interface MTU less 40; a peer
// that announces none is assumed to take 536. Window scale and timestamps
// (RFC 7323) are in use only when both SYNs carry them; the scale applies to
// every segment after the SYN (a SYN's window is never scaled). SACK
// (RFC 2018) needs SACK-permitted on both SYNs. The option order and NOP
// padding are the wire package's canonical layout (Linux's).

// pawsIdle is the RFC 7323 §5.5 limit: a TS.Recent older than 24 days is
// no longer trusted for PAWS.
const pawsIdle = 24 * 24 * time.Hour

// synOptions returns the options of our SYN or SYN-ACK. For a SYN-ACK
// (peer != nil) only what the peer offered is echoed (RFC 7323 §1.3,
// RFC 2018 §2).
func (c *tcpConn) synOptions(now clock.Time, peer *wire.TCPOptions) wire.TCPOptions {
	cfg := &c.l.cfg
	o := wire.TCPOptions{MSS: uint16(min(c.rcvMSS, 0xffff)), HasMSS: true}
	if !cfg.DisableWScale && (peer == nil || peer.HasWScale) {
		o.WScale, o.HasWScale = c.rcvWndScale, true
	}
	if !cfg.DisableSACK && (peer == nil || peer.SACKPermitted) {
		o.SACKPermitted = true
	}
	if !cfg.DisableTS && (peer == nil || peer.HasTS) {
		o.TSVal, o.HasTS = c.tsNow(now), true
		if peer != nil {
			o.TSEcr = peer.TSVal
		}
	}
	return o
}

// negotiate records what the peer's SYN (or SYN-ACK) says, given what we
// offered: MSS, window scale, timestamps and SACK.
func (c *tcpConn) negotiate(now clock.Time, seg *tcpSegment, offered wire.TCPOptions) {
	p := &seg.hdr.Options
	c.sndMSS = 536
	if p.HasMSS && p.MSS > 0 {
		c.sndMSS = int(p.MSS)
	}
	if c.sndMSS > c.rcvMSS && c.rcvMSS > 0 {
		// Never send segments larger than our own interface allows.
		c.sndMSS = c.rcvMSS
	}
	c.wsOK = p.HasWScale && offered.HasWScale
	if c.wsOK {
		c.sndWndScale = min(p.WScale, 14) // RFC 7323 §2.3: larger shifts are taken as 14
	} else {
		c.sndWndScale, c.rcvWndScale = 0, 0
	}
	c.tsOK = p.HasTS && offered.HasTS
	if c.tsOK {
		c.tsRecent, c.tsRecentAge = p.TSVal, now
	}
	c.sackOK = p.SACKPermitted && offered.SACKPermitted
	c.cc.SetMSS(c.effMSS())
	c.sb.SetSMSS(c.effMSS())
	if c.l.s.obs.Active() {
		c.publishInfo(now, fmt.Sprintf("negotiated: mss %d, wscale %v (send %d, receive %d), timestamps %v, SACK %v",
			c.sndMSS, c.wsOK, c.sndWndScale, c.rcvWndScale, c.tsOK, c.sackOK),
			"each option is in use only when both SYNs carry it; a peer without MSS is assumed to accept 536 bytes",
			"RFC 9293 §3.7.1, RFC 7323 §1.3, RFC 2018 §2", map[string]any{
				"snd_mss": c.sndMSS, "rcv_mss": c.rcvMSS, "wscale": c.wsOK, "snd_wscale": c.sndWndScale,
				"rcv_wscale": c.rcvWndScale, "timestamps": c.tsOK, "sack": c.sackOK,
			})
	}
}

// segOptions returns the options of a non-SYN segment: timestamps when
// negotiated, SACK blocks when data is held out of order.
func (c *tcpConn) segOptions(now clock.Time, withSACK bool) wire.TCPOptions {
	var o wire.TCPOptions
	if c.tsOK {
		o.HasTS, o.TSVal, o.TSEcr = true, c.tsNow(now), c.tsRecent
	}
	if withSACK && c.sackOK && c.ooo.Len() > 0 {
		maxBlocks := wire.TCPMaxSACKBlocks
		if c.tsOK {
			maxBlocks = 3
		}
		var buf [wire.TCPMaxSACKBlocks]tcpSACKBlock
		blocks := c.ooo.SACKBlocks(buf[:0], c.rcvNxt, maxBlocks)
		for i, b := range blocks {
			o.SACK[i] = wire.SACKBlock{Left: uint32(b.Left), Right: uint32(b.Right)}
		}
		o.NumSACK = len(blocks)
	}
	return o
}

// pawsReject applies PAWS (RFC 7323 §5.3 R1): a segment whose TSval is
// older than TS.Recent is an old duplicate, unless TS.Recent itself is more
// than 24 days old (§5.5). It reports whether the segment must be dropped.
func (c *tcpConn) pawsReject(now clock.Time, seg *tcpSegment) bool {
	if !c.tsOK || !seg.hdr.Options.HasTS || seg.has(wire.TCPFlagRST) {
		return false
	}
	tsv := seg.hdr.Options.TSVal
	if int32(tsv-c.tsRecent) >= 0 {
		return false
	}
	if now.Sub(c.tsRecentAge) > pawsIdle {
		c.tsRecent, c.tsRecentAge = tsv, now
		return false
	}
	return true
}

// updateTSRecent records TS.Recent (RFC 7323 §4.3 (2)): when the segment
// covers Last.ACK.sent, its TSval becomes TS.Recent.
func (c *tcpConn) updateTSRecent(now clock.Time, seg *tcpSegment) {
	if !c.tsOK || !seg.hdr.Options.HasTS {
		return
	}
	if seg.seq.LessThanEq(c.lastAckSent) && int32(seg.hdr.Options.TSVal-c.tsRecent) >= 0 {
		c.tsRecent, c.tsRecentAge = seg.hdr.Options.TSVal, now
	}
}

// tsRTT returns the RTT measured by the echoed timestamp of an ACK
// (RFC 7323 §4.1 RTTM), or 0.
func (c *tcpConn) tsRTT(now clock.Time, seg *tcpSegment) time.Duration {
	if !c.tsOK || !seg.hdr.Options.HasTS || seg.hdr.Options.TSEcr == 0 {
		return 0
	}
	d := int32(c.tsNow(now) - seg.hdr.Options.TSEcr)
	if d < 0 {
		return 0
	}
	return max(time.Duration(d)*time.Millisecond, time.Millisecond/2)
}

// peerSACK converts the SACK blocks of an ACK for the scoreboard.
func peerSACK(seg *tcpSegment, dst []tcpSACKBlock) []tcpSACKBlock {
	o := &seg.hdr.Options
	for i := 0; i < o.NumSACK; i++ {
		dst = append(dst, tcpSACKBlock{Left: seqnum.Value(o.SACK[i].Left), Right: seqnum.Value(o.SACK[i].Right)})
	}
	return dst
}
