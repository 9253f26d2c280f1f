package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// IPv4 options (RFC 791 §3.1, Router Alert RFC 2113 §2.1).
//
// An option is either a single type byte (End of Option List, No Operation)
// or a type byte, a length byte counting the whole option, and data:
//
//	+--------+--------+--------+---------//--------+
//	|  type  | length |  data (length - 2 bytes)   |
//	+--------+--------+--------+---------//--------+
//
// The type byte is itself three fields:
//
//	  0   1 2   3 4 5 6 7
//	+---+-----+---------+
//	| C |class|  number |   C: copied into every fragment
//	+---+-----+---------+
//
// The options tipy knows, with the data they carry after type and length:
//
//	Record Route (7), Loose (131) and Strict (137) Source Route:
//	+--------+--------+--------+--------//--------+
//	|  type  | length | pointer|  route data      |  pointer >= 4, 4+4k;
//	+--------+--------+--------+--------//--------+  data: 4-byte addresses
//
//	Timestamp (68):
//	+--------+--------+--------+--------+
//	|  68    | length | pointer|oflw|flg|   pointer >= 5; flg 0: timestamps,
//	+--------+--------+--------+--------+   1: address + timestamp,
//	|   [internet address]              |   3: prespecified addresses;
//	+-----------------------------------+   oflw: hosts that found no room
//	|   timestamp (ms since midnight UT)|
//	+-----------------------------------+
//
//	Router Alert (148): length 4, a 2-byte value (0: examine the packet).
//
// The options end with the header or with an End of Option List byte; what
// follows it up to the end of the header is padding, zero when canonical.
const (
	ipv4OptType = 0 // offsets within one option
	ipv4OptLen  = 1
	ipv4OptPtr  = 2
	ipv4OptFlg  = 3
)

// IPv4 option types.
const (
	IPv4OptEOL         uint8 = 0   // End of Option List
	IPv4OptNOP         uint8 = 1   // No Operation (alignment)
	IPv4OptRecordRoute uint8 = 7   // Record Route
	IPv4OptTimestamp   uint8 = 68  // Internet Timestamp
	IPv4OptLSRR        uint8 = 131 // Loose Source and Record Route
	IPv4OptSSRR        uint8 = 137 // Strict Source and Record Route
	IPv4OptRouterAlert uint8 = 148 // Router Alert (RFC 2113)
)

// IPv4TimestampFlag is the flag nibble of a Timestamp option.
type IPv4TimestampFlag uint8

// Timestamp option flags (RFC 791 §3.1).
const (
	IPv4TSOnly         IPv4TimestampFlag = 0 // timestamps only
	IPv4TSAndAddr      IPv4TimestampFlag = 1 // each host records its address and a timestamp
	IPv4TSPrespecified IPv4TimestampFlag = 3 // only the listed addresses record a timestamp
)

// String returns "tsonly", "tsandaddr", "prespec" or "flag-N".
func (f IPv4TimestampFlag) String() string {
	switch f {
	case IPv4TSOnly:
		return "tsonly"
	case IPv4TSAndAddr:
		return "tsandaddr"
	case IPv4TSPrespecified:
		return "prespec"
	}
	return fmt.Sprintf("flag-%d", uint8(f))
}

// IPv4Option is one IPv4 option: its type byte and the data after the type
// and length bytes (the length byte is not stored: it is len(Data)+2).
// No Operation has no data. An End of Option List ends the list; its Data
// holds the header bytes that follow it. Parsing keeps an EOL only when those
// bytes are not the canonical padding (zeros, fewer than 4 bytes in all), so
// that marshalling gives back the same header. An EOL without Data takes no
// room of its own when marshalled: the zero padding ends the list. Options
// of unknown type are kept as they are, opaque.
type IPv4Option struct {
	Type uint8
	Data []byte
}

// Copied reports whether the option is copied into every fragment (the high
// bit of the type); the others go in the first fragment only.
func (o IPv4Option) Copied() bool { return o.Type&0x80 != 0 }

