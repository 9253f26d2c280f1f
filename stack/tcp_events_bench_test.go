package stack_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// countSink listens to everything and keeps nothing: what building the
// events costs, without a bus.
type countSink struct{ n int }

func (c *countSink) Active() bool          { return true }
func (c *countSink) Publish(observe.Event) { c.n++ }

// BenchmarkTCPBulkEvents is BenchmarkTCPBulkInProcess with every event
// built: events/op and ns/event say what observing a bulk transfer costs
// the stacks.
func BenchmarkTCPBulkEvents(b *testing.B) {
	loop := clock.NewVirtual()
	sink := &countSink{}
	sw := tap.NewSwitch(loop, "lan", nil, 1)
	var hosts [2]*stack.Stack
	for i, name := range []string{"a", "b"} {
		cfg := stack.Config{Name: name, MAC: wire.MAC{0x02, 0, 0, 0, 9, byte(i + 1)},
			Addr: netip.MustParsePrefix([]string{"10.0.9.1/24", "10.0.9.2/24"}[i]), Seed: 1}
		cfg.ARP.NoProbe = true
		s, err := stack.New(cfg, sw.AddPort(name, cfg.MAC, 1500), loop, sink)
		if err != nil {
			b.Fatal(err)
		}
		hosts[i] = s
	}
	c, srv := benchConnect(b, loop, hosts[0], hosts[1])
	chunk := make([]byte, tcpBenchChunk)
	received := 0
	drain := benchDrain(loop, srv, &received)
	b.SetBytes(tcpBenchChunk)
	b.ReportAllocs()
	n0 := sink.n
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(chunk); {
			n, err := c.Send(chunk[off:])
			if err == nil {
				off += n
				continue
			}
			drain()
		}
	}
	for received < b.N*len(chunk) {
		drain()
	}
	b.StopTimer()
	ev := sink.n - n0
	b.ReportMetric(float64(ev)/float64(b.N), "events/op")
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(ev), "ns/event")
}
