package tcp

import (
	"testing"
	"time"
)

const testMSS = 1000

func TestInitialWindowRFC6928(t *testing.T) {
	for _, c := range []struct{ mss, want int }{
		{536, 5360}, {1000, 10000}, {1460, 14600}, {1500, 14600}, {8960, 17920},
	} {
		if got := InitialWindow(c.mss); got != c.want {
			t.Errorf("InitialWindow(%d) = %d, want %d", c.mss, got, c.want)
		}
	}
	r := NewNewReno(536)
	r.SetMSS(1460)
	if r.Cwnd() != 14600 || r.Ssthresh() != InfiniteSsthresh || !r.InSlowStart() {
		t.Errorf("after SetMSS before any ACK: cwnd %d ssthresh %d", r.Cwnd(), r.Ssthresh())
	}
}

func TestNewRenoSlowStartDoublesPerRTT(t *testing.T) {
	for _, perAck := range []int{1, 2} { // an ACK per segment, and delayed ACKs
		r := NewNewReno(testMSS)
		a := newAckClock(r, testMSS, 50*time.Millisecond)
		a.perAck = perAck
		want := InitialWindow(testMSS)
		for round := 1; round <= 8; round++ {
			a.round()
			want *= 2
			if r.Cwnd() != want {
				t.Fatalf("ACK every %d segments, round %d: cwnd %d, want %d (doubling)", perAck, round, r.Cwnd(), want)
			}
		}
		if r.Phase() != "slow start" {
			t.Errorf("phase %q", r.Phase())
		}
	}
}

func TestNewRenoSlowStartByteCountingLimit(t *testing.T) {
	r := NewNewReno(testMSS)
	// One stretch ACK for 10 segments grows cwnd by L*SMSS = 2*SMSS only
	// (RFC 3465 §2.3).
	r.OnAck(0, 10*testMSS, 0, r.Cwnd())
	if want := InitialWindow(testMSS) + 2*testMSS; r.Cwnd() != want {
		t.Fatalf("cwnd %d, want %d", r.Cwnd(), want)
	}
	// A small ACK grows it by what it acknowledges (RFC 5681 eq. 2).
	before := r.Cwnd()
	r.OnAck(0, 300, 0, r.Cwnd())
	if r.Cwnd() != before+300 {
		t.Fatalf("cwnd %d, want %d", r.Cwnd(), before+300)
	}
}

func TestNewRenoRecoveryHalvesThenAddsOneMSSPerRTT(t *testing.T) {
	r := NewNewReno(testMSS)
	a := newAckClock(r, testMSS, 50*time.Millisecond)
	for range 3 {
		a.round()
	}
	w := r.Cwnd() // 80 segments
	r.OnEnterRecovery(a.now, w)
	if r.Ssthresh() != w/2 || r.Cwnd() != w/2+3*testMSS {
		t.Fatalf("entry: ssthresh %d cwnd %d, want %d and %d (RFC 5681 §3.2 steps 2, 3)", r.Ssthresh(), r.Cwnd(), w/2, w/2+3*testMSS)
	}
	if r.Phase() != "fast recovery" {
		t.Errorf("phase %q", r.Phase())
	}
	r.OnExitRecovery(a.now)
	if r.Cwnd() != w/2 {
		t.Fatalf("recovery must halve cwnd: %d -> %d", w, r.Cwnd())
	}
	base := r.Cwnd()
	for round := 1; round <= 30; round++ {
		a.round()
		if want := base + round*testMSS; r.Cwnd() != want {
			t.Fatalf("avoidance round %d: cwnd %d, want %d (one MSS per RTT)", round, r.Cwnd(), want)
		}
	}
	if r.InSlowStart() || r.Phase() != "congestion avoidance" {
		t.Errorf("phase %q", r.Phase())
	}
}

