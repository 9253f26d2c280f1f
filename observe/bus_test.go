package observe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func ev(host string, layer Layer, kind Kind) Event {
	return Event{Host: host, Layer: layer, Kind: kind, Summary: string(kind)}
}

// drain takes every event waiting in s.
func drain(s *Subscription) []Event {
	var out []Event
	for {
		e, ok := s.TryNext()
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

func seqs(events []Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func mustUint(t *testing.T, e Event, name string) uint64 {
	t.Helper()
	v, ok := FieldUint(&e, name)
	if !ok {
		t.Fatalf("event %+v: no unsigned field %q", e, name)
	}
	return v
}

func TestActive(t *testing.T) {
	var nilBus *Bus
	if nilBus.Active() {
		t.Fatal("nil bus is active")
	}
	nilBus.Publish(Event{}) // must not panic

	b := NewBus(BusOptions{})
	if b.Active() {
		t.Fatal("new bus without subscribers is active")
	}
	s1 := b.Subscribe(Filter{}, 4)
	s2 := b.Subscribe(Filter{Kinds: []Kind{KindDrop}}, 4)
	if !b.Active() {
		t.Fatal("bus with subscribers is not active")
	}
	s1.Close()
	s1.Close() // twice: must not count twice
	if !b.Active() {
		t.Fatal("bus with one subscriber left is not active")
	}
	s2.Close()
	if b.Active() {
		t.Fatal("bus whose subscribers all closed is active")
	}
	if got := b.Stats().Subscribers; got != 0 {
		t.Fatalf("Subscribers = %d, want 0", got)
	}

	if !NewBus(BusOptions{AlwaysRing: true}).Active() {
		t.Fatal("AlwaysRing bus is not active")
	}
	if NewBus(BusOptions{AlwaysRing: true, RingSize: -1}).Active() {
		t.Fatal("AlwaysRing without a ring is active")
	}
}

func TestSeqNumbering(t *testing.T) {
	b := NewBus(BusOptions{})
	b.Publish(ev("a", LayerTCP, KindTX)) // nobody listens: still numbered
	s := b.Subscribe(Filter{}, 100)
	for i := 0; i < 5; i++ {
		e := ev("a", LayerTCP, KindTX)
		e.Seq = 999 // the bus overwrites it
		b.Publish(e)
	}
	got := seqs(drain(s))
	if want := []uint64{2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("seqs = %v, want %v", got, want)
	}
	st := b.Stats()
	if st.Published != 6 || st.Subscribers != 1 || st.Ring != 6 || st.Oldest != 1 {
		t.Fatalf("Stats = %+v", st)
	}
	if ss := s.Stats(); ss.Delivered != 5 || ss.Missed != 0 || ss.Queued != 0 {
		t.Fatalf("sub Stats = %+v", ss)
	}
}

func TestFilterMatch(t *testing.T) {
	e := Event{Host: "alice", Layer: LayerTCP, Kind: KindDrop, Conn: "10.0.0.1:80-10.0.0.2:4000"}
	cases := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Hosts: []string{"bob", "alice"}}, true},
		{Filter{Hosts: []string{"bob"}}, false},
		{Filter{Layers: []Layer{LayerTCP}}, true},
		{Filter{Layers: []Layer{LayerUDP, LayerIPv4}}, false},
		{Filter{Kinds: []Kind{KindRX, KindDrop}}, true},
		{Filter{Kinds: []Kind{KindRX}}, false},
		{Filter{Conn: "10.0.0.1:80-10.0.0.2:4000"}, true},
		{Filter{Conn: "10.0.0.2:4000-10.0.0.1:80"}, true}, // the other end's view
		{Filter{Conn: "10.0.0.2:4001-10.0.0.1:80"}, false},
		{Filter{Conn: "10.0.0.1:80-10.0.0.2:4001"}, false},
		{Filter{Conn: "10.0.0.1:80"}, false},
		{Filter{Hosts: []string{"alice"}, Layers: []Layer{LayerTCP}, Kinds: []Kind{KindDrop}}, true},
		{Filter{Hosts: []string{"alice"}, Layers: []Layer{LayerTCP}, Kinds: []Kind{KindTX}}, false},
	}
	for _, c := range cases {
		if got := c.f.Match(&e); got != c.want {
			t.Errorf("%+v.Match = %v, want %v", c.f, got, c.want)
		}
	}
	if (Filter{}).Match(&Event{}) != true {
		t.Error("zero filter does not match zero event")
	}
	if (Filter{Conn: "x-y"}).Match(&Event{}) {
		t.Error("conn filter matches an event without conn")
	}
}

