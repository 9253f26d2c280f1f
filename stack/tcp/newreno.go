package tcp

import (
	"time"

	"github.com/tipy/tipy/stack/clock"
)

// NewReno is TCP's standard congestion control: slow start and congestion
// avoidance of RFC 5681 §3.1 and the fast recovery of RFC 6582.
//
//   - Slow start (cwnd < ssthresh): cwnd += min(acked, 2*SMSS) per ACK
//     (appropriate byte counting, RFC 3465 with L = 2; L = 1 after an RTO),
//     which doubles cwnd per RTT.
//   - Congestion avoidance: byte counting (RFC 5681 §3.1, the bytes_acked
//     variant of RFC 3465 §2.1): once a whole cwnd of bytes has been
//     acknowledged, cwnd += SMSS, exactly one segment per RTT.
//   - Fast recovery: ssthresh = max(FlightSize/2, 2*SMSS) (RFC 5681 eq. 4),
//     cwnd = ssthresh + 3*SMSS, +SMSS per further duplicate ACK, partial
//     ACK deflation, cwnd = ssthresh on exit: recovery halves the window.
//   - RTO: the same ssthresh, cwnd = 1*SMSS.
//
// ssthresh starts at InfiniteSsthresh.
type NewReno struct {
	window
	bytesAcked int // congestion-avoidance byte counter (RFC 3465 §2.1)
}

var _ CongestionControl = (*NewReno)(nil)

// NewNewReno returns NewReno for a sender MSS, with cwnd = InitialWindow(mss).
func NewNewReno(mss int) *NewReno {
	r := &NewReno{}
	r.init(mss)
	return r
}

// Name returns "newreno".
func (r *NewReno) Name() string { return "newreno" }

// SetMSS sets the sender maximum segment size.
func (r *NewReno) SetMSS(mss int) { r.setMSS(mss) }

// OnAck grows cwnd for newly acknowledged data outside recovery.
func (r *NewReno) OnAck(now clock.Time, acked int, rtt time.Duration, flight int) {
	if !r.ackBegin(acked, flight) || r.recovery {
		return
	}
	if r.InSlowStart() {
		acked = r.slowStart(acked)
		if acked == 0 {
			return
		}
	}
	r.bytesAcked += acked
	if r.bytesAcked >= r.cwnd {
		r.bytesAcked -= r.cwnd
		r.cwnd += r.mss
	}
}

// OnEnterRecovery halves the window: ssthresh = max(flight/2, 2*SMSS).
func (r *NewReno) OnEnterRecovery(now clock.Time, flight int) {
	r.enterRecovery(flight / 2)
	r.bytesAcked = 0
}

// OnDupAck inflates cwnd by SMSS during recovery (RFC 5681 §3.2 step 4).
func (r *NewReno) OnDupAck(now clock.Time) { r.dupAck() }

// OnRecoveryAck deflates cwnd on a partial ACK (RFC 6582 §3.2 step 5).
func (r *NewReno) OnRecoveryAck(now clock.Time, acked int) { r.partialAck(acked) }

// OnExitRecovery sets cwnd = ssthresh.
func (r *NewReno) OnExitRecovery(now clock.Time) { r.exitRecovery() }

// OnRTO sets ssthresh = max(flight/2, 2*SMSS) and cwnd = SMSS.
func (r *NewReno) OnRTO(now clock.Time, flight int) {
	r.rto(flight / 2)
	r.bytesAcked = 0
}

// OnIdle applies the restart window (RFC 5681 §4.1).
func (r *NewReno) OnIdle(now clock.Time) { r.idle() }

// Phase names the current regime in plain words, for events.
func (r *NewReno) Phase() string {
	switch {
	case r.recovery:
		return "fast recovery"
	case r.InSlowStart():
		return "slow start"
	}
	return "congestion avoidance"
}
