package wire

// Dissection of the transport layer: ICMPv4 with the datagram an error
// quotes (offsets in icmp.go), UDP (udp.go), TCP and its options (tcp.go,
// tcp_options.go). The header dissections are lenient, so that they serve
// both a segment of a frame and the truncated copy inside an ICMP quote.

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// icmp dissects the ICMP message b at frame offset base.
func (d *dissector) icmp(base int, b []byte, ck disCheck) {
	layer, bad := disICMP(b, base, ck, false)
	if err := ICMP(b).Validate(); err != nil {
		d.fail(&layer, base, err)
		d.addLayer(layer)
		return
	}
	d.addLayer(layer)
	d.badChecksum = d.badChecksum || bad
	h, _ := ParseICMP(b) // cannot fail: validated above
	s := h.String()
	d.out.Protocol = "ICMP"
	d.out.Info = strings.TrimPrefix(s, "ICMP ")
	d.out.Summary = d.ipPrefix + ": " + s
}

// disICMPCodeNames names the codes of the ICMP types that have several
// (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1).
var disICMPCodeNames = map[ICMPType][]string{
	ICMPDestinationUnreachable: {"net unreachable", "host unreachable", "protocol unreachable", "port unreachable",
		"fragmentation needed and DF set", "source route failed", "destination network unknown",
		"destination host unknown", "source host isolated", "network administratively prohibited",
		"host administratively prohibited", "network unreachable for TOS", "host unreachable for TOS",
		"communication administratively prohibited", "host precedence violation", "precedence cutoff in effect"},
	ICMPRedirect:         {"redirect for network", "redirect for host", "redirect for TOS and network", "redirect for TOS and host"},
	ICMPTimeExceeded:     {"time to live exceeded in transit", "fragment reassembly time exceeded"},
	ICMPParameterProblem: {"pointer indicates the error", "missing a required option", "bad length"},
}

// disICMP dissects an ICMP message at frame offset base, as far as b holds
// it. A quoted message (inside another's quote) shows only its 8-byte
// header and no checksum verdict; otherwise the node covers the whole
// message, data or quote included.
func disICMP(b []byte, base int, ck disCheck, quoted bool) (layer Field, badSum bool) {
	v := ICMP(b)
	layer = disField("icmp", "Internet Control Message Protocol", "", base, len(b))
	if quoted {
		layer.Label += " (quoted)"
		layer.Length = min(len(b), ICMPHeaderLen)
	}
	has := func(off, n int) bool { return off+n <= len(b) }
	at := func(off int) int { return base + off }
	if has(icmpType, 1) {
		t := v.Type()
		layer.Label += ", " + t.String()
		layer.add(disField("icmp.type", fmt.Sprintf("Type: %d (%s)", uint8(t), t), fmt.Sprint(uint8(t)), at(icmpType), 1))
	}
	if has(icmpCode, 1) {
		c := v.Code()
		label := fmt.Sprintf("Code: %d", c)
		if names := disICMPCodeNames[v.Type()]; int(c) < len(names) {
			label += " (" + names[c] + ")"
			layer.Label += " (" + names[c] + ")"
		}
		layer.add(disField("icmp.code", label, fmt.Sprint(c), at(icmpCode), 1))
	}
	if has(icmpChecksum, 2) {
		got := v.Checksum()
		f := disField("icmp.checksum", "", fmt.Sprintf("0x%04x", got), at(icmpChecksum), 2)
		switch {
		case quoted:
			f.Label = fmt.Sprintf("Checksum: 0x%04x [unverified: quoted message]", got)
		case !ck.verify:
			f.Label = fmt.Sprintf("Checksum: 0x%04x [unverified: %s]", got, ck.why)
		case len(b) < ICMPHeaderLen:
			f.Label = fmt.Sprintf("Checksum: 0x%04x [unverified: the header is incomplete]", got)
		default:
			ok := v.ChecksumValid()
			want := ^Checksum(b[icmpChecksum+2:], Checksum(b[:icmpChecksum], 0))
			f.Label, f.Severity = disChecksumLabel("Checksum", got, want, ok)
			badSum = !ok
		}
		layer.add(f)
	}
	if has(icmpRest, 4) {
		layer.add(disICMPRest(v, base)...)
	}
	if quoted || len(b) <= ICMPHeaderLen {
		return layer, badSum
	}
	body, bbase := b[ICMPHeaderLen:], base+ICMPHeaderLen
	switch t := v.Type(); {
	case t.IsError():
		layer.add(disICMPQuote(body, bbase))
	case (t == ICMPTimestamp || t == ICMPTimestampReply) && len(body) >= 12:
		for i, name := range [...]string{"originate", "receive", "transmit"} {
			ms := binary.BigEndian.Uint32(body[4*i:])
			layer.add(disField("icmp.ts."+name, fmt.Sprintf("%s timestamp: %d ms", strings.ToUpper(name[:1])+name[1:], ms),
				fmt.Sprint(ms), bbase+4*i, 4))
		}
		disAddData(&layer, bbase+12, len(body)-12)
	case (t == ICMPAddressMaskRequest || t == ICMPAddressMaskReply) && len(body) >= 4:
		m := disAddr4(body)
		layer.add(disField("icmp.mask", "Address Mask: "+m.String(), m.String(), bbase, 4))
		disAddData(&layer, bbase+4, len(body)-4)
	default:
		disAddData(&layer, bbase, len(body))
	}
	return layer, badSum
}

