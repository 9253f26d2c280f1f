package tcp

import (
	"time"

	"github.com/tipy/tipy/stack/clock"
)

// CongestionControl decides how much data a connection may have in flight.
// The connection calls it on the events below; cwnd and ssthresh are in
// bytes. Implementations: NewReno and Cubic.
//
// Loss recovery has two flavours, and the window works for both:
//
//   - Without SACK (RFC 5681 §3.2, RFC 6582) the window is inflated:
//     OnEnterRecovery sets cwnd = ssthresh + 3*SMSS for the three segments
//     the duplicate ACKs say have left the network, OnDupAck adds SMSS for
//     each further duplicate ACK, and OnRecoveryAck deflates it on a partial
//     ACK. The connection sends while flight < Cwnd().
//   - With SACK (RFC 6675 §5) the connection estimates "pipe" with the
//     Scoreboard instead, does not call OnDupAck, and sends while
//     pipe < Ssthresh(): RFC 6675 sets cwnd = ssthresh on entry, and the
//     inflation above is only the stand-in for pipe.
type CongestionControl interface {
	// Name is "newreno" or "cubic" (the TCP_CONGESTION value).
	Name() string
	// Cwnd returns the congestion window in bytes.
	Cwnd() int
	// Ssthresh returns the slow-start threshold in bytes.
	Ssthresh() int
	// InSlowStart reports whether cwnd < ssthresh.
	InSlowStart() bool
	// OnAck is called for an ACK that acknowledges new data outside loss
	// recovery: acked bytes were newly acknowledged, rtt is the latest RTT
	// sample or the SRTT (0 if none), flight the bytes in flight before the
	// ACK. The window does not grow while flight is below half of cwnd: the
	// connection is then limited by the application, not by the window
	// (RFC 7661 §4.3).
	OnAck(now clock.Time, acked int, rtt time.Duration, flight int)
	// OnEnterRecovery is called when fast retransmit starts loss recovery
	// (third duplicate ACK or SACK loss detection), with the flight size.
	// It lowers ssthresh and sets cwnd = ssthresh + 3*SMSS.
	OnEnterRecovery(now clock.Time, flight int)
	// OnDupAck is called for each further duplicate ACK during recovery by
	// a connection that does not use SACK: cwnd += SMSS (RFC 5681 §3.2
	// step 4). A SACK connection does not call it.
	OnDupAck(now clock.Time)
	// OnRecoveryAck is called for each ACK during recovery that acknowledges
	// new data: acked bytes newly acknowledged (a partial ACK when recovery
	// goes on). cwnd is deflated by acked, and SMSS is added back when
	// acked >= SMSS (RFC 6582 §3.2 step 5). acked <= 0 changes nothing.
	OnRecoveryAck(now clock.Time, acked int)
	// OnExitRecovery is called when recovery ends (the recovery point is
	// acknowledged): cwnd = ssthresh (RFC 6582 §3.2 step 6, option 2).
	OnExitRecovery(now clock.Time)
	// OnRTO is called when the retransmission timer expires (RFC 5681 §3.1,
	// eq. 4: ssthresh = max(flight/2, 2*SMSS), cwnd = 1*SMSS). A second
	// expiry with no new data acknowledged in between keeps ssthresh.
	OnRTO(now clock.Time, flight int)
	// OnIdle is called when the connection restarts after an idle period
	// longer than the RTO (RFC 5681 §4.1: cwnd = min(cwnd, IW)).
	OnIdle(now clock.Time)
	// SetMSS tells the algorithm the sender's maximum segment size. Before
	// any data is acknowledged it also resets cwnd to InitialWindow(mss).
	SetMSS(mss int)
}

// InitialWindow returns the initial congestion window of RFC 6928 for a
// sender MSS: min(10*MSS, max(2*MSS, 14600)).
func InitialWindow(mss int) int {
	return min(10*mss, max(2*mss, 14600))
}
