package tcp

import (
	"math"
	"strings"
	"testing"
	"time"
)

// cubicAfterLoss grows CUBIC by slow start for rounds RTTs, then takes one
// loss with the window in flight.
func cubicAfterLoss(t *testing.T, rtt time.Duration, rounds int) (*Cubic, *ackClock, float64) {
	t.Helper()
	c := NewCubic(testMSS)
	a := newAckClock(c, testMSS, rtt)
	for range rounds {
		a.round()
	}
	w := float64(c.Cwnd()) / testMSS
	a.loss()
	return c, a, w
}

func TestCubicSlowStartDoubles(t *testing.T) {
	c := NewCubic(testMSS)
	a := newAckClock(c, testMSS, 20*time.Millisecond)
	want := InitialWindow(testMSS)
	for round := 1; round <= 6; round++ {
		a.round()
		want *= 2
		if c.Cwnd() != want {
			t.Fatalf("round %d: cwnd %d, want %d", round, c.Cwnd(), want)
		}
	}
}

func TestCubicReducesByBeta(t *testing.T) {
	c := NewCubic(testMSS)
	a := newAckClock(c, testMSS, 100*time.Millisecond)
	for range 5 {
		a.round()
	}
	w := c.Cwnd()
	c.OnEnterRecovery(a.now, w)
	if want := int(float64(w) * CubicBeta); c.Ssthresh() != want {
		t.Fatalf("ssthresh %d, want β*%d = %d", c.Ssthresh(), w, want)
	}
	if c.WMax() != float64(w)/testMSS {
		t.Fatalf("W_max %.1f, want %d", c.WMax(), w/testMSS)
	}
	c.OnExitRecovery(a.now)
	if c.Cwnd() != c.Ssthresh() {
		t.Fatalf("cwnd after recovery %d, ssthresh %d", c.Cwnd(), c.Ssthresh())
	}
}

func TestCubicFollowsWCubic(t *testing.T) {
	const rtt = 100 * time.Millisecond
	c, a, wmax := cubicAfterLoss(t, rtt, 7) // W_max = 1280 segments
	wantK := math.Cbrt(wmax * (1 - CubicBeta) / CubicC)

	var prevInc float64
	prev := float64(c.Cwnd()) / testMSS
	reached := time.Duration(-1)
	concave, convex := 0, 0
	for round := 1; round <= 160; round++ {
		a.round()
		if round == 1 && math.Abs(c.K()-wantK) > 1e-9 {
			t.Fatalf("K = %.6f s, want cbrt(W_max(1-β)/C) = %.6f s", c.K(), wantK)
		}
		epoch, ok := c.EpochStart()
		if !ok {
			t.Fatal("no congestion avoidance stage")
		}
		el := a.now.Sub(epoch)
		cw := float64(c.Cwnd()) / testMSS
		// W(t) = C(t-K)³ + W_max, straight from RFC 9438 eq. 1.
		d := el.Seconds() - wantK
		w := CubicC*d*d*d + wmax
		if math.Abs(cw-w)/w > 0.005 {
			t.Fatalf("round %d, t = %.2fs: cwnd %.1f segments, W_cubic %.1f", round, el.Seconds(), cw, w)
		}
		inc := cw - prev
		switch {
		case el.Seconds() < wantK-2*rtt.Seconds():
			concave++
			if round > 1 && inc > prevInc+1e-6 { // concave: growth slows down towards W_max
				t.Fatalf("round %d: increment %.3f after %.3f in the concave region", round, inc, prevInc)
			}
			if !strings.Contains(c.Phase(), "concave") {
				t.Fatalf("phase %q at t = %.2fs", c.Phase(), el.Seconds())
			}
		case el.Seconds() > wantK+2*rtt.Seconds():
			convex++
			if inc < prevInc-1e-6 { // convex: growth speeds up away from W_max
				t.Fatalf("round %d: increment %.3f after %.3f in the convex region", round, inc, prevInc)
			}
			if !strings.Contains(c.Phase(), "convex") {
				t.Fatalf("phase %q at t = %.2fs", c.Phase(), el.Seconds())
			}
		}
		if reached < 0 && cw >= wmax {
			reached = el
		}
		prev, prevInc = cw, inc
	}
	if concave < 50 || convex < 40 {
		t.Fatalf("rounds: %d concave, %d convex", concave, convex)
	}
	if math.Abs(reached.Seconds()-wantK) > 3*rtt.Seconds() {
		t.Fatalf("cwnd regained W_max after %.2fs, want about K = %.2fs", reached.Seconds(), wantK)
	}
}