// disICMPRest dissects the 4-byte rest of header by type.
func disICMPRest(v ICMP, base int) []Field {
	at := func(off int) int { return base + off }
	unused := func(off, n int) Field {
		raw := v[off : off+n]
		f := disField("icmp.unused", "Unused: 0x"+disHex(raw), disHex(raw), at(off), n)
		for _, c := range raw {
			if c != 0 {
				f.Label += " (should be zero)"
				f.Severity = SeverityWarning
				break
			}
		}
		return f
	}
	switch t := v.Type(); {
	case t.hasIDSeq():
		return []Field{
			disField("icmp.id", fmt.Sprintf("Identifier: 0x%04x (%d)", v.ID(), v.ID()), fmt.Sprint(v.ID()), at(icmpID), 2),
			disField("icmp.seq", fmt.Sprintf("Sequence Number: %d", v.Seq()), fmt.Sprint(v.Seq()), at(icmpSeq), 2),
		}
	case t == ICMPDestinationUnreachable && v.Code() == ICMPFragmentationNeeded:
		return []Field{unused(icmpRest, 2),
			disField("icmp.mtu", fmt.Sprintf("Next-Hop MTU: %d", v.MTU()), fmt.Sprint(v.MTU()), at(icmpMTU), 2)}
	case t == ICMPParameterProblem:
		return []Field{
			disField("icmp.pointer", fmt.Sprintf("Pointer: %d (the octet of the quoted header at fault)", v.Pointer()),
				fmt.Sprint(v.Pointer()), at(icmpPointer), 1),
			unused(icmpPointer+1, 3)}
	case t == ICMPRedirect:
		g := v.Gateway()
		return []Field{disField("icmp.gateway", "Gateway Address: "+g.String(), g.String(), at(icmpGateway), 4)}
	case t == ICMPDestinationUnreachable || t == ICMPTimeExceeded || t == ICMPSourceQuench:
		return []Field{unused(icmpRest, 4)}
	}
	r := v.Rest()
	return []Field{disField("icmp.rest", "Rest of Header: 0x"+disHex(r), disHex(r), at(icmpRest), 4)}
}

// disAddData adds a "Data (N bytes)" child of n bytes at off, if n > 0.
func disAddData(f *Field, off, n int) {
	if n > 0 {
		f.add(disField("data", fmt.Sprintf("Data (%d bytes)", n), "", off, n))
	}
}

