package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ARP packet (RFC 826) for IPv4 over Ethernet, the only kind tipy speaks:
// hardware type 1, protocol type 0x0800, address lengths 6 and 4.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Hardware type (HTYPE)    |     Protocol type (PTYPE)     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  HLEN (6)     |  PLEN (4)     |        Operation (OPER)       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Sender hardware address (SHA, 6)                |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               | Sender protocol address (SPA) |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  SPA (cont.)                  | Target hardware address (THA) |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                          THA (cont.)                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Target protocol address (TPA, 4)               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	arpHType = 0  // hardware type, 2 bytes
	arpPType = 2  // protocol type, 2 bytes
	arpHLen  = 4  // hardware address length, 1 byte
	arpPLen  = 5  // protocol address length, 1 byte
	arpOp    = 6  // operation, 2 bytes
	arpSHA   = 8  // sender hardware address, 6 bytes
	arpSPA   = 14 // sender protocol address, 4 bytes
	arpTHA   = 18 // target hardware address, 6 bytes
	arpTPA   = 24 // target protocol address, 4 bytes

	// ARPLen is the length of an ARP packet for IPv4 over Ethernet.
	ARPLen = 28
	// ARPHardwareEthernet is the hardware type of Ethernet (RFC 826).
	ARPHardwareEthernet = 1
)

var arpFields = [...]hdrSpan{
	{"hardware type", arpHType, 2},
	{"protocol type", arpPType, 2},
	{"hardware length", arpHLen, 1},
	{"protocol length", arpPLen, 1},
	{"operation", arpOp, 2},
	{"sender hardware address", arpSHA, 6},
	{"sender protocol address", arpSPA, 4},
	{"target hardware address", arpTHA, 6},
	{"target protocol address", arpTPA, 4},
}

// ARPOp is the operation of an ARP packet.
type ARPOp uint16

// ARP operations (RFC 826).
const (
	ARPRequest ARPOp = 1 // who has TPA? tell SPA
	ARPReply   ARPOp = 2 // SPA is at SHA
)

// String returns "Request", "Reply" or "op-N".
func (o ARPOp) String() string {
	switch o {
	case ARPRequest:
		return "Request"
	case ARPReply:
		return "Reply"
	}
	return fmt.Sprintf("op-%d", uint16(o))
}

// ARP is a view of an ARP packet. The slice may be longer than ARPLen (an
// ARP packet in a minimum-size Ethernet frame is followed by padding); the
// bytes past ARPLen are ignored.
type ARP []byte

// Validate checks that b holds a whole ARP packet for IPv4 over Ethernet
// with a Request or Reply operation. Another hardware or protocol type, other
// address lengths or another operation are valid ARP that tipy does not
// handle: the error wraps ErrUnsupported. After it returns nil no accessor
// panics.
func (b ARP) Validate() error {
	if len(b) < ARPLen {
		return truncAt("arp", arpFields[:], len(b))
	}
	if t := b.HardwareType(); t != ARPHardwareEthernet {
		return errorf(ErrUnsupported, "arp", "hardware type", arpHType,
			"hardware type %d is not Ethernet (1)", t)
	}
	if t := b.ProtocolType(); t != EtherTypeIPv4 {
		return errorf(ErrUnsupported, "arp", "protocol type", arpPType,
			"protocol type 0x%04x is not IPv4 (0x0800)", uint16(t))
	}
	if n := b.HardwareLen(); n != 6 {
		return errorf(ErrUnsupported, "arp", "hardware length", arpHLen,
			"hardware address length %d, Ethernet addresses have 6", n)
	}
	if n := b.ProtocolLen(); n != 4 {
		return errorf(ErrUnsupported, "arp", "protocol length", arpPLen,
			"protocol address length %d, IPv4 addresses have 4", n)
	}
	if op := b.Op(); op != ARPRequest && op != ARPReply {
		return errorf(ErrUnsupported, "arp", "operation", arpOp,
			"operation %d is neither Request (1) nor Reply (2)", uint16(op))
	}
	return nil
}

// HardwareType returns the hardware type (1 for Ethernet).
func (b ARP) HardwareType() uint16 { return binary.BigEndian.Uint16(b[arpHType:]) }

