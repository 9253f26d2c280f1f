package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// IPv4 header (RFC 791 §3.1).
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// IHL is the header length in 32-bit words (5 to 15), Total Length the length
// of the datagram (header and data) in bytes. Flags are, from the most
// significant bit: reserved (must be zero), DF (don't fragment), MF (more
// fragments). Fragment Offset counts 8-byte units. The checksum is the
// Internet checksum of the header alone. Options are described in
// ipv4_options.go.
const (
	ipv4VerIHL    = 0  // version (high nibble) and IHL (low nibble)
	ipv4TOS       = 1  // type of service (DSCP and ECN, RFC 2474, RFC 3168)
	ipv4TotalLen  = 2  // total length, 2 bytes
	ipv4ID        = 4  // identification, 2 bytes
	ipv4FlagsFrag = 6  // 3 bits of flags, 13 bits of fragment offset
	ipv4TTL       = 8  // time to live
	ipv4Protocol  = 9  // protocol of the payload
	ipv4Checksum  = 10 // header checksum, 2 bytes
	ipv4Src       = 12 // source address, 4 bytes
	ipv4Dst       = 16 // destination address, 4 bytes
	ipv4Options   = 20 // options, 0 to 40 bytes

	// IPv4MinHeaderLen is the length of an IPv4 header without options.
	IPv4MinHeaderLen = 20
	// IPv4MaxHeaderLen is the length of an IPv4 header with the most
	// options (IHL 15).
	IPv4MaxHeaderLen = 60
	// IPv4MaxOptionsLen is the most option bytes a header holds.
	IPv4MaxOptionsLen = IPv4MaxHeaderLen - IPv4MinHeaderLen
	// IPv4MaxLen is the largest total length of a datagram.
	IPv4MaxLen = 65535
	// IPv4MaxFragOff is the largest fragment offset in bytes (8191 units).
	IPv4MaxFragOff = 0x1fff * 8
)

var ipv4Fields = [...]hdrSpan{
	{"version", ipv4VerIHL, 1},
	{"type of service", ipv4TOS, 1},
	{"total length", ipv4TotalLen, 2},
	{"identification", ipv4ID, 2},
	{"flags", ipv4FlagsFrag, 2},
	{"time to live", ipv4TTL, 1},
	{"protocol", ipv4Protocol, 1},
	{"header checksum", ipv4Checksum, 2},
	{"source address", ipv4Src, 4},
	{"destination address", ipv4Dst, 4},
}

// IPv4Flags are the three flag bits of an IPv4 header, right-aligned.
type IPv4Flags uint8

// IPv4 flag bits (RFC 791 §3.1).
const (
	IPv4FlagMF       IPv4Flags = 1 // more fragments follow
	IPv4FlagDF       IPv4Flags = 2 // don't fragment
	IPv4FlagReserved IPv4Flags = 4 // reserved, must be zero; kept as received
)

// String lists the set flags as tcpdump does: "+" for MF, "DF", "rsvd", in
// that order and without separators ("DF", "+", "+DF"); "none" when none is set.
func (f IPv4Flags) String() string {
	if f == 0 {
		return "none"
	}
	var s string
	if f&IPv4FlagMF != 0 {
		s += "+"
	}
	if f&IPv4FlagDF != 0 {
		s += "DF"
	}
	if f&IPv4FlagReserved != 0 {
		s += "rsvd"
	}
	if f&^7 != 0 {
		s += fmt.Sprintf("|0x%x", uint8(f&^7))
	}
	return s
}

// IPv4 is a view of an IPv4 datagram: header, options, data, and possibly
// link-layer padding after Total Length. Call Validate before the accessors
// on untrusted bytes.
type IPv4 []byte

