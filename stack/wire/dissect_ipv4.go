package wire

// Dissection of IPv4 (RFC 791 §3.1; offsets in ipv4.go) and its options
// (ipv4_options.go). The same header dissection serves the datagram of a
// frame and the one quoted by an ICMP error, which is usually cut short.

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// ipv4 dissects the IPv4 datagram at frame offset base, then its payload,
// then any Ethernet padding after Total Length.
func (d *dissector) ipv4(base int) {
	b := d.frame[base:]
	v := IPv4(b)
	layer, badSum := disIPv4Header(b, base, false)
	if len(b) >= ipv4Dst+4 {
		d.out.Source, d.out.Destination = v.Src().String(), v.Dst().String()
		d.ipPrefix = "IP " + d.out.Source + " > " + d.out.Destination
	}
	if err := v.Validate(); err != nil {
		d.fail(&layer, base, err)
		d.addLayer(layer)
		d.rest(layer.End(), len(d.frame))
		return
	}
	d.addLayer(layer)
	d.badChecksum = d.badChecksum || badSum
	h, _ := ParseIPv4(b) // cannot fail: validated above
	d.out.Protocol = "IPv4"
	d.out.Summary = h.String()
	d.out.Info = disAfter(d.out.Summary, ": ")

	hl, end := v.HeaderLen(), base+int(v.TotalLen())
	payload, pbase := v.Payload(), base+hl
	ck := disCheck{verify: !v.More(), why: "first fragment: the checksum covers the whole datagram",
		src: v.Src(), dst: v.Dst(), first: v.More()}
	switch {
	case v.FragmentOffset() > 0:
		d.data(pbase, end, fmt.Sprintf("Fragment at offset %d of datagram id %d: the %v header is in the first fragment",
			v.FragmentOffset(), v.ID(), v.Protocol()))
	case len(payload) == 0 && v.More():
		// A first fragment that carries no data: the transport header is
		// in later fragments, so there is nothing to dissect here.
	case v.Protocol() == ProtoICMP:
		d.icmp(pbase, payload, ck)
	case v.Protocol() == ProtoUDP:
		d.udp(pbase, payload, ck)
	case v.Protocol() == ProtoTCP:
		d.tcp(pbase, payload, ck)
	default:
		d.data(pbase, end, "")
	}
	if v.More() && v.FragmentOffset() == 0 && d.out.Problem == nil {
		d.out.Info += fmt.Sprintf(" [first fragment of id %d]", v.ID())
		d.out.Summary += fmt.Sprintf(" [first fragment of id %d]", v.ID())
	}
	d.padding(end)
}