// ProtocolType returns the protocol type, an EtherType (0x0800 for IPv4).
func (b ARP) ProtocolType() EtherType { return EtherType(binary.BigEndian.Uint16(b[arpPType:])) }

// HardwareLen returns the length of a hardware address in bytes.
func (b ARP) HardwareLen() uint8 { return b[arpHLen] }

// ProtocolLen returns the length of a protocol address in bytes.
func (b ARP) ProtocolLen() uint8 { return b[arpPLen] }

// Op returns the operation.
func (b ARP) Op() ARPOp { return ARPOp(binary.BigEndian.Uint16(b[arpOp:])) }

// SHA returns the sender hardware address.
func (b ARP) SHA() MAC { return MAC(b[arpSHA : arpSHA+6]) }

// SPA returns the sender protocol address.
func (b ARP) SPA() netip.Addr { return netip.AddrFrom4([4]byte(b[arpSPA : arpSPA+4])) }

// THA returns the target hardware address.
func (b ARP) THA() MAC { return MAC(b[arpTHA : arpTHA+6]) }

// TPA returns the target protocol address.
func (b ARP) TPA() netip.Addr { return netip.AddrFrom4([4]byte(b[arpTPA : arpTPA+4])) }

// SetHardwareType sets the hardware type.
func (b ARP) SetHardwareType(t uint16) { binary.BigEndian.PutUint16(b[arpHType:], t) }

// SetProtocolType sets the protocol type.
func (b ARP) SetProtocolType(t EtherType) { binary.BigEndian.PutUint16(b[arpPType:], uint16(t)) }

// SetHardwareLen sets the hardware address length.
func (b ARP) SetHardwareLen(n uint8) { b[arpHLen] = n }

// SetProtocolLen sets the protocol address length.
func (b ARP) SetProtocolLen(n uint8) { b[arpPLen] = n }

// SetOp sets the operation.
func (b ARP) SetOp(op ARPOp) { binary.BigEndian.PutUint16(b[arpOp:], uint16(op)) }

// SetSHA sets the sender hardware address.
func (b ARP) SetSHA(m MAC) { copy(b[arpSHA:arpSHA+6], m[:]) }

// SetSPA sets the sender protocol address; a must be an IPv4 (or IPv4-mapped) address.
func (b ARP) SetSPA(a netip.Addr) { put4(b[arpSPA:arpSPA+4], a) }

// SetTHA sets the target hardware address.
func (b ARP) SetTHA(m MAC) { copy(b[arpTHA:arpTHA+6], m[:]) }

// SetTPA sets the target protocol address; a must be an IPv4 (or IPv4-mapped) address.
func (b ARP) SetTPA(a netip.Addr) { put4(b[arpTPA:arpTPA+4], a) }

// ARPHeader is a parsed ARP packet.
type ARPHeader struct {
	HardwareType uint16     // 1 (Ethernet); 0 means 1 when marshalling
	ProtocolType EtherType  // 0x0800 (IPv4); 0 means 0x0800 when marshalling
	HardwareLen  uint8      // 6; 0 means 6 when marshalling
	ProtocolLen  uint8      // 4; 0 means 4 when marshalling
	Op           ARPOp      // ARPRequest or ARPReply
	SHA          MAC        // sender hardware address
	SPA          netip.Addr // sender protocol address
	THA          MAC        // target hardware address (zero in a request)
	TPA          netip.Addr // target protocol address
}

// ParseARP validates b as an ARP packet and decodes it.
func ParseARP(b []byte) (ARPHeader, error) {
	v := ARP(b)
	if err := v.Validate(); err != nil {
		return ARPHeader{}, err
	}
	return ARPHeader{
		HardwareType: v.HardwareType(),
		ProtocolType: v.ProtocolType(),
		HardwareLen:  v.HardwareLen(),
		ProtocolLen:  v.ProtocolLen(),
		Op:           v.Op(),
		SHA:          v.SHA(),
		SPA:          v.SPA(),
		THA:          v.THA(),
		TPA:          v.TPA(),
	}, nil
}

// HeaderLen returns the length of the packet, always ARPLen.
func (h *ARPHeader) HeaderLen() int { return ARPLen }

