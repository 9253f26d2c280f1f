package wire

import (
	"encoding/binary"
	"fmt"
)

// Ethernet II frame header (IEEE 802.3 §3.1.1 with the type interpretation of
// the length/type field, RFC 894 for IPv4 over Ethernet). The preamble and the
// frame check sequence are not part of a frame as tipy sees it.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Destination MAC address (6 bytes)              |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                  Source MAC address (6 bytes)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           EtherType           |  Payload (46-1500 bytes) ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ethDst  = 0  // destination MAC, 6 bytes
	ethSrc  = 6  // source MAC, 6 bytes
	ethType = 12 // EtherType, 2 bytes

	// EthernetHeaderLen is the length of an Ethernet II header.
	EthernetHeaderLen = 14
	// EthernetMinFrameLen is the smallest frame on the wire without its
	// 4-byte FCS (64 - 4); shorter frames are padded by the sender.
	EthernetMinFrameLen = 60
	// EtherTypeMin is the smallest value of the length/type field that is an
	// EtherType; smaller values are IEEE 802.3 lengths (IEEE 802.3 §3.2.6).
	EtherTypeMin = 0x0600
)

// ethFields lists the header fields in order, for truncation errors.
var ethFields = [...]hdrSpan{
	{"destination", ethDst, 6},
	{"source", ethSrc, 6},
	{"ethertype", ethType, 2},
}

// Ethernet is a view of an Ethernet II frame: header followed by payload.
// Call Validate before the accessors on untrusted bytes.
type Ethernet []byte

// Validate checks that b holds a whole Ethernet II header whose type field is
// an EtherType (not an IEEE 802.3 length). After it returns nil no accessor
// panics.
func (b Ethernet) Validate() error {
	if len(b) < EthernetHeaderLen {
		return truncAt("ethernet", ethFields[:], len(b))
	}
	if t := b.Type(); t < EtherTypeMin {
		return errorf(ErrUnsupported, "ethernet", "ethertype", ethType,
			"0x%04x is an IEEE 802.3 length, not an Ethernet II EtherType", uint16(t))
	}
	return nil
}

// Dst returns the destination MAC address.
func (b Ethernet) Dst() MAC { return MAC(b[ethDst : ethDst+6]) }

// Src returns the source MAC address.
func (b Ethernet) Src() MAC { return MAC(b[ethSrc : ethSrc+6]) }

// Type returns the EtherType.
func (b Ethernet) Type() EtherType { return EtherType(binary.BigEndian.Uint16(b[ethType:])) }

// Payload returns the bytes after the header, including any padding the
// sender added to reach the minimum frame size.
func (b Ethernet) Payload() []byte { return b[EthernetHeaderLen:] }

// SetDst sets the destination MAC address.
func (b Ethernet) SetDst(m MAC) { copy(b[ethDst:ethDst+6], m[:]) }

// SetSrc sets the source MAC address.
func (b Ethernet) SetSrc(m MAC) { copy(b[ethSrc:ethSrc+6], m[:]) }

// SetType sets the EtherType.
func (b Ethernet) SetType(t EtherType) { binary.BigEndian.PutUint16(b[ethType:], uint16(t)) }

// EthernetHeader is a parsed Ethernet II header.
type EthernetHeader struct {
	Dst  MAC       // destination address
	Src  MAC       // source address
	Type EtherType // what the payload is
}

// ParseEthernet validates b as an Ethernet frame and decodes its header.
func ParseEthernet(b []byte) (EthernetHeader, error) {
	v := Ethernet(b)
	if err := v.Validate(); err != nil {
		return EthernetHeader{}, err
	}
	return EthernetHeader{Dst: v.Dst(), Src: v.Src(), Type: v.Type()}, nil
}

// HeaderLen returns the length of the header, always EthernetHeaderLen.
func (h *EthernetHeader) HeaderLen() int { return EthernetHeaderLen }

// Marshal writes the header into the first EthernetHeaderLen bytes of frame,
// whose payload is already in place after them. It does not pad the frame to
// EthernetMinFrameLen; the link does that.
func (h *EthernetHeader) Marshal(frame []byte) error {
	if len(frame) < EthernetHeaderLen {
		return errorf(ErrTruncated, "ethernet", "header", 0,
			"a %d-byte buffer has no room for the %d-byte header", len(frame), EthernetHeaderLen)
	}
	if h.Type < EtherTypeMin {
		return errorf(ErrUnsupported, "ethernet", "ethertype", ethType,
			"0x%04x is an IEEE 802.3 length, not an Ethernet II EtherType", uint16(h.Type))
	}
	v := Ethernet(frame)
	v.SetDst(h.Dst)
	v.SetSrc(h.Src)
	v.SetType(h.Type)
	return nil
}

// String formats the header as tcpdump -e does:
// "02:00:00:00:00:07 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)".
func (h EthernetHeader) String() string {
	name := "Unknown"
	switch h.Type {
	case EtherTypeIPv4, EtherTypeARP, EtherTypeVLAN, EtherTypeIPv6:
		name = h.Type.String()
	}
	return fmt.Sprintf("%s > %s, ethertype %s (0x%04x)", h.Src, h.Dst, name, uint16(h.Type))
}

// hdrSpan names one fixed-position header field, for truncation errors.
type hdrSpan struct {
	name string
	off  int
	size int
}

// truncAt returns the ErrTruncated error for a header cut after n bytes: it
// names the first field of fields that is not wholly present.
func truncAt(layer string, fields []hdrSpan, n int) *ParseError {
	for _, f := range fields {
		if f.off+f.size > n {
			last := fields[len(fields)-1]
			return errorf(ErrTruncated, layer, f.name, f.off,
				"the header needs %d bytes, only %d received", last.off+last.size, n)
		}
	}
	return errorf(ErrTruncated, layer, "header", 0, "only %d bytes received", n)
}
