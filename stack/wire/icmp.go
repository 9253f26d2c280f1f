package wire

// ICMPv4, RFC 792, with the next-hop MTU of RFC 1191 §4.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  rest of header, by type:                     |
//	|  echo, timestamp, information, address mask:                  |
//	|          Identifier           |        Sequence Number        |
//	|  destination unreachable (code 4 = fragmentation needed):     |
//	|            unused             |         Next-Hop MTU          |
//	|  parameter problem:                                           |
//	|    Pointer    |                  unused                       |
//	|  redirect:                Gateway Internet Address            |
//	|  time exceeded, source quench:        unused                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  data: echo payload, or for an error the original datagram's  |
//	|  IPv4 header + at least its first 64 bits of data (the quote) |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The checksum covers the whole ICMP message.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ICMPHeaderLen is the length of the ICMP header: type, code, checksum and
// the 4-byte rest of header.
const ICMPHeaderLen = 8

// Field offsets in an ICMP header.
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpRest     = 4
	icmpID       = 4 // echo and the other query messages
	icmpSeq      = 6
	icmpMTU      = 6 // destination unreachable, code 4
	icmpPointer  = 4 // parameter problem
	icmpGateway  = 4 // redirect
)

var icmpFields = [...]l4Field{
	{"type", icmpType, 1},
	{"code", icmpCode, 1},
	{"checksum", icmpChecksum, 2},
	{"rest of header", icmpRest, 4},
}

// ICMPType is the type of an ICMPv4 message.
type ICMPType uint8

// ICMP types (IANA "ICMP Type Numbers"; deprecated ones included so that
// they can be named in traces).
const (
	ICMPEchoReply              ICMPType = 0  // RFC 792
	ICMPDestinationUnreachable ICMPType = 3  // RFC 792
	ICMPSourceQuench           ICMPType = 4  // RFC 792, deprecated by RFC 6633
	ICMPRedirect               ICMPType = 5  // RFC 792
	ICMPAlternateHostAddress   ICMPType = 6  // deprecated, RFC 6918
	ICMPEchoRequest            ICMPType = 8  // RFC 792
	ICMPRouterAdvertisement    ICMPType = 9  // RFC 1256
	ICMPRouterSolicitation     ICMPType = 10 // RFC 1256
	ICMPTimeExceeded           ICMPType = 11 // RFC 792
	ICMPParameterProblem       ICMPType = 12 // RFC 792
	ICMPTimestamp              ICMPType = 13 // RFC 792
	ICMPTimestampReply         ICMPType = 14 // RFC 792
	ICMPInformationRequest     ICMPType = 15 // RFC 792, deprecated by RFC 6918
	ICMPInformationReply       ICMPType = 16 // RFC 792, deprecated by RFC 6918
	ICMPAddressMaskRequest     ICMPType = 17 // RFC 950, deprecated by RFC 6918
	ICMPAddressMaskReply       ICMPType = 18 // RFC 950, deprecated by RFC 6918
	ICMPTraceroute             ICMPType = 30 // RFC 1393, deprecated by RFC 6918
	ICMPPhoturis               ICMPType = 40 // RFC 2521
	ICMPExtendedEchoRequest    ICMPType = 42 // RFC 8335
	ICMPExtendedEchoReply      ICMPType = 43 // RFC 8335
)

// Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812
// §5.2.7.1).
const (
	ICMPNetUnreachable          uint8 = 0
	ICMPHostUnreachable         uint8 = 1
	ICMPProtocolUnreachable     uint8 = 2
	ICMPPortUnreachable         uint8 = 3
	ICMPFragmentationNeeded     uint8 = 4 // and DF set; next-hop MTU per RFC 1191
	ICMPSourceRouteFailed       uint8 = 5
	ICMPDestNetUnknown          uint8 = 6
	ICMPDestHostUnknown         uint8 = 7
	ICMPSourceHostIsolated      uint8 = 8
	ICMPNetProhibited           uint8 = 9
	ICMPHostProhibited          uint8 = 10
	ICMPNetUnreachableForTOS    uint8 = 11
	ICMPHostUnreachableForTOS   uint8 = 12
	ICMPCommProhibited          uint8 = 13 // RFC 1812
	ICMPHostPrecedenceViolation uint8 = 14 // RFC 1812
	ICMPPrecedenceCutoff        uint8 = 15 // RFC 1812
)

