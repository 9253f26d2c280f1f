package stack

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/tipy/tipy/stack/wire"
)

// Building the events of the data path cheaply. While someone listens,
// every segment makes about nine events (the frame out and in, the route,
// the datagram out and in, the segment out and in, timers, samples). Built
// with fmt and a fresh string for every address, flag set and header, each
// cost two microseconds and some twenty allocations, which a live view of a
// fast transfer paid tens of thousands of times a second. The helpers here
// write the same words into a scratch buffer of the stack and keep the
// boxed strings that recur (addresses, flag sets, timer names, durations),
// so that an event costs its own strings, its Fields map and the numbers
// boxed in it. What the events say is unchanged, byte for byte:
// TestScriptedEventsUnchanged compares a scripted run's events with those
// of the builders before, and event_build_test.go compares the formatters
// with the String methods of package wire, which remain the reference (and
// the fallback for anything unusual: options, odd addresses, bad headers).

// eventScratch is the stack's state for building events. Like the rest of
// the stack it belongs to the loop.
type eventScratch struct {
	buf   []byte                   // scratch for summaries
	addrs map[netip.Addr]any       // address → its String, boxed
	ports map[netip.AddrPort]any   // address and port → its String, boxed
	strs  map[string]any           // recurring strings (timer names, phases), boxed
	durs  map[time.Duration]string // duration → its String
	flags [256]any                 // TCP flag set → its String, boxed
	route routeMemo                // the last route decision's words
}

// maxMemo bounds each memo map; a full one starts afresh.
const maxMemo = 256

// boxAddr returns a.String() as an interface value, made once per address.
func (s *Stack) boxAddr(a netip.Addr) any {
	m := s.ev.addrs
	if v, ok := m[a]; ok {
		return v
	}
	if m == nil || len(m) >= maxMemo {
		m = make(map[netip.Addr]any)
		s.ev.addrs = m
	}
	v := any(a.String())
	m[a] = v
	return v
}

// boxAddrPort returns ap.String() as an interface value, made once per
// address and port.
func (s *Stack) boxAddrPort(ap netip.AddrPort) any {
	m := s.ev.ports
	if v, ok := m[ap]; ok {
		return v
	}
	if m == nil || len(m) >= maxMemo {
		m = make(map[netip.AddrPort]any)
		s.ev.ports = m
	}
	v := any(ap.String())
	m[ap] = v
	return v
}

// boxString returns str as an interface value, made once per string: for
// the few strings that recur in fields (timer names, congestion control
// names and phases).
func (s *Stack) boxString(str string) any {
	m := s.ev.strs
	if v, ok := m[str]; ok {
		return v
	}
	if m == nil || len(m) >= maxMemo {
		m = make(map[string]any)
		s.ev.strs = m
	}
	v := any(str)
	m[str] = v
	return v
}

// boxFlags returns f.String() as an interface value, made once per set.
func (s *Stack) boxFlags(f wire.TCPFlags) any {
	if v := s.ev.flags[f]; v != nil {
		return v
	}
	v := any(f.String())
	s.ev.flags[f] = v
	return v
}

// durString returns d.String(), made once per duration.
func (s *Stack) durString(d time.Duration) string {
	m := s.ev.durs
	if v, ok := m[d]; ok {
		return v
	}
	if m == nil || len(m) >= maxMemo {
		m = make(map[time.Duration]string)
		s.ev.durs = m
	}
	v := d.String()
	m[d] = v
	return v
}

// summary returns the scratch buffer's bytes as a string and keeps the
// buffer for the next event.
func (s *Stack) summary(b []byte) string {
	s.ev.buf = b[:0]
	return string(b)
}

const hexDigits = "0123456789abcdef"

// appendMAC appends m as wire.MAC.String does: "02:00:00:00:00:07".
func appendMAC(b []byte, m wire.MAC) []byte {
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	return b
}

