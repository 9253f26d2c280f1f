package wire

// TCP, RFC 9293 §3.1.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|       |       |R|E|G|K|H|T|N|N|                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               :
//	:                             Data                              :
//	:                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Data Offset counts 32-bit words of header, 5 to 15. The checksum covers the
// IPv4 pseudo-header (source, destination, zero, protocol 6, TCP length), the
// header and the data. Options are in tcp_options.go.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// Header lengths.
const (
	TCPMinHeaderLen = 20 // a header without options
	TCPMaxHeaderLen = 60 // data offset 15
)

// Field offsets in a TCP header.
const (
	tcpSrcPort    = 0
	tcpDstPort    = 2
	tcpSeq        = 4
	tcpAck        = 8
	tcpDataOffset = 12 // high 4 bits; the low 4 are reserved
	tcpFlags      = 13
	tcpWindow     = 14
	tcpChecksum   = 16
	tcpUrgent     = 18
)

// tcpFields names the fixed fields in order, for truncation errors.
var tcpFields = [...]l4Field{
	{"source port", tcpSrcPort, 2},
	{"destination port", tcpDstPort, 2},
	{"sequence number", tcpSeq, 4},
	{"acknowledgment number", tcpAck, 4},
	{"data offset", tcpDataOffset, 1},
	{"control bits", tcpFlags, 1},
	{"window", tcpWindow, 2},
	{"checksum", tcpChecksum, 2},
	{"urgent pointer", tcpUrgent, 2},
}

// TCPFlags are the control bits of a TCP header (RFC 9293 §3.1; ECE and CWR
// from RFC 3168).
type TCPFlags uint8

// The control bits.
const (
	TCPFlagFIN TCPFlags = 1 << iota // no more data from sender
	TCPFlagSYN                      // synchronize sequence numbers
	TCPFlagRST                      // reset the connection
	TCPFlagPSH                      // push function
	TCPFlagACK                      // acknowledgment field is significant
	TCPFlagURG                      // urgent pointer field is significant
	TCPFlagECE                      // ECN-Echo, RFC 3168
	TCPFlagCWR                      // congestion window reduced, RFC 3168
)

// Has reports whether all of the flags in f are set.
func (t TCPFlags) Has(f TCPFlags) bool { return t&f == f }

// String formats the flags as tcpdump does, brackets included: "[S]",
// "[S.]", "[P.]", "[F.]", "[R]", "[none]". The letters come in tcpdump's
// order F S R P then '.' for ACK, U, E, W.
func (t TCPFlags) String() string {
	if t == 0 {
		return "[none]"
	}
	var b [10]byte
	n := 0
	b[n] = '['
	n++
	for _, f := range [...]struct {
		bit TCPFlags
		c   byte
	}{{TCPFlagFIN, 'F'}, {TCPFlagSYN, 'S'}, {TCPFlagRST, 'R'}, {TCPFlagPSH, 'P'}, {TCPFlagACK, '.'}, {TCPFlagURG, 'U'}, {TCPFlagECE, 'E'}, {TCPFlagCWR, 'W'}} {
		if t&f.bit != 0 {
			b[n] = f.c
			n++
		}
	}
	b[n] = ']'
	return string(b[:n+1])
}

// TCP is a view of a TCP segment (header, options and data) over its bytes.
// Call Validate (or ParseTCP) before using the accessors on untrusted bytes.
type TCP []byte

// SrcPort returns the source port.
func (b TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[tcpSrcPort:]) }

// DstPort returns the destination port.
func (b TCP) DstPort() uint16 { return binary.BigEndian.Uint16(b[tcpDstPort:]) }

// Seq returns the sequence number.
func (b TCP) Seq() uint32 { return binary.BigEndian.Uint32(b[tcpSeq:]) }

// Ack returns the acknowledgment number.
func (b TCP) Ack() uint32 { return binary.BigEndian.Uint32(b[tcpAck:]) }

// DataOffset returns the header length in 32-bit words.
func (b TCP) DataOffset() uint8 { return b[tcpDataOffset] >> 4 }

// Reserved returns the 4 reserved bits between data offset and flags.
func (b TCP) Reserved() uint8 { return b[tcpDataOffset] & 0x0f }

// HeaderLen returns the header length in bytes, options included.
func (b TCP) HeaderLen() int { return int(b.DataOffset()) * 4 }

// Flags returns the control bits.
func (b TCP) Flags() TCPFlags { return TCPFlags(b[tcpFlags]) }

// Window returns the window field (unscaled).
func (b TCP) Window() uint16 { return binary.BigEndian.Uint16(b[tcpWindow:]) }

// Checksum returns the checksum field.
func (b TCP) Checksum() uint16 { return binary.BigEndian.Uint16(b[tcpChecksum:]) }

// Urgent returns the urgent pointer.
func (b TCP) Urgent() uint16 { return binary.BigEndian.Uint16(b[tcpUrgent:]) }