// Time exceeded codes (RFC 792).
const (
	ICMPTTLExceeded        uint8 = 0 // time to live exceeded in transit
	ICMPReassemblyExceeded uint8 = 1 // fragment reassembly time exceeded
)

// Redirect codes (RFC 792).
const (
	ICMPRedirectNet     uint8 = 0
	ICMPRedirectHost    uint8 = 1
	ICMPRedirectTOSNet  uint8 = 2
	ICMPRedirectTOSHost uint8 = 3
)

// Parameter problem codes (RFC 792, RFC 1108).
const (
	ICMPParamPointer       uint8 = 0 // the pointer indicates the error
	ICMPParamMissingOption uint8 = 1
	ICMPParamBadLength     uint8 = 2
)

var icmpTypeNames = [...]string{
	ICMPEchoReply: "echo reply", ICMPDestinationUnreachable: "destination unreachable",
	ICMPSourceQuench: "source quench", ICMPRedirect: "redirect", ICMPAlternateHostAddress: "alternate host address",
	ICMPEchoRequest: "echo request", ICMPRouterAdvertisement: "router advertisement",
	ICMPRouterSolicitation: "router solicitation", ICMPTimeExceeded: "time exceeded",
	ICMPParameterProblem: "parameter problem", ICMPTimestamp: "time stamp query", ICMPTimestampReply: "time stamp reply",
	ICMPInformationRequest: "information request", ICMPInformationReply: "information reply",
	ICMPAddressMaskRequest: "address mask request", ICMPAddressMaskReply: "address mask reply",
	ICMPTraceroute: "traceroute", ICMPPhoturis: "photuris",
	ICMPExtendedEchoRequest: "extended echo request", ICMPExtendedEchoReply: "extended echo reply",
}

// String names the type in tcpdump's words ("echo request"), or
// "type-#N" for a number tipy does not know.
func (t ICMPType) String() string {
	if int(t) < len(icmpTypeNames) && icmpTypeNames[t] != "" {
		return icmpTypeNames[t]
	}
	return fmt.Sprintf("type-#%d", uint8(t))
}

// IsError reports whether t is an error message, which quotes the datagram
// that caused it (RFC 1122 §3.2.2): destination unreachable, source quench,
// redirect, time exceeded, parameter problem.
func (t ICMPType) IsError() bool {
	switch t {
	case ICMPDestinationUnreachable, ICMPSourceQuench, ICMPRedirect, ICMPTimeExceeded, ICMPParameterProblem:
		return true
	}
	return false
}

// hasIDSeq reports whether the rest of header of t is an identifier and a
// sequence number.
func (t ICMPType) hasIDSeq() bool {
	switch t {
	case ICMPEchoReply, ICMPEchoRequest, ICMPTimestamp, ICMPTimestampReply,
		ICMPInformationRequest, ICMPInformationReply, ICMPAddressMaskRequest, ICMPAddressMaskReply:
		return true
	}
	return false
}

// ICMP is a view of an ICMPv4 message over its bytes. Call Validate (or
// ParseICMP) before using the accessors on untrusted bytes.
type ICMP []byte

// Type returns the message type.
func (b ICMP) Type() ICMPType { return ICMPType(b[icmpType]) }

// Code returns the code.
func (b ICMP) Code() uint8 { return b[icmpCode] }

// Checksum returns the checksum field.
func (b ICMP) Checksum() uint16 { return binary.BigEndian.Uint16(b[icmpChecksum:]) }

// Rest returns the 4 rest-of-header bytes, whatever the type.
func (b ICMP) Rest() []byte { return b[icmpRest:ICMPHeaderLen] }

// ID returns the identifier of an echo or other query message.
func (b ICMP) ID() uint16 { return binary.BigEndian.Uint16(b[icmpID:]) }

// Seq returns the sequence number of an echo or other query message.
func (b ICMP) Seq() uint16 { return binary.BigEndian.Uint16(b[icmpSeq:]) }

