package stack

import (
	"fmt"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
)

// The timers of a connection: retransmission (RFC 6298; also the SYN and
// SYN-ACK retransmissions), delayed ACK (RFC 9293 §3.8.6.3), persist
// (§3.8.6.1, zero-window probes with backoff), keepalive (§3.8.4),
// TIME-WAIT (2*MSL, §3.6) and SO_LINGER. Each is a clock.Timer on the
// stack's loop; arming, cancelling and firing are published as events.

// tcpTimer is one named timer of a connection.
type tcpTimer struct {
	c    *tcpConn
	name string
	t    *clock.Timer
}

// newTimer makes a timer that runs f on the loop when it fires.
func (c *tcpConn) newTimer(name string, f func(now clock.Time)) *tcpTimer {
	tt := &tcpTimer{c: c, name: name}
	loop := c.l.s.loop
	tt.t = loop.NewTimer(func() {
		now := loop.Now()
		tt.publish(now, "fired", "", 0)
		f(now)
	})
	return tt
}

func (c *tcpConn) initTimers() {
	c.rtxT = c.newTimer("retransmission", c.onRTO)
	c.delackT = c.newTimer("delayed-ack", func(now clock.Time) {
		c.oweAck("delayed ACK: the timer fired (RFC 9293 §3.8.6.3)")
		c.output(now)
	})
	c.persistT = c.newTimer("persist", c.onPersist)
	c.keepT = c.newTimer("keepalive", c.onKeepalive)
	c.twT = c.newTimer("time-wait", func(now clock.Time) {
		c.setState(now, TCPClosed, "2*MSL elapsed in TIME-WAIT", "RFC 9293 §3.6")
	})
	c.finT = c.newTimer("fin-wait-2", func(now clock.Time) {
		if c.state == TCPFinWait2 && c.userGone {
			c.abort(now, nil, false, "no FIN from the peer within the FIN-WAIT-2 timeout of a closed socket", "RFC 9293 §3.6")
		}
	})
	c.lingerT = c.newTimer("linger", func(now clock.Time) {
		if c.state != TCPClosed && c.state != TCPTimeWait && !c.finAcked() {
			c.abort(now, nil, true, "SO_LINGER time passed with data unacknowledged", "RFC 9293 §3.10.4")
		}
	})
}

// timers lists every timer of the connection.
func (c *tcpConn) timers() []*tcpTimer {
	return []*tcpTimer{c.rtxT, c.delackT, c.persistT, c.keepT, c.twT, c.lingerT, c.finT}
}

// armFinWait2 bounds FIN-WAIT-2 for a socket the application closed: with
// nobody left to read, a peer that never sends its FIN would keep the
// connection forever (Linux's tcp_fin_timeout does the same).
func (c *tcpConn) armFinWait2(now clock.Time) {
	if c.state == TCPFinWait2 && c.userGone && !c.finT.armed() {
		c.finT.arm(now, c.l.cfg.FinTimeout, "FIN-WAIT-2 of a closed socket is bounded")
	}
}

// arm (re)starts the timer to fire after d.
func (tt *tcpTimer) arm(now clock.Time, d time.Duration, why string) {
	tt.t.Reset(now.Add(d))
	tt.publish(now, "armed", why, d)
}

// armIfIdle arms the timer unless it is already running.
func (tt *tcpTimer) armIfIdle(now clock.Time, d time.Duration, why string) {
	if !tt.t.Armed() {
		tt.arm(now, d, why)
	}
}

// stop cancels the timer if it is armed.
func (tt *tcpTimer) stop(now clock.Time, why string) {
	if tt.t.Stop() {
		tt.publish(now, "cancelled", why, 0)
	}
}

// armed reports whether the timer runs.
func (tt *tcpTimer) armed() bool { return tt.t.Armed() }

// when returns the time the timer fires (meaningful when armed).
func (tt *tcpTimer) when() clock.Time { return tt.t.When() }

