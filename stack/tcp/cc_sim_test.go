package tcp

import (
	"time"

	"github.com/tipy/tipy/stack/clock"
)

// ackClock is a small model of a sender limited by its congestion window:
// each round it has cwnd bytes in flight as full segments, and the ACKs of
// those segments come back spread evenly over one RTT, each acknowledging
// perSeg segments. The sender refills the window on every ACK, so the
// flight before an ACK equals cwnd.
type ackClock struct {
	cc     CongestionControl
	mss    int
	rtt    time.Duration
	perAck int // segments acknowledged per ACK (2 models delayed ACKs)
	now    clock.Time
}

func newAckClock(cc CongestionControl, mss int, rtt time.Duration) *ackClock {
	return &ackClock{cc: cc, mss: mss, rtt: rtt, perAck: 1, now: clock.Time(time.Second)}
}

// round runs one RTT of the ACK clock.
func (a *ackClock) round() {
	segs := max(a.cc.Cwnd()/a.mss, 1)
	acks := max(segs/a.perAck, 1)
	start := a.now
	for i := 1; i <= acks; i++ {
		t := start.Add(a.rtt * time.Duration(i) / time.Duration(acks))
		a.cc.OnAck(t, a.perAck*a.mss, a.rtt, a.cc.Cwnd())
	}
	a.now = start.Add(a.rtt)
}

// loss models fast recovery from a loss in the current window: recovery
// starts with the whole window in flight and ends one RTT later.
func (a *ackClock) loss() {
	a.cc.OnEnterRecovery(a.now, a.cc.Cwnd())
	a.now = a.now.Add(a.rtt)
	a.cc.OnExitRecovery(a.now)
}