// Class returns the option class: 0 control, 2 debugging and measurement.
func (o IPv4Option) Class() uint8 { return o.Type >> 5 & 3 }

// Number returns the option number, the low 5 bits of the type.
func (o IPv4Option) Number() uint8 { return o.Type & 0x1f }

// Len returns the number of bytes the option takes in a header (0 for an EOL
// without Data, which the padding supplies).
func (o IPv4Option) Len() int {
	switch o.Type {
	case IPv4OptEOL:
		if len(o.Data) == 0 {
			return 0
		}
		return 1 + len(o.Data)
	case IPv4OptNOP:
		return 1
	}
	return 2 + len(o.Data)
}

// Name returns the RFC name of the option type, or "type N".
func (o IPv4Option) Name() string {
	switch o.Type {
	case IPv4OptEOL:
		return "End of Option List"
	case IPv4OptNOP:
		return "No Operation"
	case IPv4OptRecordRoute:
		return "Record Route"
	case IPv4OptTimestamp:
		return "Timestamp"
	case IPv4OptLSRR:
		return "Loose Source Route"
	case IPv4OptSSRR:
		return "Strict Source Route"
	case IPv4OptRouterAlert:
		return "Router Alert"
	}
	return fmt.Sprintf("type %d", o.Type)
}

func (o IPv4Option) field() string { return "option " + o.Name() }

// Route decodes a Record Route, Loose or Strict Source Route option: the
// pointer (1-based offset in the option of the next slot) and the addresses
// of every slot. Slots before the pointer hold recorded (or, for a source
// route, visited) addresses. Errors carry offsets relative to the option.
func (o IPv4Option) Route() (ptr uint8, addrs []netip.Addr, err error) {
	switch o.Type {
	case IPv4OptRecordRoute, IPv4OptLSRR, IPv4OptSSRR:
	default:
		return 0, nil, errorf(ErrMalformed, "ipv4", o.field(), ipv4OptType, "not a route option")
	}
	if err := checkIPv4Option(o, 0); err != nil {
		return 0, nil, err
	}
	addrs = make([]netip.Addr, (len(o.Data)-1)/4)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte(o.Data[1+4*i : 5+4*i]))
	}
	return o.Data[0], addrs, nil
}

// IPv4Timestamp is a decoded Timestamp option.
type IPv4Timestamp struct {
	Pointer  uint8             // 1-based offset in the option of the next free entry
	Overflow uint8             // hosts that could not record a timestamp for lack of room
	Flag     IPv4TimestampFlag // what each entry holds
	Entries  []IPv4TimestampEntry
}

// IPv4TimestampEntry is one slot of a Timestamp option. Addr is the zero
// Addr when the flag is IPv4TSOnly.
type IPv4TimestampEntry struct {
	Addr netip.Addr
	Time uint32 // milliseconds since midnight UT, or any value with the high bit set
}

// Recorded returns the entries before the pointer: those filled in.
func (t IPv4Timestamp) Recorded() []IPv4TimestampEntry {
	size := 4
	if t.Flag != IPv4TSOnly {
		size = 8
	}
	n := (int(t.Pointer) - 5) / size
	return t.Entries[:max(0, min(n, len(t.Entries)))]
}