// disICMPQuote dissects the datagram an ICMP error quotes (RFC 792: its
// IPv4 header and at least the first 8 data bytes), tolerating truncation:
// what is present is shown, what is missing is noted.
func disICMPQuote(q []byte, base int) Field {
	f := disField("icmp.quote", fmt.Sprintf("Quoted datagram (%d bytes)", len(q)), "", base, len(q))
	ip, _ := disIPv4Header(q, base, true)
	f.add(ip)
	v := IPv4(q)
	short := func(why string) Field {
		f.Severity = SeverityWarning
		disAddData(&f, ip.End(), base+len(q)-ip.End())
		f.insert(disNote("icmp.quote.note", why, SeverityWarning, ip.End()))
		return f
	}
	switch {
	case len(q) < IPv4MinHeaderLen:
		return short(fmt.Sprintf("The quote holds %d bytes, too few for an IPv4 header", len(q)))
	case v.Version() != 4 || v.HeaderLen() < IPv4MinHeaderLen:
		return short("The quote does not start with a valid IPv4 header")
	case v.HeaderLen() > len(q):
		return short(fmt.Sprintf("The quote ends inside the %d-byte IPv4 header", v.HeaderLen()))
	}
	hl := v.HeaderLen()
	f.Label += fmt.Sprintf(": %v > %v, %v", v.Src(), v.Dst(), v.Protocol())
	rest, rbase := q[hl:], base+hl
	if v.FragmentOffset() > 0 {
		disAddData(&f, rbase, len(rest))
		return f
	}
	ck := disCheck{why: "quoted datagram", quoted: true}
	covered := 0
	switch v.Protocol() {
	case ProtoUDP:
		l, _ := disUDP(rest, rbase, ck)
		f.add(l)
		covered = l.Length
	case ProtoTCP:
		l, _ := disTCP(rest, rbase, ck)
		f.add(l)
		covered = l.Length
	case ProtoICMP:
		l, _ := disICMP(rest, rbase, ck, true)
		f.add(l)
		covered = l.Length
	}
	disAddData(&f, rbase+covered, len(rest)-covered)
	if len(rest) < 8 {
		f.Severity = SeverityWarning
		f.add(disNote("icmp.quote.note", fmt.Sprintf("The quote holds %d data bytes; RFC 792 asks for at least 8", len(rest)),
			SeverityWarning, base+len(q)))
	}
	return f
}

// udp dissects the UDP datagram b at frame offset base, then its data.
func (d *dissector) udp(base int, b []byte, ck disCheck) {
	v := UDP(b)
	layer, bad := disUDP(b, base, ck)
	err := v.Validate()
	if err != nil && ck.first && len(b) >= UDPHeaderLen && int(v.Length()) > len(b) {
		err = nil // the first fragment holds only the start of the datagram
	}
	if err != nil {
		d.fail(&layer, base, err)
		d.addLayer(layer)
		d.rest(layer.End(), base+len(b))
		return
	}
	d.addLayer(layer)
	d.badChecksum = d.badChecksum || bad
	h := UDPHeader{SrcPort: v.SrcPort(), DstPort: v.DstPort(), Length: v.Length()}
	d.out.Protocol = "UDP"
	d.out.Info = strings.TrimPrefix(h.String(), "UDP ")
	d.out.Summary = fmt.Sprintf("IP %v.%d > %v.%d: UDP, length %d", ck.src, h.SrcPort, ck.dst, h.DstPort, int(h.Length)-UDPHeaderLen)
	end := min(int(v.Length()), len(b))
	d.data(base+UDPHeaderLen, base+end, "")
	if end < len(b) {
		f := disField("trailer", fmt.Sprintf("Trailer (%d bytes after the UDP length, inside the IPv4 datagram)", len(b)-end),
			"", base+end, len(b)-end)
		f.Severity = SeverityWarning
		d.addLayer(f)
	}
}

