package wire

// IGMP version 2, RFC 2236 §2 (version 1 reports, RFC 1112 appendix I, share
// the format).
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Type     | Max Resp Time |           Checksum            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Group Address                         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Max Resp Time is meaningful in queries only, in units of 1/10 second; a
// query with 0 there comes from an IGMPv1 router. The checksum covers the
// whole IGMP message (the whole IP payload: RFC 2236 §2.3). A message longer
// than 8 bytes is valid; an IGMPv2 host reads the first 8 (§2.5), which is
// how it treats an IGMPv3 query (RFC 3376 §7.1). The Group Address is zero in
// a General Query and the group in every other message.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// IGMPHeaderLen is the length of an IGMPv2 message.
const IGMPHeaderLen = 8

// Field offsets in an IGMP message.
const (
	igmpType     = 0
	igmpMaxResp  = 1
	igmpChecksum = 2
	igmpGroup    = 4
)

var igmpFields = [...]l4Field{
	{"type", igmpType, 1},
	{"max resp time", igmpMaxResp, 1},
	{"checksum", igmpChecksum, 2},
	{"group address", igmpGroup, 4},
}

// IGMPType is the type of an IGMP message.
type IGMPType uint8

// IGMP message types (RFC 2236 §2.1, RFC 3376 §4).
const (
	IGMPMembershipQuery    IGMPType = 0x11 // general or group-specific query
	IGMPv1MembershipReport IGMPType = 0x12 // RFC 1112
	IGMPv2MembershipReport IGMPType = 0x16 // RFC 2236
	IGMPLeaveGroup         IGMPType = 0x17 // RFC 2236
	IGMPv3MembershipReport IGMPType = 0x22 // RFC 3376, named for traces only
)

// String names the type as RFC 2236 does.
func (t IGMPType) String() string {
	switch t {
	case IGMPMembershipQuery:
		return "membership query"
	case IGMPv1MembershipReport:
		return "v1 membership report"
	case IGMPv2MembershipReport:
		return "v2 membership report"
	case IGMPLeaveGroup:
		return "leave group"
	case IGMPv3MembershipReport:
		return "v3 membership report"
	}
	return fmt.Sprintf("type 0x%02x", uint8(t))
}

// IGMP is a view of an IGMP message over its bytes. Call Validate (or
// ParseIGMP) before using the accessors on untrusted bytes.
type IGMP []byte

// Type returns the message type.
func (b IGMP) Type() IGMPType { return IGMPType(b[igmpType]) }

// MaxRespTime returns the Max Resp Time field, in units of 1/10 second.
func (b IGMP) MaxRespTime() uint8 { return b[igmpMaxResp] }

// MaxResp returns the Max Resp Time as a duration.
func (b IGMP) MaxResp() time.Duration { return IGMPMaxResp(b[igmpMaxResp]) }

// Checksum returns the checksum field.
func (b IGMP) Checksum() uint16 { return binary.BigEndian.Uint16(b[igmpChecksum:]) }

// Group returns the group address (zero in a general query).
func (b IGMP) Group() netip.Addr { return netip.AddrFrom4([4]byte(b[igmpGroup : igmpGroup+4])) }

// SetType sets the message type.
func (b IGMP) SetType(t IGMPType) { b[igmpType] = uint8(t) }

// SetMaxRespTime sets the Max Resp Time field, in units of 1/10 second.
func (b IGMP) SetMaxRespTime(v uint8) { b[igmpMaxResp] = v }

// SetChecksum sets the checksum field.
func (b IGMP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[igmpChecksum:], c) }

// SetGroup sets the group address.
func (b IGMP) SetGroup(a netip.Addr) { put4(b[igmpGroup:igmpGroup+4], a) }

// Validate checks that b holds a whole IGMPv2 message; afterwards no
// accessor panics. Bytes after the first 8 are allowed (RFC 2236 §2.5).
func (b IGMP) Validate() error { return l4Truncated("igmp", len(b), igmpFields[:]) }

