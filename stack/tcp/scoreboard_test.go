package tcp

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tipy/tipy/stack/seqnum"
)

// The scenario of the task: ten segments of 1000 bytes are sent; the 3rd
// and the 5th are lost. Sequence numbers start just below the wrap of the
// sequence space, so every comparison crosses it.
func TestScoreboardTwoLosses(t *testing.T) {
	const smss = 1000
	base := seqnum.Value(0xfffff000)
	seg := func(i int) seqnum.Value { return base.Add(seqnum.Size(i * smss)) } // segment i, 1-based
	blk := func(from, to int) SACKBlock { return SACKBlock{seg(from), seg(to + 1)} }

	s := NewScoreboard(seg(1), smss)
	s.SetHighData(seg(11))
	if r := s.Update(seg(3), nil); r.Acked != 2*smss || r.Sacked != 0 {
		t.Fatalf("cumulative ACK of segments 1-2: %+v", r)
	}
	// Segment 4 arrives: one block above the hole at segment 3.
	if r := s.Update(seg(3), []SACKBlock{blk(4, 4)}); r.Sacked != smss || r.Acked != 0 {
		t.Fatalf("SACK of 4: %+v", r)
	}
	// Segment 6: two blocks, 2000 bytes above segment 3: not yet lost.
	s.Update(seg(3), []SACKBlock{blk(6, 6), blk(4, 4)})
	if s.IsLost(seg(3)) {
		t.Fatal("2*SMSS SACKed above segment 3 must not declare it lost")
	}
	// Segment 7: 3000 bytes SACKed above segment 3 (> (DupThresh-1)*SMSS).
	if r := s.Update(seg(3), []SACKBlock{blk(6, 7), blk(4, 4)}); r.Sacked != smss {
		t.Fatalf("SACK of 7: %+v", r)
	}
	if !s.IsLost(seg(3)) || s.IsLost(seg(5)) || s.IsLost(seg(4)) || s.IsLost(seg(8)) {
		t.Fatalf("IsLost 3,4,5,8 = %v %v %v %v, want true false false false",
			s.IsLost(seg(3)), s.IsLost(seg(4)), s.IsLost(seg(5)), s.IsLost(seg(8)))
	}
	if got := s.Blocks(nil); !slices.Equal(got, []SACKBlock{blk(4, 4), blk(6, 7)}) {
		t.Fatalf("blocks %v", got)
	}
	if !s.CanEnterRecovery() {
		t.Fatal("cannot enter recovery")
	}
	first := s.EnterRecovery()
	if first != (Segment{Seq: seg(3), Len: smss, Rule: RuleFirst}) || s.RecoveryPoint() != seg(11) {
		t.Fatalf("first retransmission %+v, recovery point %d", first, s.RecoveryPoint())
	}
	s.Sent(first)
	if s.HighRxt() != seg(4) {
		t.Fatalf("HighRxt %d", s.HighRxt())
	}
	// pipe: segment 3 retransmitted (1000), 5 not lost (1000), 8-10 (3000).
	if p := s.SetPipe(); p != 5*smss {
		t.Fatalf("pipe %d, want 5000", p)
	}
	// Segment 5 is not lost yet: rule (2) offers new data if there is some,
	// else rule (3) the un-SACKed segment 5.
	if g, ok := s.NextSeg(700); !ok || g != (Segment{Seq: seg(11), Len: 700, Rule: RuleNewData}) {
		t.Fatalf("NextSeg with new data: %+v %v", g, ok)
	}
	if g, ok := s.NextSeg(0); !ok || g != (Segment{Seq: seg(5), Len: smss, Rule: RuleUnsacked}) {
		t.Fatalf("NextSeg: %+v %v", g, ok)
	}
	// Segment 8 arrives: now 3000 bytes lie above segment 5, which is lost.
	s.Update(seg(3), []SACKBlock{blk(6, 8), blk(4, 4)})
	if !s.IsLost(seg(5)) {
		t.Fatal("segment 5 must now be lost")
	}
	g, ok := s.NextSeg(5000)
	if !ok || g != (Segment{Seq: seg(5), Len: smss, Rule: RuleLost}) {
		t.Fatalf("NextSeg must pick segment 5 by rule (1), before new data: %+v", g)
	}
	s.Sent(g)
	if s.HighRxt() != seg(6) {
		t.Fatalf("HighRxt %d", s.HighRxt())
	}
	// pipe: 3 and 5 retransmitted and lost (1000 each), 9-10 (2000).
	if p := s.SetPipe(); p != 4*smss {
		t.Fatalf("pipe %d, want 4000", p)
	}
	// Nothing left below the highest SACK; RescueRxt still covers SND.UNA.
	if g, ok := s.NextSeg(0); ok {
		t.Fatalf("NextSeg: %+v, want nothing", g)
	}
	// The retransmitted segment 3 arrives: ACK up to 5.
	if r := s.Update(seg(5), []SACKBlock{blk(6, 8)}); r.Acked != 2*smss || r.RecoveryDone {
		t.Fatalf("partial ACK: %+v", r)
	}
	// Rule (4): one rescue retransmission of the highest un-SACKed data.
	g, ok = s.NextSeg(0)
	if !ok || g != (Segment{Seq: seg(10), Len: smss, Rule: RuleRescue}) {
		t.Fatalf("rescue: %+v %v", g, ok)
	}
	s.Sent(g)
	if rr, ok := s.RescueRxt(); !ok || rr != seg(11) || s.HighRxt() != seg(6) {
		t.Fatalf("RescueRxt %d %v HighRxt %d", rr, ok, s.HighRxt())
	}
	if g, ok := s.NextSeg(0); ok {
		t.Fatalf("a second rescue: %+v", g)
	}
	if r := s.Update(seg(11), nil); !r.RecoveryDone || r.Acked != 6*smss || s.InRecovery() {
		t.Fatalf("full ACK: %+v", r)
	}
	if s.SackedBytes() != 0 || s.SetPipe() != 0 || len(s.Blocks(nil)) != 0 {
		t.Fatal("state left after the full ACK")
	}
}

