package wire

// TCP options, RFC 9293 §3.1 (EOL, NOP, MSS), RFC 7323 (Window Scale,
// Timestamps) and RFC 2018 (SACK-Permitted, SACK).
//
//	EOL            +--------+
//	               |00000000|                        kind 0, one byte
//	               +--------+
//	NOP            +--------+
//	               |00000001|                        kind 1, one byte
//	               +--------+
//	MSS            +--------+--------+--------+--------+
//	               |00000010|00000100|  max seg size   |    kind 2, length 4
//	               +--------+--------+--------+--------+
//	Window Scale   +--------+--------+--------+
//	               |00000011|00000011| shift  |          kind 3, length 3
//	               +--------+--------+--------+
//	SACK-Permitted +--------+--------+
//	               |00000100|00000010|                 kind 4, length 2
//	               +--------+--------+
//	SACK           +--------+--------+-----------------+-----------------+
//	               |00000101| 2+8*n  | left edge 1     | right edge 1    | ...
//	               +--------+--------+-----------------+-----------------+
//	                                                   kind 5, n = 1..4 blocks
//	Timestamps     +--------+--------+-----------------+-----------------+
//	               |00001000|00001010|     TSval       |     TSecr       |
//	               +--------+--------+-----------------+-----------------+
//	                                                   kind 8, length 10
//
// Any other kind has a length byte counting kind and length; a receiver skips
// it by that length (RFC 9293 §3.1, MUST-68). EOL ends the list; the bytes
// after it up to the data offset are padding.

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// TCPOptionKind is the kind byte of a TCP option.
type TCPOptionKind uint8

// TCP option kinds tipy decodes.
const (
	TCPOptionEOL           TCPOptionKind = 0 // End of Option List, RFC 9293
	TCPOptionNOP           TCPOptionKind = 1 // No-Operation, RFC 9293
	TCPOptionMSS           TCPOptionKind = 2 // Maximum Segment Size, RFC 9293 §3.7.1
	TCPOptionWindowScale   TCPOptionKind = 3 // Window Scale, RFC 7323 §2
	TCPOptionSACKPermitted TCPOptionKind = 4 // SACK-Permitted, RFC 2018 §2
	TCPOptionSACK          TCPOptionKind = 5 // SACK, RFC 2018 §3
	TCPOptionTimestamps    TCPOptionKind = 8 // Timestamps, RFC 7323 §3
)

// Lengths of the fixed-size options, kind and length bytes included.
const (
	tcpOptLenMSS           = 4
	tcpOptLenWindowScale   = 3
	tcpOptLenSACKPermitted = 2
	tcpOptLenTimestamps    = 10
)

// TCPMaxOptionsLen is the largest option area: a 60-byte header less the
// 20 fixed bytes.
const TCPMaxOptionsLen = 40

// TCPMaxSACKBlocks is how many SACK blocks fit in the option area (RFC 2018
// §3) and how many TCPOptions keeps.
const TCPMaxSACKBlocks = 4

// TCPMaxUnknownOptions is how many options of kinds tipy does not decode
// TCPOptions keeps; further ones are checked, skipped and counted.
const TCPMaxUnknownOptions = 4