// ChecksumValid reports whether the checksum verifies over the whole message.
func (b IGMP) ChecksumValid() bool { return Checksum(b, 0) == 0xffff }

// VerifyChecksum is ChecksumValid as an error: a *ParseError wrapping
// ErrChecksum that gives the value the field should hold.
func (b IGMP) VerifyChecksum() error {
	if b.ChecksumValid() {
		return nil
	}
	want := ^Checksum(b[igmpGroup:], Checksum(b[:igmpChecksum], 0))
	return errorf(ErrChecksum, "igmp", "checksum", igmpChecksum, "0x%04x does not verify, expected 0x%04x", b.Checksum(), want)
}

// IGMPMaxResp converts a Max Resp Time field of IGMPv2 (tenths of a second)
// to a duration.
func IGMPMaxResp(v uint8) time.Duration { return time.Duration(v) * 100 * time.Millisecond }

// IGMPHeader is a parsed IGMPv2 message.
type IGMPHeader struct {
	Type        IGMPType
	MaxRespTime uint8      // tenths of a second; queries only
	Checksum    uint16     // as received; Marshal sets it
	Group       netip.Addr // the group; 0.0.0.0 in a general query
}

// ParseIGMP validates b as an IGMP message and decodes its first 8 bytes. It
// does not verify the checksum (see IGMP.ChecksumValid) and allocates nothing.
func ParseIGMP(b []byte) (IGMPHeader, error) {
	v := IGMP(b)
	if err := v.Validate(); err != nil {
		return IGMPHeader{}, err
	}
	return IGMPHeader{Type: v.Type(), MaxRespTime: v.MaxRespTime(), Checksum: v.Checksum(), Group: v.Group()}, nil
}

// HeaderLen returns the length of an IGMPv2 message, 8.
func (h *IGMPHeader) HeaderLen() int { return IGMPHeaderLen }

// MaxResp returns the Max Resp Time as a duration.
func (h *IGMPHeader) MaxResp() time.Duration { return IGMPMaxResp(h.MaxRespTime) }

// Marshal writes the message into the first 8 bytes of msg and computes the
// checksum over all of msg (bytes after the 8 are kept and covered), storing
// it in h too.
func (h *IGMPHeader) Marshal(msg []byte) error {
	if len(msg) < IGMPHeaderLen {
		return errorf(ErrTruncated, "igmp", "group address", igmpGroup, "buffer of %d bytes has no room for the %d-byte message", len(msg), IGMPHeaderLen)
	}
	if !h.Group.Is4() {
		return errorf(ErrMalformed, "igmp", "group address", igmpGroup, "%v is not an IPv4 address", h.Group)
	}
	b := IGMP(msg)
	b.SetType(h.Type)
	b.SetMaxRespTime(h.MaxRespTime)
	b.SetGroup(h.Group)
	b.SetChecksum(0)
	h.Checksum = ^Checksum(msg, 0)
	b.SetChecksum(h.Checksum)
	return nil
}

// String formats h like tcpdump: "IGMP query v2 [max resp time 10.0s]",
// "IGMP query v2 [max resp time 1.0s] [gaddr 239.1.2.3]",
// "IGMP v2 report 239.1.2.3", "IGMP leave 239.1.2.3".
func (h *IGMPHeader) String() string {
	switch h.Type {
	case IGMPMembershipQuery:
		s := "IGMP query v1"
		if h.MaxRespTime != 0 {
			s = fmt.Sprintf("IGMP query v2 [max resp time %.1fs]", h.MaxResp().Seconds())
		}
		if h.Group.IsValid() && !h.Group.IsUnspecified() {
			s += " [gaddr " + h.Group.String() + "]"
		}
		return s
	case IGMPv1MembershipReport:
		return "IGMP v1 report " + h.Group.String()
	case IGMPv2MembershipReport:
		return "IGMP v2 report " + h.Group.String()
	case IGMPLeaveGroup:
		return "IGMP leave " + h.Group.String()
	case IGMPv3MembershipReport:
		return "IGMP v3 report"
	}
	return fmt.Sprintf("IGMP %s", h.Type)
}
