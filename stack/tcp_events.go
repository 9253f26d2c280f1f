package stack

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/tcp"
	"github.com/tipy/tipy/stack/wire"
)

// Events of the TCP layer: every segment in and out with its analysis,
// state changes (tcp_state.go), timers (tcp_timers.go), samples of the
// congestion and RTT variables, recovery, and drops with a reason.

// tcpDrop names why TCP discarded a segment. The stack's Reason list has
// no TCP entries yet, so TCP counts its drops itself (TCPStats.Drops) and
// publishes them with these names.
type tcpDrop uint8

// TCP drop reasons.
const (
	tcpDropMalformed tcpDrop = iota
	tcpDropBadChecksum
	tcpDropNotUnicast
	tcpDropNoSocket
	tcpDropRSTClosed
	tcpDropOutOfWindow
	tcpDropPAWS
	tcpDropBadACK
	tcpDropNoACK
	tcpDropRSTInvalid
	tcpDropChallengeLimit
	tcpDropAfterFIN
	tcpDropReadShut
	tcpDropOOOFull
	tcpDropRcvBufFull
	tcpDropSYNQueueFull
	numTCPDrops
)

var tcpDropInfo = [numTCPDrops]struct{ name, explain string }{
	tcpDropMalformed:      {"tcp-malformed", "the TCP header or its options do not parse (RFC 9293 §3.1)"},
	tcpDropBadChecksum:    {"tcp-bad-checksum", "the TCP checksum over the pseudo-header, header and data does not verify, so the segment was damaged (RFC 9293 §3.1)"},
	tcpDropNotUnicast:     {"tcp-not-unicast", "TCP is for unicast addresses only; a segment to a broadcast or multicast address is discarded (RFC 1122 §4.2.3.10)"},
	tcpDropNoSocket:       {"tcp-no-socket", "no connection and no listener on the destination port: the port is closed, so the sender gets a reset (RFC 9293 §3.10.7.1)"},
	tcpDropRSTClosed:      {"tcp-rst-closed", "a reset to a closed port is discarded: a reset is never answered (RFC 9293 §3.10.7.1)"},
	tcpDropOutOfWindow:    {"tcp-out-of-window", "the segment lies outside the receive window, so it is an old duplicate or forged; it is answered with an ACK and discarded (RFC 9293 §3.10.7.4)"},
	tcpDropPAWS:           {"tcp-paws", "the segment's timestamp is older than the latest one seen, so it is an old duplicate from an earlier trip around the sequence space (RFC 7323 §5)"},
	tcpDropBadACK:         {"tcp-bad-ack", "the acknowledgment number acknowledges nothing we sent, or is far too old (RFC 9293 §3.10.7, RFC 5961 §5)"},
	tcpDropNoACK:          {"tcp-no-ack", "a segment without the ACK bit (or without SYN or RST where one is needed) is discarded in this state (RFC 9293 §3.10.7.4)"},
	tcpDropRSTInvalid:     {"tcp-rst-ignored", "a reset that cannot belong to the connection is ignored (RFC 9293 §3.10.7)"},
	tcpDropChallengeLimit: {"tcp-challenge-limit", "a challenge ACK was due but the per-second limit was reached (RFC 5961 §7)"},
	tcpDropAfterFIN:       {"tcp-data-after-fin", "data beyond the peer's FIN cannot be taken: the peer said it had no more (RFC 9293 §3.10.7.4)"},
	tcpDropReadShut:       {"tcp-read-shut", "the application shut down reading (SHUT_RD): data is acknowledged and discarded, as Linux does"},
	tcpDropOOOFull:        {"tcp-ooo-full", "the out-of-order queue cannot hold the segment (too many separate ranges or beyond its room)"},
	tcpDropRcvBufFull:     {"tcp-rcvbuf-full", "the receive buffer is full: the application is not reading fast enough"},
	tcpDropSYNQueueFull:   {"tcp-syn-queue-full", "the listener's accept queue is full (its backlog), or its SYN queue with SYN cookies off, so the SYN is dropped and the client will retransmit it (RFC 4987)"},
}

// String returns the drop reason's name.
func (d tcpDrop) String() string { return tcpDropInfo[d].name }

// drop counts and publishes a discarded segment.
func (l *tcpLayer) drop(now clock.Time, c *tcpConn, why tcpDrop, frame []byte, detail string) {
	l.stats.Drops[why.String()]++
	s := l.s
	if !s.obs.Active() {
		return
	}
	e := observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerTCP, Kind: observe.KindDrop,
		Summary: "dropped: " + why.String(), Explain: tcpDropInfo[why].explain, Reason: why.String()}
	if detail != "" {
		e.Summary += " (" + detail + ")"
	}
	if c != nil {
		e.Conn = c.id
	}
	if frame != nil {
		e.Frame = append([]byte(nil), frame...)
	}
	s.obs.Publish(e)
}