// disIPv4Header dissects the IPv4 header at the front of b, which sits at
// frame offset base, as far as b holds it; it never fails. The node covers
// the header as IHL gives it (20 bytes when IHL is too small), cut at the
// end of b. The checksum is verified when the whole header is present;
// badSum reports an incorrect one. quoted marks the header of an ICMP
// quote in the labels.
func disIPv4Header(b []byte, base int, quoted bool) (layer Field, badSum bool) {
	v := IPv4(b)
	hl := IPv4MinHeaderLen
	if len(b) > ipv4VerIHL {
		hl = max(v.HeaderLen(), IPv4MinHeaderLen)
	}
	layer = disField("ipv4", "Internet Protocol Version 4", "", base, min(len(b), hl))
	if quoted {
		layer.Label += " (quoted)"
	}
	has := func(off, n int) bool { return off+n <= len(b) }
	at := func(off int) int { return base + off }
	if has(ipv4VerIHL, 1) {
		ver, ihl := v.Version(), v.IHL()
		f := disBits("ipv4.version", fmt.Sprintf("Version: %d", ver), fmt.Sprint(ver), at(ipv4VerIHL), 1, 0xf0)
		if ver != 4 {
			f.Severity = SeverityError
		}
		layer.add(f)
		f = disBits("ipv4.ihl", fmt.Sprintf("Header Length: %d bytes (%d)", int(ihl)*4, ihl), fmt.Sprint(ihl), at(ipv4VerIHL), 1, 0x0f)
		if ihl < 5 {
			f.Label += ": below the minimum of 5"
			f.Severity = SeverityError
		}
		layer.add(f)
	}
	if has(ipv4TOS, 1) {
		tos := v.TOS()
		f := disField("ipv4.tos", fmt.Sprintf("Differentiated Services Field: 0x%02x (DSCP: %s, ECN: %s)",
			tos, disDSCPName(v.DSCP()), disECNNames[v.ECN()]), fmt.Sprintf("0x%02x", tos), at(ipv4TOS), 1)
		f.add(disBits("ipv4.dscp", fmt.Sprintf("Differentiated Services Codepoint: %s (%d)", disDSCPName(v.DSCP()), v.DSCP()),
			fmt.Sprint(v.DSCP()), at(ipv4TOS), 1, 0xfc),
			disBits("ipv4.ecn", fmt.Sprintf("Explicit Congestion Notification: %s (%d)", disECNNames[v.ECN()], v.ECN()),
				fmt.Sprint(v.ECN()), at(ipv4TOS), 1, 0x03))
		layer.add(f)
	}
	if has(ipv4TotalLen, 2) {
		f := disField("ipv4.len", fmt.Sprintf("Total Length: %d", v.TotalLen()), fmt.Sprint(v.TotalLen()), at(ipv4TotalLen), 2)
		if quoted && int(v.TotalLen()) > len(b) {
			f.Label += fmt.Sprintf(" (of the original datagram; %d bytes quoted)", len(b))
		}
		layer.add(f)
	}
	if has(ipv4ID, 2) {
		layer.add(disField("ipv4.id", fmt.Sprintf("Identification: 0x%04x (%d)", v.ID(), v.ID()),
			fmt.Sprintf("0x%04x", v.ID()), at(ipv4ID), 2))
	}
	if has(ipv4FlagsFrag, 2) {
		layer.add(disIPv4Flags(v, at(ipv4FlagsFrag)))
		raw := binary.BigEndian.Uint16(b[ipv4FlagsFrag:]) & 0x1fff
		layer.add(disBits("ipv4.frag_offset", fmt.Sprintf("Fragment Offset: %d bytes (%d × 8)", v.FragmentOffset(), raw),
			fmt.Sprint(raw), at(ipv4FlagsFrag), 2, 0x1fff))
	}
	if has(ipv4TTL, 1) {
		layer.add(disField("ipv4.ttl", fmt.Sprintf("Time to Live: %d", v.TTL()), fmt.Sprint(v.TTL()), at(ipv4TTL), 1))
	}
	if has(ipv4Protocol, 1) {
		p := v.Protocol()
		name := p.String()
		if name == fmt.Sprintf("proto-%d", uint8(p)) {
			name = "unknown"
		}
		layer.add(disField("ipv4.proto", fmt.Sprintf("Protocol: %s (%d)", name, uint8(p)), fmt.Sprint(uint8(p)), at(ipv4Protocol), 1))
	}
	if has(ipv4Checksum, 2) {
		got := v.Checksum()
		f := disField("ipv4.checksum", fmt.Sprintf("Header Checksum: 0x%04x [unverified: the header is incomplete]", got),
			fmt.Sprintf("0x%04x", got), at(ipv4Checksum), 2)
		if v.HeaderLen() >= IPv4MinHeaderLen && v.HeaderLen() <= len(b) {
			ok := v.ChecksumValid()
			f.Label, f.Severity = disChecksumLabel("Header Checksum", got, v.ComputeChecksum(), ok)
			badSum = !ok
			if !ok && quoted {
				f.Severity = SeverityWarning // a router's quote, not this frame's fault
			}
		}
		layer.add(f)
	}
	if has(ipv4Src, 4) {
		layer.add(disField("ipv4.src", "Source Address: "+v.Src().String(), v.Src().String(), at(ipv4Src), 4))
	}
	if has(ipv4Dst, 4) {
		layer.add(disField("ipv4.dst", "Destination Address: "+v.Dst().String(), v.Dst().String(), at(ipv4Dst), 4))
		layer.Label += fmt.Sprintf(", Src: %v, Dst: %v", v.Src(), v.Dst())
	}
	if end := min(len(b), hl); end > ipv4Options {
		layer.add(disIPv4Options(b[ipv4Options:end], at(ipv4Options), hl-ipv4Options))
	}
	return layer, badSum
}