// disUDP dissects a UDP header at frame offset base, as far as b holds it.
func disUDP(b []byte, base int, ck disCheck) (layer Field, badSum bool) {
	v := UDP(b)
	layer = disField("udp", "User Datagram Protocol", "", base, min(len(b), UDPHeaderLen))
	if ck.quoted {
		layer.Label += " (quoted)"
	}
	has := func(off, n int) bool { return off+n <= len(b) }
	if has(udpSrcPort, 2) {
		layer.add(disField("udp.srcport", fmt.Sprintf("Source Port: %d", v.SrcPort()), fmt.Sprint(v.SrcPort()), base+udpSrcPort, 2))
	}
	if has(udpDstPort, 2) {
		layer.add(disField("udp.dstport", fmt.Sprintf("Destination Port: %d", v.DstPort()), fmt.Sprint(v.DstPort()), base+udpDstPort, 2))
		layer.Label += fmt.Sprintf(", Src Port: %d, Dst Port: %d", v.SrcPort(), v.DstPort())
	}
	n := 0
	if has(udpLength, 2) {
		n = int(v.Length())
		f := disField("udp.length", fmt.Sprintf("Length: %d", n), fmt.Sprint(n), base+udpLength, 2)
		if n < UDPHeaderLen {
			f.Label += fmt.Sprintf(" (less than the %d-byte header)", UDPHeaderLen)
			f.Severity = SeverityError
		}
		layer.add(f)
	}
	if has(udpChecksum, 2) {
		got := v.Checksum()
		f := disField("udp.checksum", "", fmt.Sprintf("0x%04x", got), base+udpChecksum, 2)
		switch {
		case got == 0:
			f.Label = "Checksum: 0x0000 [none: the sender computed no checksum, RFC 768]"
		case !ck.verify:
			f.Label = fmt.Sprintf("Checksum: 0x%04x [unverified: %s]", got, ck.why)
		case n < UDPHeaderLen || n > len(b):
			f.Label = fmt.Sprintf("Checksum: 0x%04x [unverified: the length field is invalid]", got)
		default:
			ok := v.ChecksumValid(ck.src, ck.dst)
			want := ^Checksum(b[udpChecksum+2:n], Checksum(b[:udpChecksum], PseudoHeaderChecksum(ProtoUDP, ck.src, ck.dst, uint16(n))))
			if want == 0 {
				want = 0xffff
			}
			f.Label, f.Severity = disChecksumLabel("Checksum", got, want, ok)
			badSum = !ok
		}
		layer.add(f)
	}
	return layer, badSum
}

// tcp dissects the TCP segment b at frame offset base, then its data.
func (d *dissector) tcp(base int, b []byte, ck disCheck) {
	v := TCP(b)
	layer, bad := disTCP(b, base, ck)
	if err := v.Validate(); err != nil {
		d.fail(&layer, base, err)
		d.addLayer(layer)
		d.rest(layer.End(), base+len(b))
		return
	}
	d.addLayer(layer)
	d.badChecksum = d.badChecksum || bad
	s := v.String()
	d.out.Protocol = "TCP"
	d.out.Info = strings.TrimPrefix(s, "TCP ")
	d.out.Summary = fmt.Sprintf("IP %v.%d > %v.%d: %s", ck.src, v.SrcPort(), ck.dst, v.DstPort(), disAfter(s, ": "))
	d.data(base+v.HeaderLen(), base+len(b), "")
}

// disTCPFlagBits lists the control bits from the most significant.
var disTCPFlagBits = [...]struct {
	name, label string
	bit         TCPFlags
}{
	{"cwr", "Congestion Window Reduced (CWR)", TCPFlagCWR},
	{"ece", "ECN-Echo (ECE)", TCPFlagECE},
	{"urg", "Urgent (URG)", TCPFlagURG},
	{"ack", "Acknowledgment (ACK)", TCPFlagACK},
	{"psh", "Push (PSH)", TCPFlagPSH},
	{"rst", "Reset (RST)", TCPFlagRST},
	{"syn", "Syn (SYN)", TCPFlagSYN},
	{"fin", "Fin (FIN)", TCPFlagFIN},
}

