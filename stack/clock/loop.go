package clock

import (
	"container/heap"
	"sync"
)

// Loop runs the work that touches a set of stacks, one piece at a time, in
// time order. It is the single owner of those stacks: every timer callback and
// every [Loop.Call] runs while the loop's owner lock is held, so code running
// on the loop never needs a lock of its own.
type Loop interface {
	// Now returns the loop's current time.
	Now() Time
	// NewTimer returns an unarmed timer that runs f on the loop when it fires.
	NewTimer(f func()) *Timer
	// Schedule runs f on the loop at time at (at once if at is not after Now).
	Schedule(at Time, f func()) *Timer
	// Post runs f on the loop at the current time, after work already due.
	// It may be called from any goroutine and never blocks.
	Post(f func())
	// Call runs f under the owner lock, between two pieces of loop work, and
	// returns when f has returned. It is how other goroutines (socket calls,
	// a TAP reader, the dashboard) touch a stack. Calling it from loop work
	// deadlocks: loop work already owns the stacks and calls them directly.
	Call(f func())
}

// Timer is a callback at a time on a loop. Its methods may be called from any
// goroutine; called from loop work, Stop guarantees the callback will not run.
type Timer struct {
	q   *queue
	f   func()
	at  Time
	seq uint64 // insertion order: ties in time run first-in, first-out
	gen uint64 // bumped by Stop and Reset: a popped timer whose gen changed does not run
	idx int    // index in the heap, -1 when not armed
}

// Reset arms the timer to fire at at, replacing any earlier arming.
func (t *Timer) Reset(at Time) {
	q := t.q
	q.mu.Lock()
	t.gen++
	t.at = at
	q.seq++
	t.seq = q.seq
	if t.idx >= 0 {
		heap.Fix(&q.h, t.idx)
	} else {
		heap.Push(&q.h, t)
	}
	first := q.h[0] == t
	q.mu.Unlock()
	if first {
		q.signal()
	}
}

// Stop disarms the timer. It reports whether the timer was armed.
func (t *Timer) Stop() bool {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	t.gen++
	if t.idx < 0 {
		return false
	}
	heap.Remove(&q.h, t.idx)
	return true
}

// Armed reports whether the timer is waiting to fire.
func (t *Timer) Armed() bool {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return t.idx >= 0
}

// When returns the time the timer is armed for (meaningful only when armed).
func (t *Timer) When() Time {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return t.at
}

// queue is the time-ordered set of armed timers shared by both loops.
type queue struct {
	mu   sync.Mutex
	h    timerHeap
	seq  uint64
	wake chan struct{} // capacity 1: "something changed, look again"
}

func (q *queue) init() { q.wake = make(chan struct{}, 1) }

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) newTimer(f func()) *Timer { return &Timer{q: q, f: f, idx: -1} }

// peekLocked returns the earliest armed timer or nil. q.mu must be held.
func (q *queue) peekLocked() *Timer {
	if len(q.h) == 0 {
		return nil
	}
	return q.h[0]
}

// popLocked removes the earliest timer and returns it with its generation.
func (q *queue) popLocked() (*Timer, uint64) {
	t := heap.Pop(&q.h).(*Timer)
	return t, t.gen
}

// fire runs a popped timer's callback, with the owner lock held by the
// caller, unless it was stopped or re-armed after it was popped. It reports
// whether the callback ran.
func (q *queue) fire(t *Timer, gen uint64) bool {
	q.mu.Lock()
	live := t.gen == gen && t.idx < 0
	q.mu.Unlock()
	if live {
		t.f()
	}
	return live
}

// Pending returns the number of armed timers.
func (q *queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.idx = -1
	*h = old[:n-1]
	return t
}