// Validate checks the header structurally: the fixed header is present, the
// version is 4, IHL is at least 5 and the header fits in b, the total length
// covers the header and fits in b, the fragment does not end past the
// largest datagram, and the options are well formed (see ipv4_options.go).
// It does not verify the checksum: see ChecksumValid. After it returns nil no
// accessor panics.
func (b IPv4) Validate() error {
	if len(b) < IPv4MinHeaderLen {
		return truncAt("ipv4", ipv4Fields[:], len(b))
	}
	if v := b.Version(); v != 4 {
		return errorf(ErrMalformed, "ipv4", "version", ipv4VerIHL, "version %d, expected 4", v)
	}
	hl := b.HeaderLen()
	if hl < IPv4MinHeaderLen {
		return errorf(ErrMalformed, "ipv4", "IHL", ipv4VerIHL,
			"IHL %d is below the minimum of 5 words (20 bytes)", b.IHL())
	}
	if hl > len(b) {
		return errorf(ErrTruncated, "ipv4", "IHL", ipv4VerIHL,
			"the %d-byte header exceeds the %d bytes received", hl, len(b))
	}
	tl := int(b.TotalLen())
	if tl < hl {
		return errorf(ErrMalformed, "ipv4", "total length", ipv4TotalLen,
			"%d is shorter than the %d-byte header", tl, hl)
	}
	if tl > len(b) {
		return errorf(ErrTruncated, "ipv4", "total length", ipv4TotalLen,
			"%d exceeds the %d bytes received", tl, len(b))
	}
	if end := b.FragmentOffset() + tl - hl; end > IPv4MaxLen {
		return errorf(ErrMalformed, "ipv4", "fragment offset", ipv4FlagsFrag,
			"the fragment at offset %d with %d data bytes ends at %d, past the largest datagram (%d)",
			b.FragmentOffset(), tl-hl, end, IPv4MaxLen)
	}
	return checkIPv4Options(b[ipv4Options:hl])
}

// Version returns the IP version (4 for a valid header).
func (b IPv4) Version() uint8 { return b[ipv4VerIHL] >> 4 }

// IHL returns the header length in 32-bit words.
func (b IPv4) IHL() uint8 { return b[ipv4VerIHL] & 0x0f }

// HeaderLen returns the header length in bytes, options included.
func (b IPv4) HeaderLen() int { return int(b[ipv4VerIHL]&0x0f) * 4 }

// TOS returns the type of service byte.
func (b IPv4) TOS() uint8 { return b[ipv4TOS] }

// DSCP returns the differentiated services code point, the high 6 bits of TOS
// (RFC 2474).
func (b IPv4) DSCP() uint8 { return b[ipv4TOS] >> 2 }

// ECN returns the explicit congestion notification bits, the low 2 bits of
// TOS (RFC 3168).
func (b IPv4) ECN() uint8 { return b[ipv4TOS] & 3 }

// TotalLen returns the total length of the datagram in bytes.
func (b IPv4) TotalLen() uint16 { return binary.BigEndian.Uint16(b[ipv4TotalLen:]) }

// ID returns the identification used to reassemble fragments.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[ipv4ID:]) }

// Flags returns the three flag bits.
func (b IPv4) Flags() IPv4Flags { return IPv4Flags(b[ipv4FlagsFrag] >> 5) }

// DontFragment reports whether DF is set.
func (b IPv4) DontFragment() bool { return b[ipv4FlagsFrag]&0x40 != 0 }

// More reports whether MF (more fragments) is set.
func (b IPv4) More() bool { return b[ipv4FlagsFrag]&0x20 != 0 }

// FragmentOffset returns the fragment offset in bytes.
func (b IPv4) FragmentOffset() int { return int(binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&0x1fff) * 8 }

// IsFragment reports whether the datagram is a fragment: MF set or a non-zero
// fragment offset.
func (b IPv4) IsFragment() bool { return binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&0x3fff != 0 }

// TTL returns the time to live.
func (b IPv4) TTL() uint8 { return b[ipv4TTL] }

// Protocol returns the protocol of the payload.
func (b IPv4) Protocol() IPProtocol { return IPProtocol(b[ipv4Protocol]) }

// Checksum returns the header checksum field.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[ipv4Checksum:]) }

// Src returns the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[ipv4Src : ipv4Src+4])) }

// Dst returns the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[ipv4Dst : ipv4Dst+4])) }

// Options returns the raw option bytes, padding included.
func (b IPv4) Options() []byte { return b[ipv4Options:b.HeaderLen()] }

// Payload returns the data of the datagram: from the end of the header to
// Total Length, so link-layer padding is left out.
func (b IPv4) Payload() []byte { return b[b.HeaderLen():b.TotalLen()] }

// ChecksumValid reports whether the header checksum verifies: the one's
// complement sum of the header, checksum included, is all ones.
func (b IPv4) ChecksumValid() bool { return Checksum(b[:b.HeaderLen()], 0) == 0xffff }

// ComputeChecksum returns the checksum the header should carry, computed as
// if the checksum field were zero.
func (b IPv4) ComputeChecksum() uint16 {
	return ^Checksum(b[ipv4Checksum+2:b.HeaderLen()], Checksum(b[:ipv4Checksum], 0))
}

