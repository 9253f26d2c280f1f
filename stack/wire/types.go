package wire

import (
	"fmt"
	"net/netip"
)

// MAC is an IEEE 802 MAC-48 address.
type MAC [6]byte

// Well-known MAC addresses.
var (
	BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	ZeroMAC      = MAC{}
)

// String formats m as "02:00:00:00:00:07".
func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == BroadcastMAC }

// IsMulticast reports whether m is a group address (I/G bit set); the
// broadcast address is one too.
func (m MAC) IsMulticast() bool { return m[0]&1 == 1 }

// ParseMAC parses "aa:bb:cc:dd:ee:ff" (or with '-').
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, fmt.Errorf("mac %q: want 6 bytes as aa:bb:cc:dd:ee:ff", s)
	}
	for i := 0; i < 6; i++ {
		if i > 0 && s[3*i-1] != ':' && s[3*i-1] != '-' {
			return m, fmt.Errorf("mac %q: separator at %d must be ':' or '-'", s, 3*i-1)
		}
		var v byte
		for _, c := range []byte(s[3*i : 3*i+2]) {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return m, fmt.Errorf("mac %q: %q is not a hex digit", s, c)
			}
		}
		m[i] = v
	}
	return m, nil
}

// MulticastMAC maps an IPv4 multicast group to its Ethernet address,
// 01:00:5e followed by the low 23 bits of the group (RFC 1112 §6.4).
func MulticastMAC(group netip.Addr) MAC {
	a := group.As4()
	return MAC{0x01, 0x00, 0x5e, a[1] & 0x7f, a[2], a[3]}
}

// EtherType is the type field of an Ethernet II frame.
type EtherType uint16

// EtherTypes tipy knows.
const (
	EtherTypeIPv4 EtherType = 0x0800
	EtherTypeARP  EtherType = 0x0806
	EtherTypeVLAN EtherType = 0x8100
	EtherTypeIPv6 EtherType = 0x86dd
)

func (t EtherType) String() string {
	switch t {
	case EtherTypeIPv4:
		return "IPv4"
	case EtherTypeARP:
		return "ARP"
	case EtherTypeVLAN:
		return "802.1Q"
	case EtherTypeIPv6:
		return "IPv6"
	}
	return fmt.Sprintf("0x%04x", uint16(t))
}

// IPProtocol is the protocol field of an IPv4 header.
type IPProtocol uint8

// Protocol numbers tipy knows.
const (
	ProtoICMP IPProtocol = 1
	ProtoIGMP IPProtocol = 2
	ProtoTCP  IPProtocol = 6
	ProtoUDP  IPProtocol = 17
)

func (p IPProtocol) String() string {
	switch p {
	case ProtoICMP:
		return "ICMP"
	case ProtoIGMP:
		return "IGMP"
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}
