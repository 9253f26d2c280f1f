package observe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrClosed is returned by [Subscription.Next] once the subscription is
// closed.
var ErrClosed = errors.New("observe: subscription closed")

// A queue's slots grow on demand up to its bound and are reused, so a
// subscriber that keeps up costs Publish no allocation. After a burst they
// are given back gradually: every shrinkAfter times the queue drains empty,
// its capacity is halved if the queue never filled a quarter of it
// meanwhile, down to minSlots.
const (
	shrinkAfter = 256
	minSlots    = 16
)

// SubStats are the counters of a [Subscription].
type SubStats struct {
	Delivered uint64 // bus events handed out by Next and TryNext (gap and reset events not counted)
	Missed    uint64 // matching events not queued because the queue was full
	Paused    uint64 // times a sampling subscription was full and events were not built for it (SetSampling)
	Queued    int    // bus events waiting in the queue now, at most its bound
}

// Subscription is one subscriber's view of a [Bus]: the events that match its
// filter, in Seq order, through a bounded queue. When the queue is full, the
// events that do not fit are counted, not queued, and the subscriber later
// receives one event of Kind [KindGap] whose Fields["missed"] is their exact
// number, placed where they would have been: after everything queued before
// the overflow and before anything queued after it. Its methods are safe for
// concurrent use; one goroutine normally reads it.
type Subscription struct {
	bus      *Bus
	filter   Filter
	matchAll bool
	limit    int           // queue bound
	ready    chan struct{} // capacity 1: "something may be waiting"
	done     chan struct{} // closed by Close

	mu        sync.Mutex
	front     []Event // synthetic events delivered before the queue (reset)
	slots     []slot  // circular queue; grows up to limit
	head, n   int
	peak      int // the largest n since the last shrink check
	empties   int // times the queue drained empty since the last shrink check
	pending   gap // events missed since the last queued one
	closed    bool
	detached  bool // no more input; Next drains, then reports ErrClosed
	delivered uint64
	missed    uint64
	paused    uint64

	// Sampling (SetSampling): while starved (the queue is full) the
	// subscription does not count as a listener; starvedSeq and
	// starvedTime are those of the last event it queued before.
	sampling, starved bool
	starvedSeq        uint64
	starvedTime       int64
}

// slot is one queued event, with the gap that comes just before it.
type slot struct {
	gap gap
	e   Event
}

// gap describes a run of matching events a subscription missed, and the
// stretch of time in which publishers did not build events because a
// sampling subscription was full.
type gap struct {
	missed      uint64 // how many were published and not queued
	first, last uint64 // Seq of the first and last of them
	timeNS      int64  // time of the last of them
	// paused: events were not built from fromNS (the last event queued
	// before) to toNS (the first one queued after; 0 until it comes).
	paused       bool
	fromNS, toNS int64
	resumed      bool // toNS is set
}

func (g gap) any() bool { return g.missed > 0 || g.paused }