// Options returns the raw option area, between the fixed header and the data.
func (b TCP) Options() []byte { return b[TCPMinHeaderLen:b.HeaderLen()] }

// Payload returns the data after the header.
func (b TCP) Payload() []byte { return b[b.HeaderLen():] }

// SetSrcPort sets the source port.
func (b TCP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(b[tcpSrcPort:], p) }

// SetDstPort sets the destination port.
func (b TCP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(b[tcpDstPort:], p) }

// SetSeq sets the sequence number.
func (b TCP) SetSeq(n uint32) { binary.BigEndian.PutUint32(b[tcpSeq:], n) }

// SetAck sets the acknowledgment number.
func (b TCP) SetAck(n uint32) { binary.BigEndian.PutUint32(b[tcpAck:], n) }

// SetDataOffset sets the header length in 32-bit words (low 4 bits of
// words), keeping the reserved bits.
func (b TCP) SetDataOffset(words uint8) {
	b[tcpDataOffset] = words<<4 | b[tcpDataOffset]&0x0f
}

// SetFlags sets the control bits.
func (b TCP) SetFlags(f TCPFlags) { b[tcpFlags] = byte(f) }

// SetWindow sets the window field.
func (b TCP) SetWindow(w uint16) { binary.BigEndian.PutUint16(b[tcpWindow:], w) }

// SetChecksum sets the checksum field.
func (b TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[tcpChecksum:], c) }

// SetUrgent sets the urgent pointer.
func (b TCP) SetUrgent(u uint16) { binary.BigEndian.PutUint16(b[tcpUrgent:], u) }

// validateHeader checks the fixed header and the data offset.
func (b TCP) validateHeader() error {
	if err := l4Truncated("tcp", len(b), tcpFields[:]); err != nil {
		return err
	}
	hl := b.HeaderLen()
	if hl < TCPMinHeaderLen {
		return errorf(ErrMalformed, "tcp", "data offset", tcpDataOffset, "%d words is less than the 5 of a header without options", b.DataOffset())
	}
	if hl > len(b) {
		return errorf(ErrTruncated, "tcp", "data offset", tcpDataOffset, "header of %d bytes exceeds the %d bytes received", hl, len(b))
	}
	return nil
}

// Validate checks that b holds a whole TCP header whose data offset fits
// the buffer and whose option list is well formed; afterwards no accessor
// panics. The checksum is checked by ChecksumValid.
func (b TCP) Validate() error {
	if err := b.validateHeader(); err != nil {
		return err
	}
	var o TCPOptions
	return parseTCPOptions(b.Options(), &o)
}

// ChecksumValid reports whether the checksum verifies over the pseudo-header
// for src and dst, the header and the data. b must be exactly the segment
// (the IPv4 payload, without link padding) and hold at least the 20-byte
// header; src and dst must be IPv4 addresses.
func (b TCP) ChecksumValid(src, dst netip.Addr) bool {
	if !l4Is4(src) || !l4Is4(dst) || len(b) > 0xffff {
		return false
	}
	return Checksum(b, PseudoHeaderChecksum(ProtoTCP, src, dst, uint16(len(b)))) == 0xffff
}

// VerifyChecksum is ChecksumValid as an error: a *ParseError wrapping
// ErrChecksum that gives the value the field should hold.
func (b TCP) VerifyChecksum(src, dst netip.Addr) error {
	if b.ChecksumValid(src, dst) {
		return nil
	}
	if !l4Is4(src) || !l4Is4(dst) || len(b) > 0xffff {
		return errorf(ErrUnsupported, "tcp", "checksum", tcpChecksum, "pseudo-header needs IPv4 addresses and at most 65535 bytes, got %v, %v, %d bytes", src, dst, len(b))
	}
	want := ^Checksum(b[tcpChecksum+2:], Checksum(b[:tcpChecksum], PseudoHeaderChecksum(ProtoTCP, src, dst, uint16(len(b)))))
	return errorf(ErrChecksum, "tcp", "checksum", tcpChecksum, "0x%04x does not verify, expected 0x%04x", b.Checksum(), want)
}

// String formats a validated segment as tcpdump does with absolute sequence
// numbers, options in wire order:
// "TCP 4000 > 80: Flags [S], seq 1000, win 65535, options [mss 1460], length 0".
func (b TCP) String() string {
	if err := b.validateHeader(); err != nil {
		return "TCP " + err.Error()
	}
	h := TCPHeader{SrcPort: b.SrcPort(), DstPort: b.DstPort(), Seq: b.Seq(), Ack: b.Ack(),
		Flags: b.Flags(), Window: b.Window(), Urgent: b.Urgent()}
	return h.format(FormatTCPOptions(b.Options()), len(b.Payload()))
}

// TCPHeader is a parsed TCP header.
type TCPHeader struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	DataOffset       uint8 // header length in 32-bit words; Marshal sets it from Options
	Flags            TCPFlags
	Window           uint16
	Checksum         uint16 // Marshal sets it
	Urgent           uint16
	Options          TCPOptions
}