// MTU returns the next-hop MTU of a fragmentation-needed message (RFC 1191;
// zero from routers that predate it).
func (b ICMP) MTU() uint16 { return binary.BigEndian.Uint16(b[icmpMTU:]) }

// Pointer returns the octet offset a parameter problem points at.
func (b ICMP) Pointer() uint8 { return b[icmpPointer] }

// Gateway returns the gateway address of a redirect.
func (b ICMP) Gateway() netip.Addr { return netip.AddrFrom4([4]byte(b[icmpGateway:ICMPHeaderLen])) }

// Payload returns the bytes after the header: the echo data, or the quote
// of an error message.
func (b ICMP) Payload() []byte { return b[ICMPHeaderLen:] }

// SetType sets the message type.
func (b ICMP) SetType(t ICMPType) { b[icmpType] = byte(t) }

// SetCode sets the code.
func (b ICMP) SetCode(c uint8) { b[icmpCode] = c }

// SetChecksum sets the checksum field.
func (b ICMP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[icmpChecksum:], c) }

// SetID sets the identifier.
func (b ICMP) SetID(id uint16) { binary.BigEndian.PutUint16(b[icmpID:], id) }

// SetSeq sets the sequence number.
func (b ICMP) SetSeq(n uint16) { binary.BigEndian.PutUint16(b[icmpSeq:], n) }

// SetMTU sets the next-hop MTU.
func (b ICMP) SetMTU(mtu uint16) { binary.BigEndian.PutUint16(b[icmpMTU:], mtu) }

// SetPointer sets the parameter problem pointer.
func (b ICMP) SetPointer(p uint8) { b[icmpPointer] = p }

// SetGateway sets the redirect gateway; a is an IPv4 address.
func (b ICMP) SetGateway(a netip.Addr) { *(*[4]byte)(b[icmpGateway:]) = a.As4() }

// Validate checks that b holds a whole ICMP header; afterwards no accessor
// panics. The quote of an error message is not required to be complete (see
// ParseICMPQuote). The checksum is checked by ChecksumValid.
func (b ICMP) Validate() error { return l4Truncated("icmp", len(b), icmpFields[:]) }

// ChecksumValid reports whether the checksum verifies over the message.
func (b ICMP) ChecksumValid() bool { return Checksum(b, 0) == 0xffff }

// VerifyChecksum is ChecksumValid as an error: a *ParseError wrapping
// ErrChecksum that gives the value the field should hold.
func (b ICMP) VerifyChecksum() error {
	if b.ChecksumValid() {
		return nil
	}
	want := ^Checksum(b[icmpChecksum+2:], Checksum(b[:icmpChecksum], 0))
	return errorf(ErrChecksum, "icmp", "checksum", icmpChecksum, "0x%04x does not verify, expected 0x%04x", b.Checksum(), want)
}

// ICMPHeader is a parsed ICMPv4 message header. The rest-of-header fields
// meaningful for Type are decoded; the others are zero, and Marshal writes
// zero for bytes the type leaves unused.
type ICMPHeader struct {
	Type     ICMPType
	Code     uint8
	Checksum uint16 // Marshal sets it

	ID, Seq uint16     // echo and the other query messages
	MTU     uint16     // destination unreachable, code 4: next-hop MTU (RFC 1191)
	Pointer uint8      // parameter problem: offending octet
	Gateway netip.Addr // redirect: the better first hop
	// Rest is the raw rest of header of a type whose fields are not decoded
	// above (router advertisement, extended echo, unknown types).
	Rest [4]byte

	// Quote is an error message's data, the original datagram's IPv4 header
	// and first bytes (see ParseICMPQuote); Data is any other message's data.
	// Both alias the parsed buffer; Marshal does not write them, the data is
	// in place behind the header.
	Quote []byte
	Data  []byte
}