// disTCP dissects a TCP header at frame offset base, as far as b holds it.
// The node covers the header as the data offset gives it (20 bytes when
// that is too small), cut at the end of b.
func disTCP(b []byte, base int, ck disCheck) (layer Field, badSum bool) {
	v := TCP(b)
	hl := TCPMinHeaderLen
	if len(b) > tcpDataOffset {
		hl = max(v.HeaderLen(), TCPMinHeaderLen)
	}
	layer = disField("tcp", "Transmission Control Protocol", "", base, min(len(b), hl))
	if ck.quoted {
		layer.Label += " (quoted)"
	}
	has := func(off, n int) bool { return off+n <= len(b) }
	at := func(off int) int { return base + off }
	if has(tcpSrcPort, 2) {
		layer.add(disField("tcp.srcport", fmt.Sprintf("Source Port: %d", v.SrcPort()), fmt.Sprint(v.SrcPort()), at(tcpSrcPort), 2))
	}
	if has(tcpDstPort, 2) {
		layer.add(disField("tcp.dstport", fmt.Sprintf("Destination Port: %d", v.DstPort()), fmt.Sprint(v.DstPort()), at(tcpDstPort), 2))
		layer.Label += fmt.Sprintf(", Src Port: %d, Dst Port: %d", v.SrcPort(), v.DstPort())
	}
	if has(tcpSeq, 4) {
		layer.add(disField("tcp.seq", fmt.Sprintf("Sequence Number: %d", v.Seq()), fmt.Sprint(v.Seq()), at(tcpSeq), 4))
		layer.Label += fmt.Sprintf(", Seq: %d", v.Seq())
	}
	if has(tcpAck, 4) {
		f := disField("tcp.ack", fmt.Sprintf("Acknowledgment Number: %d", v.Ack()), fmt.Sprint(v.Ack()), at(tcpAck), 4)
		if has(tcpFlags, 1) && !v.Flags().Has(TCPFlagACK) {
			f.Label += " (not significant: ACK is not set)"
		}
		layer.add(f)
	}
	if has(tcpDataOffset, 1) {
		f := disBits("tcp.hdr_len", fmt.Sprintf("Header Length: %d bytes (%d)", v.HeaderLen(), v.DataOffset()),
			fmt.Sprint(v.DataOffset()), at(tcpDataOffset), 1, 0xf0)
		if v.DataOffset() < 5 {
			f.Label += ": below the minimum of 5"
			f.Severity = SeverityError
		}
		r := disBits("tcp.reserved", fmt.Sprintf("Reserved: %d", v.Reserved()), fmt.Sprint(v.Reserved()), at(tcpDataOffset), 1, 0x0f)
		if v.Reserved() != 0 {
			r.Label += " (should be zero)"
			r.Severity = SeverityWarning
		}
		layer.add(f, r)
	}
	if has(tcpFlags, 1) {
		fl := v.Flags()
		f := disField("tcp.flags", fmt.Sprintf("Flags: 0x%02x %v", uint8(fl), fl), fmt.Sprintf("0x%02x", uint8(fl)), at(tcpFlags), 1)
		for _, x := range disTCPFlagBits {
			f.add(disBits("tcp.flags."+x.name, x.label+": "+disSetBit(fl.Has(x.bit)), disBool(fl.Has(x.bit)), at(tcpFlags), 1, uint32(x.bit)))
		}
		layer.add(f)
	}
	if has(tcpWindow, 2) {
		f := disField("tcp.window", fmt.Sprintf("Window: %d", v.Window()), fmt.Sprint(v.Window()), at(tcpWindow), 2)
		if has(tcpFlags, 1) && v.Flags().Has(TCPFlagSYN) {
			f.Label += " (never scaled in a SYN, RFC 7323 §2.2)"
		}
		layer.add(f)
	}
	if has(tcpChecksum, 2) {
		got := v.Checksum()
		f := disField("tcp.checksum", "", fmt.Sprintf("0x%04x", got), at(tcpChecksum), 2)
		if !ck.verify {
			f.Label = fmt.Sprintf("Checksum: 0x%04x [unverified: %s]", got, ck.why)
		} else {
			ok := v.ChecksumValid(ck.src, ck.dst)
			want := ^Checksum(b[tcpChecksum+2:], Checksum(b[:tcpChecksum], PseudoHeaderChecksum(ProtoTCP, ck.src, ck.dst, uint16(len(b)))))
			f.Label, f.Severity = disChecksumLabel("Checksum", got, want, ok)
			badSum = !ok
		}
		layer.add(f)
	}
	if has(tcpUrgent, 2) {
		f := disField("tcp.urgent", fmt.Sprintf("Urgent Pointer: %d", v.Urgent()), fmt.Sprint(v.Urgent()), at(tcpUrgent), 2)
		if has(tcpFlags, 1) && !v.Flags().Has(TCPFlagURG) && v.Urgent() != 0 {
			f.Label += " (not significant: URG is not set)"
		}
		layer.add(f)
	}
	if end := min(len(b), hl); end > tcpOptionsOffset {
		layer.add(disTCPOptions(b[tcpOptionsOffset:end], at(tcpOptionsOffset), hl-tcpOptionsOffset))
	}
	if hl <= len(b) && len(b) >= TCPMinHeaderLen && !ck.quoted {
		layer.Label += fmt.Sprintf(", Len: %d", len(b)-hl)
	}
	return layer, badSum
}

