package stack

// Stats are the stack's counters. Drops are counted by reason.
type Stats struct {
	FramesIn, FramesOut uint64
	BytesIn, BytesOut   uint64
	Drops               [numReasons]uint64
}

// DropCounts returns the non-zero drop counters by reason name.
func (st Stats) DropCounts() map[string]uint64 {
	m := make(map[string]uint64)
	for r, n := range st.Drops {
		if n != 0 {
			m[Reason(r).String()] = n
		}
	}
	return m
}

// Stats returns a copy of the stack's counters. Loop work only; from other
// goroutines use Call.
func (s *Stack) Stats() Stats { return s.stats }
