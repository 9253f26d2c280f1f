package observe

import (
	"context"
	"testing"
)

// A ring of several chunks, the last one short, keeps exactly the latest
// events through many wraps, and replays them to a late joiner in order.
func TestRingChunks(t *testing.T) {
	const size = 2*ringChunk + 276
	b := NewBus(BusOptions{RingSize: size, AlwaysRing: true})
	for n := uint64(1); n <= 5*size+17; n++ {
		b.Publish(Event{TimeNS: int64(n) * 10, Summary: "e"})
		held := min(n, size)
		if st := b.Stats(); st.Ring != int(held) || st.Oldest != n+1-held {
			t.Fatalf("after %d events: ring %d oldest %d, want %d and %d", n, st.Ring, st.Oldest, held, n+1-held)
		}
		if n%97 != 0 && n != size && n != size+1 {
			continue
		}
		want := n + 1 - held
		b.ring.each(want, n, func(e *Event) {
			if e.Seq != want || e.TimeNS != int64(want)*10 {
				t.Fatalf("after %d events: ring gives seq %d (t %d), want %d", n, e.Seq, e.TimeNS, want)
			}
			want++
		})
		if got := b.ring.latestTime(n); got != int64(n)*10 {
			t.Fatalf("latest time %d after %d events", got, n)
		}
	}
	if len(b.ring.chunks) != 3 || len(b.ring.chunks[2]) != 276 {
		t.Fatalf("%d chunks, the last of %d slots", len(b.ring.chunks), len(b.ring.chunks[len(b.ring.chunks)-1]))
	}
	latest := b.Stats().Published
	s, ok := b.SubscribeSince(latest-size, Filter{}, 2*size)
	if !ok {
		t.Fatal("the ring no longer holds what it should")
	}
	defer s.Close()
	for want := latest - size + 1; want <= latest; want++ {
		e, err := s.Next(context.Background())
		if err != nil || e.Seq != want {
			t.Fatalf("replay gave %d (%v), want %d", e.Seq, err, want)
		}
	}
	if _, ok := b.SubscribeSince(latest-size-1, Filter{}, 1); ok {
		t.Fatal("replay from before the oldest event held")
	}
}