func TestScoreboardDupThreshBlocks(t *testing.T) {
	// Three small discontiguous blocks declare the hole below them lost
	// even though they hold less than 2*SMSS.
	s := NewScoreboard(0, 1000)
	s.SetHighData(10000)
	s.Update(0, []SACKBlock{{1000, 1100}, {2000, 2100}})
	if s.IsLost(0) {
		t.Fatal("two blocks of 100 bytes")
	}
	s.Update(0, []SACKBlock{{3000, 3100}})
	if !s.IsLost(0) || !s.IsLost(999) || s.IsLost(1100) || s.IsLost(1000) {
		t.Fatal("DupThresh discontiguous blocks")
	}
}

func TestScoreboardIgnoresBadBlocks(t *testing.T) {
	s := NewScoreboard(1000, 100)
	s.SetHighData(2000)
	r := s.Update(1200, []SACKBlock{
		{1000, 1100}, // D-SACK below the cumulative ACK
		{2500, 2600}, // never sent
		{1500, 1400}, // inverted
		{1900, 2100}, // clipped to 2000
	})
	if r.Acked != 200 || r.Ignored != 3 || r.Sacked != 100 {
		t.Fatalf("%+v", r)
	}
	if r := s.Update(900, nil); r.Acked != 0 || s.HighACK() != 1200 {
		t.Fatalf("an old ACK moved SND.UNA: %+v", r)
	}
	if r := s.Update(2500, nil); r.Acked != 0 {
		t.Fatalf("an ACK of unsent data was taken: %+v", r)
	}
}

func TestScoreboardRTO(t *testing.T) {
	s := NewScoreboard(0, 100)
	s.SetHighData(1000)
	s.Update(0, []SACKBlock{{100, 500}})
	s.EnterRecovery()
	s.SetHighData(1500)
	s.OnRTO()
	if s.InRecovery() || s.CanEnterRecovery() || s.SackedBytes() != 0 || s.RecoveryPoint() != 1500 {
		t.Fatal("RFC 6675 §5.1: the RTO ends recovery and forgets SACK information")
	}
	s.Update(1000, nil)
	if s.CanEnterRecovery() {
		t.Fatal("recovery allowed before SND.UNA reached RecoveryPoint")
	}
	s.Update(1500, nil)
	if !s.CanEnterRecovery() {
		t.Fatal("recovery still held")
	}
}

