package stack

import (
	"fmt"

	"github.com/tipy/tipy/observe"
)

// SetIPv4Config replaces the IPv4 and ICMP tuning of a running stack, as a
// person changing net.ipv4.ipfrag_time or icmp_ratelimit would. Zero fields
// take their defaults, as in Config. A new reassembly timeout applies to the
// datagrams whose first fragment arrives from now on; datagrams already in
// reassembly keep the deadline they were given. A smaller memory cap is
// enforced at the next fragment. Loop work only; from other goroutines use
// Call. Config().IPv4 returns the values in effect, to restore them later.
func (s *Stack) SetIPv4Config(c IPv4Config) {
	s.cfg.IPv4 = c
	r := s.reasm()
	r.timeout = c.ReassemblyTimeout
	if r.timeout <= 0 {
		r.timeout = DefaultReassemblyTimeout
	}
	r.capacity = c.ReassemblyMemory
	if r.capacity <= 0 {
		r.capacity = DefaultReassemblyMemory
	}
	if !s.obs.Active() {
		return
	}
	every, burst := s.icmpRate()
	rate := fmt.Sprintf("ICMP errors %d in a burst then one per %v", burst, every)
	if every < 0 {
		rate = "ICMP errors not rate-limited"
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(s.loop.Now()), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindInfo,
		Summary: fmt.Sprintf("IPv4 settings changed: reassembly timeout %v, reassembly memory %d bytes, %s", r.timeout, r.capacity, rate),
		Explain: "a person changed how long incomplete datagrams are kept, how much memory reassembly may hold and how fast ICMP errors may go; datagrams already in reassembly keep their deadline",
		RFC:     "RFC 1122 §3.3.2",
		Fields: map[string]any{"reassembly_timeout_ns": int64(r.timeout), "reassembly_memory": r.capacity,
			"icmp_rate_limit_ns": int64(every), "icmp_burst": burst},
	})
}
