package tcp

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tipy/tipy/stack/seqnum"
)

// refQueue is the reference model of the reassembly queue: one optional
// byte per sequence offset from the initial RCV.NXT, first copy kept.
type refQueue struct {
	capacity int
	have     map[int]byte // offset -> byte, offsets >= next
	next     int          // RCV.NXT as an offset
}

func (m *refQueue) insert(off int, data []byte) (added int) {
	for i, b := range data {
		o := off + i
		if o < m.next || o >= m.next+m.capacity {
			continue
		}
		if _, ok := m.have[o]; !ok {
			m.have[o] = b
			added++
		}
	}
	return added
}

func (m *refQueue) pop(limit int) []byte {
	var out []byte
	for len(out) < limit {
		b, ok := m.have[m.next]
		if !ok {
			break
		}
		out = append(out, b)
		delete(m.have, m.next)
		m.next++
	}
	return out
}

// blocks returns the model's ranges above next, lowest first.
func (m *refQueue) blocks() [][2]int {
	keys := make([]int, 0, len(m.have))
	for k := range m.have {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out [][2]int
	for _, k := range keys {
		if n := len(out); n > 0 && out[n-1][1] == k {
			out[n-1][1]++
		} else {
			out = append(out, [2]int{k, k + 1})
		}
	}
	return out
}

// runQueueOps drives a queue and the model with ops decoded from a random
// stream and compares them after every step.
func runQueueOps(t *testing.T, base seqnum.Value, capacity int, next func(n int) int, steps int, stream func() byte) {
	t.Helper()
	q := NewReassemblyQueue(capacity, 0)
	m := &refQueue{capacity: capacity, have: map[int]byte{}}
	rcvNxt := base
	dst := make([]byte, capacity+10)
	for step := range steps {
		switch next(4) {
		case 0, 1, 2: // insert a segment, possibly overlapping, behind or beyond
			off := m.next - 20 + next(capacity+40)
			data := make([]byte, next(40))
			for i := range data {
				data[i] = stream()
			}
			got, err := q.Insert(rcvNxt, base.Add(seqnum.Size(off)), data)
			want := m.insert(off, data)
			if got != want {
				t.Fatalf("step %d: Insert(%d, %d bytes) added %d, model %d", step, off, len(data), got, want)
			}
			if beyond := len(data) > 0 && off+len(data) > m.next+capacity; beyond != errors.Is(err, ErrBeyondWindow) {
				t.Fatalf("step %d: Insert(%d, %d bytes) err %v", step, off, len(data), err)
			}
			if len(data) > 0 && !q.IsDuplicate(rcvNxt, base.Add(seqnum.Size(off)), min(len(data), m.next+capacity-off)) && off+len(data) <= m.next+capacity {
				t.Fatalf("step %d: the segment just stored is not a duplicate", step)
			}
		case 3: // deliver
			limit := next(capacity + 10)
			n := q.Pop(rcvNxt, dst[:limit])
			want := m.pop(limit)
			if !bytes.Equal(dst[:n], want) {
				t.Fatalf("step %d: Pop gave %d bytes %x, model %x", step, n, dst[:n], want)
			}
			rcvNxt = rcvNxt.Add(seqnum.Size(n))
		}
		blocks := m.blocks()
		if q.Len() != len(blocks) || q.Bytes() != len(m.have) {
			t.Fatalf("step %d: %d ranges %d bytes, model %v (%d bytes)", step, q.Len(), q.Bytes(), blocks, len(m.have))
		}
		got := q.SACKBlocks(nil, rcvNxt, len(blocks))
		slices.SortFunc(got, func(a, b SACKBlock) int { return int(a.Left.Sub(base)) - int(b.Left.Sub(base)) })
		for i, b := range blocks {
			if got[i].Left != base.Add(seqnum.Size(b[0])) || got[i].Right != base.Add(seqnum.Size(b[1])) {
				t.Fatalf("step %d: SACK blocks %v, model %v", step, got, blocks)
			}
		}
		if want := len(m.pop(0)); q.Deliverable(rcvNxt) < want {
			t.Fatalf("step %d: deliverable", step)
		}
	}
}

func TestReassemblyQueueAgainstModel(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 2018))
		// Start at random places, some just below the wrap of sequence space.
		base := seqnum.Value(rng.Uint32())
		if seed%2 == 0 {
			base = seqnum.Value(0xffffffff - rng.IntN(300))
		}
		runQueueOps(t, base, 64+rng.IntN(200), rng.IntN, 400, func() byte { return byte(rng.Uint32()) })
	}
}