// appendEthernetHeader appends h as wire.EthernetHeader.String does:
// "02:00:00:00:00:07 > 02:00:00:00:00:14, ethertype IPv4 (0x0800)".
func appendEthernetHeader(b []byte, h wire.EthernetHeader) []byte {
	b = appendMAC(b, h.Src)
	b = append(b, " > "...)
	b = appendMAC(b, h.Dst)
	b = append(b, ", ethertype "...)
	switch h.Type {
	case wire.EtherTypeIPv4, wire.EtherTypeARP, wire.EtherTypeVLAN, wire.EtherTypeIPv6:
		b = append(b, h.Type.String()...)
	default:
		b = append(b, "Unknown"...)
	}
	t := uint16(h.Type)
	b = append(b, " (0x"...)
	return append(b, hexDigits[t>>12], hexDigits[t>>8&0xf], hexDigits[t>>4&0xf], hexDigits[t&0xf], ')')
}

// appendIPv4Header appends h as wire.IPv4Header.String does: "IP 10.0.9.1 >
// 10.0.9.2: proto TCP (6), ttl 64, id 7, flags [DF], length 1500". A
// header with options or with addresses that are not plain IPv4 is left
// to String.
func appendIPv4Header(b []byte, h *wire.IPv4Header) []byte {
	if len(h.Options) > 0 || !h.Src.Is4() || !h.Dst.Is4() {
		return append(b, h.String()...)
	}
	b = append(b, "IP "...)
	b = h.Src.AppendTo(b)
	b = append(b, " > "...)
	b = h.Dst.AppendTo(b)
	b = append(b, ": proto "...)
	switch h.Protocol {
	case wire.ProtoICMP, wire.ProtoIGMP, wire.ProtoTCP, wire.ProtoUDP:
		b = append(b, h.Protocol.String()...)
	default:
		b = append(b, "unknown"...)
	}
	b = append(b, " ("...)
	b = strconv.AppendUint(b, uint64(h.Protocol), 10)
	b = append(b, ')')
	if h.TOS != 0 {
		b = append(b, ", tos 0x"...)
		b = strconv.AppendUint(b, uint64(h.TOS), 16)
	}
	b = append(b, ", ttl "...)
	b = strconv.AppendUint(b, uint64(h.TTL), 10)
	b = append(b, ", id "...)
	b = strconv.AppendUint(b, uint64(h.ID), 10)
	if h.IsFragment() {
		b = append(b, ", offset "...)
		b = strconv.AppendInt(b, int64(h.FragOff), 10)
	}
	if h.Flags != 0 {
		b = append(b, ", flags ["...)
		b = append(b, h.Flags.String()...)
		b = append(b, ']')
	}
	b = append(b, ", length "...)
	return strconv.AppendUint(b, uint64(h.TotalLen), 10)
}

// appendTCPFlags appends f as wire.TCPFlags.String does: "[S.]", "[none]".
func appendTCPFlags(b []byte, f wire.TCPFlags) []byte {
	if f == 0 {
		return append(b, "[none]"...)
	}
	b = append(b, '[')
	for _, x := range [...]struct {
		bit wire.TCPFlags
		c   byte
	}{{wire.TCPFlagFIN, 'F'}, {wire.TCPFlagSYN, 'S'}, {wire.TCPFlagRST, 'R'}, {wire.TCPFlagPSH, 'P'},
		{wire.TCPFlagACK, '.'}, {wire.TCPFlagURG, 'U'}, {wire.TCPFlagECE, 'E'}, {wire.TCPFlagCWR, 'W'}} {
		if f&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	return append(b, ']')
}

// appendTCPOptions appends a raw option area as wire.FormatTCPOptions
// words it, for the options tipy and common stacks send; it reports false
// (having appended something) for any other option or a malformed area,
// which the caller leaves to FormatTCPOptions.
func appendTCPOptions(b []byte, o []byte) ([]byte, bool) {
	for i := 0; i < len(o); {
		kind := wire.TCPOptionKind(o[i])
		if i > 0 {
			b = append(b, ',')
		}
		switch kind {
		case wire.TCPOptionEOL:
			return append(b, "eol"...), true
		case wire.TCPOptionNOP:
			b = append(b, "nop"...)
			i++
			continue
		}
		if i+1 >= len(o) || o[i+1] < 2 || i+int(o[i+1]) > len(o) {
			return b, false
		}
		n := int(o[i+1])
		d := o[i+2 : i+n]
		switch {
		case kind == wire.TCPOptionMSS && n == 4:
			b = append(b, "mss "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d)), 10)
		case kind == wire.TCPOptionWindowScale && n == 3:
			b = append(b, "wscale "...)
			b = strconv.AppendUint(b, uint64(d[0]), 10)
		case kind == wire.TCPOptionSACKPermitted && n == 2:
			b = append(b, "sackOK"...)
		case kind == wire.TCPOptionSACK && n >= 10 && (n-2)%8 == 0:
			b = append(b, "sack "...)
			b = strconv.AppendUint(b, uint64((n-2)/8), 10)
			b = append(b, ' ')
			for j := 0; j < len(d); j += 8 {
				b = append(b, '{')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d[j:])), 10)
				b = append(b, ':')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d[j+4:])), 10)
				b = append(b, '}')
			}
		case kind == wire.TCPOptionTimestamps && n == 10:
			b = append(b, "TS val "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d)), 10)
			b = append(b, " ecr "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d[4:])), 10)
		default:
			return b, false
		}
		i += n
	}
	return b, true
}

