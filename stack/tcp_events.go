package stack

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/tcp"
	"github.com/tipy/tipy/stack/wire"
)

// Events of the TCP layer: every segment in and out with its analysis,
// state changes (tcp_state.go), timers (tcp_timers.go), samples of the
// congestion and RTT variables, recovery, and drops with a reason.

// tcpDrop names why TCP discarded a segment: one of the stack's Reasons.
type tcpDrop = Reason

// TCP drop reasons, as the rest of TCP names them.
const (
	tcpDropMalformed      = ReasonTCPMalformed
	tcpDropBadChecksum    = ReasonTCPBadChecksum
	tcpDropNotUnicast     = ReasonTCPNotUnicast
	tcpDropNoSocket       = ReasonTCPNoSocket
	tcpDropRSTClosed      = ReasonTCPRSTClosed
	tcpDropOutOfWindow    = ReasonTCPOutOfWindow
	tcpDropPAWS           = ReasonTCPPAWS
	tcpDropBadACK         = ReasonTCPBadACK
	tcpDropNoACK          = ReasonTCPNoACK
	tcpDropRSTInvalid     = ReasonTCPRSTInvalid
	tcpDropChallengeLimit = ReasonTCPChallengeLimit
	tcpDropAfterFIN       = ReasonTCPAfterFIN
	tcpDropReadShut       = ReasonTCPReadShut
	tcpDropOOOFull        = ReasonTCPOOOFull
	tcpDropRcvBufFull     = ReasonTCPRcvBufFull
	tcpDropSYNQueueFull   = ReasonTCPSYNQueueFull
)

// drop counts and publishes a discarded segment.
func (l *tcpLayer) drop(now clock.Time, c *tcpConn, why tcpDrop, frame []byte, detail string) {
	l.stats.Drops[why.String()]++
	s := l.s
	s.stats.Drops[why]++
	if !s.obs.Active() {
		return
	}
	e := observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerTCP, Kind: observe.KindDrop,
		Summary: "dropped: " + why.String(), Explain: why.Explain(), Reason: why.String()}
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
	var id string
	if c != nil {
		id = c.id
	} else {
		id = seg.dst.String() + "-" + seg.src.String()
	}
	v := seg.wire
	summary, options := s.segmentWords("received ", v, analysis)
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerTCP, Kind: kind, Conn: id,
		Summary: summary, Explain: analysis, RFC: rfc,
		Fields: s.segmentFields(v, seg.src, seg.dst, options, analysis)})
}

// publishTX publishes a segment we send with its analysis.
func (l *tcpLayer) publishTX(now clock.Time, c *tcpConn, src, dst netip.Addr, v wire.TCP, analysis string) {
	s := l.s
	from, to := netip.AddrPortFrom(src, v.SrcPort()), netip.AddrPortFrom(dst, v.DstPort())
	var id string
	if c != nil {
		id = c.id
	} else {
		id = from.String() + "-" + to.String()
	}
	summary, options := s.segmentWords("sent ", v, analysis)
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerTCP, Kind: observe.KindTX, Conn: id,
		Summary: summary, Explain: analysis, RFC: "RFC 9293 §3.10",
		Fields: s.segmentFields(v, from, to, options, analysis)})
}

// segmentFields are the fields of a segment event; options is
// wire.FormatTCPOptions of the segment's options.
func (s *Stack) segmentFields(v wire.TCP, src, dst netip.AddrPort, options, analysis string) map[string]any {
	return map[string]any{
		"src": s.boxAddrPort(src), "dst": s.boxAddrPort(dst), "seq": v.Seq(), "ack": v.Ack(), "flags": s.boxFlags(v.Flags()),
		"window": v.Window(), "len": len(v.Payload()), "options": options, "analysis": analysis,
	}
}

// sampleValues are the graphed variables of a connection.
type sampleValues struct {
	cwnd, ssthresh, flight int
	peerWnd                uint32
	srtt, rto              time.Duration
	phase                  string // the congestion control's regime
}

// ccPhase names the regime of the congestion control in plain words:
// "slow start", "congestion avoidance" (CUBIC adds its region), "fast
// recovery".
func ccPhase(cc tcp.CongestionControl) string {
	if p, ok := cc.(interface{ Phase() string }); ok {
		return p.Phase()
	}
	if cc.InSlowStart() {
		return "slow start"
	}
	return "congestion avoidance"
}