func newSubscription(b *Bus, f Filter, queueLen int) *Subscription {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	return &Subscription{
		bus:      b,
		filter:   f,
		matchAll: f.IsZero(),
		limit:    queueLen,
		ready:    make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// offer queues a copy of e, or counts it as missed when the queue is full.
// The bus calls it with its own mutex held, in Seq order.
func (s *Subscription) offer(e *Event) {
	s.mu.Lock()
	if s.closed || s.detached {
		s.mu.Unlock()
		return
	}
	if s.n == s.limit {
		if s.sampling && !s.starved {
			s.starve(e)
		}
		if s.pending.missed == 0 {
			s.pending.first = e.Seq
		}
		s.pending.missed++
		s.pending.last = e.Seq
		s.pending.timeNS = e.TimeNS
		s.missed++
		s.mu.Unlock()
		return
	}
	// A reader waits only after finding nothing at all to take, so only the
	// step from "nothing" to "something" needs a signal.
	wake := s.n == 0 && !s.pending.any() && len(s.front) == 0
	if s.n == len(s.slots) {
		s.grow()
	}
	i := s.head + s.n
	if i >= len(s.slots) {
		i -= len(s.slots)
	}
	if s.pending.paused {
		s.pending.toNS, s.pending.resumed = e.TimeNS, true
	}
	s.slots[i] = slot{gap: s.pending, e: *e}
	s.pending = gap{}
	s.n++
	s.peak = max(s.peak, s.n)
	if s.sampling && s.n == s.limit {
		s.starve(e)
	}
	s.mu.Unlock()
	if wake {
		s.signal()
	}
}

// grow doubles the queue's capacity, up to its bound.
func (s *Subscription) grow() {
	size := min(max(minSlots, 2*len(s.slots)), s.limit)
	slots := make([]slot, size)
	for k := 0; k < s.n; k++ {
		slots[k] = s.slots[(s.head+k)%len(s.slots)]
	}
	s.slots, s.head = slots, 0
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// popLocked takes the next thing to deliver: a synthetic event, a gap, or a
// queued event, in that order of precedence at the head of the stream.
func (s *Subscription) popLocked() (Event, bool) {
	if s.closed {
		return Event{}, false
	}
	if len(s.front) > 0 {
		e := s.front[0]
		s.front[0] = Event{}
		s.front = s.front[1:]
		return e, true
	}
	if s.n > 0 {
		sl := &s.slots[s.head]
		if sl.gap.any() {
			g := sl.gap
			sl.gap = gap{}
			return gapEvent(g), true
		}
		e := sl.e
		*sl = slot{}
		s.head++
		if s.head == len(s.slots) {
			s.head = 0
		}
		s.n--
		if s.n == 0 {
			s.drained()
		}
		s.delivered++
		return e, true
	}
	if s.pending.any() {
		g := s.pending
		s.pending = gap{}
		return gapEvent(g), true
	}
	return Event{}, false
}

// drained is called when the queue has just become empty.
func (s *Subscription) drained() {
	s.head = 0
	if s.empties++; s.empties < shrinkAfter {
		return
	}
	if len(s.slots) > minSlots && s.peak < len(s.slots)/4 {
		s.slots = make([]slot, len(s.slots)/2)
	}
	s.empties, s.peak = 0, 0
}

// fedLocked counts a starved sampling subscription as a listener again
// once its queue has room. The readers call it after taking what they
// take, so that publishers, which wait for s.mu while a batch is taken,
// start building events for it only when it is done.
func (s *Subscription) fedLocked() {
	if s.starved && s.n < s.limit {
		s.feed()
	}
}

// TryNext returns the next event if one is waiting.
func (s *Subscription) TryNext() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.fedLocked()
	return s.popLocked()
}

// TryNextN fills dst with the events waiting, up to len(dst) of them, and
// returns how many it took: TryNext in a batch, under one lock.
func (s *Subscription) TryNextN(dst []Event) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.fedLocked()
	for i := range dst {
		e, ok := s.popLocked()
		if !ok {
			return i
		}
		dst[i] = e
	}
	return len(dst)
}

// Next waits for the next event. It returns ErrClosed once the subscription
// is closed, and ctx's error if ctx ends first.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		e, ok := s.popLocked()
		s.fedLocked()
		closed := s.closed || s.detached
		s.mu.Unlock()
		switch {
		case ok:
			return e, nil
		case closed:
			return Event{}, ErrClosed
		}
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-s.ready:
		case <-s.done:
		}
	}
}

// Ready returns a channel that receives a value when something is queued
// for a subscriber that had nothing to take. Use it to wait in a select, then
// drain with TryNext until it reports false: a value may be stale, and one
// value may stand for many events.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Close ends the subscription: it receives nothing more, what was queued is
// dropped, and Next returns ErrClosed. Close may be called more than once.
func (s *Subscription) Close() {
	s.bus.remove(s)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.slots, s.front, s.n, s.head, s.pending = nil, nil, 0, 0, gap{}
	s.mu.Unlock()
	close(s.done)
}

// detach stops the input but keeps what is queued: Next delivers it, then
// reports ErrClosed. Everything published before detach returned is either
// queued or counted in a gap.
func (s *Subscription) detach() {
	s.bus.remove(s)
	s.mu.Lock()
	s.detached = true
	s.mu.Unlock()
	s.signal()
}

// Stats returns the subscription's counters.
func (s *Subscription) Stats() SubStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SubStats{Delivered: s.delivered, Missed: s.missed, Paused: s.paused, Queued: s.n}
}

