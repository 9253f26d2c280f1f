package tcp

import (
	"math"
	"time"

	"github.com/tipy/tipy/stack/clock"
)

// The constants of CUBIC (RFC 9438 §4.1, §5).
const (
	// CubicC is C, the scaling constant of W_cubic, in segments per s³.
	CubicC = 0.4
	// CubicBeta is β_cubic, the multiplicative decrease factor.
	CubicBeta = 0.7
	// cubicAlphaReno is α_cubic = 3(1-β)/(1+β) (RFC 9438 §4.3), the growth
	// per RTT of the Reno-friendly estimate, in segments.
	cubicAlphaReno = 3 * (1 - CubicBeta) / (1 + CubicBeta)
)

// Cubic is the CUBIC congestion control of RFC 9438. Outside slow start
// the window follows a cubic function of the time t since the congestion
// avoidance stage began (in segments, t in seconds):
//
//	W_cubic(t) = C*(t-K)³ + W_max           (§4.2 eq. 1)
//	K = cbrt((W_max - cwnd_epoch)/C)        (§4.2 eq. 2)
//
// where W_max is the window before the last reduction and cwnd_epoch the
// window at the start of the stage; after a loss from W_max, cwnd_epoch =
// β*W_max and K = cbrt(W_max*(1-β)/C). Each ACK moves cwnd a step
// (target - cwnd)/cwnd towards target = W_cubic(t+RTT), clamped to
// [cwnd, 1.5*cwnd] (§4.4, §4.5): concave below W_max, convex above. When
// the Reno-friendly estimate W_est (§4.3) is above W_cubic(t), cwnd = W_est.
//
// On loss (§4.6) ssthresh = FlightSize*β (cwnd*β if the flight is unknown),
// and W_max = cwnd, or cwnd*(1+β)/2 with fast convergence (§4.7) when cwnd
// had not regained the previous W_max. An RTO (§4.8) sets cwnd = 1*SMSS
// with the same ssthresh; the next stage starts with K = 0 and W_max =
// cwnd. Slow start, fast recovery and the restart window are as NewReno's.
// Time comes only from the now arguments.
type Cubic struct {
	window

	// FastConvergence enables §4.7 (the default, as RFC 9438 recommends).
	FastConvergence bool

	wMax      float64       // W_max in segments; 0 before any congestion event
	cwndPrior float64       // cwnd before the last reduction, in segments
	k         float64       // K in seconds
	epoch     bool          // a congestion avoidance stage is under way
	tEpoch    clock.Time    // when it began
	cwndEpoch float64       // cwnd when it began, in segments
	wEst      float64       // W_est in segments
	alpha     float64       // α_cubic: cubicAlphaReno, then 1 (§4.3)
	kZero     bool          // the next stage has K = 0, W_max = cwnd (§4.8)
	rtt       time.Duration // latest RTT passed to OnAck
	frac      float64       // growth below one byte not yet in cwnd
	region    string        // last growth region, for Phase
}

var _ CongestionControl = (*Cubic)(nil)

// NewCubic returns CUBIC for a sender MSS, with cwnd = InitialWindow(mss)
// and fast convergence on.
func NewCubic(mss int) *Cubic {
	c := &Cubic{FastConvergence: true, alpha: 1}
	c.init(mss)
	return c
}

// Name returns "cubic".
func (c *Cubic) Name() string { return "cubic" }

// SetMSS sets the sender maximum segment size.
func (c *Cubic) SetMSS(mss int) { c.setMSS(mss) }

// WMax returns W_max in segments (0 before the first congestion event).
func (c *Cubic) WMax() float64 { return c.wMax }

// K returns K in seconds for the current congestion avoidance stage.
func (c *Cubic) K() float64 { return c.k }

// WEst returns the Reno-friendly estimate W_est in segments.
func (c *Cubic) WEst() float64 { return c.wEst }

// WCubic returns W_cubic(t) in segments for the current stage (§4.2 eq. 1).
func (c *Cubic) WCubic(t time.Duration) float64 {
	d := t.Seconds() - c.k
	return CubicC*d*d*d + c.wMax
}

// EpochStart returns when the current congestion avoidance stage began and
// whether one is under way.
func (c *Cubic) EpochStart() (clock.Time, bool) { return c.tEpoch, c.epoch }