func TestParseFilter(t *testing.T) {
	f, err := ParseFilter(" alice, bob ,,", "TCP,ipv4", "drop, rx", " 1.2.3.4:5-6.7.8.9:10 ")
	if err != nil {
		t.Fatal(err)
	}
	want := Filter{
		Hosts:  []string{"alice", "bob"},
		Layers: []Layer{LayerTCP, LayerIPv4},
		Kinds:  []Kind{KindDrop, KindRX},
		Conn:   "1.2.3.4:5-6.7.8.9:10",
	}
	if fmt.Sprint(f) != fmt.Sprint(want) {
		t.Fatalf("ParseFilter = %+v, want %+v", f, want)
	}
	f, err = ParseFilter("", "", "", "")
	if err != nil || !f.IsZero() {
		t.Fatalf("empty ParseFilter = %+v, %v", f, err)
	}
	_, err = ParseFilter("", "tcp,tpc", "", "")
	if !errors.Is(err, ErrUnknownLayer) {
		t.Fatalf("unknown layer: err = %v, want ErrUnknownLayer", err)
	}
	t.Log(err)
}

func TestFilteredSubscription(t *testing.T) {
	b := NewBus(BusOptions{})
	drops := b.Subscribe(Filter{Kinds: []Kind{KindDrop}}, 10)
	bob := b.Subscribe(Filter{Hosts: []string{"bob"}}, 10)
	b.Publish(ev("alice", LayerTCP, KindDrop)) // 1
	b.Publish(ev("bob", LayerTCP, KindTX))     // 2
	b.Publish(ev("bob", LayerARP, KindDrop))   // 3
	if got := seqs(drain(drops)); !slices.Equal(got, []uint64{1, 3}) {
		t.Errorf("drops got %v", got)
	}
	if got := seqs(drain(bob)); !slices.Equal(got, []uint64{2, 3}) {
		t.Errorf("bob got %v", got)
	}
}

func TestSubscribeSinceReplay(t *testing.T) {
	b := NewBus(BusOptions{RingSize: 8})
	for i := 1; i <= 20; i++ {
		kind := KindTX
		if i%2 == 0 {
			kind = KindRX
		}
		b.Publish(ev("a", LayerTCP, kind))
	}
	// The ring holds 13..20.
	s, ok := b.SubscribeSince(12, Filter{Kinds: []Kind{KindRX}}, 100)
	if !ok {
		t.Fatal("SubscribeSince(12) did not replay although the ring holds 13")
	}
	b.Publish(ev("a", LayerTCP, KindRX)) // 21, matches
	b.Publish(ev("a", LayerTCP, KindTX)) // 22, filtered out
	if got, want := seqs(drain(s)), []uint64{14, 16, 18, 20, 21}; !slices.Equal(got, want) {
		t.Fatalf("replay then live = %v, want %v", got, want)
	}

	// Caught up exactly: nothing to replay, still a success.
	s2, ok := b.SubscribeSince(22, Filter{}, 10)
	if !ok {
		t.Fatal("SubscribeSince(latest) reported a reset")
	}
	if got := drain(s2); len(got) != 0 {
		t.Fatalf("SubscribeSince(latest) replayed %v", seqs(got))
	}
	b.Publish(ev("a", LayerTCP, KindTX))
	if got := seqs(drain(s2)); !slices.Equal(got, []uint64{23}) {
		t.Fatalf("live after catching up = %v", got)
	}
}

