package observe

// ring keeps the latest size published events, for replay to late joiners.
// Every published event goes in, so the ring always holds a contiguous run of
// sequence numbers ending at the bus's latest Seq. Event n (counting from 1)
// lives at buf[(n-1)%size]; buf grows up to size as events arrive, so an idle
// bus costs no memory. It is guarded by the bus's mutex.
type ring struct {
	size int
	buf  []Event
}

// put stores e, whose Seq is the bus's new latest Seq.
func (r *ring) put(e *Event) {
	if r.size == 0 {
		return
	}
	if len(r.buf) < r.size {
		r.buf = append(r.buf, *e)
		return
	}
	r.buf[(e.Seq-1)%uint64(r.size)] = *e
}

// len returns how many events the ring holds.
func (r *ring) len() int { return len(r.buf) }

// oldest returns the Seq of the oldest event held, given the latest Seq;
// latest+1 when the ring is empty.
func (r *ring) oldest(latest uint64) uint64 { return latest + 1 - uint64(len(r.buf)) }

// latestTime returns the time of the latest event held, 0 when none.
func (r *ring) latestTime(latest uint64) int64 {
	if len(r.buf) == 0 {
		return 0
	}
	return r.at(latest).TimeNS
}

// at returns the held event with Seq n; oldest(latest) <= n <= latest.
func (r *ring) at(n uint64) *Event { return &r.buf[(n-1)%uint64(r.size)] }

// each calls f with the held events from Seq from to Seq to, in order. The
// caller guarantees the ring holds them.
func (r *ring) each(from, to uint64, f func(*Event)) {
	for n := from; n <= to; n++ {
		f(r.at(n))
	}
}