// String names the option kind ("MSS", "window scale"), or "kind N".
func (k TCPOptionKind) String() string {
	switch k {
	case TCPOptionEOL:
		return "EOL"
	case TCPOptionNOP:
		return "NOP"
	case TCPOptionMSS:
		return "MSS"
	case TCPOptionWindowScale:
		return "window scale"
	case TCPOptionSACKPermitted:
		return "SACK-permitted"
	case TCPOptionSACK:
		return "SACK"
	case TCPOptionTimestamps:
		return "timestamps"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// SACKBlock is one block of a SACK option: the sequence numbers of the first
// byte received (Left) and of the byte after the last (Right).
type SACKBlock struct {
	Left, Right uint32
}

// TCPOption is an option of a kind tipy does not decode, kept opaque.
type TCPOption struct {
	Kind TCPOptionKind
	Data []byte // the bytes after kind and length; aliases the parsed buffer
}

// TCPOptions holds the options of a TCP header, decoded into fixed fields so
// that parsing allocates nothing. A later duplicate of an option replaces an
// earlier one; the blocks of several SACK options are gathered in order.
type TCPOptions struct {
	MSS    uint16 // maximum segment size, RFC 9293 §3.7.1
	HasMSS bool

	WScale    uint8 // window scale shift count as sent (RFC 7323 §2.3 caps its use at 14)
	HasWScale bool

	SACKPermitted bool // RFC 2018 §2

	SACK    [TCPMaxSACKBlocks]SACKBlock // RFC 2018 §3; the first NumSACK are used
	NumSACK int

	TSVal, TSEcr uint32 // RFC 7323 §3
	HasTS        bool

	Unknown    [TCPMaxUnknownOptions]TCPOption // options of other kinds, in wire order
	NumUnknown int
	// SkippedUnknown counts options of other kinds beyond the first
	// TCPMaxUnknownOptions: checked, then ignored as RFC 9293 allows.
	SkippedUnknown int
}

// tcpOptionsOffset is where the option area starts in a TCP header; errors
// from the options name offsets within the header.
const tcpOptionsOffset = 20

// ParseTCPOptions decodes the option area of a TCP header (the bytes
// between the fixed header and the data offset). Error offsets count from the
// start of the TCP header, where the area sits at byte 20. It allocates
// nothing; unknown options alias b.
func ParseTCPOptions(b []byte) (TCPOptions, error) {
	var o TCPOptions
	err := parseTCPOptions(b, &o)
	return o, err
}

// parseTCPOptions decodes b into o.
func parseTCPOptions(b []byte, o *TCPOptions) error {
	if len(b) > TCPMaxOptionsLen {
		return errorf(ErrMalformed, "tcp", "options", tcpOptionsOffset, "%d bytes exceed the %d an option area can hold", len(b), TCPMaxOptionsLen)
	}
	for i := 0; i < len(b); {
		kind := TCPOptionKind(b[i])
		switch kind {
		case TCPOptionEOL:
			return nil
		case TCPOptionNOP:
			i++
			continue
		}
		off := tcpOptionsOffset + i
		if i+1 >= len(b) {
			return errorf(ErrTruncated, "tcp", tcpOptionField(kind), off, "the option area ends before the length byte")
		}
		n := int(b[i+1])
		if n < 2 {
			return errorf(ErrMalformed, "tcp", tcpOptionField(kind), off, "length %d is less than 2", n)
		}
		if i+n > len(b) {
			return errorf(ErrTruncated, "tcp", tcpOptionField(kind), off, "length %d runs %d bytes past the option area", n, i+n-len(b))
		}
		body := b[i+2 : i+n]
		switch kind {
		case TCPOptionMSS:
			if n != tcpOptLenMSS {
				return tcpWrongOptionLen(kind, off, n, tcpOptLenMSS)
			}
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(body), true
		case TCPOptionWindowScale:
			if n != tcpOptLenWindowScale {
				return tcpWrongOptionLen(kind, off, n, tcpOptLenWindowScale)
			}
			o.WScale, o.HasWScale = body[0], true
		case TCPOptionSACKPermitted:
			if n != tcpOptLenSACKPermitted {
				return tcpWrongOptionLen(kind, off, n, tcpOptLenSACKPermitted)
			}
			o.SACKPermitted = true
		case TCPOptionSACK:
			if n < 10 || (n-2)%8 != 0 {
				return errorf(ErrMalformed, "tcp", tcpOptionField(kind), off, "length %d is not 2 plus a positive multiple of 8", n)
			}
			for j := 0; j < len(body); j += 8 {
				if o.NumSACK == TCPMaxSACKBlocks {
					return errorf(ErrMalformed, "tcp", tcpOptionField(kind), off, "more than %d SACK blocks", TCPMaxSACKBlocks)
				}
				o.SACK[o.NumSACK] = SACKBlock{binary.BigEndian.Uint32(body[j:]), binary.BigEndian.Uint32(body[j+4:])}
				o.NumSACK++
			}
		case TCPOptionTimestamps:
			if n != tcpOptLenTimestamps {
				return tcpWrongOptionLen(kind, off, n, tcpOptLenTimestamps)
			}
			o.TSVal, o.TSEcr, o.HasTS = binary.BigEndian.Uint32(body), binary.BigEndian.Uint32(body[4:]), true
		default:
			if o.NumUnknown < TCPMaxUnknownOptions {
				o.Unknown[o.NumUnknown] = TCPOption{Kind: kind, Data: body}
				o.NumUnknown++
			} else {
				o.SkippedUnknown++
			}
		}
		i += n
	}
	return nil
}

// decoded reports whether TCPOptions has fields for kind k (or k has no
// length byte), so that it cannot be kept as an unknown option.
func (k TCPOptionKind) decoded() bool {
	switch k {
	case TCPOptionEOL, TCPOptionNOP, TCPOptionMSS, TCPOptionWindowScale, TCPOptionSACKPermitted, TCPOptionSACK, TCPOptionTimestamps:
		return true
	}
	return false
}

// tcpOptionField names an option for ParseError.Field.
func tcpOptionField(k TCPOptionKind) string {
	if k.decoded() {
		return "option " + k.String()
	}
	return fmt.Sprintf("option kind %d", uint8(k))
}

func tcpWrongOptionLen(k TCPOptionKind, off, got, want int) error {
	return errorf(ErrMalformed, "tcp", tcpOptionField(k), off, "length %d, must be %d", got, want)
}

// Marshal layout. The canonical order is the one Linux uses on a SYN,
// extended to data segments; every option but the last group starts on a
// 4-byte boundary thanks to NOPs:
//
//	MSS                      02 04 mm mm
//	SACK-permitted + TS      04 02 08 0a <TSval> <TSecr>
//	  or TS alone            01 01 08 0a <TSval> <TSecr>
//	  or SACK-permitted alone 01 01 04 02
//	window scale             01 03 03 ss
//	SACK blocks              01 01 05 len <blocks>
//	unknown options          kind len data..., then NOPs to a multiple of 4
//
// When that would exceed the 40-byte option area, the options are packed in
// the same order without NOPs, then NOP-padded to a multiple of 4; any list
// ParseTCPOptions accepts fits that way.

// canonicalLen is the length of the NOP-aligned layout, before final padding.
func (o *TCPOptions) canonicalLen() int {
	n := 0
	if o.HasMSS {
		n += 4
	}
	switch {
	case o.HasTS:
		n += 12
	case o.SACKPermitted:
		n += 4
	}
	if o.HasWScale {
		n += 4
	}
	if o.NumSACK > 0 {
		n += 4 + 8*o.NumSACK
	}
	return n + o.unknownLen()
}

// packedLen is the length without alignment NOPs, before final padding.
func (o *TCPOptions) packedLen() int {
	n := 0
	if o.HasMSS {
		n += tcpOptLenMSS
	}
	if o.SACKPermitted {
		n += tcpOptLenSACKPermitted
	}
	if o.HasTS {
		n += tcpOptLenTimestamps
	}
	if o.HasWScale {
		n += tcpOptLenWindowScale
	}
	if o.NumSACK > 0 {
		n += 2 + 8*o.NumSACK
	}
	return n + o.unknownLen()
}

func (o *TCPOptions) unknownLen() int {
	n := 0
	for i := 0; i < o.NumUnknown && i < TCPMaxUnknownOptions; i++ {
		n += 2 + len(o.Unknown[i].Data)
	}
	return n
}

// packed reports whether Marshal uses the packed layout.
func (o *TCPOptions) packed() bool { return tcpPad4(o.canonicalLen()) > TCPMaxOptionsLen }

func tcpPad4(n int) int { return (n + 3) &^ 3 }

// Len returns the length of the option area Marshal writes, a multiple of 4.
// It may exceed TCPMaxOptionsLen, in which case Marshal fails.
func (o *TCPOptions) Len() int {
	if o.packed() {
		return tcpPad4(o.packedLen())
	}
	return tcpPad4(o.canonicalLen())
}

// Marshal writes the options into b in the canonical order described above
// and returns the number of bytes written, Len().
func (o *TCPOptions) Marshal(b []byte) (int, error) {
	if o.NumSACK < 0 || o.NumSACK > TCPMaxSACKBlocks {
		return 0, errorf(ErrMalformed, "tcp", "option SACK", tcpOptionsOffset, "%d blocks, at most %d fit", o.NumSACK, TCPMaxSACKBlocks)
	}
	if o.NumUnknown < 0 || o.NumUnknown > TCPMaxUnknownOptions {
		return 0, errorf(ErrMalformed, "tcp", "options", tcpOptionsOffset, "%d unknown options, at most %d are kept", o.NumUnknown, TCPMaxUnknownOptions)
	}
	for i := 0; i < o.NumUnknown; i++ {
		u := &o.Unknown[i]
		if u.Kind.decoded() || len(u.Data) > TCPMaxOptionsLen-2 {
			return 0, errorf(ErrMalformed, "tcp", tcpOptionField(u.Kind), tcpOptionsOffset, "kind %d with %d data bytes cannot be written as an opaque option", uint8(u.Kind), len(u.Data))
		}
	}
	n := o.Len()
	if n > TCPMaxOptionsLen {
		return 0, errorf(ErrMalformed, "tcp", "options", tcpOptionsOffset, "%d bytes exceed the %d an option area can hold", n, TCPMaxOptionsLen)
	}
	if len(b) < n {
		return 0, errorf(ErrTruncated, "tcp", "options", tcpOptionsOffset, "buffer of %d bytes, options need %d", len(b), n)
	}
	packed := o.packed()
	i := 0
	nop := func(k int) {
		if !packed {
			for ; k > 0; k-- {
				b[i] = byte(TCPOptionNOP)
				i++
			}
		}
	}
	if o.HasMSS {
		b[i], b[i+1] = byte(TCPOptionMSS), tcpOptLenMSS
		binary.BigEndian.PutUint16(b[i+2:], o.MSS)
		i += tcpOptLenMSS
	}
	switch {
	case o.HasTS && o.SACKPermitted:
		b[i], b[i+1] = byte(TCPOptionSACKPermitted), tcpOptLenSACKPermitted
		i += tcpOptLenSACKPermitted
	case o.HasTS || o.SACKPermitted:
		nop(2)
	}
	if o.HasTS {
		b[i], b[i+1] = byte(TCPOptionTimestamps), tcpOptLenTimestamps
		binary.BigEndian.PutUint32(b[i+2:], o.TSVal)
		binary.BigEndian.PutUint32(b[i+6:], o.TSEcr)
		i += tcpOptLenTimestamps
	} else if o.SACKPermitted {
		b[i], b[i+1] = byte(TCPOptionSACKPermitted), tcpOptLenSACKPermitted
		i += tcpOptLenSACKPermitted
	}
	if o.HasWScale {
		nop(1)
		b[i], b[i+1], b[i+2] = byte(TCPOptionWindowScale), tcpOptLenWindowScale, o.WScale
		i += tcpOptLenWindowScale
	}
	if o.NumSACK > 0 {
		nop(2)
		b[i], b[i+1] = byte(TCPOptionSACK), byte(2+8*o.NumSACK)
		i += 2
		for _, s := range o.SACK[:o.NumSACK] {
			binary.BigEndian.PutUint32(b[i:], s.Left)
			binary.BigEndian.PutUint32(b[i+4:], s.Right)
			i += 8
		}
	}
	for _, u := range o.Unknown[:o.NumUnknown] {
		b[i], b[i+1] = byte(u.Kind), byte(2+len(u.Data))
		i += 2 + copy(b[i+2:], u.Data)
	}
	for ; i < n; i++ {
		b[i] = byte(TCPOptionNOP)
	}
	return n, nil
}

// Equal reports whether o and p hold the same options (unknown options
// compared by content).
func (o *TCPOptions) Equal(p *TCPOptions) bool {
	if o.MSS != p.MSS || o.HasMSS != p.HasMSS || o.WScale != p.WScale || o.HasWScale != p.HasWScale ||
		o.SACKPermitted != p.SACKPermitted || o.SACK != p.SACK || o.NumSACK != p.NumSACK ||
		o.TSVal != p.TSVal || o.TSEcr != p.TSEcr || o.HasTS != p.HasTS ||
		o.NumUnknown != p.NumUnknown || o.SkippedUnknown != p.SkippedUnknown {
		return false
	}
	for i := 0; i < o.NumUnknown && i < TCPMaxUnknownOptions; i++ {
		if o.Unknown[i].Kind != p.Unknown[i].Kind || string(o.Unknown[i].Data) != string(p.Unknown[i].Data) {
			return false
		}
	}
	return true
}

// String lists the options as Marshal lays them out, in tcpdump's words:
// "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7". Options Marshal cannot
// write are listed by field.
func (o *TCPOptions) String() string {
	var buf [TCPMaxOptionsLen]byte
	n, err := o.Marshal(buf[:])
	if err != nil {
		return fmt.Sprintf("%+v", *o)
	}
	return FormatTCPOptions(buf[:n])
}

// FormatTCPOptions lists a raw option area in wire order, in tcpdump's
// words: "mss 1460,nop,nop,sackOK". It does not fail: what cannot be decoded
// ends the list with a note saying why.
func FormatTCPOptions(b []byte) string {
	var s strings.Builder
	sep := func() {
		if s.Len() > 0 {
			s.WriteByte(',')
		}
	}
	for i := 0; i < len(b); {
		kind := TCPOptionKind(b[i])
		sep()
		switch kind {
		case TCPOptionEOL:
			s.WriteString("eol")
			return s.String()
		case TCPOptionNOP:
			s.WriteString("nop")
			i++
			continue
		}
		if i+1 >= len(b) || b[i+1] < 2 || i+int(b[i+1]) > len(b) {
			fmt.Fprintf(&s, "bad opt %d", uint8(kind))
			return s.String()
		}
		n := int(b[i+1])
		d := b[i+2 : i+n]
		switch {
		case kind == TCPOptionMSS && n == tcpOptLenMSS:
			fmt.Fprintf(&s, "mss %d", binary.BigEndian.Uint16(d))
		case kind == TCPOptionWindowScale && n == tcpOptLenWindowScale:
			fmt.Fprintf(&s, "wscale %d", d[0])
		case kind == TCPOptionSACKPermitted && n == tcpOptLenSACKPermitted:
			s.WriteString("sackOK")
		case kind == TCPOptionSACK && n >= 10 && (n-2)%8 == 0:
			fmt.Fprintf(&s, "sack %d ", (n-2)/8)
			for j := 0; j < len(d); j += 8 {
				fmt.Fprintf(&s, "{%d:%d}", binary.BigEndian.Uint32(d[j:]), binary.BigEndian.Uint32(d[j+4:]))
			}
		case kind == TCPOptionTimestamps && n == tcpOptLenTimestamps:
			fmt.Fprintf(&s, "TS val %d ecr %d", binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:]))
		default:
			fmt.Fprintf(&s, "opt-%d:%x", uint8(kind), d)
		}
		i += n
	}
	return s.String()
}