func TestReassemblyQueueKeepsFirstCopy(t *testing.T) {
	q := NewReassemblyQueue(100, 0)
	q.Insert(0, 10, []byte("aaaa"))            // [10,14)
	n, _ := q.Insert(0, 8, []byte("bbbbbbbb")) // [8,16): only 8,9,14,15 are new
	if n != 4 {
		t.Fatalf("added %d", n)
	}
	q.Insert(0, 0, []byte("cccccccc"))
	out := make([]byte, 32)
	if n := q.Pop(0, out); string(out[:n]) != "ccccccccbbaaaabb" {
		t.Fatalf("delivered %q", out[:n])
	}
	if q.Len() != 0 || q.Bytes() != 0 {
		t.Fatal("not empty")
	}
}

func TestReassemblyQueueSACKOrder(t *testing.T) {
	q := NewReassemblyQueue(1<<16, 0)
	const nxt = 1000
	q.Insert(nxt, 2000, make([]byte, 100)) // A
	q.Insert(nxt, 3000, make([]byte, 100)) // B
	q.Insert(nxt, 4000, make([]byte, 100)) // C
	q.Insert(nxt, 5000, make([]byte, 100)) // D
	q.Insert(nxt, 6000, make([]byte, 100)) // E
	want := []SACKBlock{{6000, 6100}, {5000, 5100}, {4000, 4100}, {3000, 3100}}
	if got := q.SACKBlocks(nil, nxt, 4); !slices.Equal(got, want) {
		t.Fatalf("blocks %v, want %v", got, want)
	}
	// A segment extends B: B comes first (RFC 2018 §4: the block holding
	// the segment that triggered the ACK), then the others by recency.
	q.Insert(nxt, 3100, make([]byte, 50))
	want = []SACKBlock{{3000, 3150}, {6000, 6100}, {5000, 5100}}
	if got := q.SACKBlocks(nil, nxt, 3); !slices.Equal(got, want) {
		t.Fatalf("blocks %v, want %v", got, want)
	}
	// A duplicate inside A still makes A the first block.
	q.Insert(nxt, 2010, make([]byte, 10))
	if got := q.SACKBlocks(nil, nxt, 1); !slices.Equal(got, []SACKBlock{{2000, 2100}}) {
		t.Fatalf("blocks %v", got)
	}
	// A segment that bridges C and D merges them.
	q.Insert(nxt, 4100, make([]byte, 900))
	if got := q.SACKBlocks(nil, nxt, 1); !slices.Equal(got, []SACKBlock{{4000, 5100}}) || q.Len() != 4 {
		t.Fatalf("blocks %v, %d ranges", got, q.Len())
	}
	if !q.IsDuplicate(nxt, 4500, 600) || q.IsDuplicate(nxt, 4500, 601) || !q.IsDuplicate(nxt, 0, 1000) || q.IsDuplicate(nxt, 999, 2) {
		t.Fatal("IsDuplicate")
	}
}

func TestReassemblyQueueBounds(t *testing.T) {
	q := NewReassemblyQueue(1000, 3)
	n, err := q.Insert(0, 900, make([]byte, 200))
	if n != 100 || !errors.Is(err, ErrBeyondWindow) {
		t.Fatalf("partly beyond the window: %d %v", n, err)
	}
	if n, err := q.Insert(0, 1000, make([]byte, 10)); n != 0 || !errors.Is(err, ErrBeyondWindow) {
		t.Fatalf("wholly beyond: %d %v", n, err)
	}
	q.Insert(0, 100, []byte{1})
	q.Insert(0, 200, []byte{1})
	if n, err := q.Insert(0, 300, []byte{1}); n != 0 || !errors.Is(err, ErrTooManyRanges) || q.Len() != 3 {
		t.Fatalf("a fourth range: %d %v", n, err)
	}
	if n, err := q.Insert(0, 201, []byte{1}); n != 1 || err != nil {
		t.Fatalf("extending a range is allowed at the limit: %d %v", n, err)
	}
	if q.Bytes() > q.Cap() {
		t.Fatal("over capacity")
	}
	// Once RCV.NXT moves, the window moves with it and what lies below is
	// forgotten.
	if n, err := q.Insert(500, 1400, make([]byte, 100)); n != 100 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	if q.Len() != 2 || q.Bytes() != 200 {
		t.Fatalf("after RCV.NXT = 500: %d ranges, %d bytes", q.Len(), q.Bytes())
	}
	if n, err := q.Insert(500, 1500, make([]byte, 1)); n != 0 || !errors.Is(err, ErrBeyondWindow) {
		t.Fatalf("%d %v", n, err)
	}
}

