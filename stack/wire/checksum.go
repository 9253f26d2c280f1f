package wire

import (
	"encoding/binary"
	"net/netip"
)

// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
// complement sum of the data taken as big-endian 16-bit words, an odd final
// byte padded with zero. Incremental update follows RFC 1624.

// Checksum returns the one's complement sum of b added to initial, folded to
// 16 bits but not complemented. Chain calls to sum discontiguous pieces (each
// piece but the last must have even length), then complement with ^.
func Checksum(b []byte, initial uint16) uint16 {
	sum := uint64(initial)
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// PseudoHeaderChecksum returns the partial sum of the IPv4 pseudo-header used
// by UDP and TCP (RFC 768, RFC 9293 §3.1): source, destination, zero,
// protocol and the transport length.
func PseudoHeaderChecksum(proto IPProtocol, src, dst netip.Addr, length uint16) uint16 {
	s, d := src.As4(), dst.As4()
	sum := uint32(binary.BigEndian.Uint16(s[0:])) + uint32(binary.BigEndian.Uint16(s[2:])) +
		uint32(binary.BigEndian.Uint16(d[0:])) + uint32(binary.BigEndian.Uint16(d[2:])) +
		uint32(proto) + uint32(length)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// ChecksumUpdate16 returns the checksum field value after a 16-bit word
// covered by it changes from old to new, per RFC 1624 eqn. 3:
// HC' = ~(~HC + ~m + m').
func ChecksumUpdate16(hc, old, new uint16) uint16 {
	sum := uint32(^hc) + uint32(^old) + uint32(new)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
