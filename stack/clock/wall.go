package clock

import (
	"context"
	"sync"
	"time"
)

// Wall is a [Loop] on wall-clock time: Now is Unix time in nanoseconds and
// timers fire when real time reaches them. [Wall.Run] must be running for
// timers and posted work to run; [Loop.Call] works whether or not it is.
type Wall struct {
	queue
	owner sync.Mutex
}

// NewWall returns a wall-clock loop. Start it with go w.Run(ctx).
func NewWall() *Wall {
	w := &Wall{}
	w.init()
	return w
}

// Now returns the current Unix time in nanoseconds.
func (w *Wall) Now() Time { return Time(time.Now().UnixNano()) }

// NewTimer returns an unarmed timer on this loop.
func (w *Wall) NewTimer(f func()) *Timer { return w.newTimer(f) }

// Schedule runs f when the wall clock reaches at.
func (w *Wall) Schedule(at Time, f func()) *Timer {
	t := w.newTimer(f)
	t.Reset(at)
	return t
}

// Post runs f on the loop as soon as possible.
func (w *Wall) Post(f func()) { w.Schedule(w.Now(), f) }

// Call runs f under the owner lock.
func (w *Wall) Call(f func()) {
	w.owner.Lock()
	defer w.owner.Unlock()
	f()
}

// Run fires timers when they are due until ctx ends.
func (w *Wall) Run(ctx context.Context) error {
	sleep := time.NewTimer(time.Hour)
	defer sleep.Stop()
	for {
		w.mu.Lock()
		next := w.peekLocked()
		if next != nil {
			if d := next.at.Sub(w.Now()); d <= 0 {
				t, gen := w.popLocked()
				w.mu.Unlock()
				w.owner.Lock()
				w.fire(t, gen)
				w.owner.Unlock()
				continue
			} else {
				sleep.Reset(d)
			}
		} else {
			sleep.Reset(time.Hour)
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wake:
		case <-sleep.C:
		}
	}
}