func TestCubicRenoFriendlyAtSmallRTT(t *testing.T) {
	const rtt = 10 * time.Millisecond
	c, a, wmax := cubicAfterLoss(t, rtt, 1) // W_max = 20 segments
	start := float64(c.Cwnd()) / testMSS    // β*W_max = 14
	if start != CubicBeta*wmax {
		t.Fatalf("cwnd after loss %.1f", start)
	}
	alpha := 3 * (1 - CubicBeta) / (1 + CubicBeta)
	west := start
	for round := 1; round <= 30; round++ {
		a.round()
		// RFC 9438 §4.3: W_est grows by α_cubic per RTT until it reaches
		// the window before the reduction, then by 1 per RTT.
		if west < wmax {
			west += alpha
		} else {
			west++
		}
		cw := float64(c.Cwnd()) / testMSS
		epoch, _ := c.EpochStart()
		if wc := c.WCubic(a.now.Sub(epoch)); cw <= wc {
			t.Fatalf("round %d: cwnd %.2f not above W_cubic %.2f", round, cw, wc)
		}
		if math.Abs(cw-west) > 1 {
			t.Fatalf("round %d: cwnd %.2f segments, Reno-friendly W_est %.2f", round, cw, west)
		}
		if !strings.Contains(c.Phase(), "Reno-friendly") {
			t.Fatalf("round %d: phase %q", round, c.Phase())
		}
	}
}

func TestCubicFastConvergence(t *testing.T) {
	for _, fc := range []bool{true, false} {
		c := NewCubic(testMSS)
		c.FastConvergence = fc
		a := newAckClock(c, testMSS, 50*time.Millisecond)
		a.round() // 20 segments
		a.loss()  // W_max = 20, cwnd = 14
		if c.WMax() != 20 {
			t.Fatalf("W_max %.2f", c.WMax())
		}
		a.round()
		w := float64(c.Cwnd()) / testMSS
		a.loss() // lost again below W_max
		want := w
		if fc {
			want = w * (1 + CubicBeta) / 2 // RFC 9438 §4.7
		}
		if math.Abs(c.WMax()-want) > 1e-3 {
			t.Fatalf("fast convergence %v: W_max %.3f, want %.3f", fc, c.WMax(), want)
		}
		a.round()
		cwndEpoch := float64(c.Ssthresh()) / testMSS
		if wantK := math.Cbrt((want - cwndEpoch) / CubicC); math.Abs(c.K()-wantK) > 1e-3 {
			t.Fatalf("K %.4f, want cbrt((W_max - cwnd_epoch)/C) = %.4f", c.K(), wantK)
		}
	}
}

func TestCubicRTO(t *testing.T) {
	c := NewCubic(testMSS)
	a := newAckClock(c, testMSS, 50*time.Millisecond)
	for range 3 {
		a.round()
	}
	w := c.Cwnd() // 80 segments
	c.OnRTO(a.now, w)
	if c.Cwnd() != testMSS || c.Ssthresh() != int(float64(w)*CubicBeta) {
		t.Fatalf("RTO: cwnd %d ssthresh %d", c.Cwnd(), c.Ssthresh())
	}
	c.OnRTO(a.now, testMSS) // again, no ACK in between: ssthresh held
	if c.Ssthresh() != int(float64(w)*CubicBeta) {
		t.Fatalf("second RTO changed ssthresh to %d", c.Ssthresh())
	}
	for c.InSlowStart() {
		a.round()
	}
	a.round()
	// §4.8: the first stage after a timeout has K = 0 and W_max = cwnd at
	// its start.
	if c.K() != 0 || c.WMax() != float64(c.Ssthresh())/testMSS {
		t.Fatalf("after RTO: K %.3f W_max %.2f ssthresh %d", c.K(), c.WMax(), c.Ssthresh())
	}
	if float64(c.Cwnd())/testMSS <= c.WMax() {
		t.Fatalf("cwnd %d does not grow past W_max", c.Cwnd())
	}
}

func TestCubicTimeFromNowOnly(t *testing.T) {
	// The same ACKs at the same virtual times give the same windows, and the
	// window depends on the time between them.
	run := func(rtt time.Duration) int {
		c, a, _ := cubicAfterLoss(t, rtt, 5)
		for range 20 {
			a.round()
		}
		return c.Cwnd()
	}
	if run(100*time.Millisecond) != run(100*time.Millisecond) {
		t.Fatal("not deterministic")
	}
	// Same number of rounds, but a longer RTT means more elapsed time on
	// the cubic curve, hence a larger window (Reno would be equal).
	if a, b := run(50*time.Millisecond), run(200*time.Millisecond); a >= b {
		t.Fatalf("cwnd after 20 rounds: %d at 50 ms, %d at 200 ms", a, b)
	}
}