// disTCPOptionNames names option kinds for the labels; the first seven are
// decoded, the others (IANA "TCP Option Kind Numbers") are shown opaque.
var disTCPOptionNames = map[TCPOptionKind]string{
	TCPOptionEOL: "End of Option List", TCPOptionNOP: "No-Operation", TCPOptionMSS: "Maximum Segment Size",
	TCPOptionWindowScale: "Window Scale", TCPOptionSACKPermitted: "SACK Permitted", TCPOptionSACK: "SACK",
	TCPOptionTimestamps: "Timestamps", 19: "MD5 Signature", 28: "User Timeout", 29: "TCP-AO", 30: "Multipath TCP",
	34: "TCP Fast Open Cookie", 253: "Experimental", 254: "Experimental",
}

// disTCPOptionName names kind k.
func disTCPOptionName(k TCPOptionKind) string {
	if s, ok := disTCPOptionNames[k]; ok {
		return s
	}
	return "Unknown"
}

// disTCPOptions dissects an option area at frame offset base. want is the
// area's length by the data offset; opts may be shorter when the header is
// cut. Well-formed options are shown in full; the first whose length does
// not fit ends the walk with a malformed node over the rest.
func disTCPOptions(opts []byte, base, want int) Field {
	area := disField("tcp.options", fmt.Sprintf("Options: (%d bytes)", want), "", base, len(opts))
	var names []string
	for i := 0; i < len(opts); {
		k := TCPOptionKind(opts[i])
		switch k {
		case TCPOptionEOL:
			f := disField("tcp.options.eol", "End of Option List (EOL)", "", base+i, 1)
			f.add(disTCPOptKind(k, base+i))
			area.add(f)
			names = append(names, "EOL")
			if n := len(opts) - i - 1; n > 0 {
				area.add(disField("tcp.options.padding", fmt.Sprintf("Padding (%d bytes)", n), "", base+i+1, n))
			}
			i = len(opts)
			continue
		case TCPOptionNOP:
			f := disField("tcp.options.nop", "No-Operation (NOP)", "", base+i, 1)
			f.add(disTCPOptKind(k, base+i))
			area.add(f)
			names = append(names, "NOP")
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			why := "the option area ends before the length byte"
			if i+1 < len(opts) {
				why = fmt.Sprintf("length %d does not fit the %d option bytes left", opts[i+1], len(opts)-i)
			}
			f := disField("tcp.options.malformed", fmt.Sprintf("%s (kind %d): malformed, %s", disTCPOptionName(k), uint8(k), why),
				"", base+i, len(opts)-i)
			f.Severity = SeverityError
			area.add(f)
			names = append(names, "malformed")
			break
		}
		n := int(opts[i+1])
		area.add(disTCPOption(k, opts[i+2:i+n], base+i))
		names = append(names, disTCPOptionName(k))
		i += n
	}
	if len(names) > 0 {
		area.Label += ", " + strings.Join(names, ", ")
	}
	return area
}

// disTCPOptKind makes the kind byte node of an option at off.
func disTCPOptKind(k TCPOptionKind, off int) Field {
	return disField("tcp.options.kind", fmt.Sprintf("Kind: %s (%d)", disTCPOptionName(k), uint8(k)), fmt.Sprint(uint8(k)), off, 1)
}