// publish publishes an event of the connection.
func (c *tcpConn) publish(now clock.Time, kind observe.Kind, summary, explain, rfc string, fields map[string]any) {
	s := c.l.s
	if !s.obs.Active() {
		return
	}
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerTCP, Kind: kind,
		Conn: c.id, Summary: summary, Explain: explain, RFC: rfc, Fields: fields})
}

// publishInfo publishes an informational event of the connection.
func (c *tcpConn) publishInfo(now clock.Time, summary, explain, rfc string, fields map[string]any) {
	c.publish(now, observe.KindInfo, summary, explain, rfc, fields)
}

// analyseRX says what a received segment is, for its event.
func (c *tcpConn) analyseRX(seg *tcpSegment) string {
	switch {
	case seg.has(wire.TCPFlagRST):
		return "reset"
	case seg.has(wire.TCPFlagSYN):
		return "SYN"
	case len(seg.data) > 0 && seg.seq == c.rcvNxt:
		return "in order, in window"
	case len(seg.data) > 0 && seg.seq.GreaterThan(c.rcvNxt):
		return "out of order: a gap before it"
	case len(seg.data) > 0:
		return "duplicate (partly or wholly received already)"
	case seg.has(wire.TCPFlagFIN):
		return "FIN"
	case seg.ack == c.sndUna && c.sndMax != c.sndUna && uint32(seg.wnd)<<c.sndWndScale == c.sndWnd:
		return "duplicate ACK"
	case seg.ack.GreaterThan(c.sndUna):
		return "ACK of new data"
	case uint32(seg.wnd)<<c.sndWndScale != c.sndWnd:
		return "window update"
	case seg.seq == c.rcvNxt-1:
		return "keepalive or zero-window probe"
	}
	return "ACK"
}

// publishSegment publishes a received segment with its analysis.
func (l *tcpLayer) publishSegment(now clock.Time, c *tcpConn, kind observe.Kind, seg *tcpSegment, analysis, rfc string) {
	s := l.s
	if !s.obs.Active() {
		return
	}
	id := seg.dst.String() + "-" + seg.src.String()
	if c != nil {
		id = c.id
	}
	v := seg.wire
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerTCP, Kind: kind, Conn: id,
		Summary: fmt.Sprintf("received %s: %s", v.String(), analysis), Explain: analysis, RFC: rfc,
		Fields: segmentFields(v, seg.src, seg.dst, analysis)})
}

// publishTX publishes a segment we send with its analysis.
func (l *tcpLayer) publishTX(now clock.Time, c *tcpConn, src, dst netip.Addr, v wire.TCP, analysis string) {
	from, to := netip.AddrPortFrom(src, v.SrcPort()), netip.AddrPortFrom(dst, v.DstPort())
	id := from.String() + "-" + to.String()
	if c != nil {
		id = c.id
	}
	l.s.obs.Publish(observe.Event{TimeNS: int64(now), Host: l.s.cfg.Name, Layer: observe.LayerTCP, Kind: observe.KindTX, Conn: id,
		Summary: fmt.Sprintf("sent %s: %s", v.String(), analysis), Explain: analysis, RFC: "RFC 9293 §3.10",
		Fields: segmentFields(v, from, to, analysis)})
}

func segmentFields(v wire.TCP, src, dst netip.AddrPort, analysis string) map[string]any {
	return map[string]any{
		"src": src.String(), "dst": dst.String(), "seq": v.Seq(), "ack": v.Ack(), "flags": v.Flags().String(),
		"window": v.Window(), "len": len(v.Payload()), "options": wire.FormatTCPOptions(v.Options()), "analysis": analysis,
	}
}

// sampleValues are the graphed variables of a connection.
type sampleValues struct {
	cwnd, ssthresh, flight int
	peerWnd                uint32
	srtt, rto              time.Duration
}

// sample publishes the congestion and RTT variables when they changed.
func (c *tcpConn) sample(now clock.Time) {
	if !c.l.s.obs.Active() || !c.state.synchronized() {
		return
	}
	v := sampleValues{c.cc.Cwnd(), c.cc.Ssthresh(), c.flight(), c.sndWnd, c.rtt.SRTT(), c.rtt.RTO()}
	if v == c.last {
		return
	}
	c.last = v
	ss := v.ssthresh
	if ss >= tcp.InfiniteSsthresh {
		ss = -1
	}
	c.publish(now, observe.KindSample, fmt.Sprintf("cwnd %d ssthresh %d flight %d peer window %d srtt %v rto %v", v.cwnd, ss, v.flight, v.peerWnd, v.srtt, v.rto),
		"", "RFC 5681, RFC 6298", map[string]any{
			"cwnd": v.cwnd, "ssthresh": ss, "flight": v.flight, "peer_window": v.peerWnd,
			"srtt_ms": float64(v.srtt) / 1e6, "rto_ms": float64(v.rto) / 1e6, "cc": c.cc.Name(),
		})
}

func secondsDur(n int) time.Duration { return time.Duration(n) * time.Second }