// TestScoreboardPipeMatchesOctetDefinition checks SetPipe and IsLost
// against RFC 6675 §4 applied octet by octet, on random scoreboards.
func TestScoreboardPipeMatchesOctetDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(6675, 1))
	for iter := range 2000 {
		smss := 1 + rng.IntN(8)
		total := 1 + rng.IntN(80)
		base := seqnum.Value(rng.Uint32())
		s := NewScoreboard(base, smss)
		s.SetHighData(base.Add(seqnum.Size(total)))
		sacked := make([]bool, total)
		for range rng.IntN(6) {
			l := rng.IntN(total)
			r := l + 1 + rng.IntN(total-l)
			s.Update(base, []SACKBlock{{base.Add(seqnum.Size(l)), base.Add(seqnum.Size(r))}})
			for i := l; i < r; i++ {
				sacked[i] = true
			}
		}
		rxt := rng.IntN(total + 1)
		if rng.IntN(2) == 0 {
			s.EnterRecovery()
			if rxt > 0 {
				s.Sent(Segment{Seq: base, Len: rxt, Rule: RuleLost})
			}
		} else {
			rxt = 0
		}
		isLost := func(o int) bool { // the octet definition
			bytes, blocks := 0, 0
			for i := o + 1; i < total; i++ {
				if sacked[i] {
					bytes++
					if !sacked[i-1] || i == o+1 {
						blocks++
					}
				}
			}
			return blocks >= DupThresh || bytes > (DupThresh-1)*smss
		}
		pipe := 0
		for o := range total {
			if sacked[o] {
				continue
			}
			lost := isLost(o)
			if s.IsLost(base.Add(seqnum.Size(o))) != lost {
				t.Fatalf("iter %d: IsLost(%d) = %v, want %v (smss %d, sacked %v)", iter, o, !lost, lost, smss, sacked)
			}
			if !lost {
				pipe++
			}
			if o < rxt {
				pipe++
			}
		}
		if got := s.SetPipe(); got != pipe {
			t.Fatalf("iter %d: pipe %d, want %d (smss %d, rxt %d, sacked %v)", iter, got, pipe, smss, rxt, sacked)
		}
		// NextSeg (1) and (3): the first un-SACKed octet at or above HighRxt
		// that lies below the highest SACKed octet; (1) if it is lost.
		top, first := -1, -1
		for o := total - 1; o >= 0 && top < 0; o-- {
			if sacked[o] {
				top = o
			}
		}
		for o := rxt; o < top && first < 0; o++ {
			if !sacked[o] {
				first = o
			}
		}
		g, ok := s.NextSeg(0)
		switch {
		case first >= 0:
			wantRule := RuleUnsacked
			if isLost(first) {
				wantRule = RuleLost
			}
			if !ok || g.Seq != base.Add(seqnum.Size(first)) || g.Rule != wantRule {
				t.Fatalf("iter %d: NextSeg %+v, want octet %d by %v (rxt %d, sacked %v)", iter, g, first, wantRule, rxt, sacked)
			}
		case ok && g.Rule != RuleRescue:
			t.Fatalf("iter %d: NextSeg %+v with no hole (rxt %d, sacked %v)", iter, g, rxt, sacked)
		}
		if ok {
			o := int(g.Seq.Sub(base))
			if g.Len < 1 || g.Len > smss || o+g.Len > total {
				t.Fatalf("iter %d: NextSeg %+v out of bounds", iter, g)
			}
			for i := o; i < o+g.Len; i++ {
				if sacked[i] {
					t.Fatalf("iter %d: NextSeg %+v resends SACKed octet %d", iter, g, i)
				}
			}
			if g.Rule == RuleRescue && o+g.Len != total && !sacked[o+g.Len] {
				t.Fatalf("iter %d: rescue %+v misses the highest un-SACKed octet", iter, g)
			}
		}
	}
}