// Timestamp decodes a Timestamp option. Errors carry offsets relative to the
// option.
func (o IPv4Option) Timestamp() (IPv4Timestamp, error) {
	if o.Type != IPv4OptTimestamp {
		return IPv4Timestamp{}, errorf(ErrMalformed, "ipv4", o.field(), ipv4OptType, "not a Timestamp option")
	}
	if err := checkIPv4Option(o, 0); err != nil {
		return IPv4Timestamp{}, err
	}
	t := IPv4Timestamp{Pointer: o.Data[0], Overflow: o.Data[1] >> 4, Flag: IPv4TimestampFlag(o.Data[1] & 0x0f)}
	d := o.Data[2:]
	if t.Flag == IPv4TSOnly {
		t.Entries = make([]IPv4TimestampEntry, len(d)/4)
		for i := range t.Entries {
			t.Entries[i].Time = binary.BigEndian.Uint32(d[4*i:])
		}
		return t, nil
	}
	t.Entries = make([]IPv4TimestampEntry, len(d)/8)
	for i := range t.Entries {
		t.Entries[i].Addr = netip.AddrFrom4([4]byte(d[8*i : 8*i+4]))
		t.Entries[i].Time = binary.BigEndian.Uint32(d[8*i+4:])
	}
	return t, nil
}

// RouterAlert decodes a Router Alert option's value (0: routers shall
// examine the packet).
func (o IPv4Option) RouterAlert() (uint16, error) {
	if o.Type != IPv4OptRouterAlert {
		return 0, errorf(ErrMalformed, "ipv4", o.field(), ipv4OptType, "not a Router Alert option")
	}
	if err := checkIPv4Option(o, 0); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(o.Data), nil
}

// String formats the option: "NOP", "RR ptr 8 [10.0.0.1 0.0.0.0]",
// "LSRR ptr 4 [...]", "TS tsonly ptr 9 oflw 0 [1000 0]",
// "TS tsandaddr ptr 13 oflw 0 [10.0.0.1@1000 0.0.0.0@0]", "RA 0",
// "EOL pad 3", and "opt-130 len 4 [0102]" for others.
func (o IPv4Option) String() string {
	switch o.Type {
	case IPv4OptEOL:
		if len(o.Data) > 0 {
			return fmt.Sprintf("EOL pad %d", len(o.Data))
		}
		return "EOL"
	case IPv4OptNOP:
		if len(o.Data) == 0 {
			return "NOP"
		}
	case IPv4OptRecordRoute, IPv4OptLSRR, IPv4OptSSRR:
		if ptr, addrs, err := o.Route(); err == nil {
			name := map[uint8]string{IPv4OptRecordRoute: "RR", IPv4OptLSRR: "LSRR", IPv4OptSSRR: "SSRR"}[o.Type]
			var s strings.Builder
			fmt.Fprintf(&s, "%s ptr %d [", name, ptr)
			for i, a := range addrs {
				if i > 0 {
					s.WriteByte(' ')
				}
				s.WriteString(a.String())
			}
			s.WriteByte(']')
			return s.String()
		}
	case IPv4OptTimestamp:
		if t, err := o.Timestamp(); err == nil {
			var s strings.Builder
			fmt.Fprintf(&s, "TS %v ptr %d oflw %d [", t.Flag, t.Pointer, t.Overflow)
			for i, e := range t.Entries {
				if i > 0 {
					s.WriteByte(' ')
				}
				if e.Addr.IsValid() {
					fmt.Fprintf(&s, "%v@%d", e.Addr, e.Time)
				} else {
					fmt.Fprintf(&s, "%d", e.Time)
				}
			}
			s.WriteByte(']')
			return s.String()
		}
	case IPv4OptRouterAlert:
		if v, err := o.RouterAlert(); err == nil {
			return fmt.Sprintf("RA %d", v)
		}
	}
	return fmt.Sprintf("opt-%d len %d [%x]", o.Type, len(o.Data)+2, o.Data)
}

// EOLOption returns an End of Option List. Marshal pads with EOL bytes by
// itself; an explicit one is needed only to end the list early.
func EOLOption() IPv4Option { return IPv4Option{Type: IPv4OptEOL} }

// NOPOption returns a No Operation, used to align the next option.
func NOPOption() IPv4Option { return IPv4Option{Type: IPv4OptNOP} }