// FindOption returns the first option of type t, without allocating; Data
// aliases b. It needs a validated view.
func (b IPv4) FindOption(t uint8) (IPv4Option, bool) {
	opts := b.Options()
	for i := 0; i < len(opts); {
		o, next := nextIPv4Option(opts, i)
		if o.Type == t {
			return o, true
		}
		if o.Type == IPv4OptEOL {
			break
		}
		i = next
	}
	return IPv4Option{}, false
}

// SetVersion sets the version nibble.
func (b IPv4) SetVersion(v uint8) { b[ipv4VerIHL] = v<<4 | b[ipv4VerIHL]&0x0f }

// SetIHL sets the header length in 32-bit words.
func (b IPv4) SetIHL(words uint8) { b[ipv4VerIHL] = b[ipv4VerIHL]&0xf0 | words&0x0f }

// SetTOS sets the type of service byte.
func (b IPv4) SetTOS(tos uint8) { b[ipv4TOS] = tos }

// SetTotalLen sets the total length.
func (b IPv4) SetTotalLen(n uint16) { binary.BigEndian.PutUint16(b[ipv4TotalLen:], n) }

// SetID sets the identification.
func (b IPv4) SetID(id uint16) { binary.BigEndian.PutUint16(b[ipv4ID:], id) }

// SetFlags sets the three flag bits, keeping the fragment offset.
func (b IPv4) SetFlags(f IPv4Flags) { b[ipv4FlagsFrag] = uint8(f&7)<<5 | b[ipv4FlagsFrag]&0x1f }

// SetFragmentOffset sets the fragment offset, given in bytes (a multiple of
// 8; the low 3 bits are dropped), keeping the flags.
func (b IPv4) SetFragmentOffset(off int) {
	v := binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&0xe000 | uint16(off/8)&0x1fff
	binary.BigEndian.PutUint16(b[ipv4FlagsFrag:], v)
}

// SetTTL sets the time to live.
func (b IPv4) SetTTL(ttl uint8) { b[ipv4TTL] = ttl }

// SetProtocol sets the protocol.
func (b IPv4) SetProtocol(p IPProtocol) { b[ipv4Protocol] = uint8(p) }

// SetChecksum sets the header checksum field.
func (b IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[ipv4Checksum:], c) }

// SetSrc sets the source address; a must be an IPv4 (or IPv4-mapped) address.
func (b IPv4) SetSrc(a netip.Addr) { put4(b[ipv4Src:ipv4Src+4], a) }

// SetDst sets the destination address; a must be an IPv4 (or IPv4-mapped) address.
func (b IPv4) SetDst(a netip.Addr) { put4(b[ipv4Dst:ipv4Dst+4], a) }

// UpdateChecksum computes the header checksum and stores it.
func (b IPv4) UpdateChecksum() { b.SetChecksum(b.ComputeChecksum()) }

// DecrementTTL lowers the TTL by one, as a router does before forwarding, and
// updates the checksum incrementally (RFC 1624, RFC 1812 §5.3.1). A TTL of 0
// is left alone. It returns the new TTL.
func (b IPv4) DecrementTTL() uint8 {
	ttl := b.TTL()
	if ttl == 0 {
		return 0
	}
	old := binary.BigEndian.Uint16(b[ipv4TTL:])
	b.SetTTL(ttl - 1)
	b.SetChecksum(ChecksumUpdate16(b.Checksum(), old, binary.BigEndian.Uint16(b[ipv4TTL:])))
	return ttl - 1
}

// IPv4Header is a parsed IPv4 header.
type IPv4Header struct {
	TOS      uint8      // type of service (DSCP << 2 | ECN)
	TotalLen uint16     // header and data in bytes; Marshal sets it
	ID       uint16     // identification
	Flags    IPv4Flags  // IPv4FlagDF, IPv4FlagMF, IPv4FlagReserved
	FragOff  int        // fragment offset in bytes: a multiple of 8, at most IPv4MaxFragOff
	TTL      uint8      // time to live
	Protocol IPProtocol // protocol of the payload
	Checksum uint16     // header checksum as received; Marshal sets it
	Src      netip.Addr // source address
	Dst      netip.Addr // destination address
	// Options in the order they appear; nil when there are none. Their Data
	// aliases the parsed bytes. The End of Option List and the zero padding
	// after it are left out when the padding is the shortest that aligns the
	// header, and kept as an EOL option otherwise (see IPv4Option).
	Options []IPv4Option
}

