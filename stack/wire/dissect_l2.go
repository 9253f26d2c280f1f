package wire

// Dissection of the link layer: Ethernet II (offsets in ethernet.go) and ARP
// (offsets in arp.go).

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// ethernet dissects the frame header and hands the payload on by EtherType.
func (d *dissector) ethernet() {
	b := d.frame
	v := Ethernet(b)
	layer := disField("ethernet", "Ethernet II", "", 0, min(len(b), EthernetHeaderLen))
	var parts []string
	if len(b) >= ethDst+6 {
		layer.add(disMAC("ethernet.dst", "Destination", v.Dst(), ethDst, false))
		parts = append(parts, "Dst: "+v.Dst().String())
	}
	if len(b) >= ethSrc+6 {
		layer.add(disMAC("ethernet.src", "Source", v.Src(), ethSrc, true))
		parts = append(parts, "Src: "+v.Src().String())
		d.out.Source, d.out.Destination = v.Src().String(), v.Dst().String()
	}
	if len(b) >= ethType+2 {
		t := v.Type()
		if t < EtherTypeMin {
			layer.add(disField("ethernet.type", fmt.Sprintf("Length: %d (an IEEE 802.3 length, not an EtherType)", uint16(t)),
				fmt.Sprintf("0x%04x", uint16(t)), ethType, 2))
		} else {
			layer.add(disField("ethernet.type", fmt.Sprintf("Type: %s (0x%04x)", disEtherTypeName(t), uint16(t)),
				fmt.Sprintf("0x%04x", uint16(t)), ethType, 2))
		}
	}
	if len(parts) > 0 {
		layer.Label += ", " + strings.Join(parts, ", ")
	}
	d.out.Protocol = "Ethernet"
	if err := v.Validate(); err != nil {
		d.fail(&layer, 0, err)
		d.addLayer(layer)
		d.rest(layer.End(), len(b))
		return
	}
	d.addLayer(layer)
	h := EthernetHeader{Dst: v.Dst(), Src: v.Src(), Type: v.Type()}
	d.out.Summary = fmt.Sprintf("%v, length %d", h, len(b))
	d.out.Info = disAfter(d.out.Summary, ", ")
	switch h.Type {
	case EtherTypeARP:
		d.arp(EthernetHeaderLen)
	case EtherTypeIPv4:
		d.ipv4(EthernetHeaderLen)
	default:
		d.data(EthernetHeaderLen, len(b), "")
	}
}

// disEtherTypeName names an EtherType, "Unknown" for those tipy does not
// know.
func disEtherTypeName(t EtherType) string {
	switch t {
	case EtherTypeIPv4, EtherTypeARP, EtherTypeVLAN, EtherTypeIPv6:
		return t.String()
	}
	return "Unknown"
}

// disMAC makes the node of a MAC address field with its two flag bits, the
// I/G bit (group address) and the U/L bit (locally administered), as
// children. A group address as the source is flagged as a warning.
func disMAC(name, what string, m MAC, off int, source bool) Field {
	note := ""
	sev := ""
	switch {
	case m.IsBroadcast():
		note = " (broadcast)"
	case m.IsMulticast():
		note = " (multicast)"
	}
	if source && m.IsMulticast() {
		note += ": a group address is not valid as a source"
		sev = SeverityWarning
	}
	f := disField(name, what+": "+m.String()+note, m.String(), off, 6)
	f.Severity = sev
	lg := "globally unique address (factory default)"
	if m[0]&2 != 0 {
		lg = "locally administered address"
	}
	ig := "individual address (unicast)"
	if m[0]&1 != 0 {
		ig = "group address (multicast/broadcast)"
	}
	f.add(disBits(name+".lg", "LG bit: "+lg, disBool(m[0]&2 != 0), off, 1, 0x02),
		disBits(name+".ig", "IG bit: "+ig, disBool(m[0]&1 != 0), off, 1, 0x01))
	return f
}

// arp dissects an ARP packet at frame offset base. Address fields are laid
// out by the hardware and protocol lengths the packet gives, so that ARP for
// other hardware shows every field too, before the parser refuses it.
func (d *dissector) arp(base int) {
	b := d.frame[base:]
	v := ARP(b)
	hl, pl := 6, 4
	if len(b) > arpPLen {
		hl, pl = int(v.HardwareLen()), int(v.ProtocolLen())
	}
	layer := disField("arp", "Address Resolution Protocol", "", base, min(len(b), arpSHA+2*hl+2*pl))
	has := func(off, n int) bool { return off+n <= len(b) }
	if has(arpHType, 2) {
		t := v.HardwareType()
		name := "unknown"
		if t == ARPHardwareEthernet {
			name = "Ethernet"
		}
		layer.add(disField("arp.htype", fmt.Sprintf("Hardware type: %s (%d)", name, t), fmt.Sprint(t), base+arpHType, 2))
	}
	if has(arpPType, 2) {
		t := v.ProtocolType()
		layer.add(disField("arp.ptype", fmt.Sprintf("Protocol type: %s (0x%04x)", disEtherTypeName(t), uint16(t)),
			fmt.Sprintf("0x%04x", uint16(t)), base+arpPType, 2))
	}
	if has(arpHLen, 1) {
		layer.add(disField("arp.hlen", fmt.Sprintf("Hardware size: %d", hl), fmt.Sprint(hl), base+arpHLen, 1))
	}
	if has(arpPLen, 1) {
		layer.add(disField("arp.plen", fmt.Sprintf("Protocol size: %d", pl), fmt.Sprint(pl), base+arpPLen, 1))
	}
	if has(arpOp, 2) {
		op := v.Op()
		layer.Label += " (" + strings.ToLower(op.String()) + ")"
		layer.add(disField("arp.op", fmt.Sprintf("Opcode: %s (%d)", strings.ToLower(op.String()), uint16(op)),
			fmt.Sprint(uint16(op)), base+arpOp, 2))
	}
	addrs := [...]struct {
		name, what string
		n          int
		hw         bool
	}{
		{"arp.sha", "Sender MAC address", hl, true},
		{"arp.spa", "Sender IP address", pl, false},
		{"arp.tha", "Target MAC address", hl, true},
		{"arp.tpa", "Target IP address", pl, false},
	}
	off := arpSHA
	for _, a := range addrs {
		if a.n > 0 && has(off, a.n) {
			s := disARPAddr(b[off:off+a.n], a.hw)
			layer.add(disField(a.name, a.what+": "+s, s, base+off, a.n))
		}
		off += a.n
	}
	if err := v.Validate(); err != nil {
		d.fail(&layer, base, err)
		d.addLayer(layer)
		d.rest(layer.End(), len(d.frame))
		return
	}
	d.addLayer(layer)
	h, _ := ParseARP(b) // cannot fail: validated above
	d.out.Protocol = "ARP"
	d.out.Summary = h.String()
	d.out.Info = strings.TrimPrefix(d.out.Summary, "ARP, ")
	d.padding(base + ARPLen)
}

// disARPAddr formats an ARP address: a MAC for 6-byte hardware addresses,
// dotted quad for 4-byte protocol addresses, hex otherwise.
func disARPAddr(b []byte, hw bool) string {
	switch {
	case hw && len(b) == 6:
		return MAC(b).String()
	case !hw && len(b) == 4:
		return disAddr4(b).String()
	case len(b) == 2:
		return fmt.Sprintf("0x%04x", binary.BigEndian.Uint16(b))
	}
	return "0x" + disHex(b)
}
