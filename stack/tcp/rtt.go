package tcp

import "time"

// Defaults of the retransmission timer (RFC 6298 §2, with tipy's minimum).
const (
	// DefaultMinRTO is the lower bound on the RTO. RFC 6298 (2.4) asks for
	// 1 s, a value chosen in 1988-era networks for the sake of spurious
	// timeouts; like Linux (TCP_RTO_MIN), tipy uses 200 ms, which RFC 6298
	// §4 leaves open ("MAY") and which recovers far faster from tail loss
	// on the short paths of a lab.
	DefaultMinRTO = 200 * time.Millisecond
	// DefaultMaxRTO is the upper bound (RFC 6298 (2.5) asks for at least 60 s).
	DefaultMaxRTO = 120 * time.Second
	// DefaultInitialRTO is the RTO before any sample (RFC 6298 (2.1)).
	DefaultInitialRTO = time.Second
	// DefaultGranularity is G, the clock granularity (RFC 6298 §2).
	DefaultGranularity = time.Millisecond
	// rtoAfterSYNLoss is the RTO once data flows after a lost SYN or
	// SYN-ACK (RFC 6298 (5.7)).
	rtoAfterSYNLoss = 3 * time.Second
)

// RTTConfig sets the bounds of an RTTEstimator; zero fields take the
// defaults above.
type RTTConfig struct {
	MinRTO      time.Duration
	MaxRTO      time.Duration
	InitialRTO  time.Duration
	Granularity time.Duration
}

// RTTEstimator computes the retransmission timeout of RFC 6298 from round
// trip time samples:
//
//	first sample R:  SRTT = R, RTTVAR = R/2                      (2.2)
//	later samples:   RTTVAR = (1-β)*RTTVAR + β*|SRTT - R|, β = 1/4
//	                 SRTT   = (1-α)*SRTT + α*R,             α = 1/8 (2.3)
//	RTO = SRTT + max(G, 4*RTTVAR), within [MinRTO, MaxRTO]        (2.4)
//
// Backoff doubles the RTO when the timer expires (5.5); the next sample
// recomputes it from SRTT and RTTVAR, which ends the backoff. Karn's rule
// (RFC 6298 §3) is the caller's: SampleSegment takes the facts and decides.
type RTTEstimator struct {
	cfg      RTTConfig
	srtt     time.Duration
	rttvar   time.Duration
	rto      time.Duration
	last     time.Duration
	samples  uint64
	backoffs int
}

// NewRTTEstimator returns an estimator with no sample yet and RTO =
// InitialRTO.
func NewRTTEstimator(cfg RTTConfig) *RTTEstimator {
	if cfg.MinRTO <= 0 {
		cfg.MinRTO = DefaultMinRTO
	}
	if cfg.MaxRTO <= 0 {
		cfg.MaxRTO = DefaultMaxRTO
	}
	if cfg.MaxRTO < cfg.MinRTO {
		cfg.MaxRTO = cfg.MinRTO
	}
	if cfg.InitialRTO <= 0 {
		cfg.InitialRTO = DefaultInitialRTO
	}
	if cfg.Granularity <= 0 {
		cfg.Granularity = DefaultGranularity
	}
	e := &RTTEstimator{cfg: cfg}
	e.rto = e.clamp(cfg.InitialRTO)
	return e
}

// Config returns the bounds in use, defaults filled in.
func (e *RTTEstimator) Config() RTTConfig { return e.cfg }

func (e *RTTEstimator) clamp(d time.Duration) time.Duration {
	return min(max(d, e.cfg.MinRTO), e.cfg.MaxRTO)
}

// Sample takes a round-trip measurement r and recomputes the RTO (RFC 6298
// (2.2)/(2.3)); it also ends any backoff. A sample that is not positive is
// ignored (a sub-granularity RTT is still a sample: pass at least 1 ns).
func (e *RTTEstimator) Sample(r time.Duration) {
	if r <= 0 {
		return
	}
	if e.samples == 0 {
		e.srtt = r
		e.rttvar = r / 2
	} else {
		diff := e.srtt - r
		if diff < 0 {
			diff = -diff
		}
		e.rttvar += (diff - e.rttvar) / 4
		e.srtt += (r - e.srtt) / 8
	}
	e.last = r
	e.samples++
	e.backoffs = 0
	e.rto = e.clamp(e.srtt + max(e.cfg.Granularity, 4*e.rttvar))
}

// SampleSegment applies Karn's rule (RFC 6298 §3) to a measurement of the
// segment that an ACK covers: the sample is taken unless the segment was
// retransmitted, since the ACK may then answer either transmission, except
// when the RTT comes from the echo of a timestamp (RFC 7323 §4), which
// names the transmission. It reports whether the sample was taken.
func (e *RTTEstimator) SampleSegment(r time.Duration, retransmitted, fromTimestamp bool) bool {
	if r <= 0 || (retransmitted && !fromTimestamp) {
		return false
	}
	e.Sample(r)
	return true
}

// Backoff doubles the RTO after the retransmission timer expired (RFC 6298
// (5.5)), up to MaxRTO, and returns the new RTO.
func (e *RTTEstimator) Backoff() time.Duration {
	e.rto = e.clamp(2 * e.rto)
	e.backoffs++
	return e.rto
}

// RestartAfterSYNLoss applies RFC 6298 (5.7): when the SYN or SYN-ACK had
// to be retransmitted and no RTT sample was taken, the RTO becomes 3 s once
// the connection is established (unless the bounds say otherwise).
func (e *RTTEstimator) RestartAfterSYNLoss() {
	if e.samples == 0 {
		e.rto = e.clamp(rtoAfterSYNLoss)
		e.backoffs = 0
	}
}

// SRTT returns the smoothed round-trip time (0 before any sample).
func (e *RTTEstimator) SRTT() time.Duration { return e.srtt }

// RTTVar returns the round-trip time variation (0 before any sample).
func (e *RTTEstimator) RTTVar() time.Duration { return e.rttvar }

// RTO returns the current retransmission timeout, backoff included.
func (e *RTTEstimator) RTO() time.Duration { return e.rto }

// Last returns the latest sample (0 before any).
func (e *RTTEstimator) Last() time.Duration { return e.last }

// Samples returns how many samples have been taken.
func (e *RTTEstimator) Samples() uint64 { return e.samples }

// Backoffs returns how many times the RTO was doubled since the last sample.
func (e *RTTEstimator) Backoffs() int { return e.backoffs }