// disTCPOption dissects one option with a length byte at frame offset off;
// body is the data after kind and length.
func disTCPOption(k TCPOptionKind, body []byte, off int) Field {
	n := len(body) + 2
	f := disField("tcp.options.unknown", fmt.Sprintf("%s (kind %d, %d bytes)", disTCPOptionName(k), uint8(k), n), "", off, n)
	f.add(disTCPOptKind(k, off), disField("tcp.options.len", fmt.Sprintf("Length: %d", n), fmt.Sprint(n), off+1, 1))
	at := off + 2
	wrong := func(name string, want int) {
		f.Name = name
		f.Label = fmt.Sprintf("%s: malformed, length %d, must be %d", disTCPOptionName(k), n, want)
		f.Severity = SeverityError
		if len(body) > 0 {
			f.add(disField("tcp.options.data", "Data: "+disHex(body), disHex(body), at, len(body)))
		}
	}
	switch k {
	case TCPOptionMSS:
		if n != tcpOptLenMSS {
			wrong("tcp.options.mss", tcpOptLenMSS)
			break
		}
		mss := binary.BigEndian.Uint16(body)
		f.Name, f.Label = "tcp.options.mss", fmt.Sprintf("Maximum segment size: %d bytes", mss)
		f.add(disField("tcp.options.mss.value", fmt.Sprintf("MSS Value: %d", mss), fmt.Sprint(mss), at, 2))
	case TCPOptionWindowScale:
		if n != tcpOptLenWindowScale {
			wrong("tcp.options.wscale", tcpOptLenWindowScale)
			break
		}
		shift := body[0]
		mult := 1 << min(shift, 14)
		f.Name, f.Label = "tcp.options.wscale", fmt.Sprintf("Window scale: %d (multiply by %d)", shift, mult)
		s := disField("tcp.options.wscale.shift", fmt.Sprintf("Shift count: %d", shift), fmt.Sprint(shift), at, 1)
		if shift > 14 {
			s.Label += " (above 14: used as 14, RFC 7323 §2.3)"
			s.Severity = SeverityWarning
		}
		f.add(s, disField("tcp.options.wscale.multiplier", fmt.Sprintf("Multiplier: %d", mult), fmt.Sprint(mult), at, 1))
	case TCPOptionSACKPermitted:
		if n != tcpOptLenSACKPermitted {
			wrong("tcp.options.sack_perm", tcpOptLenSACKPermitted)
			break
		}
		f.Name, f.Label = "tcp.options.sack_perm", "SACK permitted"
	case TCPOptionSACK:
		if n < 10 || (n-2)%8 != 0 {
			f.Name = "tcp.options.sack"
			f.Label = fmt.Sprintf("SACK: malformed, length %d is not 2 plus a positive multiple of 8", n)
			f.Severity = SeverityError
			if len(body) > 0 {
				f.add(disField("tcp.options.data", "Data: "+disHex(body), disHex(body), at, len(body)))
			}
			break
		}
		f.Name, f.Label = "tcp.options.sack", fmt.Sprintf("SACK: %d block(s)", len(body)/8)
		for j := 0; j+8 <= len(body); j += 8 {
			l, r := binary.BigEndian.Uint32(body[j:]), binary.BigEndian.Uint32(body[j+4:])
			blk := disField("tcp.options.sack.block", fmt.Sprintf("Block: %d-%d (%d bytes)", l, r, r-l), "", at+j, 8)
			blk.add(disField("tcp.options.sack.le", fmt.Sprintf("Left Edge: %d", l), fmt.Sprint(l), at+j, 4),
				disField("tcp.options.sack.re", fmt.Sprintf("Right Edge: %d", r), fmt.Sprint(r), at+j+4, 4))
			f.add(blk)
		}
	case TCPOptionTimestamps:
		if n != tcpOptLenTimestamps {
			wrong("tcp.options.timestamp", tcpOptLenTimestamps)
			break
		}
		val, ecr := binary.BigEndian.Uint32(body), binary.BigEndian.Uint32(body[4:])
		f.Name, f.Label = "tcp.options.timestamp", fmt.Sprintf("Timestamps: TSval %d, TSecr %d", val, ecr)
		f.add(disField("tcp.options.timestamp.tsval", fmt.Sprintf("Timestamp value: %d", val), fmt.Sprint(val), at, 4),
			disField("tcp.options.timestamp.tsecr", fmt.Sprintf("Timestamp echo reply: %d", ecr), fmt.Sprint(ecr), at+4, 4))
	default:
		if len(body) > 0 {
			f.add(disField("tcp.options.data", "Data: "+disHex(body), disHex(body), at, len(body)))
		}
	}
	return f
}
