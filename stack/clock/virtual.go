package clock

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Virtual is a discrete-event scheduler: a [Loop] whose clock jumps from one
// event to the next. It can be driven synchronously by its owner goroutine
// ([Virtual.Step], [Virtual.RunUntil], [Virtual.RunFor]) or in the background
// by [Virtual.Run], which honours [Virtual.Pause], [Virtual.Resume],
// [Virtual.StepOnce] and [Virtual.SetSpeed]. Events at the same instant run in
// the order they were armed, so a run is a pure function of its inputs.
type Virtual struct {
	queue
	owner sync.Mutex
	now   atomic.Int64
	ran   atomic.Uint64

	// Background-run controls, guarded by queue.mu.
	paused     bool
	steps      int
	speed      float64 // 0: as fast as possible; otherwise virtual seconds per real second
	anchorReal time.Time
	anchorVirt Time
	onEvent    func(Time)
}

// NewVirtual returns a virtual loop at time 0, running as fast as possible.
func NewVirtual() *Virtual {
	v := &Virtual{}
	v.init()
	return v
}

// Now returns the virtual time.
func (v *Virtual) Now() Time { return Time(v.now.Load()) }

// NewTimer returns an unarmed timer on this loop.
func (v *Virtual) NewTimer(f func()) *Timer { return v.newTimer(f) }

// Schedule runs f at virtual time at.
func (v *Virtual) Schedule(at Time, f func()) *Timer {
	t := v.newTimer(f)
	t.Reset(at)
	return t
}

// Post runs f at the current virtual time, after the work already due then.
func (v *Virtual) Post(f func()) { v.Schedule(v.Now(), f) }

// Call runs f under the owner lock between two events.
func (v *Virtual) Call(f func()) {
	v.owner.Lock()
	defer v.owner.Unlock()
	f()
}

// Executed returns how many events have run.
func (v *Virtual) Executed() uint64 { return v.ran.Load() }

// HasEvents reports whether an event is armed.
func (v *Virtual) HasEvents() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.peekLocked() != nil
}

// OnEvent sets a function called (on the loop, after the event) with the time
// of every event that runs. Set it before running.
func (v *Virtual) OnEvent(f func(Time)) { v.onEvent = f }

// Step runs the next event, advancing the clock to it. It reports false when
// no event is armed. The caller is the owner while it runs.
func (v *Virtual) Step() bool { return v.runNext(Never) }

// RunUntil runs every event due at or before until, then sets the clock to
// until. It returns the number of events run.
func (v *Virtual) RunUntil(until Time) int {
	n := 0
	for {
		if !v.runNext(until) {
			v.owner.Lock()
			v.mu.Lock()
			v.advanceLocked(until)
			v.mu.Unlock()
			v.owner.Unlock()
			return n
		}
		n++
	}
}

// RunFor runs the loop for d of virtual time.
func (v *Virtual) RunFor(d time.Duration) int { return v.RunUntil(v.Now().Add(d)) }

// RunWhile runs events while cond returns true and the next event is due
// before limit. It reports whether cond became false (rather than running out
// of events or reaching limit). cond is evaluated on the owner goroutine.
func (v *Virtual) RunWhile(cond func() bool, limit Time) bool {
	for {
		v.owner.Lock()
		c := cond()
		v.owner.Unlock()
		if !c {
			return true
		}
		if !v.runNext(limit) {
			return false
		}
	}
}

// popDue removes the next event if it is due at or before limit and
// advances the clock to it.
func (v *Virtual) popDue(limit Time) (*Timer, uint64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	next := v.peekLocked()
	if next == nil || next.at > limit {
		return nil, 0, false
	}
	t, gen := v.popLocked()
	v.advanceLocked(t.at)
	return t, gen, true
}

func (v *Virtual) advanceLocked(t Time) {
	if t > Time(v.now.Load()) {
		v.now.Store(int64(t))
	}
}

// runNext runs the next event if it is due at or before limit and reports
// whether there was one. The clock advances only while the owner lock is
// held, so work inside Call sees a clock that stands still.
func (v *Virtual) runNext(limit Time) bool {
	v.owner.Lock()
	defer v.owner.Unlock()
	t, gen, ok := v.popDue(limit)
	if ok && v.fire(t, gen) {
		v.ran.Add(1)
		if v.onEvent != nil {
			v.onEvent(v.Now())
		}
	}
	return ok
}

// Pause stops a background [Virtual.Run] before its next event.
func (v *Virtual) Pause() {
	v.mu.Lock()
	v.paused = true
	v.mu.Unlock()
	v.signal()
}

// Resume lets a paused background run continue.
func (v *Virtual) Resume() {
	v.mu.Lock()
	v.paused = false
	v.steps = 0
	v.reanchorLocked()
	v.mu.Unlock()
	v.signal()
}

// Paused reports whether the background run is paused.
func (v *Virtual) Paused() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.paused
}

// StepOnce asks a paused background run to run exactly one more event.
func (v *Virtual) StepOnce() {
	v.mu.Lock()
	if v.paused {
		v.steps++
	}
	v.mu.Unlock()
	v.signal()
}

// SetSpeed sets how fast a background run goes: factor virtual seconds per
// real second, or as fast as possible when factor is 0.
func (v *Virtual) SetSpeed(factor float64) {
	if factor < 0 {
		factor = 0
	}
	v.mu.Lock()
	v.speed = factor
	v.reanchorLocked()
	v.mu.Unlock()
	v.signal()
}

// Speed returns the background run's speed factor (0: as fast as possible).
func (v *Virtual) Speed() float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.speed
}

func (v *Virtual) reanchorLocked() {
	v.anchorReal = time.Now()
	v.anchorVirt = v.Now()
}

// Run drives the loop in the background until ctx ends, honouring pause,
// single steps and speed. With a speed factor, events run when real time
// reaches them scaled by the factor, and the clock moves smoothly between
// events so that work posted meanwhile is stamped with the scaled time.
func (v *Virtual) Run(ctx context.Context) error {
	var sleep *time.Timer
	defer func() {
		if sleep != nil {
			sleep.Stop()
		}
	}()
	v.mu.Lock()
	v.reanchorLocked()
	v.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.mu.Lock()
		next := v.peekLocked()
		var wait time.Duration = -1 // -1: until signalled
		runIt := false
		var glide Time // paced: move the clock to this time between events
		switch {
		case v.paused && v.steps == 0:
		case next == nil:
			if v.paused {
				v.steps = 0
			}
		case v.paused:
			v.steps--
			runIt = true
		case v.speed > 0:
			elapsed := time.Since(v.anchorReal)
			scaled := v.anchorVirt.Add(time.Duration(float64(elapsed) * v.speed))
			if scaled >= next.at {
				runIt = true
			} else {
				glide = scaled
				wait = time.Duration(float64(next.at.Sub(scaled))/v.speed) + 1
			}
		default:
			runIt = true
		}
		if runIt {
			limit := next.at // an earlier event armed meanwhile runs first; a later one waits
			v.mu.Unlock()
			v.runNext(limit)
			continue
		}
		v.mu.Unlock()
		if glide != 0 {
			// The clock only moves under the owner lock (see runNext).
			v.owner.Lock()
			v.mu.Lock()
			if n := v.peekLocked(); n == nil || glide < n.at {
				v.advanceLocked(glide)
			}
			v.mu.Unlock()
			v.owner.Unlock()
		}
		var timeout <-chan time.Time
		if wait >= 0 {
			if sleep == nil {
				sleep = time.NewTimer(wait)
			} else {
				sleep.Reset(wait)
			}
			timeout = sleep.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-v.wake:
		case <-timeout:
		}
	}
}