// disIPv4Flags makes the flags node (3 bits of the byte at off) with a
// child per bit.
func disIPv4Flags(v IPv4, off int) Field {
	fl := v.Flags()
	var names []string
	if fl&IPv4FlagReserved != 0 {
		names = append(names, "Reserved bit")
	}
	if fl&IPv4FlagDF != 0 {
		names = append(names, "Don't fragment")
	}
	if fl&IPv4FlagMF != 0 {
		names = append(names, "More fragments")
	}
	label := fmt.Sprintf("Flags: 0x%x", uint8(fl))
	if len(names) > 0 {
		label += ", " + strings.Join(names, ", ")
	}
	f := disBits("ipv4.flags", label, fmt.Sprintf("0x%x", uint8(fl)), off, 1, 0xe0)
	rb := disBits("ipv4.flags.rb", "Reserved bit: "+disSetBit(fl&IPv4FlagReserved != 0), disBool(fl&IPv4FlagReserved != 0), off, 1, 0x80)
	if fl&IPv4FlagReserved != 0 {
		rb.Label += " (must be zero)"
		rb.Severity = SeverityWarning
		f.Severity = SeverityWarning
	}
	f.add(rb,
		disBits("ipv4.flags.df", "Don't fragment: "+disSetBit(fl&IPv4FlagDF != 0), disBool(fl&IPv4FlagDF != 0), off, 1, 0x40),
		disBits("ipv4.flags.mf", "More fragments: "+disSetBit(fl&IPv4FlagMF != 0), disBool(fl&IPv4FlagMF != 0), off, 1, 0x20))
	return f
}

// disECNNames names the ECN codepoints (RFC 3168 §5).
var disECNNames = [4]string{"Not-ECT", "ECT(1)", "ECT(0)", "CE"}

// disDSCPName names a DSCP: the class selectors (RFC 2474), assured
// forwarding (RFC 2597), expedited forwarding (RFC 3246), voice admit
// (RFC 5865) and lower effort (RFC 8622).
func disDSCPName(d uint8) string {
	switch {
	case d == 0:
		return "CS0"
	case d == 1:
		return "LE"
	case d == 44:
		return "VA"
	case d == 46:
		return "EF"
	case d&7 == 0:
		return fmt.Sprintf("CS%d", d>>3)
	case d>>3 >= 1 && d>>3 <= 4 && d&1 == 0 && d&7 <= 6:
		return fmt.Sprintf("AF%d%d", d>>3, (d&7)/2)
	}
	return fmt.Sprintf("DSCP %d", d)
}