// Marshal writes the packet into the first ARPLen bytes of b. Zero hardware
// and protocol type and lengths are filled in with the Ethernet/IPv4 values
// (in h too); any other values, an operation other than Request or Reply, or
// addresses that are not IPv4 (plain or IPv4-mapped) are an error, and b is left untouched.
func (h *ARPHeader) Marshal(b []byte) error {
	if len(b) < ARPLen {
		return errorf(ErrTruncated, "arp", "packet", 0,
			"a %d-byte buffer has no room for the %d-byte packet", len(b), ARPLen)
	}
	d := *h
	if d.HardwareType == 0 {
		d.HardwareType = ARPHardwareEthernet
	}
	if d.ProtocolType == 0 {
		d.ProtocolType = EtherTypeIPv4
	}
	if d.HardwareLen == 0 {
		d.HardwareLen = 6
	}
	if d.ProtocolLen == 0 {
		d.ProtocolLen = 4
	}
	switch {
	case d.HardwareType != ARPHardwareEthernet:
		return errorf(ErrUnsupported, "arp", "hardware type", arpHType, "hardware type %d is not Ethernet (1)", d.HardwareType)
	case d.ProtocolType != EtherTypeIPv4:
		return errorf(ErrUnsupported, "arp", "protocol type", arpPType, "protocol type 0x%04x is not IPv4 (0x0800)", uint16(d.ProtocolType))
	case d.HardwareLen != 6:
		return errorf(ErrUnsupported, "arp", "hardware length", arpHLen, "hardware address length %d, Ethernet addresses have 6", d.HardwareLen)
	case d.ProtocolLen != 4:
		return errorf(ErrUnsupported, "arp", "protocol length", arpPLen, "protocol address length %d, IPv4 addresses have 4", d.ProtocolLen)
	case d.Op != ARPRequest && d.Op != ARPReply:
		return errorf(ErrUnsupported, "arp", "operation", arpOp, "operation %d is neither Request (1) nor Reply (2)", uint16(d.Op))
	case !l3Is4(d.SPA):
		return errorf(ErrMalformed, "arp", "sender protocol address", arpSPA, "%v is not an IPv4 address", d.SPA)
	case !l3Is4(d.TPA):
		return errorf(ErrMalformed, "arp", "target protocol address", arpTPA, "%v is not an IPv4 address", d.TPA)
	}
	*h = d
	v := ARP(b)
	v.SetHardwareType(d.HardwareType)
	v.SetProtocolType(d.ProtocolType)
	v.SetHardwareLen(d.HardwareLen)
	v.SetProtocolLen(d.ProtocolLen)
	v.SetOp(d.Op)
	v.SetSHA(d.SHA)
	v.SetSPA(d.SPA)
	v.SetTHA(d.THA)
	v.SetTPA(d.TPA)
	return nil
}

// String formats the packet as tcpdump does:
// "ARP, Request who-has 192.168.2.20 tell 192.168.2.7" or
// "ARP, Reply 192.168.2.20 is-at 02:00:00:00:00:14". A request that carries
// a target hardware address shows it in parentheses after the target.
func (h ARPHeader) String() string {
	switch h.Op {
	case ARPRequest:
		if h.THA != ZeroMAC {
			return fmt.Sprintf("ARP, Request who-has %v (%v) tell %v", h.TPA, h.THA, h.SPA)
		}
		return fmt.Sprintf("ARP, Request who-has %v tell %v", h.TPA, h.SPA)
	case ARPReply:
		return fmt.Sprintf("ARP, Reply %v is-at %v", h.SPA, h.SHA)
	}
	return fmt.Sprintf("ARP, %v, sender %v (%v), target %v (%v)", h.Op, h.SPA, h.SHA, h.TPA, h.THA)
}

// l3Is4 reports whether a is an IPv4 address, plain or IPv4-mapped IPv6.
func l3Is4(a netip.Addr) bool { return a.Unmap().Is4() }

// put4 writes the IPv4 address a (plain or IPv4-mapped) into the 4 bytes of
// dst. Any other address, the zero Addr included, is written as 0.0.0.0;
// callers check l3Is4 where it matters.
func put4(dst []byte, a netip.Addr) {
	if a = a.Unmap(); a.Is4() {
		v := a.As4()
		copy(dst[:4], v[:])
		return
	}
	clear(dst[:4])
}