func TestSubscribeSinceReset(t *testing.T) {
	b := NewBus(BusOptions{RingSize: 8})
	for i := 0; i < 20; i++ {
		b.Publish(ev("a", LayerTCP, KindTX))
	}
	for _, since := range []uint64{0, 11, 99} { // evicted, evicted, ahead of the stream
		s, ok := b.SubscribeSince(since, Filter{}, 10)
		if ok {
			t.Fatalf("SubscribeSince(%d) reported a replay; the ring holds 13..20", since)
		}
		select {
		case <-s.Ready():
		default:
			t.Fatal("Ready not signalled for the reset event")
		}
		first, ok := s.TryNext()
		if !ok || first.Kind != KindReset || first.Layer != LayerLab {
			t.Fatalf("first event = %+v, want a reset", first)
		}
		if from, oldest := mustUint(t, first, "from"), mustUint(t, first, "oldest"); from != since || oldest != 13 {
			t.Fatalf("reset fields from=%d oldest=%d, want %d, 13", from, oldest, since)
		}
		if _, more := s.TryNext(); more {
			t.Fatal("a reset subscription replayed old events")
		}
		s.Close()
	}
	s, _ := b.SubscribeSince(0, Filter{}, 10)
	b.Publish(ev("a", LayerTCP, KindTX))
	got := drain(s)
	if len(got) != 2 || got[0].Kind != KindReset || got[1].Seq != 21 {
		t.Fatalf("reset then live = %+v", got)
	}
	if got[0].Seq != 20 {
		t.Fatalf("reset Seq = %d, want the latest Seq 20 (resume point)", got[0].Seq)
	}

	// Without a ring, only "caught up" replays.
	nr := NewBus(BusOptions{RingSize: -1})
	nr.Publish(ev("a", LayerTCP, KindTX))
	if _, ok := nr.SubscribeSince(1, Filter{}, 4); !ok {
		t.Fatal("ringless bus: SubscribeSince(latest) failed")
	}
	if _, ok := nr.SubscribeSince(0, Filter{}, 4); ok {
		t.Fatal("ringless bus: SubscribeSince(0) after one event replayed")
	}
}

func TestSubscribeSinceReplayOverflows(t *testing.T) {
	b := NewBus(BusOptions{RingSize: 100})
	for i := 0; i < 50; i++ {
		b.Publish(ev("a", LayerTCP, KindTX))
	}
	s, ok := b.SubscribeSince(10, Filter{}, 5)
	if !ok {
		t.Fatal("no replay")
	}
	b.Publish(ev("a", LayerTCP, KindTX)) // 51: missed too, same gap
	got := drain(s)
	if want := []uint64{11, 12, 13, 14, 15}; !slices.Equal(seqs(got[:5]), want) {
		t.Fatalf("replayed %v, want %v", seqs(got[:5]), want)
	}
	if len(got) != 6 || got[5].Kind != KindGap || mustUint(t, got[5], "missed") != 36 {
		t.Fatalf("after replay: %+v, want one gap of 36", got[5:])
	}
}

func TestClose(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 10)
	b.Publish(ev("a", LayerTCP, KindTX))

	// A Next blocked in another goroutine is woken by Close.
	other := b.Subscribe(Filter{}, 10)
	errc := make(chan error, 1)
	go func() {
		_, err := other.Next(context.Background())
		errc <- err
	}()
	other.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Next after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake a blocked Next")
	}

	s.Close()
	b.Publish(ev("a", LayerTCP, KindTX))
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
	if e, ok := s.TryNext(); ok {
		t.Fatalf("TryNext after Close returned %+v", e)
	}
	if st := s.Stats(); st.Queued != 0 {
		t.Fatalf("closed subscription still queues %d", st.Queued)
	}
	if b.Active() {
		t.Fatal("bus active after all closed")
	}
}