func (tt *tcpTimer) publish(now clock.Time, what, why string, d time.Duration) {
	c := tt.c
	if !c.l.s.obs.Active() {
		return
	}
	s := c.l.s
	f := map[string]any{"timer": s.boxString(tt.name), "action": timerAction(what)}
	b := append(s.ev.buf[:0], "timer "...)
	b = append(b, tt.name...)
	b = append(b, ' ')
	b = append(b, what...)
	if what == "armed" {
		f["duration_ms"] = float64(d) / float64(time.Millisecond)
		f["at_ns"] = int64(now.Add(d))
		b = append(b, " for "...)
		b = append(b, s.durString(d)...)
	}
	c.publish(now, observe.KindTimer, s.summary(b), why, tt.rfc(), f)
}

// timerAction returns what, boxed without allocating for the actions a
// timer has.
func timerAction(what string) any {
	switch what {
	case "armed":
		return "armed"
	case "cancelled":
		return "cancelled"
	case "fired":
		return "fired"
	}
	return what
}

func (tt *tcpTimer) rfc() string {
	switch tt.name {
	case "retransmission":
		return "RFC 6298 §5"
	case "delayed-ack":
		return "RFC 9293 §3.8.6.3"
	case "persist":
		return "RFC 9293 §3.8.6.1"
	case "keepalive":
		return "RFC 9293 §3.8.4"
	case "time-wait":
		return "RFC 9293 §3.6"
	}
	return ""
}

// onPersist sends a zero-window probe, or, when the window is open but
// sender SWS avoidance held data back, forces it out (§3.8.6.2.1).
func (c *tcpConn) onPersist(now clock.Time) {
	if !c.state.synchronized() || c.state == TCPTimeWait {
		return
	}
	waiting := c.sndNxt.LessThan(c.dataEnd()) || (c.finQd && c.sndNxt.LessThanEq(c.finSeq))
	if !waiting {
		c.persistShift = 0
		return
	}
	if c.sndWnd > 0 && c.sendData(now, true) {
		c.persistShift = 0
		return
	}
	// Like Linux, the probe is an ACK with SEQ = SND.UNA-1: it lies outside
	// the peer's window, so the peer must answer with an ACK carrying its
	// current window (RFC 9293 §3.8.6.1 allows any probe that draws one).
	c.probes++
	c.sendSegment(now, 0, c.sndUna-1, 0, "zero-window probe")
	if c.persistShift < 16 {
		c.persistShift++
	}
	c.persistT.arm(now, c.persistInterval(), "next zero-window probe, backed off")
}

// armKeepalive starts the keepalive timer when SO_KEEPALIVE is on.
func (c *tcpConn) armKeepalive(now clock.Time) {
	if c.so == nil || !c.so.opts.keepalive || !c.state.synchronized() || c.state == TCPTimeWait {
		c.keepT.stop(now, "keepalive off")
		return
	}
	c.keepT.arm(now, c.so.opts.keepIdle, "idle time before the first keepalive probe")
}

// onKeepalive sends a keepalive probe after TCP_KEEPIDLE of silence, then
// every TCP_KEEPINTVL; TCP_KEEPCNT unanswered probes abort with ETIMEDOUT.
func (c *tcpConn) onKeepalive(now clock.Time) {
	if c.so == nil || !c.so.opts.keepalive || c.state == TCPTimeWait || c.state == TCPClosed {
		return
	}
	o := &c.so.opts
	if c.keepProbes == 0 {
		if idle := now.Sub(c.lastRecv); idle < o.keepIdle {
			c.keepT.arm(now, o.keepIdle-idle, "the connection was not idle long enough")
			return
		}
	}
	if c.keepProbes >= o.keepCnt {
		c.abort(now, sockErr("recv", c.remote.String(), ETIMEDOUT, fmt.Sprintf("%d keepalive probes went unanswered", c.keepProbes)), true, "keepalive timed out", "RFC 9293 §3.8.4")
		return
	}
	c.keepProbes++
	c.sendSegment(now, 0, c.sndUna-1, 0, "keepalive probe")
	c.keepT.arm(now, o.keepIntvl, "next keepalive probe")
}

// enterTimeWait stops the other timers and waits 2*MSL (RFC 9293 §3.6).
func (c *tcpConn) enterTimeWait(now clock.Time) {
	for _, t := range []*tcpTimer{c.rtxT, c.persistT, c.keepT, c.lingerT, c.finT} {
		t.stop(now, "TIME-WAIT")
	}
	c.twT.arm(now, 2*c.l.cfg.MSL, "TIME-WAIT lasts 2*MSL so that old duplicates die out")
}
