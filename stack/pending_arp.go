package stack

// PENDING(arp): replaced by the ARP layer (arp*.go), which deletes this file.

import (
	"net/netip"

	"github.com/tipy/tipy/stack/clock"
)

func (s *Stack) initARP() {}

func (ifc *Iface) resolveAndSend(now clock.Time, nextHop netip.Addr, p *Packet, onErr func(error)) error {
	return sockErr("send", nextHop.String(), EHOSTUNREACH, "ARP is not built yet")
}

// ARPConfig tunes ARP; the ARP layer defines its fields and defaults.
type ARPConfig struct{}

// addrUsable reports whether the interface's address may be used (not
// tentative while probing, not in conflict).
func (ifc *Iface) addrUsable() bool { return true }