// ParseIPv4 validates b as an IPv4 datagram and decodes its header. It does
// not verify the checksum (see IPv4.ChecksumValid). It allocates only when
// the header has options.
func ParseIPv4(b []byte) (IPv4Header, error) {
	v := IPv4(b)
	if err := v.Validate(); err != nil {
		return IPv4Header{}, err
	}
	return IPv4Header{
		TOS:      v.TOS(),
		TotalLen: v.TotalLen(),
		ID:       v.ID(),
		Flags:    v.Flags(),
		FragOff:  v.FragmentOffset(),
		TTL:      v.TTL(),
		Protocol: v.Protocol(),
		Checksum: v.Checksum(),
		Src:      v.Src(),
		Dst:      v.Dst(),
		Options:  parseIPv4Options(v.Options()),
	}, nil
}

// HeaderLen returns the length Marshal gives the header: 20 bytes plus the
// options padded to a multiple of 4.
func (h *IPv4Header) HeaderLen() int {
	return IPv4MinHeaderLen + (ipv4OptionsLen(h.Options)+3)&^3
}

// Marshal writes the header into the front of pkt, whose payload is already
// in place after HeaderLen bytes. It sets Total Length to len(pkt), pads the
// options with End of Option List bytes to a multiple of 4, computes the
// header checksum and stores Total Length and the checksum in h too. It
// returns an error, and leaves pkt and h untouched, when pkt is shorter than
// the header or longer than 65535 bytes, or when a field or an option does
// not pass the checks Validate makes.
func (h *IPv4Header) Marshal(pkt []byte) error {
	olen := ipv4OptionsLen(h.Options)
	if olen > IPv4MaxOptionsLen {
		return errorf(ErrMalformed, "ipv4", "options", ipv4Options,
			"the options take %d bytes, at most %d fit", olen, IPv4MaxOptionsLen)
	}
	if err := checkIPv4OptionList(h.Options); err != nil {
		return err
	}
	hl := h.HeaderLen()
	switch {
	case len(pkt) < hl:
		return errorf(ErrTruncated, "ipv4", "header", 0,
			"a %d-byte buffer has no room for the %d-byte header", len(pkt), hl)
	case len(pkt) > IPv4MaxLen:
		return errorf(ErrMalformed, "ipv4", "total length", ipv4TotalLen,
			"%d bytes exceed the largest datagram (%d)", len(pkt), IPv4MaxLen)
	case h.Flags&^7 != 0:
		return errorf(ErrMalformed, "ipv4", "flags", ipv4FlagsFrag, "flags 0x%x do not fit in 3 bits", uint8(h.Flags))
	case h.FragOff < 0 || h.FragOff > IPv4MaxFragOff || h.FragOff%8 != 0:
		return errorf(ErrMalformed, "ipv4", "fragment offset", ipv4FlagsFrag,
			"%d is not a multiple of 8 between 0 and %d", h.FragOff, IPv4MaxFragOff)
	case h.FragOff+len(pkt)-hl > IPv4MaxLen:
		return errorf(ErrMalformed, "ipv4", "fragment offset", ipv4FlagsFrag,
			"the fragment at offset %d with %d data bytes ends past the largest datagram (%d)",
			h.FragOff, len(pkt)-hl, IPv4MaxLen)
	case !l3Is4(h.Src):
		return errorf(ErrMalformed, "ipv4", "source address", ipv4Src, "%v is not an IPv4 address", h.Src)
	case !l3Is4(h.Dst):
		return errorf(ErrMalformed, "ipv4", "destination address", ipv4Dst, "%v is not an IPv4 address", h.Dst)
	}
	v := IPv4(pkt)
	v[ipv4VerIHL] = 4<<4 | uint8(hl/4)
	v.SetTOS(h.TOS)
	v.SetTotalLen(uint16(len(pkt)))
	v.SetID(h.ID)
	binary.BigEndian.PutUint16(v[ipv4FlagsFrag:], uint16(h.Flags)<<13|uint16(h.FragOff/8))
	v.SetTTL(h.TTL)
	v.SetProtocol(h.Protocol)
	v.SetSrc(h.Src)
	v.SetDst(h.Dst)
	writeIPv4Options(v[ipv4Options:hl], h.Options)
	v.SetChecksum(0)
	c := v.ComputeChecksum()
	v.SetChecksum(c)
	h.TotalLen = uint16(len(pkt))
	h.Checksum = c
	return nil
}

