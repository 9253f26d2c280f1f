package clock

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestVirtualOrderAndTies(t *testing.T) {
	v := NewVirtual()
	var got []string
	at := func(ms int, name string) {
		v.Schedule(Time(ms)*Time(time.Millisecond), func() { got = append(got, name+"@"+v.Now().String()) })
	}
	at(30, "c")
	at(10, "a1")
	at(20, "b")
	at(10, "a2") // same instant as a1, armed later: runs after it
	if n := v.RunUntil(Time(25 * time.Millisecond)); n != 3 {
		t.Fatalf("ran %d events, want 3", n)
	}
	if v.Now() != Time(25*time.Millisecond) {
		t.Fatalf("now %v after RunUntil(25ms)", v.Now())
	}
	v.RunFor(time.Second)
	want := []string{"a1@0.010000s", "a2@0.010000s", "b@0.020000s", "c@0.030000s"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestTimerStopReset(t *testing.T) {
	v := NewVirtual()
	fired := 0
	tm := v.NewTimer(func() { fired++ })
	if tm.Armed() || tm.Stop() {
		t.Fatal("a new timer is armed")
	}
	tm.Reset(100)
	tm.Reset(50) // re-arming replaces the earlier deadline
	if !tm.Armed() || tm.When() != 50 {
		t.Fatalf("armed %v at %v", tm.Armed(), tm.When())
	}
	v.RunUntil(60)
	if fired != 1 || tm.Armed() {
		t.Fatalf("fired %d times, armed %v", fired, tm.Armed())
	}
	tm.Reset(200)
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer reported false")
	}
	v.RunUntil(1000)
	if fired != 1 {
		t.Fatal("a stopped timer fired")
	}
	// A timer stopped by an earlier event at the same instant does not run.
	other := v.NewTimer(func() { fired++ })
	v.Schedule(2000, func() { other.Stop() })
	other.Reset(2000)
	v.RunUntil(3000)
	if fired != 1 {
		t.Fatal("timer stopped by an earlier event still fired")
	}
}

func TestStepAndRunWhile(t *testing.T) {
	v := NewVirtual()
	n := 0
	var tick func()
	tick = func() {
		n++
		v.Schedule(v.Now().Add(time.Millisecond), tick)
	}
	v.Post(tick)
	if !v.Step() || n != 1 || v.Now() != 0 {
		t.Fatalf("step: n=%d now=%v", n, v.Now())
	}
	if !v.Step() || n != 2 || v.Now() != Time(time.Millisecond) {
		t.Fatalf("step: n=%d now=%v", n, v.Now())
	}
	if !v.RunWhile(func() bool { return n < 10 }, Never) || n != 10 {
		t.Fatalf("RunWhile stopped at n=%d", n)
	}
	if v.RunWhile(func() bool { return true }, v.Now().Add(5*time.Millisecond)) {
		t.Fatal("RunWhile reported the condition false at its limit")
	}
	if v.Executed() != 15 {
		t.Fatalf("executed %d events", v.Executed())
	}
	empty := NewVirtual()
	if empty.Step() {
		t.Fatal("Step on an empty loop reported an event")
	}
}

func TestVirtualBackgroundPauseStepSpeed(t *testing.T) {
	v := NewVirtual()
	var mu sync.Mutex
	count := 0
	var tick func()
	tick = func() {
		mu.Lock()
		count++
		mu.Unlock()
		v.Schedule(v.Now().Add(time.Second), tick)
	}
	v.Post(tick)
	v.Pause()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- v.Run(ctx) }()
	get := func() int { mu.Lock(); defer mu.Unlock(); return count }
	waitFor := func(cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("condition not reached; count=%d", get())
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if get() != 0 {
		t.Fatalf("paused loop ran %d events", get())
	}
	v.StepOnce()
	waitFor(func() bool { return get() == 1 })
	v.StepOnce()
	v.StepOnce()
	waitFor(func() bool { return get() == 3 })
	time.Sleep(20 * time.Millisecond)
	if get() != 3 {
		t.Fatalf("three steps ran %d events", get())
	}
	// Paced at 1000x: one virtual second per real millisecond.
	v.SetSpeed(1000)
	v.Resume()
	waitFor(func() bool { return get() >= 20 })
	v.Pause()
	// Call works while paused, between events.
	v.Call(func() {})
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
	if v.Speed() != 1000 || !v.Paused() {
		t.Fatalf("speed %v paused %v", v.Speed(), v.Paused())
	}
}

func TestWallLoop(t *testing.T) {
	w := NewWall()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	fired := make(chan Time, 2)
	start := w.Now()
	w.Schedule(start.Add(20*time.Millisecond), func() { fired <- w.Now() })
	w.Post(func() { fired <- w.Now() })
	first := <-fired
	second := <-fired
	if second.Sub(start) < 20*time.Millisecond || first > second {
		t.Fatalf("posted at %v, timer at %v (start %v)", first, second, start)
	}
	ran := false
	w.Call(func() { ran = true })
	if !ran {
		t.Fatal("Call did not run")
	}
}

func TestNewRandIndependentAndReproducible(t *testing.T) {
	a1, a2, b := NewRand(1, "a"), NewRand(1, "a"), NewRand(1, "b")
	same, diff := true, false
	for i := 0; i < 10; i++ {
		x, y, z := a1.Uint64(), a2.Uint64(), b.Uint64()
		same = same && x == y
		diff = diff || x != z
	}
	if !same || !diff {
		t.Fatalf("same seed and name equal: %v; different names differ: %v", same, diff)
	}
}

func TestTimeString(t *testing.T) {
	if s := Time(1_500_000_123).String(); s != "1.500000s" {
		t.Fatal(s)
	}
	if s := Time(-2_000_000).String(); s != "-0.002000s" {
		t.Fatal(s)
	}
}

// TestClockStandsStillInsideCall: work run through Call (a socket call, an
// API handler) sees one instant, even while a background run races ahead.
func TestClockStandsStillInsideCall(t *testing.T) {
	v := NewVirtual()
	var tick func()
	tick = func() { v.Schedule(v.Now().Add(time.Millisecond), tick) }
	v.Post(tick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := 0; i < 5; i++ {
		v.Call(func() {
			before := v.Now()
			time.Sleep(2 * time.Millisecond)
			if after := v.Now(); after != before {
				t.Fatalf("the clock moved from %v to %v inside Call", before, after)
			}
		})
	}
	v.SetSpeed(1000)
	for i := 0; i < 5; i++ {
		v.Call(func() {
			before := v.Now()
			time.Sleep(2 * time.Millisecond)
			if after := v.Now(); after != before {
				t.Fatalf("paced: the clock moved from %v to %v inside Call", before, after)
			}
		})
	}
}