// disIPv4Options dissects an option area at frame offset base. want is the
// area's length by IHL; opts may be shorter when the header is cut. It walks
// leniently: options that are well formed are shown in full, the first that
// is not ends the walk with a malformed node over the rest.
func disIPv4Options(opts []byte, base, want int) Field {
	area := disField("ipv4.options", fmt.Sprintf("Options: (%d bytes)", want), "", base, len(opts))
	var names []string
	for i := 0; i < len(opts); {
		t := opts[i]
		switch t {
		case IPv4OptEOL:
			area.add(disIPv4OptHead("ipv4.options.eol", "End of Option List (EOL)", opts[i:], base+i, 1))
			names = append(names, "EOL")
			if n := len(opts) - i - 1; n > 0 {
				f := disField("ipv4.options.padding", fmt.Sprintf("Padding (%d bytes)", n), "", base+i+1, n)
				for _, c := range opts[i+1:] {
					if c != 0 {
						f.Label += ": not zero"
						f.Severity = SeverityWarning
						break
					}
				}
				area.add(f)
			}
			i = len(opts)
			continue
		case IPv4OptNOP:
			area.add(disIPv4OptHead("ipv4.options.nop", "No Operation (NOP)", opts[i:], base+i, 1))
			names = append(names, "NOP")
			i++
			continue
		}
		o := IPv4Option{Type: t}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			why := "the length byte is past the end of the options"
			if i+1 < len(opts) {
				why = fmt.Sprintf("length %d does not fit the %d option bytes left", opts[i+1], len(opts)-i)
			}
			f := disField("ipv4.options.malformed", fmt.Sprintf("%s: malformed, %s", o.Name(), why), "", base+i, len(opts)-i)
			f.Severity = SeverityError
			area.add(f)
			names = append(names, "malformed")
			break
		}
		n := int(opts[i+1])
		o.Data = opts[i+2 : i+n]
		area.add(disIPv4Option(o, opts[i:i+n], base+i))
		names = append(names, o.Name())
		i += n
	}
	if len(names) > 0 {
		area.Label += ", " + strings.Join(names, ", ")
	}
	return area
}

// disIPv4OptHead makes an option node of n bytes at off with its type byte
// (raw, the first byte of raw) and its copied/class/number bits as children.
func disIPv4OptHead(name, label string, raw []byte, off, n int) Field {
	t := raw[0]
	f := disField(name, label, "", off, n)
	ty := disField("ipv4.options.type", fmt.Sprintf("Type: %d (%s)", t, IPv4Option{Type: t}.Name()), fmt.Sprint(t), off, 1)
	ty.add(disBits("ipv4.options.type.copied", fmt.Sprintf("Copied on fragmentation: %s", disSetBit(t&0x80 != 0)),
		disBool(t&0x80 != 0), off, 1, 0x80),
		disBits("ipv4.options.type.class", fmt.Sprintf("Class: %s (%d)", disOptClass(t>>5&3), t>>5&3),
			fmt.Sprint(t>>5&3), off, 1, 0x60),
		disBits("ipv4.options.type.number", fmt.Sprintf("Number: %d", t&0x1f), fmt.Sprint(t&0x1f), off, 1, 0x1f))
	f.add(ty)
	return f
}

// disOptClass names an IPv4 option class (RFC 791 §3.1).
func disOptClass(c uint8) string {
	switch c {
	case 0:
		return "control"
	case 2:
		return "debugging and measurement"
	}
	return "reserved"
}

// disIPv4Option dissects one option with a length byte: raw is the whole
// option (type, length, data) at frame offset off.
func disIPv4Option(o IPv4Option, raw []byte, off int) Field {
	name := map[uint8]string{IPv4OptRecordRoute: "rr", IPv4OptLSRR: "lsrr", IPv4OptSSRR: "ssrr",
		IPv4OptTimestamp: "ts", IPv4OptRouterAlert: "ra"}[o.Type]
	if name == "" {
		name = "unknown"
	}
	f := disIPv4OptHead("ipv4.options."+name, fmt.Sprintf("%s (%d bytes)", o.Name(), len(raw)), raw, off, len(raw))
	f.add(disField("ipv4.options.len", fmt.Sprintf("Length: %d", len(raw)), fmt.Sprint(len(raw)), off+1, 1))
	var err error
	switch o.Type {
	case IPv4OptRecordRoute, IPv4OptLSRR, IPv4OptSSRR:
		var ptr uint8
		if ptr, _, err = o.Route(); err == nil {
			disIPv4Route(&f, o, ptr, off)
		}
	case IPv4OptTimestamp:
		var ts IPv4Timestamp
		if ts, err = o.Timestamp(); err == nil {
			disIPv4Timestamp(&f, ts, off)
		}
	case IPv4OptRouterAlert:
		var val uint16
		if val, err = o.RouterAlert(); err == nil {
			what := "reserved"
			if val == 0 {
				what = "router shall examine packet"
			}
			f.Label = fmt.Sprintf("Router Alert: %s (%d)", what, val)
			f.add(disField("ipv4.options.ra.value", fmt.Sprintf("Router Alert: %s (%d)", what, val), fmt.Sprint(val), off+2, 2))
		}
	default:
		if len(o.Data) > 0 {
			f.add(disField("ipv4.options.data", "Data: "+disHex(o.Data), disHex(o.Data), off+2, len(o.Data)))
		}
	}
	if err != nil {
		// A known type whose data breaks its rules: show it opaque.
		if len(o.Data) > 0 {
			f.add(disField("ipv4.options.data", "Data: "+disHex(o.Data), disHex(o.Data), off+2, len(o.Data)))
		}
		f.Severity = SeverityError
		if pe, ok := err.(*ParseError); ok {
			f.Label += ": malformed, " + pe.Reason
		}
	}
	return f
}