func TestReassemblyQueuePopTo(t *testing.T) {
	q := NewReassemblyQueue(64, 0)
	data := make([]byte, 60)
	for i := range data {
		data[i] = byte(i)
	}
	rcvNxt := seqnum.Value(0xfffffff0)
	// Advance the ring so the deliverable bytes wrap around its end.
	q.Insert(rcvNxt, rcvNxt.Add(10), data[:5])
	q.Insert(rcvNxt, rcvNxt, data[:10])
	n := q.Pop(rcvNxt, make([]byte, 15))
	rcvNxt = rcvNxt.Add(seqnum.Size(n))
	q.Insert(rcvNxt, rcvNxt.Add(1), data[1:60])
	q.Insert(rcvNxt, rcvNxt, data[:1])
	buf := NewBuffer(40)
	if n := q.PopTo(rcvNxt, buf); n != 40 || q.Bytes() != 20 {
		t.Fatalf("PopTo moved %d, %d left", n, q.Bytes())
	}
	rcvNxt = rcvNxt.Add(40)
	out := make([]byte, 40)
	buf.Read(out)
	if !bytes.Equal(out, data[:40]) {
		t.Fatalf("got %v", out)
	}
	if n := q.PopTo(rcvNxt, buf); n != 20 || q.Len() != 0 {
		t.Fatalf("second PopTo %d", n)
	}
	buf.Read(out[:20])
	if !bytes.Equal(out[:20], data[40:60]) {
		t.Fatalf("got %v", out[:20])
	}
}

// FuzzReassemblyQueue runs random operations against the reference model.
func FuzzReassemblyQueue(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint32(0), uint8(64))
	f.Add([]byte("\x00\x10\x05abcde\x03\x20\x01\x00\x0a"), uint32(0xfffffff8), uint8(32))
	f.Fuzz(func(t *testing.T, ops []byte, base uint32, capacity uint8) {
		i := 0
		read := func() byte {
			if i >= len(ops) {
				return 0
			}
			i++
			return ops[i-1]
		}
		next := func(n int) int { return int(read()) % n }
		runQueueOps(t, seqnum.Value(base), int(capacity)+1, next, len(ops)/3, read)
	})
}

func BenchmarkReassemblyQueueLossRepair(b *testing.B) {
	// One segment in ten is late: the nine after it wait in the queue,
	// then the late one fills the hole and all ten are delivered.
	const mss = 1460
	q := NewReassemblyQueue(64*mss, 0)
	seg := make([]byte, mss)
	out := make([]byte, 64*mss)
	var rcvNxt seqnum.Value
	b.SetBytes(10 * mss)
	b.ReportAllocs()
	for b.Loop() {
		for k := 1; k < 10; k++ {
			q.Insert(rcvNxt, rcvNxt.Add(seqnum.Size(k*mss)), seg)
			q.SACKBlocks(nil, rcvNxt, 0)
		}
		q.Insert(rcvNxt, rcvNxt, seg)
		rcvNxt = rcvNxt.Add(seqnum.Size(q.Pop(rcvNxt, out)))
	}
}

func BenchmarkReassemblyQueueSACKBlocks(b *testing.B) {
	q := NewReassemblyQueue(1<<20, 0)
	for k := range 64 {
		q.Insert(0, seqnum.Value(1000+k*2000), make([]byte, 1000))
	}
	dst := make([]SACKBlock, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		dst = q.SACKBlocks(dst[:0], 0, 4)
	}
}
