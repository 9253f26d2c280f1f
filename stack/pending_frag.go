package stack

// PENDING(frag): replaced by fragmentation and reassembly (ipv4_frag.go,
// ipv4_reasm.go), which delete this file.

import (
	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

func (s *Stack) initReassembly() {}

func (s *Stack) reassemble(now clock.Time, ifc *Iface, h wire.IPv4Header, ip wire.IPv4, frame wire.Ethernet) wire.IPv4 {
	s.drop(now, observe.LayerIPv4, ReasonIPFragTimeout, frame, "reassembly is not built yet")
	return nil
}

func (s *Stack) fragmentAndSend(now clock.Time, nh nextHop, h *wire.IPv4Header, p *Packet, o *SendOptions) error {
	return sockErr("send", h.Dst.String(), EMSGSIZE, "fragmentation is not built yet")
}
