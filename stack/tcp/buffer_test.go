package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/tipy/tipy/stack/seqnum"
)

func TestBufferWrapAroundPeekDiscard(t *testing.T) {
	b := NewBuffer(10)
	if n := b.Write([]byte("abcdefgh")); n != 8 || b.Len() != 8 || b.Free() != 2 {
		t.Fatalf("write %d len %d", n, b.Len())
	}
	if n := b.Discard(6); n != 6 {
		t.Fatalf("discard %d", n)
	}
	// "gh" at indices 6-7; this write wraps around the end of the storage.
	if n := b.Write([]byte("ijklmnopqr")); n != 8 || b.Free() != 0 {
		t.Fatalf("write %d free %d", n, b.Free())
	}
	p := make([]byte, 10)
	if n := b.Peek(0, p); string(p[:n]) != "ghijklmnop" {
		t.Fatalf("peek %q", p[:n])
	}
	if n := b.Peek(3, p[:4]); string(p[:n]) != "jklm" {
		t.Fatalf("peek at 3: %q", p[:n])
	}
	x, y := b.Slices(1, 6)
	if string(x) != "hij" || string(y) != "klm" {
		t.Fatalf("slices %q %q", x, y)
	}
	if n := b.Peek(10, p); n != 0 {
		t.Fatal("peek past the end")
	}
	if n := b.Peek(8, p); string(p[:n]) != "op" {
		t.Fatalf("peek at the tail: %q", p[:n])
	}
	if b.Len() != 10 {
		t.Fatal("peek consumed data")
	}
	if n := b.Read(p[:5]); string(p[:n]) != "ghijk" || b.Len() != 5 {
		t.Fatalf("read %q", p[:n])
	}
	if n := b.Discard(100); n != 5 || b.Len() != 0 {
		t.Fatalf("discard all: %d", n)
	}
	if n := b.Write(nil); n != 0 {
		t.Fatal("empty write")
	}
	if NewBuffer(0).Write([]byte("x")) != 0 {
		t.Fatal("zero capacity")
	}
}

func TestBufferAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := NewBuffer(97)
	var model []byte
	var seq byte
	for step := range 20000 {
		switch rng.IntN(4) {
		case 0:
			p := make([]byte, rng.IntN(60))
			for i := range p {
				p[i] = seq
				seq++
			}
			n := b.Write(p)
			if want := min(len(p), 97-len(model)); n != want {
				t.Fatalf("step %d: write %d, want %d", step, n, want)
			}
			model = append(model, p[:n]...)
		case 1:
			n := rng.IntN(60)
			got := b.Discard(n)
			model = model[min(n, len(model)):]
			if b.Len() != len(model) || got > n {
				t.Fatalf("step %d: discard", step)
			}
		case 2:
			off := rng.IntN(100)
			p := make([]byte, rng.IntN(100))
			n := b.Peek(off, p)
			var want []byte
			if off < len(model) {
				want = model[off:min(len(model), off+len(p))]
			}
			if !bytes.Equal(p[:n], want) {
				t.Fatalf("step %d: peek(%d, %d) %v, want %v", step, off, len(p), p[:n], want)
			}
		case 3:
			p := make([]byte, rng.IntN(50))
			n := b.Read(p)
			want := model[:min(len(p), len(model))]
			if !bytes.Equal(p[:n], want) {
				t.Fatalf("step %d: read", step)
			}
			model = model[n:]
		}
	}
}

func TestBufferZeroAllocs(t *testing.T) {
	b := NewBuffer(1 << 16)
	in := make([]byte, 1460)
	out := make([]byte, 1460)
	allocs := testing.AllocsPerRun(1000, func() {
		b.Write(in)
		b.Peek(0, out)
		x, y := b.Slices(100, 1000)
		_, _ = x, y
		b.Discard(700)
		b.Read(out[:700])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

func TestQueueAndScoreboardSteadyStateZeroAllocs(t *testing.T) {
	const mss = 1460
	q := NewReassemblyQueue(32*mss, 0)
	s := NewScoreboard(0, mss)
	seg := make([]byte, mss)
	out := make([]byte, 32*mss)
	blocks := make([]SACKBlock, 0, 4)
	var rcvNxt, una seqnum.Value
	round := func() {
		for k := 1; k < 8; k++ {
			q.Insert(rcvNxt, rcvNxt.Add(seqnum.Size(k*mss)), seg)
		}
		blocks = q.SACKBlocks(blocks[:0], rcvNxt, 4)
		s.SetHighData(una.Add(8 * mss))
		s.Update(una, blocks)
		s.SetPipe()
		s.NextSeg(0)
		q.Insert(rcvNxt, rcvNxt, seg)
		rcvNxt = rcvNxt.Add(seqnum.Size(q.Pop(rcvNxt, out)))
		s.Update(rcvNxt, nil)
		una = rcvNxt
	}
	round() // storage is allocated on first use
	if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
		t.Fatalf("%v allocations per loss-and-repair round", allocs)
	}
}

func BenchmarkBufferWriteDiscard(b *testing.B) {
	buf := NewBuffer(1 << 20)
	seg := make([]byte, 1460)
	out := make([]byte, 1460)
	b.SetBytes(1460)
	b.ReportAllocs()
	for b.Loop() {
		buf.Write(seg)
		buf.Peek(0, out)
		buf.Discard(1460)
	}
}