// ParseICMP validates b as an ICMP message and decodes its header. It does
// not verify the checksum (see ICMP.ChecksumValid) and allocates nothing;
// Quote and Data alias b.
func ParseICMP(b []byte) (ICMPHeader, error) {
	v := ICMP(b)
	if err := v.Validate(); err != nil {
		return ICMPHeader{}, err
	}
	h := ICMPHeader{Type: v.Type(), Code: v.Code(), Checksum: v.Checksum()}
	switch t := h.Type; {
	case t.hasIDSeq():
		h.ID, h.Seq = v.ID(), v.Seq()
	case t == ICMPDestinationUnreachable:
		if h.Code == ICMPFragmentationNeeded {
			h.MTU = v.MTU()
		}
	case t == ICMPParameterProblem:
		h.Pointer = v.Pointer()
	case t == ICMPRedirect:
		h.Gateway = v.Gateway()
	case t == ICMPTimeExceeded || t == ICMPSourceQuench:
	default:
		copy(h.Rest[:], v.Rest())
	}
	if h.Type.IsError() {
		h.Quote = v.Payload()
	} else {
		h.Data = v.Payload()
	}
	return h, nil
}

// HeaderLen returns the length of the header, 8.
func (h *ICMPHeader) HeaderLen() int { return ICMPHeaderLen }

// Marshal writes the header into the first 8 bytes of msg, whose data (echo
// payload or quote) is already in place behind them, and computes the
// checksum over the whole message, storing it in h.Checksum too.
func (h *ICMPHeader) Marshal(msg []byte) error {
	if len(msg) < ICMPHeaderLen {
		return errorf(ErrTruncated, "icmp", "rest of header", icmpRest, "buffer of %d bytes has no room for the %d-byte header", len(msg), ICMPHeaderLen)
	}
	if h.Type == ICMPRedirect && !l4Is4(h.Gateway) {
		return errorf(ErrMalformed, "icmp", "gateway", icmpGateway, "redirect gateway %v is not an IPv4 address", h.Gateway)
	}
	b := ICMP(msg)
	b.SetType(h.Type)
	b.SetCode(h.Code)
	b.SetChecksum(0)
	clear(b.Rest())
	switch t := h.Type; {
	case t.hasIDSeq():
		b.SetID(h.ID)
		b.SetSeq(h.Seq)
	case t == ICMPDestinationUnreachable:
		if h.Code == ICMPFragmentationNeeded {
			b.SetMTU(h.MTU)
		}
	case t == ICMPParameterProblem:
		b.SetPointer(h.Pointer)
	case t == ICMPRedirect:
		b.SetGateway(h.Gateway)
	case t == ICMPTimeExceeded || t == ICMPSourceQuench:
	default:
		copy(b.Rest(), h.Rest[:])
	}
	h.Checksum = ^Checksum(msg, 0)
	b.SetChecksum(h.Checksum)
	return nil
}

// Equal reports whether h and g hold the same header, Quote and Data
// compared by content.
func (h *ICMPHeader) Equal(g *ICMPHeader) bool {
	return h.Type == g.Type && h.Code == g.Code && h.Checksum == g.Checksum && h.ID == g.ID &&
		h.Seq == g.Seq && h.MTU == g.MTU && h.Pointer == g.Pointer && h.Gateway == g.Gateway &&
		h.Rest == g.Rest && string(h.Quote) == string(g.Quote) && string(h.Data) == string(g.Data)
}

// Quoted parses the datagram quoted by an error message (see ParseICMPQuote).
func (h *ICMPHeader) Quoted() ICMPQuote { return ParseICMPQuote(h.Quote) }