// disIPv4Route adds the pointer and the route slots of a Record Route or
// source route option; the slot the pointer designates is marked "next".
func disIPv4Route(f *Field, o IPv4Option, ptr uint8, off int) {
	f.add(disField("ipv4.options.ptr", fmt.Sprintf("Pointer: %d", ptr), fmt.Sprint(ptr), off+2, 1))
	next := (int(ptr) - 4) / 4
	for i := 0; 1+4*i+4 <= len(o.Data); i++ {
		a := disAddr4(o.Data[1+4*i:])
		var label string
		switch {
		case o.Type == IPv4OptRecordRoute && i < next:
			label = "Recorded Route: " + a.String()
		case o.Type == IPv4OptRecordRoute:
			label = "Empty Route: " + a.String()
		case i < next:
			label = "Visited Hop: " + a.String()
		default:
			label = "Source Route Hop: " + a.String()
		}
		if i == next {
			label += " <- (next)"
		}
		f.add(disField("ipv4.options.route", label, a.String(), off+3+4*i, 4))
	}
	if int(ptr) > len(o.Data)+2 {
		f.Label += ", full"
	}
}

// disIPv4Timestamp adds the pointer, overflow and flag, and the entries of
// a Timestamp option.
func disIPv4Timestamp(f *Field, ts IPv4Timestamp, off int) {
	f.Label = fmt.Sprintf("Timestamp (%s)", ts.Flag)
	f.add(disField("ipv4.options.ptr", fmt.Sprintf("Pointer: %d", ts.Pointer), fmt.Sprint(ts.Pointer), off+2, 1),
		disBits("ipv4.options.ts.overflow", fmt.Sprintf("Overflow: %d", ts.Overflow), fmt.Sprint(ts.Overflow), off+3, 1, 0xf0),
		disBits("ipv4.options.ts.flag", fmt.Sprintf("Flag: %s (%d)", ts.Flag, uint8(ts.Flag)), fmt.Sprint(uint8(ts.Flag)), off+3, 1, 0x0f))
	recorded := len(ts.Recorded())
	at := off + 4
	for i, e := range ts.Entries {
		state := ""
		if i >= recorded {
			state = " (empty)"
		}
		if ts.Flag == IPv4TSOnly {
			f.add(disField("ipv4.options.ts.time", fmt.Sprintf("Timestamp: %d ms%s", e.Time, state), fmt.Sprint(e.Time), at, 4))
			at += 4
			continue
		}
		en := disField("ipv4.options.ts.entry", fmt.Sprintf("Address %v, timestamp %d ms%s", e.Addr, e.Time, state), "", at, 8)
		en.add(disField("ipv4.options.ts.addr", "Address: "+e.Addr.String(), e.Addr.String(), at, 4),
			disField("ipv4.options.ts.time", fmt.Sprintf("Timestamp: %d ms", e.Time), fmt.Sprint(e.Time), at+4, 4))
		f.add(en)
		at += 8
	}
}
