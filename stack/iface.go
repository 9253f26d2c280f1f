package stack

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// IfaceConfig configures one network interface of a host.
type IfaceConfig struct {
	Name string       // interface name, e.g. "eth0"
	MAC  wire.MAC     // the interface's MAC address
	Addr netip.Prefix // the interface's address and prefix
	MTU  int          // 0 means the link's MTU
}

// Iface is one network interface of a host: a link, its MAC and IPv4 address,
// and the receive filter of its multicast groups. A host has one; a router
// has several.
type Iface struct {
	s        *Stack
	index    int
	name     string
	link     tap.Link
	mac      wire.MAC
	addr     netip.Prefix
	mtu      int
	groups   map[wire.MAC]int   // joined multicast MAC addresses, with a reference count
	ipGroups map[netip.Addr]int // joined IPv4 groups (all-hosts is implicit), with a reference count
}

// AddInterface attaches another link to the stack, as a router needs. The
// stack starts receiving on it at once. Loop work only.
func (s *Stack) AddInterface(c IfaceConfig, link tap.Link) (*Iface, error) {
	if c.MAC == (wire.MAC{}) || c.MAC.IsMulticast() {
		return nil, fmt.Errorf("interface %s: mac %s must be a unicast address", c.Name, c.MAC)
	}
	if !c.Addr.IsValid() || !c.Addr.Addr().Is4() {
		return nil, fmt.Errorf("interface %s: address %v must be IPv4 with a prefix", c.Name, c.Addr)
	}
	if c.Name == "" {
		c.Name = fmt.Sprintf("eth%d", len(s.ifaces))
	}
	for _, o := range s.ifaces {
		if o.name == c.Name {
			return nil, fmt.Errorf("interface %s: name already in use", c.Name)
		}
	}
	mtu := link.MTU()
	if c.MTU != 0 {
		if c.MTU > mtu || c.MTU < 68 {
			return nil, fmt.Errorf("interface %s: mtu %d must be between 68 and the link's %d", c.Name, c.MTU, mtu)
		}
		mtu = c.MTU
	}
	ifc := &Iface{s: s, index: len(s.ifaces), name: c.Name, link: link, mac: c.MAC, addr: c.Addr, mtu: mtu, groups: make(map[wire.MAC]int), ipGroups: make(map[netip.Addr]int)}
	s.ifaces = append(s.ifaces, ifc)
	// RFC 1112 §4: every IP multicast host belongs to the all-hosts group.
	ifc.JoinMAC(wire.MulticastMAC(allHostsGroup))
	link.SetHandler(func(frame []byte) { s.input(s.loop.Now(), ifc, frame) })
	s.arpl.iface(ifc) // starts probing the address (RFC 5227) unless configured off
	return ifc, nil
}

// Name returns the interface name.
func (i *Iface) Name() string { return i.name }

// Index returns the interface's position in the stack, from 0.
func (i *Iface) Index() int { return i.index }

// Link returns the interface's link.
func (i *Iface) Link() tap.Link { return i.link }

// MAC returns the interface's MAC address.
func (i *Iface) MAC() wire.MAC { return i.mac }

// Addr returns the interface's address and prefix.
func (i *Iface) Addr() netip.Prefix { return i.addr }

// MTU returns the interface's MTU.
func (i *Iface) MTU() int { return i.mtu }

// Stack returns the stack the interface belongs to.
func (i *Iface) Stack() *Stack { return i.s }

// JoinMAC adds a multicast MAC address to the receive filter. Joins are
// counted: the filter keeps the address until each join is matched by a
// leave.
func (i *Iface) JoinMAC(m wire.MAC) { i.groups[m]++ }

// LeaveMAC undoes one JoinMAC.
func (i *Iface) LeaveMAC(m wire.MAC) {
	if n := i.groups[m]; n > 1 {
		i.groups[m] = n - 1
	} else {
		delete(i.groups, m)
	}
}

// Accepts reports whether the receive filter keeps frames sent to dst.
func (i *Iface) Accepts(dst wire.MAC) bool {
	if dst == i.mac || dst.IsBroadcast() {
		return true
	}
	return dst.IsMulticast() && i.groups[dst] > 0
}
