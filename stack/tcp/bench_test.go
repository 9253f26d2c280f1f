package tcp

import (
	"testing"
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
)

func benchmarkCC(b *testing.B, cc CongestionControl) {
	cc.OnEnterRecovery(0, 1000*1460)
	cc.OnExitRecovery(0)
	now := clock.Time(0)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Microsecond)
		cc.OnAck(now, 1460, 20*time.Millisecond, cc.Cwnd())
	}
}

func BenchmarkNewRenoOnAck(b *testing.B) { benchmarkCC(b, NewNewReno(1460)) }
func BenchmarkCubicOnAck(b *testing.B)   { benchmarkCC(b, NewCubic(1460)) }

func BenchmarkScoreboardAck(b *testing.B) {
	// A window of 100 segments with 10 holes: each ACK brings 3 blocks and
	// the sender recomputes pipe and asks for the next segment.
	const mss = 1460
	s := NewScoreboard(0, mss)
	s.SetHighData(100 * mss)
	var blocks [3]SACKBlock
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		for j := range blocks {
			h := (k + j) % 10
			blocks[j] = SACKBlock{seqnum.Value((h*10 + 1) * mss), seqnum.Value((h*10 + 10) * mss)}
		}
		k++
		s.Update(0, blocks[:])
		s.SetPipe()
		s.NextSeg(0)
	}
}
