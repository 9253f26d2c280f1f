package wire

// UDP, RFC 768.
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|     Source      |   Destination   |
//	|      Port       |      Port       |
//	+--------+--------+--------+--------+
//	|                 |                 |
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
//	|
//	|          data octets ...
//	+---------------- ...
//
// Length counts header and data. The checksum covers the IPv4 pseudo-header
// (source, destination, zero, protocol 17, UDP length), the header and the
// data; a transmitted checksum of zero means "no checksum", so a computed
// zero is sent as all ones.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// UDPHeaderLen is the length of a UDP header.
const UDPHeaderLen = 8

// Field offsets in a UDP header.
const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6
)

// UDP is a view of a UDP datagram (header and data) over its bytes. Call
// Validate (or ParseUDP) before using the accessors on untrusted bytes.
type UDP []byte

// SrcPort returns the source port.
func (b UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[udpSrcPort:]) }

// DstPort returns the destination port.
func (b UDP) DstPort() uint16 { return binary.BigEndian.Uint16(b[udpDstPort:]) }

// Length returns the length field: header plus data, in bytes.
func (b UDP) Length() uint16 { return binary.BigEndian.Uint16(b[udpLength:]) }

// Checksum returns the checksum field (0: none was computed).
func (b UDP) Checksum() uint16 { return binary.BigEndian.Uint16(b[udpChecksum:]) }

// Payload returns the data, as far as the length field says (bytes beyond it
// are not part of the datagram).
func (b UDP) Payload() []byte { return b[UDPHeaderLen:b.Length()] }

// SetSrcPort sets the source port.
func (b UDP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(b[udpSrcPort:], p) }

// SetDstPort sets the destination port.
func (b UDP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(b[udpDstPort:], p) }

// SetLength sets the length field.
func (b UDP) SetLength(n uint16) { binary.BigEndian.PutUint16(b[udpLength:], n) }

// SetChecksum sets the checksum field.
func (b UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[udpChecksum:], c) }

// Validate checks that b holds a whole UDP header and that the length field
// fits the buffer; afterwards no accessor panics. Bytes after Length (link
// padding) are allowed and ignored. The checksum is checked by ChecksumValid.
func (b UDP) Validate() error {
	if err := l4Truncated("udp", len(b), udpFields[:]); err != nil {
		return err
	}
	n := int(b.Length())
	if n < UDPHeaderLen {
		return errorf(ErrMalformed, "udp", "length", udpLength, "%d is less than the %d-byte header", n, UDPHeaderLen)
	}
	if n > len(b) {
		return errorf(ErrTruncated, "udp", "length", udpLength, "%d exceeds the %d bytes received", n, len(b))
	}
	return nil
}

// ChecksumValid reports whether the checksum verifies over the pseudo-header
// for src and dst, the header and the data. A zero checksum means the sender
// computed none (RFC 768) and is valid. b must have been validated; src and
// dst must be IPv4 addresses.
func (b UDP) ChecksumValid(src, dst netip.Addr) bool {
	if b.Checksum() == 0 {
		return true
	}
	if !l4Is4(src) || !l4Is4(dst) {
		return false
	}
	n := b.Length()
	return Checksum(b[:n], PseudoHeaderChecksum(ProtoUDP, src, dst, n)) == 0xffff
}

// VerifyChecksum is ChecksumValid as an error: a *ParseError wrapping
// ErrChecksum that gives the value the field should hold.
func (b UDP) VerifyChecksum(src, dst netip.Addr) error {
	if b.ChecksumValid(src, dst) {
		return nil
	}
	if !l4Is4(src) || !l4Is4(dst) {
		return errorf(ErrUnsupported, "udp", "checksum", udpChecksum, "pseudo-header needs IPv4 addresses, got %v and %v", src, dst)
	}
	n := b.Length()
	want := ^Checksum(b[udpChecksum+2:n], Checksum(b[:udpChecksum], PseudoHeaderChecksum(ProtoUDP, src, dst, n)))
	if want == 0 {
		want = 0xffff
	}
	return errorf(ErrChecksum, "udp", "checksum", udpChecksum, "0x%04x does not verify, expected 0x%04x", b.Checksum(), want)
}