// sample publishes the congestion and RTT variables when they changed, and
// a change of the congestion control's regime as an event of its own.
func (c *tcpConn) sample(now clock.Time) {
	if !c.l.s.obs.Active() || !c.state.synchronized() {
		return
	}
	v := sampleValues{c.cc.Cwnd(), c.cc.Ssthresh(), c.flight(), c.sndWnd, c.rtt.SRTT(), c.rtt.RTO(), ccPhase(c.cc)}
	if v == c.last {
		return
	}
	prev := c.last
	c.last = v
	ss := v.ssthresh
	if ss >= tcp.InfiniteSsthresh {
		ss = -1
	}
	name := c.cc.Name()
	if prev.phase != "" && prev.phase != v.phase {
		c.publishPhase(now, name, prev.phase, v, ss)
	}
	s := c.l.s
	b := append(s.ev.buf[:0], "cwnd "...)
	b = strconv.AppendInt(b, int64(v.cwnd), 10)
	b = append(b, " ssthresh "...)
	b = appendSsthresh(b, ss)
	b = append(b, " flight "...)
	b = strconv.AppendInt(b, int64(v.flight), 10)
	b = append(b, " peer window "...)
	b = strconv.AppendUint(b, uint64(v.peerWnd), 10)
	b = append(b, " srtt "...)
	b = append(b, s.durString(v.srtt)...)
	b = append(b, " rto "...)
	b = append(b, s.durString(v.rto)...)
	b = append(b, " ("...)
	b = append(b, name...)
	b = append(b, ", "...)
	b = append(b, v.phase...)
	b = append(b, ')')
	c.publish(now, observe.KindSample, s.summary(b),
		"", "RFC 5681, RFC 6298", map[string]any{
			"cwnd": v.cwnd, "ssthresh": ss, "flight": v.flight, "peer_window": v.peerWnd,
			"srtt_ms": float64(v.srtt) / 1e6, "rto_ms": float64(v.rto) / 1e6, "cc": s.boxString(name), "phase": s.boxString(v.phase),
		})
}

// publishPhase publishes a change of regime of the congestion control.
func (c *tcpConn) publishPhase(now clock.Time, name, from string, v sampleValues, ss int) {
	explain, rfc := "", "RFC 5681 §3.1"
	switch to := v.phase; {
	case to == "slow start":
		explain = "cwnd is below ssthresh: it grows by the bytes each ACK acknowledges, doubling every round trip"
	case to == "fast recovery":
		explain = "a loss was detected by duplicate ACKs: ssthresh is lowered, the lost segment resent, and the window kept open by the ACKs still arriving"
		rfc = "RFC 5681 §3.2, RFC 6582, RFC 6675"
	case name == "cubic":
		explain = "cwnd reached ssthresh: CUBIC grows it along a cubic curve of the time since the last reduction: concave up to the window where the loss happened, convex beyond it, never slower than Reno would (Reno-friendly)"
		rfc = "RFC 9438 §4"
	default:
		explain = "cwnd reached ssthresh: it now grows by about one segment per round trip"
	}
	c.publishInfo(now, fmt.Sprintf("%s: %s → %s (cwnd %d, ssthresh %s)", name, from, v.phase, v.cwnd, appendSsthresh(nil, ss)), explain, rfc,
		map[string]any{"event": "cc-phase", "cc": name, "from": from, "to": v.phase, "cwnd": v.cwnd, "ssthresh": ss})
}

// publishWindow publishes a change of the peer's window: the 16-bit
// field of seg shifted by the negotiated scale (RFC 7323 §2.3) is the new
// SND.WND.
func (c *tcpConn) publishWindow(now clock.Time, seg *tcpSegment, wnd uint32) {
	s := c.l.s
	b := append(s.ev.buf[:0], "peer window "...)
	b = strconv.AppendUint(b, uint64(c.sndWnd), 10)
	b = append(b, " → "...)
	b = strconv.AppendUint(b, uint64(wnd), 10)
	explain := "the peer's window says how much more it can take"
	rfc := "RFC 9293 §3.10.7.4"
	if c.sndWndScale > 0 {
		b = append(b, " (field "...)
		b = strconv.AppendUint(b, uint64(seg.wnd), 10)
		b = append(b, " << "...)
		b = strconv.AppendUint(b, uint64(c.sndWndScale), 10)
		b = append(b, ')')
		explain += "; the 16-bit window field is shifted left by the scale the peer announced in its SYN"
		rfc += ", RFC 7323 §2.3"
		if wnd > 0xffff {
			explain += ", which lets it offer more than the 65535 bytes 16 bits can say"
		}
	}
	switch {
	case wnd == 0:
		explain = "the peer's receive buffer is full: it offers a zero window, so nothing more may be sent until it reopens; the persist timer will probe it"
		rfc = "RFC 9293 §3.8.6.1"
	case c.sndWnd == 0:
		explain = "the peer's window reopens after being zero: sending resumes"
		rfc = "RFC 9293 §3.8.6.1"
	}
	c.publishInfo(now, s.summary(b), explain, rfc, map[string]any{
		"event": "peer-window", "from": c.sndWnd, "to": wnd, "field": seg.wnd, "wscale": c.sndWndScale,
		"beyond_16_bits": wnd > 0xffff,
	})
}

func secondsDur(n int) time.Duration { return time.Duration(n) * time.Second }

// appendSsthresh writes ssthresh for a summary: "∞" before the first loss
// (RFC 5681 §3.1 starts it arbitrarily high; the event's field says -1).
func appendSsthresh(b []byte, ss int) []byte {
	if ss < 0 {
		return append(b, "∞"...)
	}
	return strconv.AppendInt(b, int64(ss), 10)
}
