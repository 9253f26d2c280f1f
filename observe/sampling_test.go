package observe

import (
	"sync"
	"testing"
)

// publishIfActive is what a layer does: build and publish only when the
// bus says someone listens.
func publishIfActive(b *Bus, e Event) bool {
	if !b.Active() {
		return false
	}
	b.Publish(e)
	return true
}

func TestSamplingSubscriptionStopsBuildingWhenFull(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 3)
	s.SetSampling(true)
	for i := range 3 {
		if !publishIfActive(b, ev("a", LayerTCP, KindTX)) {
			t.Fatalf("event %d not built while the queue had room", i+1)
		}
	}
	// Full: the bus says nobody listens, so nothing is built.
	for range 10 {
		if publishIfActive(b, ev("a", LayerTCP, KindTX)) {
			t.Fatal("an event was built while the only subscriber, a sampling one, was full")
		}
	}
	if b.Stats().Published != 3 {
		t.Fatalf("published %d", b.Stats().Published)
	}
	for want := uint64(1); want <= 2; want++ {
		if e, ok := s.TryNext(); !ok || e.Seq != want {
			t.Fatalf("event %d: %+v %v", want, e, ok)
		}
	}
	// Room again: events are built, and the next one comes after a gap
	// that says when building paused and resumed.
	later := ev("a", LayerTCP, KindRX)
	later.TimeNS = 5000
	if !publishIfActive(b, later) {
		t.Fatal("no event built once the queue had room")
	}
	got := drain(s)
	if len(got) != 3 || got[0].Seq != 3 || got[1].Kind != KindGap || got[2].Kind != KindRX || got[2].Seq != 4 {
		t.Fatalf("stream after the sampled stretch: %+v", got)
	}
	g := got[1]
	if g.Fields["paused"] != true || mustUint(t, g, "missed") != 0 || g.Seq != 3 || g.Fields["to_ns"] != int64(5000) {
		t.Fatalf("gap: %+v", g)
	}
	if st := s.Stats(); st.Paused != 1 || st.Missed != 0 || st.Delivered != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSamplingNeedsEveryListenerFull(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 1)
	s.SetSampling(true)
	full := b.Subscribe(Filter{}, 1) // complete: keeps the bus active
	for range 3 {
		if !publishIfActive(b, ev("a", LayerIPv4, KindTX)) {
			t.Fatal("a complete subscriber listens even when full")
		}
	}
	if st := full.Stats(); st.Missed != 2 {
		t.Fatalf("complete subscriber: %+v", st)
	}
	if st := s.Stats(); st.Missed != 2 || st.Paused != 0 {
		t.Fatalf("sampling subscriber beside a complete one: %+v", st)
	}
	full.Close()
	if b.Active() {
		t.Fatal("active with only a full sampling subscriber left")
	}
	// Closing the starved subscription leaves the bus idle, not negative.
	s.Close()
	if b.Active() {
		t.Fatal("active after every subscription closed")
	}
	s2 := b.Subscribe(Filter{}, 1)
	if !b.Active() {
		t.Fatal("a new subscriber does not make the bus active")
	}
	s2.Close()
	if b.Active() {
		t.Fatal("active after the last close")
	}
}

func TestSamplingOffAgainFeeds(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 1)
	s.SetSampling(true)
	publishIfActive(b, ev("a", LayerTCP, KindTX))
	if publishIfActive(b, ev("a", LayerTCP, KindTX)) {
		t.Fatal("built while full and sampling")
	}
	s.SetSampling(false)
	if !b.Active() {
		t.Fatal("a complete subscription is a listener even when full")
	}
	s.Close()
	if b.Active() {
		t.Fatal("active after close")
	}
}

// TestSamplingConcurrent runs publishers against a sampling reader under
// the race detector: every event is either delivered or accounted for,
// and the bus ends idle.
func TestSamplingConcurrent(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 8)
	s.SetSampling(true)
	var wg sync.WaitGroup
	var built [4]int
	for p := range built {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20000 {
				if publishIfActive(b, ev("a", LayerTCP, KindTX)) {
					built[p]++
				}
			}
		}()
	}
	done := make(chan struct{})
	pubDone := finished(&wg)
	var delivered, missed uint64
	go func() {
		defer close(done)
		for {
			e, ok := s.TryNext()
			switch {
			case !ok:
				select {
				case <-s.Ready():
				case <-pubDone:
					for _, e := range drain(s) {
						if e.Kind == KindGap {
							missed += mustUintNoT(e, "missed")
						} else {
							delivered++
						}
					}
					return
				}
			case e.Kind == KindGap:
				missed += mustUintNoT(e, "missed")
			default:
				delivered++
			}
		}
	}()
	<-done
	total := uint64(0)
	for _, n := range built {
		total += uint64(n)
	}
	if delivered+missed != total || b.Stats().Published != total {
		t.Fatalf("built %d, published %d, delivered %d + missed %d", total, b.Stats().Published, delivered, missed)
	}
	s.Close()
	if b.Active() {
		t.Fatal("active after close")
	}
}

func finished(wg *sync.WaitGroup) <-chan struct{} {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	return c
}

func mustUintNoT(e Event, name string) uint64 {
	v, _ := FieldUint(&e, name)
	return v
}
