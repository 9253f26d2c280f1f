package stack

import (
	"net/netip"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// IPv4 multicast membership (RFC 1112 §7): an interface receives the
// datagrams of the groups joined on it. Joining maps the group to its
// Ethernet address in the receive filter (RFC 1112 §6.4) and, for groups
// other than all-hosts, reports the membership with IGMP (RFC 2236).

var allHostsGroup = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// InGroup reports whether group is joined on the interface. The all-hosts
// group 224.0.0.1 always is (RFC 1112 §4).
func (ifc *Iface) InGroup(group netip.Addr) bool {
	return group == allHostsGroup || ifc.ipGroups[group] > 0
}

// Groups returns the groups joined on the interface, besides all-hosts.
func (ifc *Iface) Groups() []netip.Addr {
	out := make([]netip.Addr, 0, len(ifc.ipGroups))
	for g := range ifc.ipGroups {
		out = append(out, g)
	}
	return out
}

// JoinGroup joins group on the interface. Joins are counted (one per
// socket membership); the first one programs the Ethernet filter and sends
// an IGMP membership report. Loop work only.
func (ifc *Iface) JoinGroup(now clock.Time, group netip.Addr) error {
	if !group.Is4() || !group.IsMulticast() {
		return sockErr("join", group.String(), EINVAL, "not an IPv4 multicast address")
	}
	ifc.ipGroups[group]++
	if ifc.ipGroups[group] == 1 {
		ifc.JoinMAC(wire.MulticastMAC(group))
		ifc.s.igmpJoined(now, ifc, group)
	}
	return nil
}

// LeaveGroup undoes one JoinGroup; the last one sends an IGMP leave.
func (ifc *Iface) LeaveGroup(now clock.Time, group netip.Addr) error {
	n := ifc.ipGroups[group]
	if n == 0 {
		return sockErr("leave", group.String(), EADDRNOTAVAIL, "group not joined on "+ifc.name)
	}
	if n > 1 {
		ifc.ipGroups[group] = n - 1
		return nil
	}
	delete(ifc.ipGroups, group)
	ifc.LeaveMAC(wire.MulticastMAC(group))
	ifc.s.igmpLeft(now, ifc, group)
	return nil
}