// RecordRouteOption returns an empty Record Route option with room for slots
// addresses (at most 9 fit in a header; Marshal rejects more).
func RecordRouteOption(slots int) IPv4Option {
	d := make([]byte, 1+4*max(slots, 0))
	d[0] = 4
	return IPv4Option{Type: IPv4OptRecordRoute, Data: d}
}

// LSRROption returns a Loose Source and Record Route option through route
// (at most 9 IPv4 addresses), pointer at the first.
func LSRROption(route ...netip.Addr) (IPv4Option, error) {
	return sourceRouteOption(IPv4OptLSRR, route)
}

// SSRROption returns a Strict Source and Record Route option through route
// (at most 9 IPv4 addresses), pointer at the first.
func SSRROption(route ...netip.Addr) (IPv4Option, error) {
	return sourceRouteOption(IPv4OptSSRR, route)
}

func sourceRouteOption(t uint8, route []netip.Addr) (IPv4Option, error) {
	o := IPv4Option{Type: t}
	if len(route) > 9 {
		return o, errorf(ErrMalformed, "ipv4", o.field(), ipv4OptLen, "%d addresses, at most 9 fit", len(route))
	}
	o.Data = make([]byte, 1+4*len(route))
	o.Data[0] = 4
	for i, a := range route {
		if !l3Is4(a) {
			return IPv4Option{Type: t}, errorf(ErrMalformed, "ipv4", o.field(), 3+4*i, "%v is not an IPv4 address", a)
		}
		put4(o.Data[1+4*i:], a)
	}
	return o, nil
}

// TimestampOption returns an empty Timestamp option with room for slots
// entries of the kind flag says (at most 9 timestamps or 4 address and
// timestamp pairs fit; Marshal rejects more).
func TimestampOption(flag IPv4TimestampFlag, slots int) IPv4Option {
	size := 4
	if flag != IPv4TSOnly {
		size = 8
	}
	d := make([]byte, 2+size*max(slots, 0))
	d[0] = 5
	d[1] = uint8(flag) & 0x0f
	return IPv4Option{Type: IPv4OptTimestamp, Data: d}
}

// TimestampPrespecifiedOption returns a Timestamp option asking the hosts
// addrs (at most 4 IPv4 addresses) to record a timestamp.
func TimestampPrespecifiedOption(addrs ...netip.Addr) (IPv4Option, error) {
	o := TimestampOption(IPv4TSPrespecified, len(addrs))
	if len(addrs) > 4 {
		return IPv4Option{Type: IPv4OptTimestamp}, errorf(ErrMalformed, "ipv4", o.field(), ipv4OptLen,
			"%d addresses, at most 4 fit", len(addrs))
	}
	for i, a := range addrs {
		if !l3Is4(a) {
			return IPv4Option{Type: IPv4OptTimestamp}, errorf(ErrMalformed, "ipv4", o.field(), 4+8*i,
				"%v is not an IPv4 address", a)
		}
		put4(o.Data[2+8*i:], a)
	}
	return o, nil
}

// RouterAlertOption returns a Router Alert option with value (0: routers
// shall examine the packet).
func RouterAlertOption(value uint16) IPv4Option {
	return IPv4Option{Type: IPv4OptRouterAlert, Data: binary.BigEndian.AppendUint16(nil, value)}
}