// udpFields names the fixed fields in order, for truncation errors.
var udpFields = [...]l4Field{
	{"source port", udpSrcPort, 2},
	{"destination port", udpDstPort, 2},
	{"length", udpLength, 2},
	{"checksum", udpChecksum, 2},
}

// UDPHeader is a parsed UDP header.
type UDPHeader struct {
	SrcPort  uint16
	DstPort  uint16
	Length   uint16 // header plus data; Marshal sets it
	Checksum uint16 // Marshal sets it
}

// ParseUDP validates b as a UDP datagram and decodes its header. It does not
// verify the checksum (see UDP.ChecksumValid) and allocates nothing.
func ParseUDP(b []byte) (UDPHeader, error) {
	v := UDP(b)
	if err := v.Validate(); err != nil {
		return UDPHeader{}, err
	}
	return UDPHeader{SrcPort: v.SrcPort(), DstPort: v.DstPort(), Length: v.Length(), Checksum: v.Checksum()}, nil
}

// HeaderLen returns the length of the header, 8.
func (h *UDPHeader) HeaderLen() int { return UDPHeaderLen }

// Marshal writes the header into the first 8 bytes of dgram, whose data is
// already in place behind them. It sets Length to len(dgram) and computes the
// checksum over the pseudo-header for src and dst, the header and the data,
// storing it in h.Checksum too; a computed zero is sent as 0xffff.
func (h *UDPHeader) Marshal(dgram []byte, src, dst netip.Addr) error {
	if len(dgram) < UDPHeaderLen {
		return errorf(ErrTruncated, "udp", "length", udpLength, "buffer of %d bytes has no room for the %d-byte header", len(dgram), UDPHeaderLen)
	}
	if len(dgram) > 0xffff {
		return errorf(ErrMalformed, "udp", "length", udpLength, "%d bytes exceed the 65535 a UDP length can say", len(dgram))
	}
	if !l4Is4(src) || !l4Is4(dst) {
		return errorf(ErrUnsupported, "udp", "checksum", udpChecksum, "pseudo-header needs IPv4 addresses, got %v and %v", src, dst)
	}
	h.Length = uint16(len(dgram))
	b := UDP(dgram)
	b.SetSrcPort(h.SrcPort)
	b.SetDstPort(h.DstPort)
	b.SetLength(h.Length)
	b.SetChecksum(0)
	c := ^Checksum(dgram, PseudoHeaderChecksum(ProtoUDP, src, dst, h.Length))
	if c == 0 {
		c = 0xffff
	}
	b.SetChecksum(c)
	h.Checksum = c
	return nil
}

// String formats h like tcpdump: "UDP 53 > 40000, length 32", where length
// counts the data only.
func (h *UDPHeader) String() string {
	n := int(h.Length) - UDPHeaderLen
	if n < 0 {
		n = 0
	}
	return fmt.Sprintf("UDP %d > %d, length %d", h.SrcPort, h.DstPort, n)
}

// l4Field names a fixed-size header field, for truncation errors.
type l4Field struct {
	name   string
	offset int
	size   int
}

// l4Truncated returns a truncation error naming the first field of fields
// that does not fit in n bytes, or nil when all fit.
func l4Truncated(layer string, n int, fields []l4Field) error {
	if last := fields[len(fields)-1]; n >= last.offset+last.size {
		return nil
	}
	for _, f := range fields {
		if n < f.offset+f.size {
			return errorf(ErrTruncated, layer, f.name, f.offset, "needs bytes %d to %d, only %d received", f.offset, f.offset+f.size-1, n)
		}
	}
	return nil
}

// l4Is4 reports whether a is usable in an IPv4 pseudo-header.
func l4Is4(a netip.Addr) bool { return a.Is4() || a.Is4In6() }
