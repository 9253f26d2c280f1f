package stack

import (
	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
)

// TCPState is a state of the TCP connection state machine, RFC 9293 §3.3.2.
type TCPState uint8

// The eleven states of RFC 9293 §3.3.2.
const (
	TCPClosed TCPState = iota
	TCPListen
	TCPSynSent
	TCPSynReceived
	TCPEstablished
	TCPFinWait1
	TCPFinWait2
	TCPCloseWait
	TCPClosing
	TCPLastAck
	TCPTimeWait
)

var tcpStateNames = [...]string{"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}

// String returns the RFC's name of the state, e.g. "SYN-SENT".
func (st TCPState) String() string {
	if int(st) < len(tcpStateNames) {
		return tcpStateNames[st]
	}
	return "UNKNOWN"
}

// synchronized reports whether the state is one of the synchronized states
// of RFC 9293 §3.5.2 (ESTABLISHED and after).
func (st TCPState) synchronized() bool { return st >= TCPEstablished }

// canSendData reports whether data (and a FIN) may be sent in the state.
func (st TCPState) canSendData() bool {
	return st == TCPEstablished || st == TCPCloseWait
}

// canReceiveData reports whether data from the peer is taken in the state
// (RFC 9293 §3.10.7.4, step 7: not after the peer's FIN).
func (st TCPState) canReceiveData() bool {
	return st == TCPEstablished || st == TCPFinWait1 || st == TCPFinWait2
}

// setState is the ONE place where a connection changes state. It publishes
// the transition with what triggered it and the RFC section, and wakes the
// socket so that waiting calls look again.
func (c *tcpConn) setState(now clock.Time, to TCPState, trigger, rfc string) {
	from := c.state
	if from == to {
		return
	}
	c.state = to
	c.stateSince = now
	if c.l.s.obs.Active() {
		c.publish(now, observe.KindState, from.String()+" → "+to.String(), trigger, rfc, map[string]any{
			"from": from.String(), "to": to.String(), "trigger": trigger,
		})
	}
	switch to {
	case TCPEstablished:
		c.established(now)
	case TCPTimeWait:
		c.enterTimeWait(now)
	case TCPClosed:
		c.closed(now)
	}
	c.wake()
}