// appendTCPSegment appends v as wire.TCP.String does ("TCP 4000 > 80:
// Flags [S], seq 1000, win 65535, options [mss 1460], length 0") and
// returns where the words of its options lie in b (an empty span when it
// has none), so that the options field can share the summary's string;
// spanned is false when the line is String's own (for a malformed header
// or unusual options), which says nothing of where they are.
func appendTCPSegment(b []byte, v wire.TCP) (_ []byte, optFrom, optTo int, spanned bool) {
	start := len(b)
	if len(v) < wire.TCPMinHeaderLen || v.HeaderLen() < wire.TCPMinHeaderLen || v.HeaderLen() > len(v) {
		return append(b, v.String()...), 0, 0, false
	}
	seq, n := v.Seq(), len(v.Payload())
	b = append(b, "TCP "...)
	b = strconv.AppendUint(b, uint64(v.SrcPort()), 10)
	b = append(b, " > "...)
	b = strconv.AppendUint(b, uint64(v.DstPort()), 10)
	b = append(b, ": Flags "...)
	b = appendTCPFlags(b, v.Flags())
	b = append(b, ", seq "...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	if n > 0 {
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(seq+uint32(n)), 10)
	}
	if v.Flags()&wire.TCPFlagACK != 0 {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(v.Ack()), 10)
	}
	b = append(b, ", win "...)
	b = strconv.AppendUint(b, uint64(v.Window()), 10)
	if v.Flags()&wire.TCPFlagURG != 0 {
		b = append(b, ", urg "...)
		b = strconv.AppendUint(b, uint64(v.Urgent()), 10)
	}
	if o := v.Options(); len(o) > 0 {
		b = append(b, ", options ["...)
		optFrom = len(b)
		var ok bool
		if b, ok = appendTCPOptions(b, o); !ok {
			// Unusual options: the whole line as wire words it.
			return append(b[:start], v.String()...), 0, 0, false
		}
		optTo = len(b)
		b = append(b, ']')
	} else {
		optFrom, optTo = len(b), len(b)
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(n), 10), optFrom, optTo, true
}

// segmentWords returns the summary of a segment event, prefix, the
// segment's line, ": " and analysis, and the words of its options (as
// wire.FormatTCPOptions gives them), which share the summary's memory.
func (s *Stack) segmentWords(prefix string, v wire.TCP, analysis string) (summary, options string) {
	b := append(s.ev.buf[:0], prefix...)
	b, from, to, spanned := appendTCPSegment(b, v)
	b = append(b, ": "...)
	b = append(b, analysis...)
	summary = s.summary(b)
	if !spanned {
		return summary, wire.FormatTCPOptions(v.Options())
	}
	return summary, summary[from:to]
}

// routeMemo keeps the words of the last route decision a stack published:
// a transfer makes the same one for every datagram it sends.
type routeMemo struct {
	ok               bool
	dst              netip.Addr
	route            Route
	iface            string
	summary, explain string
	fields           [5]any // dst, next_hop, iface, prefix, kind
}