// More reports whether MF (more fragments) is set.
func (h *IPv4Header) More() bool { return h.Flags&IPv4FlagMF != 0 }

// DontFragment reports whether DF is set.
func (h *IPv4Header) DontFragment() bool { return h.Flags&IPv4FlagDF != 0 }

// IsFragment reports whether the header is that of a fragment.
func (h *IPv4Header) IsFragment() bool { return h.More() || h.FragOff != 0 }

// String formats the header in the style of tcpdump:
// "IP 192.168.2.7 > 192.168.2.20: proto ICMP (1), ttl 64, id 4660, length 84",
// with "tos 0x10", "offset 1480", "flags [DF]" and "options (...)" when
// they are not zero.
func (h IPv4Header) String() string {
	var s strings.Builder
	proto := h.Protocol.String()
	if proto == fmt.Sprintf("proto-%d", uint8(h.Protocol)) {
		proto = "unknown"
	}
	fmt.Fprintf(&s, "IP %v > %v: proto %s (%d)", h.Src, h.Dst, proto, uint8(h.Protocol))
	if h.TOS != 0 {
		fmt.Fprintf(&s, ", tos 0x%x", h.TOS)
	}
	fmt.Fprintf(&s, ", ttl %d, id %d", h.TTL, h.ID)
	if h.IsFragment() {
		fmt.Fprintf(&s, ", offset %d", h.FragOff)
	}
	if h.Flags != 0 {
		fmt.Fprintf(&s, ", flags [%v]", h.Flags)
	}
	fmt.Fprintf(&s, ", length %d", h.TotalLen)
	if len(h.Options) > 0 {
		s.WriteString(", options (")
		for i, o := range h.Options {
			if i > 0 {
				s.WriteString(", ")
			}
			s.WriteString(o.String())
		}
		s.WriteString(")")
	}
	return s.String()
}

// The option area as a whole: decoding it into a list, encoding a list.

// nextIPv4Option decodes the option at opts[i] of a validated option area
// and returns the index of the next one (len(opts) after an EOL).
func nextIPv4Option(opts []byte, i int) (IPv4Option, int) {
	switch t := opts[i]; t {
	case IPv4OptEOL:
		return IPv4Option{Type: t, Data: opts[i+1:]}, len(opts)
	case IPv4OptNOP:
		return IPv4Option{Type: t}, i + 1
	default:
		l := int(opts[i+1])
		return IPv4Option{Type: t, Data: opts[i+2 : i+l]}, i + l
	}
}

// ipv4CanonicalPad reports whether the EOL at opts[i] starts the shortest
// zero padding that aligns the options, which marshalling recreates alone.
func ipv4CanonicalPad(opts []byte, i int) bool {
	if len(opts) != (i+3)&^3 {
		return false
	}
	for _, c := range opts[i+1:] {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseIPv4Options decodes a validated option area into a list, nil when it
// holds no options, with one allocation otherwise.
func parseIPv4Options(opts []byte) []IPv4Option {
	n := 0
	for i := 0; i < len(opts); {
		o, next := nextIPv4Option(opts, i)
		if o.Type != IPv4OptEOL || !ipv4CanonicalPad(opts, i) {
			n++
		}
		i = next
	}
	if n == 0 {
		return nil
	}
	list := make([]IPv4Option, 0, n)
	for i := 0; i < len(opts); {
		o, next := nextIPv4Option(opts, i)
		if o.Type != IPv4OptEOL || !ipv4CanonicalPad(opts, i) {
			list = append(list, o)
		}
		i = next
	}
	return list
}

// ipv4OptionsLen returns the bytes the options take, before padding.
func ipv4OptionsLen(list []IPv4Option) int {
	n := 0
	for _, o := range list {
		n += o.Len()
	}
	return n
}

// writeIPv4Options writes checked options into dst and fills the rest of
// dst with EOL (zero) bytes.
func writeIPv4Options(dst []byte, list []IPv4Option) {
	i := 0
	for _, o := range list {
		if o.Len() == 0 {
			continue // an EOL without Data: the padding ends the list
		}
		dst[i] = o.Type
		switch o.Type {
		case IPv4OptEOL:
			i += 1 + copy(dst[i+1:], o.Data)
		case IPv4OptNOP:
			i++
		default:
			dst[i+1] = uint8(2 + len(o.Data))
			i += 2 + copy(dst[i+2:], o.Data)
		}
	}
	clear(dst[i:])
}