func TestNewRenoFastRecoveryWindow(t *testing.T) {
	r := NewNewReno(testMSS)
	r.OnEnterRecovery(0, 40*testMSS)
	if r.Cwnd() != 23*testMSS {
		t.Fatalf("entry cwnd %d", r.Cwnd())
	}
	r.OnDupAck(0)
	r.OnDupAck(0)
	if r.Cwnd() != 25*testMSS {
		t.Fatalf("two dup ACKs must inflate by 2 SMSS: %d", r.Cwnd())
	}
	r.OnAck(0, 5*testMSS, 0, r.Cwnd()) // ignored during recovery
	if r.Cwnd() != 25*testMSS {
		t.Fatalf("OnAck in recovery changed cwnd: %d", r.Cwnd())
	}
	r.OnRecoveryAck(0, 3*testMSS) // partial ACK >= SMSS: deflate, add back SMSS
	if want := 25*testMSS - 3*testMSS + testMSS; r.Cwnd() != want {
		t.Fatalf("partial ACK: cwnd %d, want %d", r.Cwnd(), want)
	}
	r.OnRecoveryAck(0, 400) // < SMSS: deflate only
	if want := 23*testMSS - 400; r.Cwnd() != want {
		t.Fatalf("small partial ACK: cwnd %d, want %d", r.Cwnd(), want)
	}
	r.OnRecoveryAck(0, 0)
	r.OnExitRecovery(0)
	if r.Cwnd() != 20*testMSS || r.Ssthresh() != 20*testMSS {
		t.Fatalf("exit: cwnd %d ssthresh %d", r.Cwnd(), r.Ssthresh())
	}
	r.OnDupAck(0) // outside recovery: nothing
	if r.Cwnd() != 20*testMSS {
		t.Fatalf("dup ACK outside recovery changed cwnd")
	}
	// A tiny flight still leaves ssthresh at 2*SMSS.
	r.OnEnterRecovery(0, testMSS)
	if r.Ssthresh() != 2*testMSS {
		t.Fatalf("ssthresh floor: %d", r.Ssthresh())
	}
}

func TestNewRenoRTO(t *testing.T) {
	r := NewNewReno(testMSS)
	a := newAckClock(r, testMSS, 50*time.Millisecond)
	for range 2 {
		a.round()
	}
	r.OnRTO(a.now, 40*testMSS)
	if r.Cwnd() != testMSS || r.Ssthresh() != 20*testMSS {
		t.Fatalf("RTO: cwnd %d ssthresh %d, want 1 SMSS and flight/2", r.Cwnd(), r.Ssthresh())
	}
	// The timer fires again for the same data: ssthresh is held (RFC 5681
	// §3.1), though the flight is now small.
	r.OnRTO(a.now, testMSS)
	if r.Cwnd() != testMSS || r.Ssthresh() != 20*testMSS {
		t.Fatalf("second RTO: cwnd %d ssthresh %d", r.Cwnd(), r.Ssthresh())
	}
	// After an RTO, slow start counts at most 1 SMSS per ACK.
	r.OnAck(a.now, 4*testMSS, 0, r.Cwnd())
	if r.Cwnd() != 2*testMSS {
		t.Fatalf("slow start after RTO: cwnd %d, want 2 SMSS", r.Cwnd())
	}
	// Slow start stops at ssthresh exactly, then one MSS per RTT.
	for range 4 {
		a.round()
	}
	if r.Cwnd() != 20*testMSS {
		t.Fatalf("slow start must stop at ssthresh: %d", r.Cwnd())
	}
	a.round()
	if r.Cwnd() != 21*testMSS {
		t.Fatalf("after ssthresh: %d", r.Cwnd())
	}
	// A new ACK ends the backoff: the next RTO sets ssthresh again.
	r.OnRTO(a.now, 10*testMSS)
	if r.Ssthresh() != 5*testMSS {
		t.Fatalf("fresh RTO: ssthresh %d", r.Ssthresh())
	}
}

func TestNewRenoApplicationLimitedDoesNotGrow(t *testing.T) {
	r := NewNewReno(testMSS)
	w := r.Cwnd()
	r.OnAck(0, testMSS, 0, w/2-1)
	if r.Cwnd() != w {
		t.Fatalf("cwnd grew while application-limited: %d", r.Cwnd())
	}
	r.OnAck(0, testMSS, 0, w/2)
	if r.Cwnd() != w+testMSS {
		t.Fatalf("cwnd did not grow with half the window in flight: %d", r.Cwnd())
	}
}

func TestNewRenoIdleRestart(t *testing.T) {
	r := NewNewReno(testMSS)
	a := newAckClock(r, testMSS, 50*time.Millisecond)
	for range 3 {
		a.round()
	}
	r.OnIdle(a.now)
	if r.Cwnd() != InitialWindow(testMSS) {
		t.Fatalf("restart window: %d", r.Cwnd())
	}
	r2 := NewNewReno(testMSS)
	r2.OnRTO(0, 10*testMSS)
	r2.OnIdle(0)
	if r2.Cwnd() != testMSS {
		t.Fatalf("idle must not raise cwnd: %d", r2.Cwnd())
	}
}