func TestNextWaitsAndHonoursContext(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 10)
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on empty queue = %v, want deadline exceeded", err)
	}

	got := make(chan Event, 1)
	go func() {
		e, err := s.Next(context.Background())
		if err == nil {
			got <- e
		}
	}()
	time.Sleep(5 * time.Millisecond)
	b.Publish(ev("a", LayerUDP, KindRX))
	select {
	case e := <-got:
		if e.Seq != 1 || e.Layer != LayerUDP {
			t.Fatalf("Next = %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next was not woken by Publish")
	}

	b.Publish(ev("a", LayerUDP, KindRX))
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Ready not signalled")
	}
	if e, ok := s.TryNext(); !ok || e.Seq != 2 {
		t.Fatalf("TryNext after Ready = %+v, %v", e, ok)
	}
}

// TestStalledSubscriber is the scenario of the overflow contract, in
// several cycles: a subscriber stops reading, the queue stays at its bound,
// it resumes and gets the queued events, one exact gap, then the later
// events in order.
func TestStalledSubscriber(t *testing.T) {
	const bound = 10
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, bound)
	publish := func(n int) {
		for i := 0; i < n; i++ {
			b.Publish(ev("a", LayerTCP, KindTX))
		}
	}
	next := uint64(1)
	for cycle, missed := range []int{1, 25, 1000, 3} {
		publish(bound + missed)
		st := s.Stats()
		if st.Queued != bound {
			t.Fatalf("cycle %d: Queued = %d, want the bound %d", cycle, st.Queued, bound)
		}
		publish(2) // also missed: the queue is still full
		// Resume: read 4, leaving room for later events after the gap.
		for i := 0; i < 4; i++ {
			e, _ := s.TryNext()
			if e.Seq != next || e.Kind != KindTX {
				t.Fatalf("cycle %d: got %+v, want seq %d", cycle, e, next)
			}
			next++
		}
		publish(3) // queued after the gap
		got := drain(s)
		if len(got) != bound-4+1+3 {
			t.Fatalf("cycle %d: drained %d events: %v", cycle, len(got), seqs(got))
		}
		for _, e := range got[:bound-4] {
			if e.Seq != next || e.Kind != KindTX {
				t.Fatalf("cycle %d: got %+v, want seq %d", cycle, e, next)
			}
			next++
		}
		g := got[bound-4]
		wantMissed := uint64(missed + 2)
		if g.Kind != KindGap || mustUint(t, g, "missed") != wantMissed {
			t.Fatalf("cycle %d: got %+v, want a gap of %d", cycle, g, wantMissed)
		}
		if mustUint(t, g, "first_seq") != next || mustUint(t, g, "last_seq") != next+wantMissed-1 || g.Seq != next+wantMissed-1 {
			t.Fatalf("cycle %d: gap %+v does not cover %d..%d", cycle, g.Fields, next, next+wantMissed-1)
		}
		t.Logf("cycle %d: %s", cycle, g.Summary)
		next += wantMissed
		for _, e := range got[bound-4+1:] {
			if e.Seq != next || e.Kind != KindTX {
				t.Fatalf("cycle %d: after gap got %+v, want seq %d", cycle, e, next)
			}
			next++
		}
	}
	st := s.Stats()
	if st.Missed != 1+25+1000+3+4*2 || st.Delivered != next-1-st.Missed {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestGapAtEndOfQueue checks that a gap with nothing queued after it is
// delivered once the queue is drained, and that publishing more afterwards
// does not repeat it.
func TestGapAtEndOfQueue(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 2)
	for i := 0; i < 7; i++ {
		b.Publish(ev("a", LayerTCP, KindTX))
	}
	got := drain(s)
	if len(got) != 3 || got[2].Kind != KindGap || mustUint(t, got[2], "missed") != 5 {
		t.Fatalf("got %+v", got)
	}
	if got[2].Summary != "missed 5 events: subscriber too slow" {
		t.Fatalf("gap summary %q", got[2].Summary)
	}
	b.Publish(ev("a", LayerTCP, KindTX))
	if got := drain(s); len(got) != 1 || got[0].Seq != 8 {
		t.Fatalf("after the gap: %+v", got)
	}
}

