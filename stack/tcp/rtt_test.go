package tcp

import (
	"math"
	"testing"
	"time"
)

func TestRTTEstimatorRFC6298Sequence(t *testing.T) {
	e := NewRTTEstimator(RTTConfig{})
	if e.RTO() != time.Second || e.SRTT() != 0 || e.Samples() != 0 {
		t.Fatalf("initial RTO %v SRTT %v", e.RTO(), e.SRTT())
	}
	// The RFC 6298 formulas in floating point, in milliseconds.
	var srtt, rttvar float64
	for i, ms := range []float64{100, 200, 50, 120, 120, 400, 90} {
		e.Sample(time.Duration(ms * float64(time.Millisecond)))
		if i == 0 {
			srtt, rttvar = ms, ms/2 // (2.2)
		} else {
			rttvar = 0.75*rttvar + 0.25*math.Abs(srtt-ms) // (2.3), RTTVAR first
			srtt = 0.875*srtt + 0.125*ms
		}
		rto := max(srtt+max(1, 4*rttvar), 200) // (2.4), G = 1 ms, min 200 ms
		near := func(got time.Duration, want float64) bool {
			return math.Abs(float64(got)/float64(time.Millisecond)-want) < 1e-3
		}
		if !near(e.SRTT(), srtt) || !near(e.RTTVar(), rttvar) || !near(e.RTO(), rto) {
			t.Fatalf("sample %d (%v ms): SRTT %v RTTVAR %v RTO %v, want %.4f %.4f %.4f ms",
				i, ms, e.SRTT(), e.RTTVar(), e.RTO(), srtt, rttvar, rto)
		}
	}
	if e.Samples() != 7 || e.Last() != 90*time.Millisecond {
		t.Fatalf("samples %d last %v", e.Samples(), e.Last())
	}
	// Hand-computed first steps: 100 ms -> RTO 300 ms; 200 ms -> 362.5 ms.
	h := NewRTTEstimator(RTTConfig{})
	h.Sample(100 * time.Millisecond)
	if h.RTO() != 300*time.Millisecond {
		t.Fatalf("RTO %v, want 300ms", h.RTO())
	}
	h.Sample(200 * time.Millisecond)
	if h.SRTT() != 112500*time.Microsecond || h.RTTVar() != 62500*time.Microsecond || h.RTO() != 362500*time.Microsecond {
		t.Fatalf("SRTT %v RTTVAR %v RTO %v", h.SRTT(), h.RTTVar(), h.RTO())
	}
}

func TestRTTEstimatorBounds(t *testing.T) {
	e := NewRTTEstimator(RTTConfig{})
	e.Sample(time.Millisecond)
	if e.RTO() != DefaultMinRTO {
		t.Fatalf("RTO %v below the minimum", e.RTO())
	}
	e = NewRTTEstimator(RTTConfig{MinRTO: time.Millisecond, Granularity: 10 * time.Millisecond})
	for range 200 {
		e.Sample(50 * time.Millisecond) // RTTVAR decays towards 0
	}
	if want := e.SRTT() + 10*time.Millisecond; e.RTO() != want {
		t.Fatalf("RTO %v, want SRTT + G = %v", e.RTO(), want)
	}
	e = NewRTTEstimator(RTTConfig{})
	e.Sample(100 * time.Second)
	if e.RTO() != DefaultMaxRTO {
		t.Fatalf("RTO %v above the maximum", e.RTO())
	}
	e.Sample(0)
	e.Sample(-time.Second)
	if e.Samples() != 1 {
		t.Fatal("non-positive samples must be ignored")
	}
}

func TestRTTEstimatorBackoff(t *testing.T) {
	e := NewRTTEstimator(RTTConfig{})
	want := time.Second
	for i := range 10 {
		want = min(2*want, DefaultMaxRTO)
		if got := e.Backoff(); got != want || e.RTO() != want {
			t.Fatalf("backoff %d: %v, want %v", i+1, got, want)
		}
	}
	if e.RTO() != 120*time.Second || e.Backoffs() != 10 {
		t.Fatalf("RTO %v backoffs %d", e.RTO(), e.Backoffs())
	}
	e.Sample(100 * time.Millisecond) // a new sample ends the backoff
	if e.RTO() != 300*time.Millisecond || e.Backoffs() != 0 {
		t.Fatalf("after a sample: RTO %v backoffs %d", e.RTO(), e.Backoffs())
	}
}

func TestRTTEstimatorKarn(t *testing.T) {
	e := NewRTTEstimator(RTTConfig{})
	e.Sample(100 * time.Millisecond)
	e.Backoff()
	backed := e.RTO()
	if e.SampleSegment(5*time.Second, true, false) {
		t.Fatal("a retransmitted segment's RTT was sampled without timestamps")
	}
	if e.RTO() != backed || e.Samples() != 1 {
		t.Fatalf("Karn: RTO %v samples %d changed", e.RTO(), e.Samples())
	}
	if !e.SampleSegment(100*time.Millisecond, true, true) {
		t.Fatal("a timestamp echo names the transmission (RFC 7323 §4): sample it")
	}
	if !e.SampleSegment(100*time.Millisecond, false, false) || e.Samples() != 3 {
		t.Fatal("a fresh segment must be sampled")
	}
	if e.RTO() >= backed {
		t.Fatalf("the backoff survived valid samples: %v", e.RTO())
	}
}

func TestRTTEstimatorSYNLoss(t *testing.T) {
	e := NewRTTEstimator(RTTConfig{})
	e.Backoff()
	e.RestartAfterSYNLoss()
	if e.RTO() != 3*time.Second {
		t.Fatalf("RTO %v, want 3s (RFC 6298 (5.7))", e.RTO())
	}
	e.Sample(50 * time.Millisecond)
	e.RestartAfterSYNLoss()
	if e.RTO() == 3*time.Second {
		t.Fatal("(5.7) applies only without a sample")
	}
}
