package observe

// ring keeps the latest size published events, for replay to late joiners.
// Every published event goes in, so the ring always holds a contiguous run of
// sequence numbers ending at the bus's latest Seq. Event n (counting from 1)
// lives at slot (n-1)%size. The slots are allocated in chunks of ringChunk
// as events arrive, so an idle bus costs no memory, and filling the ring
// never copies what it holds (as growing one slice would, many times over,
// with a write barrier per pointer while the collector runs). It is guarded
// by the bus's mutex.
type ring struct {
	size   int
	n      int       // events held, at most size
	chunks [][]Event // slot i is chunks[i/ringChunk][i%ringChunk]
}

// ringChunk is how many slots the ring allocates at a time.
const ringChunk = 512

// put stores e, whose Seq is the bus's new latest Seq.
func (r *ring) put(e *Event) {
	if r.size == 0 {
		return
	}
	i := int((e.Seq - 1) % uint64(r.size))
	c := i / ringChunk
	if c == len(r.chunks) {
		r.chunks = append(r.chunks, make([]Event, min(ringChunk, r.size-c*ringChunk)))
	}
	r.chunks[c][i%ringChunk] = *e
	if r.n < r.size {
		r.n++
	}
}

// len returns how many events the ring holds.
func (r *ring) len() int { return r.n }

// oldest returns the Seq of the oldest event held, given the latest Seq;
// latest+1 when the ring is empty.
func (r *ring) oldest(latest uint64) uint64 { return latest + 1 - uint64(r.n) }

// latestTime returns the time of the latest event held, 0 when none.
func (r *ring) latestTime(latest uint64) int64 {
	if r.n == 0 {
		return 0
	}
	return r.at(latest).TimeNS
}

// at returns the held event with Seq n; oldest(latest) <= n <= latest.
func (r *ring) at(n uint64) *Event {
	i := int((n - 1) % uint64(r.size))
	return &r.chunks[i/ringChunk][i%ringChunk]
}

// each calls f with the held events from Seq from to Seq to, in order. The
// caller guarantees the ring holds them.
func (r *ring) each(from, to uint64, f func(*Event)) {
	for n := from; n <= to; n++ {
		f(r.at(n))
	}
}
