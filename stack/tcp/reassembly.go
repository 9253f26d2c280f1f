package tcp

import (
	"fmt"

	"github.com/tipy/tipy/stack/seqnum"
)

// DefaultMaxRanges is the default bound on the number of separate ranges a
// ReassemblyQueue keeps. Each Insert costs time linear in the number of
// ranges in the worst case, so a peer sending one-byte segments with gaps
// cannot make the receiver's work grow without bound.
const DefaultMaxRanges = 1024

// ReassemblyQueue is the receiver's out-of-order queue (RFC 9293 §3.10.7.4:
// segments beyond RCV.NXT are "held for later processing"). It keeps the
// bytes that arrived in [RCV.NXT, RCV.NXT + Cap()) as merged ranges, and
// produces the SACK blocks of RFC 2018.
//
// Storage: Insert copies each byte it keeps, once, into a ring of Cap()
// bytes indexed by sequence number, allocated on the first Insert and
// reused for the queue's life; a steady state of loss and repair allocates
// nothing. When a byte arrives twice, the first copy is kept and the later
// ones are dropped (as Linux and RFC 9293 §3.10.7.4 practice: the first
// copy is as good as any, and keeping it means stored bytes never change,
// which a checksum over delivered data relies on).
//
// Every method takes RCV.NXT: bytes before it have been delivered by the
// connection and are forgotten.
type ReassemblyQueue struct {
	capacity  int
	maxRanges int
	buf       []byte       // the ring, len == capacity once allocated
	headSeq   seqnum.Value // the sequence number stored at buf[headIdx]
	headIdx   int
	ranges    rangeSet
	stamp     uint64 // change counter, for the SACK block order
}

// NewReassemblyQueue returns a queue that holds at most capacity bytes
// beyond RCV.NXT, in at most maxRanges separate ranges (DefaultMaxRanges if
// maxRanges <= 0).
func NewReassemblyQueue(capacity, maxRanges int) *ReassemblyQueue {
	if maxRanges <= 0 {
		maxRanges = DefaultMaxRanges
	}
	return &ReassemblyQueue{capacity: max(capacity, 0), maxRanges: maxRanges}
}

// Cap returns the capacity in bytes: the queue holds bytes in
// [RCV.NXT, RCV.NXT + Cap()).
func (q *ReassemblyQueue) Cap() int { return q.capacity }

// Len returns the number of separate ranges held.
func (q *ReassemblyQueue) Len() int { return len(q.ranges.s) }

// Bytes returns the number of bytes held.
func (q *ReassemblyQueue) Bytes() int { return q.ranges.bytes }

// advance moves the head of the ring to rcvNxt, forgetting what lies below,
// and returns the head. An rcvNxt before the head (RCV.NXT never moves
// back, so only a confused caller passes one) leaves the head where it is.
func (q *ReassemblyQueue) advance(rcvNxt seqnum.Value) seqnum.Value {
	if len(q.ranges.s) == 0 {
		q.headSeq, q.headIdx = rcvNxt, 0
		return rcvNxt
	}
	if !q.headSeq.LessThan(rcvNxt) {
		return q.headSeq
	}
	d := int(rcvNxt.Sub(q.headSeq))
	q.ranges.trim(rcvNxt)
	q.headSeq = rcvNxt
	if q.capacity > 0 {
		q.headIdx = (q.headIdx + d%q.capacity) % q.capacity
	}
	if len(q.ranges.s) == 0 {
		q.headIdx = 0
	}
	return rcvNxt
}

// index returns the ring index of seq, which lies in [headSeq, headSeq+cap).
func (q *ReassemblyQueue) index(seq seqnum.Value) int {
	i := q.headIdx + int(seq.Sub(q.headSeq))
	if i >= q.capacity {
		i -= q.capacity
	}
	return i
}

