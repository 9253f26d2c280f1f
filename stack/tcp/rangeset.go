package tcp

import "github.com/tipy/tipy/stack/seqnum"

// SACKBlock is a block of received bytes in sequence space, as in the SACK
// option (RFC 2018 §3): Left is the first byte, Right the byte after the
// last. It converts field by field to and from wire.SACKBlock.
type SACKBlock struct {
	Left, Right seqnum.Value
}

// Len returns the size of the block in bytes.
func (b SACKBlock) Len() int { return int(b.Right.Sub(b.Left)) }

// span is a range of a rangeSet with the counter value of its last change.
type span struct {
	left, right seqnum.Value
	stamp       uint64
}

// rangeSet is a sorted set of disjoint, non-adjacent byte ranges in
// sequence space. All its values lie within one window (well under 2^31
// bytes), so that sequence comparisons are meaningful.
type rangeSet struct {
	s     []span
	bytes int
}

// search returns the index of the first span whose right edge is at or
// after v: the first span that contains v, touches it, or lies above it.
func (rs *rangeSet) search(v seqnum.Value) int {
	lo, hi := 0, len(rs.s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs.s[m].right.LessThan(v) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// wouldAddSpan reports whether adding [l, r) would create a new span rather
// than extend or merge existing ones.
func (rs *rangeSet) wouldAddSpan(l, r seqnum.Value) bool {
	i := rs.search(l)
	return i == len(rs.s) || r.LessThan(rs.s[i].left)
}

// add inserts [l, r) with a stamp, merging with every span it overlaps or
// touches. For each sub-range that was not covered before it calls fresh
// (if not nil), in increasing order. It returns the newly covered bytes.
func (rs *rangeSet) add(l, r seqnum.Value, stamp uint64, fresh func(a, b seqnum.Value)) int {
	if !l.LessThan(r) {
		return 0
	}
	i := rs.search(l)
	j := i
	for j < len(rs.s) && rs.s[j].left.LessThanEq(r) {
		j++
	}
	added := 0
	cur := l
	for k := i; k < j; k++ {
		if cur.LessThan(rs.s[k].left) {
			added += int(rs.s[k].left.Sub(cur))
			if fresh != nil {
				fresh(cur, rs.s[k].left)
			}
		}
		cur = seqnum.Max(cur, rs.s[k].right)
	}
	if cur.LessThan(r) {
		added += int(r.Sub(cur))
		if fresh != nil {
			fresh(cur, r)
		}
	}
	m := span{left: l, right: r, stamp: stamp}
	if i < j {
		m.left = seqnum.Min(l, rs.s[i].left)
		m.right = seqnum.Max(r, rs.s[j-1].right)
	}
	switch {
	case i == j: // a new span at i
		rs.s = append(rs.s, span{})
		copy(rs.s[i+1:], rs.s[i:])
		rs.s[i] = m
	default: // spans i..j-1 become one
		rs.s[i] = m
		n := copy(rs.s[i+1:], rs.s[j:])
		rs.s = rs.s[:i+1+n]
	}
	rs.bytes += added
	return added
}

// trim removes everything before base.
func (rs *rangeSet) trim(base seqnum.Value) {
	k := 0
	for k < len(rs.s) && rs.s[k].right.LessThanEq(base) {
		rs.bytes -= int(rs.s[k].right.Sub(rs.s[k].left))
		k++
	}
	if k > 0 {
		n := copy(rs.s, rs.s[k:])
		rs.s = rs.s[:n]
	}
	if len(rs.s) > 0 && rs.s[0].left.LessThan(base) {
		rs.bytes -= int(base.Sub(rs.s[0].left))
		rs.s[0].left = base
	}
}

// covers reports whether [l, r) lies inside one span.
func (rs *rangeSet) covers(l, r seqnum.Value) bool {
	i := rs.search(l)
	return i < len(rs.s) && rs.s[i].left.LessThanEq(l) && r.LessThanEq(rs.s[i].right)
}

// contains reports whether the byte v is in the set.
func (rs *rangeSet) contains(v seqnum.Value) bool { return rs.covers(v, v+1) }

func (rs *rangeSet) clear() {
	rs.s = rs.s[:0]
	rs.bytes = 0
}