// String formats h as tcpdump does: "ICMP echo request, id 1, seq 2,
// length 64", "ICMP 192.168.2.20 udp port 9999 unreachable",
// "ICMP 10.0.0.9 unreachable - need to frag (mtu 1400)".
func (h *ICMPHeader) String() string {
	q := h.Quoted()
	length := ICMPHeaderLen + len(h.Quote) + len(h.Data)
	switch h.Type {
	case ICMPEchoRequest, ICMPEchoReply:
		return fmt.Sprintf("ICMP %s, id %d, seq %d, length %d", h.Type, h.ID, h.Seq, length)
	case ICMPDestinationUnreachable:
		dst := "?"
		if q.HasAddrs {
			dst = q.Dst.String()
		}
		switch h.Code {
		case ICMPNetUnreachable:
			return "ICMP net " + dst + " unreachable"
		case ICMPHostUnreachable:
			return "ICMP host " + dst + " unreachable"
		case ICMPProtocolUnreachable:
			return fmt.Sprintf("ICMP %s protocol %d unreachable", dst, uint8(q.Protocol))
		case ICMPPortUnreachable:
			if q.HasPorts {
				proto := "udp"
				if q.Protocol == ProtoTCP {
					proto = "tcp"
				}
				return fmt.Sprintf("ICMP %s %s port %d unreachable", dst, proto, q.DstPort)
			}
			return fmt.Sprintf("ICMP %s port unreachable", dst)
		case ICMPFragmentationNeeded:
			return fmt.Sprintf("ICMP %s unreachable - need to frag (mtu %d)", dst, h.MTU)
		}
		return fmt.Sprintf("ICMP %s unreachable - code %d", dst, h.Code)
	case ICMPTimeExceeded:
		if h.Code == ICMPTTLExceeded {
			return "ICMP time exceeded in-transit"
		}
		if h.Code == ICMPReassemblyExceeded {
			return "ICMP ip reassembly time exceeded"
		}
	case ICMPRedirect:
		dst := "?"
		if q.HasAddrs {
			dst = q.Dst.String()
		}
		return fmt.Sprintf("ICMP redirect %s to host %s", dst, h.Gateway)
	case ICMPParameterProblem:
		return fmt.Sprintf("ICMP parameter problem - octet %d", h.Pointer)
	}
	return fmt.Sprintf("ICMP %s, code %d, length %d", h.Type, h.Code, length)
}

// ICMPQuote is what can be read of the datagram quoted in an ICMP error: the
// original IPv4 header's addresses and protocol and, for TCP and UDP, the
// ports (and the TCP sequence number). Fields are valid only when their Has
// flag is set: a quote may be truncated.
type ICMPQuote struct {
	HasAddrs  bool // a version-4 header with a sane IHL, and its addresses, are present
	Src, Dst  netip.Addr
	Protocol  IPProtocol
	ID        uint16 // IPv4 identification
	HeaderLen int    // the quoted IPv4 header's length in bytes

	HasPorts         bool // the protocol is TCP or UDP and its ports are present
	SrcPort, DstPort uint16
	HasSeq           bool   // the protocol is TCP and its sequence number is present
	Seq              uint32 // for RFC 5927 checks
}

// Offsets in the quoted IPv4 header (RFC 791 §3.1); read here directly so
// that ICMP does not depend on the IPv4 view.
const (
	icmpQuoteVersionIHL = 0
	icmpQuoteID         = 4
	icmpQuoteProtocol   = 9
	icmpQuoteSrc        = 12
	icmpQuoteDst        = 16
	icmpQuoteMinIHL     = 20
)

// ParseICMPQuote reads what it can of a quoted datagram, leniently: it never
// fails, it reports what is present through the Has flags.
func ParseICMPQuote(q []byte) ICMPQuote {
	var r ICMPQuote
	if len(q) < icmpQuoteMinIHL || q[icmpQuoteVersionIHL]>>4 != 4 {
		return r
	}
	ihl := int(q[icmpQuoteVersionIHL]&0x0f) * 4
	if ihl < icmpQuoteMinIHL {
		return r
	}
	r.HasAddrs = true
	r.HeaderLen = ihl
	r.ID = binary.BigEndian.Uint16(q[icmpQuoteID:])
	r.Protocol = IPProtocol(q[icmpQuoteProtocol])
	r.Src = netip.AddrFrom4([4]byte(q[icmpQuoteSrc : icmpQuoteSrc+4]))
	r.Dst = netip.AddrFrom4([4]byte(q[icmpQuoteDst : icmpQuoteDst+4]))
	if r.Protocol != ProtoTCP && r.Protocol != ProtoUDP {
		return r
	}
	l4 := q[min(ihl, len(q)):]
	if len(l4) >= 4 {
		r.HasPorts = true
		r.SrcPort = binary.BigEndian.Uint16(l4)
		r.DstPort = binary.BigEndian.Uint16(l4[2:])
	}
	if r.Protocol == ProtoTCP && len(l4) >= 8 {
		r.HasSeq = true
		r.Seq = binary.BigEndian.Uint32(l4[4:])
	}
	return r
}