// TestOverflowRandomized drives a filtered subscription with a random mix
// of publishing and reading and checks the stream accounts for every
// matching event exactly once, in order, with never two gaps in a row and
// the queue never above its bound.
func TestOverflowRandomized(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		bound := 1 + rng.IntN(20)
		b := NewBus(BusOptions{RingSize: -1})
		s := b.Subscribe(Filter{Kinds: []Kind{KindRX}}, bound)
		var matching []uint64 // Seqs of the published events that match
		var stream []Event
		for op := 0; op < 2000; op++ {
			if rng.IntN(2) == 0 {
				for n := rng.IntN(3 * bound); n > 0; n-- {
					kind := KindTX
					if rng.IntN(3) > 0 {
						kind = KindRX
					}
					b.Publish(ev("a", LayerIPv4, kind))
					if kind == KindRX {
						matching = append(matching, b.Stats().Published)
					}
				}
			} else {
				for n := rng.IntN(2 * bound); n > 0; n-- {
					e, ok := s.TryNext()
					if !ok {
						break
					}
					stream = append(stream, e)
				}
			}
			if q := s.Stats().Queued; q > bound {
				t.Fatalf("seed %d: Queued %d above bound %d", seed, q, bound)
			}
		}
		stream = append(stream, drain(s)...)
		i := 0 // index into matching
		var missed uint64
		for k, e := range stream {
			switch e.Kind {
			case KindRX:
				if i >= len(matching) || e.Seq != matching[i] {
					t.Fatalf("seed %d: stream[%d] seq %d, want %d", seed, k, e.Seq, matching[i])
				}
				i++
			case KindGap:
				if k > 0 && stream[k-1].Kind == KindGap {
					t.Fatalf("seed %d: two gaps in a row at %d", seed, k)
				}
				n := mustUint(t, e, "missed")
				if n == 0 || i+int(n) > len(matching) || mustUint(t, e, "first_seq") != matching[i] || mustUint(t, e, "last_seq") != matching[i+int(n)-1] {
					t.Fatalf("seed %d: gap at %d %+v does not match the missing events", seed, k, e.Fields)
				}
				i += int(n)
				missed += n
			default:
				t.Fatalf("seed %d: unexpected event %+v", seed, e)
			}
		}
		if i != len(matching) {
			t.Fatalf("seed %d: stream accounts for %d of %d matching events", seed, i, len(matching))
		}
		if st := s.Stats(); st.Missed != missed || st.Delivered+st.Missed != uint64(len(matching)) {
			t.Fatalf("seed %d: Stats %+v, gaps say %d missed of %d", seed, st, missed, len(matching))
		}
	}
}

// TestMillionEventsNeverRead publishes 1,000,000 events to a subscriber
// that never reads: the one gap must count exactly the ones that did not fit.
func TestMillionEventsNeverRead(t *testing.T) {
	const total, queueLen = 1_000_000, 1000
	b := NewBus(BusOptions{RingSize: -1})
	s := b.Subscribe(Filter{}, queueLen)
	e := ev("a", LayerTCP, KindTX)
	for i := 0; i < total; i++ {
		b.Publish(e)
	}
	if st := s.Stats(); st.Queued != queueLen || st.Missed != total-queueLen {
		t.Fatalf("Stats = %+v", st)
	}
	got := drain(s)
	if len(got) != queueLen+1 {
		t.Fatalf("drained %d events, want %d", len(got), queueLen+1)
	}
	g := got[queueLen]
	if g.Kind != KindGap || mustUint(t, g, "missed") != total-queueLen {
		t.Fatalf("gap = %+v, want missed %d", g, total-queueLen)
	}
}