// OnAck grows cwnd: slow start below ssthresh, the cubic function above.
func (c *Cubic) OnAck(now clock.Time, acked int, rtt time.Duration, flight int) {
	if rtt > 0 {
		c.rtt = rtt
	}
	if !c.ackBegin(acked, flight) || c.recovery {
		return
	}
	if c.InSlowStart() {
		c.region = ""
		acked = c.slowStart(acked)
		if acked == 0 {
			return
		}
	}
	c.avoid(now, acked)
}

// startEpoch begins a congestion avoidance stage (§4.2).
func (c *Cubic) startEpoch(now clock.Time, cw float64) {
	c.epoch = true
	c.tEpoch = now
	c.cwndEpoch = cw
	if c.wMax == 0 || c.kZero {
		c.wMax = cw // §4.8, or no congestion event yet: K = 0
		c.kZero = false
	}
	c.k = math.Cbrt((c.wMax - c.cwndEpoch) / CubicC)
	c.wEst = cw
}

// avoid is congestion avoidance for acked bytes (§4.3 to §4.5).
func (c *Cubic) avoid(now clock.Time, acked int) {
	mss := float64(c.mss)
	cw := (float64(c.cwnd) + c.frac) / mss
	if !c.epoch {
		c.startEpoch(now, cw)
	}
	segs := float64(acked) / mss
	t := now.Sub(c.tEpoch)

	// §4.3: W_est grows by α_cubic segments per RTT, and α_cubic becomes
	// 1 once W_est reaches the window before the last reduction.
	c.wEst += c.alpha * segs / cw
	if c.alpha != 1 && c.wEst >= c.cwndPrior {
		c.alpha = 1
	}

	next := cw
	if c.WCubic(t) < c.wEst {
		c.region = "Reno-friendly"
		next = c.wEst
	} else {
		target := min(max(c.WCubic(t+c.rtt), cw), 1.5*cw)
		next = cw + (target-cw)/cw*segs
		if cw < c.wMax {
			c.region = "concave"
		} else {
			c.region = "convex"
		}
	}
	bytes := max(next, cw) * mss
	c.cwnd = int(bytes)
	c.frac = bytes - float64(c.cwnd)
}

// reduce is the congestion event of §4.6 and §4.7; it returns the new
// ssthresh in bytes.
func (c *Cubic) reduce(flight int) int {
	cw := (float64(c.cwnd) + c.frac) / float64(c.mss)
	if c.FastConvergence && cw < c.wMax {
		c.wMax = cw * (1 + CubicBeta) / 2
	} else {
		c.wMax = cw
	}
	c.cwndPrior = cw
	c.alpha = cubicAlphaReno
	c.epoch = false
	c.frac = 0
	if flight <= 0 {
		flight = c.cwnd
	}
	return int(float64(flight) * CubicBeta)
}

// OnEnterRecovery reduces the window by β_cubic.
func (c *Cubic) OnEnterRecovery(now clock.Time, flight int) {
	c.enterRecovery(c.reduce(flight))
}

// OnDupAck inflates cwnd by SMSS during recovery (RFC 5681 §3.2 step 4).
func (c *Cubic) OnDupAck(now clock.Time) { c.dupAck() }

// OnRecoveryAck deflates cwnd on a partial ACK (RFC 6582 §3.2 step 5).
func (c *Cubic) OnRecoveryAck(now clock.Time, acked int) { c.partialAck(acked) }

// OnExitRecovery sets cwnd = ssthresh; the next ACK starts a new stage.
func (c *Cubic) OnExitRecovery(now clock.Time) {
	c.exitRecovery()
	c.epoch = false
}

// OnRTO reduces ssthresh by β_cubic and sets cwnd = 1*SMSS (§4.8).
func (c *Cubic) OnRTO(now clock.Time, flight int) {
	ss := c.ssthresh
	if !c.rtoBackoff {
		ss = c.reduce(flight)
	}
	c.rto(ss)
	c.kZero = true
	c.epoch = false
	c.frac = 0
}

// OnIdle applies the restart window (RFC 5681 §4.1) and ends the stage, so
// that the idle time does not count in t.
func (c *Cubic) OnIdle(now clock.Time) {
	c.idle()
	c.epoch = false
	c.frac = 0
}

// Phase names the current regime in plain words, for events.
func (c *Cubic) Phase() string {
	switch {
	case c.recovery:
		return "fast recovery"
	case c.InSlowStart():
		return "slow start"
	case c.region != "":
		return "congestion avoidance, " + c.region + " region"
	}
	return "congestion avoidance"
}
