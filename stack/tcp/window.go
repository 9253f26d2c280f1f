package tcp

import "math"

// InfiniteSsthresh is the initial slow-start threshold: RFC 5681 §3.1 lets
// it be "arbitrarily high", so that slow start runs until the first loss.
const InfiniteSsthresh = math.MaxInt32

// abcLimit is L of RFC 3465 (appropriate byte counting) in segments: slow
// start grows cwnd by at most L*SMSS per ACK. L = 2 (RFC 3465 §2.3) keeps
// slow start doubling the window per RTT when the receiver acknowledges
// every second segment (RFC 9293 §3.8.6.3); RFC 5681 eq. 2 is L = 1. After an
// RTO, L = 1 (RFC 3465 §2.3), since a cumulative ACK then covers a burst of
// go-back-N retransmissions.
const abcLimit = 2

// window is the part of congestion control that NewReno and CUBIC share:
// slow start with byte counting, the RFC 5681 / RFC 6582 fast recovery
// window, the loss window after an RTO, and the restart window after idle.
type window struct {
	mss      int
	cwnd     int
	ssthresh int

	started    bool // some data has been acknowledged
	recovery   bool // between OnEnterRecovery and OnExitRecovery
	afterRTO   bool // slow start that follows an RTO (L = 1)
	rtoBackoff bool // an RTO fired and no new data was acknowledged since
}

func (w *window) init(mss int) {
	if mss <= 0 {
		mss = 536 // RFC 9293 §3.7.1: the default send MSS
	}
	w.mss = mss
	w.cwnd = InitialWindow(mss)
	w.ssthresh = InfiniteSsthresh
}

func (w *window) setMSS(mss int) {
	if mss <= 0 {
		return
	}
	w.mss = mss
	if !w.started {
		w.cwnd = InitialWindow(mss)
	}
	w.cwnd = max(w.cwnd, mss)
}

// Cwnd returns the congestion window in bytes.
func (w *window) Cwnd() int { return w.cwnd }

// Ssthresh returns the slow-start threshold in bytes.
func (w *window) Ssthresh() int { return w.ssthresh }

// InSlowStart reports whether cwnd < ssthresh (RFC 5681 §3.1).
func (w *window) InSlowStart() bool { return w.cwnd < w.ssthresh }

// InRecovery reports whether fast recovery is under way.
func (w *window) InRecovery() bool { return w.recovery }

// MSS returns the sender maximum segment size in use.
func (w *window) MSS() int { return w.mss }

// ackBegin is common bookkeeping of OnAck; it reports whether the window
// may grow: it does not while the connection is application-limited, that
// is, while less than half of cwnd is in flight (RFC 7661 §4.3).
func (w *window) ackBegin(acked, flight int) bool {
	if acked <= 0 {
		return false
	}
	w.started = true
	w.rtoBackoff = false
	return 2*flight >= w.cwnd
}

// slowStart grows cwnd by min(acked, L*SMSS) (RFC 5681 eq. 2 with RFC 3465
// byte counting), without passing ssthresh. It returns the acknowledged
// bytes left over once cwnd reached ssthresh, which count towards
// congestion avoidance.
func (w *window) slowStart(acked int) int {
	l := abcLimit
	if w.afterRTO {
		l = 1
	}
	inc := min(acked, l*w.mss)
	if w.cwnd+inc < w.ssthresh {
		w.cwnd += inc
		return 0
	}
	used := w.ssthresh - w.cwnd
	w.cwnd = w.ssthresh
	w.afterRTO = false
	return acked - used
}

// enterRecovery sets ssthresh and inflates cwnd by the three segments that
// the duplicate ACKs report gone (RFC 5681 §3.2 steps 2 and 3).
func (w *window) enterRecovery(ssthresh int) {
	w.ssthresh = max(ssthresh, 2*w.mss)
	w.cwnd = w.ssthresh + 3*w.mss
	w.recovery = true
	w.afterRTO = false
}

// dupAck inflates cwnd by SMSS (RFC 5681 §3.2 step 4).
func (w *window) dupAck() {
	if w.recovery {
		w.cwnd += w.mss
	}
}

// partialAck deflates cwnd by the newly acknowledged bytes and adds back
// SMSS when at least SMSS was acknowledged (RFC 6582 §3.2 step 5).
func (w *window) partialAck(acked int) {
	if !w.recovery || acked <= 0 {
		return
	}
	w.started = true
	w.rtoBackoff = false
	w.cwnd -= acked
	if acked >= w.mss {
		w.cwnd += w.mss
	}
	w.cwnd = max(w.cwnd, w.mss)
}

// exitRecovery deflates the window to ssthresh (RFC 6582 §3.2 step 6,
// option 2; RFC 6675 §5 keeps cwnd = ssthresh throughout).
func (w *window) exitRecovery() {
	if !w.recovery {
		return
	}
	w.recovery = false
	w.cwnd = w.ssthresh
}

// rto sets the loss window (RFC 5681 §3.1: cwnd = 1*SMSS) and, unless the
// timer already fired for this data, the new ssthresh. It reports whether
// ssthresh was set, that is, whether this is a new congestion event.
func (w *window) rto(ssthresh int) bool {
	fresh := !w.rtoBackoff
	if fresh {
		w.ssthresh = max(ssthresh, 2*w.mss)
	}
	w.cwnd = w.mss
	w.recovery = false
	w.afterRTO = true
	w.rtoBackoff = true
	return fresh
}

// idle applies the restart window RW = min(IW, cwnd) (RFC 5681 §4.1).
func (w *window) idle() {
	w.cwnd = min(w.cwnd, InitialWindow(w.mss))
}
