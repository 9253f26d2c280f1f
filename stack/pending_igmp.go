package stack

// PENDING(udp): replaced by UDP, raw sockets and IGMPv2 (udp.go, raw.go,
// igmp.go), which delete this file.

import (
	"net/netip"

	"github.com/tipy/tipy/stack/clock"
)

func (s *Stack) igmpJoined(now clock.Time, ifc *Iface, group netip.Addr) {}
func (s *Stack) igmpLeft(now clock.Time, ifc *Iface, group netip.Addr)   {}

func (s *Stack) initUDP()  {}
func (s *Stack) initRaw()  {}
func (s *Stack) initIGMP() {}