// ParseTCP validates b as a TCP segment and decodes its header and options.
// It does not verify the checksum (see TCP.ChecksumValid) and allocates
// nothing; unknown options alias b. The reserved bits are not kept.
func ParseTCP(b []byte) (TCPHeader, error) {
	var h TCPHeader
	v := TCP(b)
	if err := v.validateHeader(); err != nil {
		return h, err
	}
	if err := parseTCPOptions(v.Options(), &h.Options); err != nil {
		return TCPHeader{}, err
	}
	h.SrcPort, h.DstPort = v.SrcPort(), v.DstPort()
	h.Seq, h.Ack = v.Seq(), v.Ack()
	h.DataOffset, h.Flags = v.DataOffset(), v.Flags()
	h.Window, h.Checksum, h.Urgent = v.Window(), v.Checksum(), v.Urgent()
	return h, nil
}

// HeaderLen returns the length of the header Marshal writes: 20 bytes plus
// the options.
func (h *TCPHeader) HeaderLen() int { return TCPMinHeaderLen + h.Options.Len() }

// Marshal writes the header and options into the front of seg, whose data is
// already in place behind HeaderLen() bytes of room. It sets DataOffset,
// computes the checksum over the pseudo-header for src and dst, the header
// and the data, and stores it in h.Checksum too. The reserved bits are
// written as zero.
func (h *TCPHeader) Marshal(seg []byte, src, dst netip.Addr) error {
	hl := h.HeaderLen()
	if hl > TCPMaxHeaderLen {
		return errorf(ErrMalformed, "tcp", "options", tcpOptionsOffset, "%d bytes exceed the %d an option area can hold", hl-TCPMinHeaderLen, TCPMaxOptionsLen)
	}
	if len(seg) < hl {
		return errorf(ErrTruncated, "tcp", "data offset", tcpDataOffset, "buffer of %d bytes has no room for the %d-byte header", len(seg), hl)
	}
	if len(seg) > 0xffff {
		return errorf(ErrMalformed, "tcp", "data offset", tcpDataOffset, "segment of %d bytes exceeds the 65535 the pseudo-header can say", len(seg))
	}
	if !l4Is4(src) || !l4Is4(dst) {
		return errorf(ErrUnsupported, "tcp", "checksum", tcpChecksum, "pseudo-header needs IPv4 addresses, got %v and %v", src, dst)
	}
	if _, err := h.Options.Marshal(seg[TCPMinHeaderLen:hl]); err != nil {
		return err
	}
	h.DataOffset = uint8(hl / 4)
	b := TCP(seg)
	b.SetSrcPort(h.SrcPort)
	b.SetDstPort(h.DstPort)
	b.SetSeq(h.Seq)
	b.SetAck(h.Ack)
	b[tcpDataOffset] = h.DataOffset << 4
	b.SetFlags(h.Flags)
	b.SetWindow(h.Window)
	b.SetChecksum(0)
	b.SetUrgent(h.Urgent)
	h.Checksum = ^Checksum(seg, PseudoHeaderChecksum(ProtoTCP, src, dst, uint16(len(seg))))
	b.SetChecksum(h.Checksum)
	return nil
}

// Equal reports whether h and g hold the same header and options.
func (h *TCPHeader) Equal(g *TCPHeader) bool {
	return h.SrcPort == g.SrcPort && h.DstPort == g.DstPort && h.Seq == g.Seq && h.Ack == g.Ack &&
		h.DataOffset == g.DataOffset && h.Flags == g.Flags && h.Window == g.Window &&
		h.Checksum == g.Checksum && h.Urgent == g.Urgent && h.Options.Equal(&g.Options)
}

// String formats h as tcpdump does, options in the order Marshal writes
// them; the data length is unknown to a header and left out (TCP.String has
// it): "TCP 4000 > 80: Flags [S], seq 1000, win 65535, options [mss 1460]".
func (h *TCPHeader) String() string { return h.format(h.Options.String(), -1) }

// format writes the tcpdump line; dataLen < 0 leaves the length out.
func (h *TCPHeader) format(opts string, dataLen int) string {
	var s strings.Builder
	fmt.Fprintf(&s, "TCP %d > %d: Flags %s, seq %d", h.SrcPort, h.DstPort, h.Flags, h.Seq)
	if dataLen > 0 {
		fmt.Fprintf(&s, ":%d", h.Seq+uint32(dataLen))
	}
	if h.Flags&TCPFlagACK != 0 {
		fmt.Fprintf(&s, ", ack %d", h.Ack)
	}
	fmt.Fprintf(&s, ", win %d", h.Window)
	if h.Flags&TCPFlagURG != 0 {
		fmt.Fprintf(&s, ", urg %d", h.Urgent)
	}
	if opts != "" {
		fmt.Fprintf(&s, ", options [%s]", opts)
	}
	if dataLen >= 0 {
		fmt.Fprintf(&s, ", length %d", dataLen)
	}
	return s.String()
}
