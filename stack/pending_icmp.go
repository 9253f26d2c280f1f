package stack

// PENDING(icmp): replaced by the ICMP layer (icmp*.go), which deletes this file.

import (
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

func (s *Stack) initICMP() {}

func (s *Stack) icmpError(now clock.Time, d *Datagram, typ wire.ICMPType, code uint8, param uint32) {}