// Insert stores the segment data that starts at seq, given RCV.NXT. Bytes
// before RCV.NXT and bytes already held are skipped; bytes past the window
// are dropped with an error wrapping ErrBeyondWindow (the rest is kept). A
// segment that would open a new range when MaxRanges are held is dropped
// whole, with an error wrapping ErrTooManyRanges. It returns the number of
// bytes newly stored (0 for a duplicate).
func (q *ReassemblyQueue) Insert(rcvNxt, seq seqnum.Value, data []byte) (int, error) {
	rcvNxt = q.advance(rcvNxt)
	if len(data) == 0 {
		return 0, nil
	}
	end := seq.Add(seqnum.Size(len(data)))
	if !rcvNxt.LessThan(end) {
		return 0, nil // all delivered already
	}
	if seq.LessThan(rcvNxt) {
		data = data[rcvNxt.Sub(seq):]
		seq = rcvNxt
	}
	var err error
	limit := rcvNxt.Add(seqnum.Size(q.capacity))
	if limit.LessThan(end) {
		drop := int(end.Sub(limit))
		if drop >= len(data) {
			return 0, fmt.Errorf("reassembly: %d bytes at %d, %d past RCV.NXT %d with %d bytes of room: %w",
				len(data), uint32(seq), uint32(seq.Sub(rcvNxt)), uint32(rcvNxt), q.capacity, ErrBeyondWindow)
		}
		err = fmt.Errorf("reassembly: %d of %d bytes at %d fall past RCV.NXT %d + %d: %w",
			drop, len(data), uint32(seq), uint32(rcvNxt), q.capacity, ErrBeyondWindow)
		data = data[:len(data)-drop]
		end = limit
	}
	if len(q.ranges.s) >= q.maxRanges && q.ranges.wouldAddSpan(seq, end) {
		return 0, fmt.Errorf("reassembly: %d bytes at %d would open range %d of at most %d: %w",
			len(data), uint32(seq), len(q.ranges.s)+1, q.maxRanges, ErrTooManyRanges)
	}
	if q.buf == nil {
		q.buf = make([]byte, q.capacity)
	}
	q.stamp++
	added := q.ranges.add(seq, end, q.stamp, func(a, b seqnum.Value) {
		q.store(a, data[a.Sub(seq):b.Sub(seq)])
	})
	return added, err
}

// store copies p into the ring at seq, wrapping around its end.
func (q *ReassemblyQueue) store(seq seqnum.Value, p []byte) {
	i := q.index(seq)
	k := copy(q.buf[i:], p)
	copy(q.buf, p[k:])
}

// contiguous returns the bytes held from rcvNxt on, without a gap, as one
// or two slices of the ring.
func (q *ReassemblyQueue) contiguous(rcvNxt seqnum.Value) (first, second []byte) {
	rcvNxt = q.advance(rcvNxt)
	if len(q.ranges.s) == 0 || q.ranges.s[0].left != rcvNxt {
		return nil, nil
	}
	n := int(q.ranges.s[0].right.Sub(rcvNxt))
	i := q.headIdx
	if i+n <= q.capacity {
		return q.buf[i : i+n], nil
	}
	return q.buf[i:], q.buf[:n-(q.capacity-i)]
}

// Deliverable returns how many bytes from rcvNxt on are held without a gap.
func (q *ReassemblyQueue) Deliverable(rcvNxt seqnum.Value) int {
	a, b := q.contiguous(rcvNxt)
	return len(a) + len(b)
}

// Pop copies the bytes held from rcvNxt on without a gap into dst, as many
// as fit, removes them, and returns how many: the connection then advances
// RCV.NXT by that much.
func (q *ReassemblyQueue) Pop(rcvNxt seqnum.Value, dst []byte) int {
	a, b := q.contiguous(rcvNxt)
	n := copy(dst, a)
	n += copy(dst[n:], b)
	q.consume(n)
	return n
}

// PopTo moves the bytes held from rcvNxt on without a gap into the receive
// buffer, as many as it has room for, and returns how many.
func (q *ReassemblyQueue) PopTo(rcvNxt seqnum.Value, dst *Buffer) int {
	a, b := q.contiguous(rcvNxt)
	n := dst.Write(a)
	if n == len(a) {
		n += dst.Write(b)
	}
	q.consume(n)
	return n
}

// consume removes n bytes at the head, which contiguous returned.
func (q *ReassemblyQueue) consume(n int) {
	if n > 0 {
		q.advance(q.headSeq.Add(seqnum.Size(n)))
	}
}

// IsDuplicate reports whether every byte of the n bytes at seq has been
// delivered (is before rcvNxt) or is held already.
func (q *ReassemblyQueue) IsDuplicate(rcvNxt, seq seqnum.Value, n int) bool {
	if n <= 0 {
		return false
	}
	end := seq.Add(seqnum.Size(n))
	if end.LessThanEq(rcvNxt) {
		return true
	}
	return q.ranges.covers(seqnum.Max(seq, rcvNxt), end)
}

// SACKBlocks appends to dst up to max SACK blocks for the data held above
// rcvNxt, most recently changed first: the first block holds the segment
// that arrived last, as RFC 2018 §4 requires, and the others follow in the
// order of their last change, so that each block is repeated in several
// ACKs. It does not change the queue.
func (q *ReassemblyQueue) SACKBlocks(dst []SACKBlock, rcvNxt seqnum.Value, max int) []SACKBlock {
	prev := ^uint64(0)
	for range max {
		best := -1
		for i, s := range q.ranges.s {
			if s.stamp < prev && (best < 0 || s.stamp > q.ranges.s[best].stamp) && rcvNxt.LessThan(s.right) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		s := q.ranges.s[best]
		prev = s.stamp
		dst = append(dst, SACKBlock{Left: seqnum.Max(s.left, rcvNxt), Right: s.right})
	}
	return dst
}

// Reset empties the queue (keeping its storage).
func (q *ReassemblyQueue) Reset() {
	q.ranges.clear()
	q.headIdx = 0
}