// checkIPv4Option checks the data of one option with a length byte; base is
// the offset of the option in the header, for the error.
func checkIPv4Option(o IPv4Option, base int) error {
	d := o.Data
	length := len(d) + 2
	switch o.Type {
	case IPv4OptRecordRoute, IPv4OptLSRR, IPv4OptSSRR:
		if len(d) < 1 {
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"length %d leaves no room for the pointer (minimum 3)", length)
		}
		if (len(d)-1)%4 != 0 {
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"length %d is not 3 plus a whole number of 4-byte addresses", length)
		}
		p := int(d[0])
		switch {
		case p < 4:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptPtr, "pointer %d is below the minimum of 4", p)
		case p%4 != 0:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptPtr,
				"pointer %d is not at the start of an address (4, 8, 12, ...)", p)
		case p > length+1:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptPtr,
				"pointer %d is past the end of the %d-byte option", p, length)
		}
	case IPv4OptTimestamp:
		if len(d) < 2 {
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"length %d leaves no room for pointer and flags (minimum 4)", length)
		}
		p, flag := int(d[0]), IPv4TimestampFlag(d[1]&0x0f)
		size := 8
		switch flag {
		case IPv4TSOnly:
			size = 4
		case IPv4TSAndAddr, IPv4TSPrespecified:
		default:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptFlg,
				"flag %d is not 0 (timestamps), 1 (address and timestamp) or 3 (prespecified)", flag)
		}
		switch {
		case (len(d)-2)%size != 0:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"length %d is not 4 plus a whole number of %d-byte entries", length, size)
		case p < 5:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptPtr, "pointer %d is below the minimum of 5", p)
		case (p-5)%size != 0:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptPtr,
				"pointer %d is not at the start of a %d-byte entry", p, size)
		case p > length+1:
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptPtr,
				"pointer %d is past the end of the %d-byte option", p, length)
		}
	case IPv4OptRouterAlert:
		if len(d) != 2 {
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"length %d, Router Alert has length 4", length)
		}
	}
	return nil
}

// ipv4OptionOnce rejects a second Record Route or source route option: RFC
// 791 allows each at most once in a datagram, and one datagram follows at
// most one source route. seen collects the kinds met so far.
func ipv4OptionOnce(seen *uint8, o IPv4Option, base int) error {
	var bit uint8
	switch o.Type {
	case IPv4OptRecordRoute:
		bit = 1
	case IPv4OptLSRR, IPv4OptSSRR:
		bit = 2
	default:
		return nil
	}
	if *seen&bit != 0 {
		return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptType,
			"appears twice: a datagram carries at most one %s", map[uint8]string{1: "Record Route", 2: "source route"}[bit])
	}
	*seen |= bit
	return nil
}

// checkIPv4Options checks the raw option bytes of a header.
func checkIPv4Options(opts []byte) error {
	var seen uint8
	for i := 0; i < len(opts); {
		t := opts[i]
		base := ipv4Options + i
		switch t {
		case IPv4OptEOL:
			return nil
		case IPv4OptNOP:
			i++
			continue
		}
		o := IPv4Option{Type: t}
		if i+1 >= len(opts) {
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"the length byte would be past the end of the options")
		}
		l := int(opts[i+1])
		if l < 2 {
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"length %d is below the minimum of 2", l)
		}
		if i+l > len(opts) {
			return errorf(ErrMalformed, "ipv4", o.field(), base+ipv4OptLen,
				"length %d runs %d bytes past the end of the options", l, i+l-len(opts))
		}
		o.Data = opts[i+2 : i+l]
		if err := checkIPv4Option(o, base); err != nil {
			return err
		}
		if err := ipv4OptionOnce(&seen, o, base); err != nil {
			return err
		}
		i += l
	}
	return nil
}

// checkIPv4OptionList checks options about to be marshalled, with the same
// rules as checkIPv4Options plus: EOL comes last, NOP has no data.
func checkIPv4OptionList(list []IPv4Option) error {
	var seen uint8
	base := ipv4Options
	for k, o := range list {
		switch o.Type {
		case IPv4OptEOL:
			if k != len(list)-1 {
				return errorf(ErrMalformed, "ipv4", o.field(), base, "must be the last option")
			}
		case IPv4OptNOP:
			if len(o.Data) != 0 {
				return errorf(ErrMalformed, "ipv4", o.field(), base, "No Operation carries no data, got %d bytes", len(o.Data))
			}
		default:
			if err := checkIPv4Option(o, base); err != nil {
				return err
			}
			if err := ipv4OptionOnce(&seen, o, base); err != nil {
				return err
			}
		}
		base += o.Len()
	}
	return nil
}