func TestConcurrentPublishers(t *testing.T) {
	const publishers, each = 8, 5000
	b := NewBus(BusOptions{RingSize: 256})
	s := b.Subscribe(Filter{}, publishers*each) // large enough: nothing missed
	slow := b.Subscribe(Filter{}, 16)           // overflows concurrently
	done := make(chan []Event)
	go func() {
		var got []Event
		for len(got) < publishers*each {
			e, err := s.Next(context.Background())
			if err != nil {
				break
			}
			got = append(got, e)
		}
		done <- got
	}()
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				b.Publish(Event{Host: fmt.Sprint(p), Fields: map[string]any{"i": i}, Kind: KindTX})
				if i%100 == 0 {
					b.Active()
					b.Stats()
					slow.TryNext()
				}
			}
		}()
	}
	wg.Wait()
	got := <-done
	if len(got) != publishers*each {
		t.Fatalf("got %d events, want %d", len(got), publishers*each)
	}
	last := map[string]int{}
	for k, e := range got {
		if e.Seq != uint64(k+1) {
			t.Fatalf("event %d has seq %d", k, e.Seq)
		}
		i := e.Fields["i"].(int)
		if prev, ok := last[e.Host]; ok && i != prev+1 {
			t.Fatalf("publisher %s: %d after %d", e.Host, i, prev)
		}
		last[e.Host] = i
	}
	drain(slow)
	if st := slow.Stats(); st.Delivered+st.Missed != publishers*each || st.Queued != 0 {
		t.Fatalf("slow subscriber: %+v does not account for %d events", st, publishers*each)
	}
}

// TestPublishSteadyStateAllocs checks that publishing to a subscriber that
// keeps up costs no allocation once its queue has grown.
func TestPublishSteadyStateAllocs(t *testing.T) {
	b := NewBus(BusOptions{RingSize: 64})
	s := b.Subscribe(Filter{Layers: []Layer{LayerTCP}}, 64)
	stalled := b.Subscribe(Filter{}, 8)
	e := ev("a", LayerTCP, KindTX)
	for i := 0; i < 200; i++ {
		b.Publish(e)
		s.TryNext()
	}
	allocs := testing.AllocsPerRun(1000, func() {
		b.Publish(e)
		b.Publish(e)
		s.TryNext()
		s.TryNext()
	})
	if allocs != 0 {
		t.Fatalf("steady-state Publish allocates %.1f times per run", allocs)
	}
	_ = stalled
}

func TestTryNextN(t *testing.T) {
	b := NewBus(BusOptions{})
	s := b.Subscribe(Filter{}, 3)
	for i := 0; i < 6; i++ {
		b.Publish(ev("a", LayerTCP, KindTX))
	}
	buf := make([]Event, 2)
	if n := s.TryNextN(buf); n != 2 || buf[0].Seq != 1 || buf[1].Seq != 2 {
		t.Fatalf("first batch: %d %v", n, seqs(buf[:n]))
	}
	b.Publish(ev("a", LayerTCP, KindTX)) // 7, queued after the gap of 4..6
	buf = make([]Event, 10)
	n := s.TryNextN(buf)
	if n != 3 || buf[0].Seq != 3 || buf[1].Kind != KindGap || mustUint(t, buf[1], "missed") != 3 || buf[2].Seq != 7 {
		t.Fatalf("second batch: %+v", buf[:n])
	}
	if n := s.TryNextN(buf); n != 0 {
		t.Fatalf("empty queue gave %d", n)
	}
}

// TestQueueMemoryShrinks checks that a queue that grew for a burst gives
// its memory back once the subscriber has kept up for a while, and that a
// busy queue keeps its slots.
func TestQueueMemoryShrinks(t *testing.T) {
	b := NewBus(BusOptions{RingSize: -1})
	s := b.Subscribe(Filter{}, 4096)
	for i := 0; i < 4096; i++ {
		b.Publish(ev("a", LayerTCP, KindTX))
	}
	drain(s)
	grown := len(s.slots)
	if grown != 4096 {
		t.Fatalf("queue grew to %d slots, want 4096", grown)
	}
	for i := 0; i < 20*shrinkAfter; i++ {
		b.Publish(ev("a", LayerTCP, KindTX))
		drain(s)
	}
	if len(s.slots) > 64 {
		t.Fatalf("queue still has %d slots after a long quiet spell", len(s.slots))
	}
	if len(s.slots) < minSlots {
		t.Fatalf("queue shrank below %d: %d", minSlots, len(s.slots))
	}
}
