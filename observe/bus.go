package observe

import (
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultRingSize is how many recent events a [Bus] keeps when
// [BusOptions.RingSize] is 0.
const DefaultRingSize = 16384

// DefaultQueueLen is the queue bound of a subscription asked for with a
// queue length of 0 or less.
const DefaultQueueLen = 1024

// BusOptions configures a [Bus].
type BusOptions struct {
	// RingSize is how many recent events the bus keeps for late joiners
	// ([Bus.SubscribeSince]): 0 means DefaultRingSize, a negative value
	// keeps none.
	RingSize int
	// AlwaysRing makes the ring count as a listener: Active is then always
	// true, so publishers build every event and the ring always holds the
	// latest RingSize of them. By default it is false and the ring fills
	// only while someone listens, because publishers skip building events
	// while Active is false; a stack then costs one atomic load per
	// decision when nobody watches. Events that are published anyway are
	// kept in the ring either way.
	AlwaysRing bool
}

// BusStats are the counters of a [Bus].
type BusStats struct {
	Published   uint64 // events published so far; also the Seq of the latest
	Subscribers int    // open subscriptions, recorders included
	Ring        int    // events the ring holds now
	Oldest      uint64 // Seq of the oldest event in the ring (Published+1 when empty)
}

// Bus is tipy's observer bus and the [Sink] every layer publishes into.
// It numbers the events it is given, keeps the most recent ones in a ring,
// and offers each to every subscription whose [Filter] matches. All methods
// are safe for concurrent use.
//
// Publish never waits for a subscriber: each subscription has a bounded
// queue, and a subscriber that falls behind gets one gap event with the exact
// number of events it missed, at the place where they would have been.
//
// Events handed to subscribers share their Fields map and Frame bytes with
// the publisher and with every other subscriber: treat them as read-only.
type Bus struct {
	// active counts the listeners that would take an event now: open
	// subscriptions (a sampling one only while its queue has room), plus
	// one when AlwaysRing is set. It is what Active reads.
	active atomic.Int32

	mu   sync.Mutex // guards everything below, and orders Publish
	seq  uint64     // Seq of the latest published event
	ring ring
	subs []*Subscription
}

// NewBus returns a bus with no subscribers.
func NewBus(opts BusOptions) *Bus {
	size := opts.RingSize
	switch {
	case size == 0:
		size = DefaultRingSize
	case size < 0:
		size = 0
	}
	b := &Bus{ring: ring{size: size}}
	if opts.AlwaysRing && size > 0 {
		b.active.Store(1)
	}
	return b
}

// Active reports whether anyone listens, so that a publisher can skip
// building an event that nobody would see: nobody subscribed, or every
// subscription is a sampling one with a full queue
// ([Subscription.SetSampling]). It costs one atomic load. A nil *Bus never
// listens.
func (b *Bus) Active() bool { return b != nil && b.active.Load() > 0 }

// Publish numbers e (its Seq is overwritten: the bus's events are numbered 1,
// 2, 3, ... in the order Publish is called), keeps it in the ring and queues
// it for every subscription whose filter matches. It never blocks on a
// subscriber and may be called from several goroutines; the bus takes
// ownership of e's Fields and Frame. Publish on a nil *Bus does nothing.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.seq++
	e.Seq = b.seq
	b.ring.put(&e)
	for _, s := range b.subs {
		if s.matchAll || s.filter.Match(&e) {
			s.offer(&e)
		}
	}
	b.mu.Unlock()
}

// Subscribe returns a live subscription to the events that match f, from the
// next one published on. queueLen bounds its queue (DefaultQueueLen when 0
// or less).
func (b *Bus) Subscribe(f Filter, queueLen int) *Subscription {
	s := newSubscription(b, f, queueLen)
	b.mu.Lock()
	b.addLocked(s)
	b.mu.Unlock()
	return s
}

// SubscribeSince is Subscribe for a subscriber that has already seen the
// events up to Seq since, such as a dashboard reconnecting. When the ring
// still holds event since+1 (or since is the latest Seq), the matching
// events after since are replayed into the queue before the live ones, and
// SubscribeSince reports true. Otherwise those events are gone (or since
// belongs to another bus): the subscription starts with one event of Kind
// [KindReset] in layer [LayerLab], whose Fields hold "from" (since) and
// "oldest" (the oldest Seq the ring holds), continues live, and
// SubscribeSince reports false. A replay longer than queueLen ends in a gap
// event like any other overflow.
func (b *Bus) SubscribeSince(since uint64, f Filter, queueLen int) (*Subscription, bool) {
	s := newSubscription(b, f, queueLen)
	b.mu.Lock()
	defer b.mu.Unlock()
	oldest := b.ring.oldest(b.seq)
	if since > b.seq || since+1 < oldest {
		s.front = append(s.front, resetEvent(since, oldest, b.seq, b.ring.latestTime(b.seq)))
		s.signal()
		b.addLocked(s)
		return s, false
	}
	b.ring.each(since+1, b.seq, func(e *Event) {
		if s.matchAll || s.filter.Match(e) {
			s.offer(e)
		}
	})
	b.addLocked(s)
	return s, true
}

// Stats returns the bus's counters.
func (b *Bus) Stats() BusStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BusStats{
		Published:   b.seq,
		Subscribers: len(b.subs),
		Ring:        b.ring.len(),
		Oldest:      b.ring.oldest(b.seq),
	}
}

func (b *Bus) addLocked(s *Subscription) {
	b.subs = append(b.subs, s)
	b.active.Add(1)
}

// remove detaches s from the bus: once it returns, no Publish offers s
// anything. It reports whether s was attached.
func (b *Bus) remove(s *Subscription) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(b.subs, s)
	if i < 0 {
		return false
	}
	b.subs = slices.Delete(b.subs, i, i+1)
	s.mu.Lock()
	counted := !s.starved
	s.sampling, s.starved = false, false
	s.mu.Unlock()
	if counted {
		b.active.Add(-1)
	}
	return true
}