// SetSampling makes the subscription a sampling one (on) or a complete one
// (off, the default). A sampling subscription stops counting as a listener
// while its queue is full, so that when every subscriber is a full
// sampling one, [Bus.Active] says no and publishers do not even build the
// events nobody can take: a live view that cannot keep up with a fast
// stack then costs the stack little, and shows what happened in runs of
// consecutive events as fast as it reads. When it has room again, the
// next thing it receives is a gap event with Fields["paused"] true and
// the stretch of time in which nothing was built for it ("from_ns", the
// time of the last event before, and "to_ns", that of the first after).
// How many events that stretch held is not known: they were never made.
// Events published while it was full (by a publisher that asked just
// before) are missed and counted exactly, as for any subscription. A
// recording should stay complete; a dashboard's stream may sample.
func (s *Subscription) SetSampling(on bool) {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sampling == on || s.closed || s.detached || !slices.Contains(b.subs, s) {
		return
	}
	s.sampling = on
	if !on {
		if s.starved {
			s.feed()
		}
		return
	}
	if s.n == s.limit {
		s.starved, s.starvedSeq, s.starvedTime = true, b.seq, 0
		b.active.Add(-1)
	}
}

// starve stops counting a full sampling subscription as a listener; e is
// the last event it queued or missed. s.mu is held, and the bus's mutex.
func (s *Subscription) starve(e *Event) {
	s.starved = true
	s.starvedSeq, s.starvedTime = e.Seq, e.TimeNS
	s.bus.active.Add(-1)
}

// feed counts a starved subscription as a listener again, now that its
// queue has room, and books the pause into the gap before its next event.
// s.mu is held.
func (s *Subscription) feed() {
	s.starved = false
	if !s.pending.any() {
		s.pending.last, s.pending.timeNS = s.starvedSeq, s.starvedTime
	}
	if !s.pending.paused {
		s.pending.paused, s.pending.fromNS = true, s.starvedTime
	}
	s.paused++
	s.bus.active.Add(1)
}

// Filter returns the filter the subscription was made with.
func (s *Subscription) Filter() Filter { return s.filter }

func gapEvent(g gap) Event {
	noun := "events"
	if g.missed == 1 {
		noun = "event"
	}
	e := Event{
		Seq:     g.last,
		TimeNS:  g.timeNS,
		Layer:   LayerLab,
		Kind:    KindGap,
		Summary: fmt.Sprintf("missed %d %s: subscriber too slow", g.missed, noun),
		Explain: "This subscriber's queue was full, so these events were counted instead of queued. " +
			"Other subscribers were not affected; the bus's ring of recent events may still hold them.",
		Fields: map[string]any{"missed": g.missed, "first_seq": g.first, "last_seq": g.last},
	}
	if g.paused {
		e.Fields["paused"] = true
		e.Fields["from_ns"] = g.fromNS
		paused := "events not built for a while: the stacks ran faster than this live view reads"
		if g.resumed {
			e.Fields["to_ns"] = g.toNS
			paused = fmt.Sprintf("events of %v not built: the stacks ran faster than this live view reads", time.Duration(g.toNS-g.fromNS))
		}
		explain := "This view samples: while its queue was full and nobody else listened, the stacks did not build their events at all, " +
			"which keeps watching cheap; what happened meanwhile is counted by the stacks, not shown here."
		if g.missed == 0 {
			e.Summary, e.Explain = paused, explain
		} else {
			e.Summary += "; " + paused
			e.Explain += " " + explain
		}
	}
	return e
}

func resetEvent(since, oldest, latest uint64, timeNS int64) Event {
	var why string
	switch {
	case since > latest:
		why = fmt.Sprintf("seq %d is ahead of this stream (latest %d): it belongs to another run", since, latest)
	case oldest > latest:
		why = "the bus keeps no recent events"
	default:
		why = fmt.Sprintf("the recent-event ring now starts at seq %d", oldest)
	}
	return Event{
		Seq:     latest,
		TimeNS:  timeNS,
		Layer:   LayerLab,
		Kind:    KindReset,
		Summary: fmt.Sprintf("cannot resume after seq %d; continuing live", since),
		Explain: "The events after the requested sequence number are no longer available: " + why + ". " +
			"The stream starts afresh with the next event.",
		Fields: map[string]any{"from": since, "oldest": oldest},
	}
}
