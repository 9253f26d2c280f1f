package wire

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Cross-checks with gopacket: what tipy marshals gopacket decodes to the same
// field values, and what gopacket serializes tipy parses to the same values.

func l3GPSerialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func l3GPAddr(t *testing.T, ip net.IP) netip.Addr {
	t.Helper()
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		t.Fatalf("gopacket address %v", ip)
	}
	return a.Unmap()
}

func l3RandMAC(r *rand.Rand) MAC {
	var m MAC
	for i := range m {
		m[i] = byte(r.Uint32())
	}
	return m
}

func l3RandAddr(r *rand.Rand) netip.Addr {
	var a [4]byte
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return netip.AddrFrom4(a)
}

func TestGopacketEthernet(t *testing.T) {
	r := rand.New(rand.NewPCG(802, 3))
	for i := 0; i < 200; i++ {
		h := EthernetHeader{Dst: l3RandMAC(r), Src: l3RandMAC(r), Type: EtherType(0x0600 + r.IntN(0xfa00))}
		payload := l3Pattern(r.IntN(100))
		frame := make([]byte, EthernetHeaderLen+len(payload))
		copy(frame[EthernetHeaderLen:], payload)
		if err := h.Marshal(frame); err != nil {
			t.Fatal(err)
		}
		var eth layers.Ethernet
		if err := eth.DecodeFromBytes(frame, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(eth.DstMAC, h.Dst[:]) || !bytes.Equal(eth.SrcMAC, h.Src[:]) ||
			uint16(eth.EthernetType) != uint16(h.Type) || !bytes.Equal(eth.Payload, payload) {
			t.Fatalf("tipy %v, gopacket %v > %v type %#x", h, eth.SrcMAC, eth.DstMAC, uint16(eth.EthernetType))
		}

		// And back: gopacket serializes (padding to 60 bytes), tipy parses.
		gp := &layers.Ethernet{DstMAC: net.HardwareAddr(h.Dst[:]), SrcMAC: net.HardwareAddr(h.Src[:]),
			EthernetType: layers.EthernetType(h.Type)}
		b := l3GPSerialize(t, gp, gopacket.Payload(payload))
		got, err := ParseEthernet(b)
		if err != nil || got != h || !bytes.Equal(Ethernet(b).Payload()[:len(payload)], payload) {
			t.Fatalf("parsed %v, %v; want %v", got, err, h)
		}
	}
}

func TestGopacketARP(t *testing.T) {
	r := rand.New(rand.NewPCG(826, 4))
	for i := 0; i < 200; i++ {
		h := ARPHeader{Op: ARPOp(1 + r.IntN(2)), SHA: l3RandMAC(r), SPA: l3RandAddr(r), THA: l3RandMAC(r), TPA: l3RandAddr(r)}
		b := make([]byte, ARPLen)
		if err := h.Marshal(b); err != nil {
			t.Fatal(err)
		}
		var arp layers.ARP
		if err := arp.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if arp.AddrType != layers.LinkTypeEthernet || arp.Protocol != layers.EthernetTypeIPv4 ||
			arp.HwAddressSize != 6 || arp.ProtAddressSize != 4 || arp.Operation != uint16(h.Op) ||
			!bytes.Equal(arp.SourceHwAddress, h.SHA[:]) || l3GPAddr(t, arp.SourceProtAddress) != h.SPA ||
			!bytes.Equal(arp.DstHwAddress, h.THA[:]) || l3GPAddr(t, arp.DstProtAddress) != h.TPA {
			t.Fatalf("tipy %+v, gopacket %+v", h, arp)
		}

		spa, tpa := h.SPA.As4(), h.TPA.As4()
		gp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: uint16(h.Op),
			SourceHwAddress: h.SHA[:], SourceProtAddress: spa[:], DstHwAddress: h.THA[:], DstProtAddress: tpa[:]}
		got, err := ParseARP(l3GPSerialize(t, gp))
		if err != nil || got != h {
			t.Fatalf("parsed %+v, %v; want %+v", got, err, h)
		}
	}
	// A whole frame: gopacket finds the ARP request tipy built.
	p := gopacket.NewPacket(goldenEthernet, layers.LayerTypeEthernet, gopacket.Default)
	arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || arp.Operation != layers.ARPRequest || l3GPAddr(t, arp.DstProtAddress) != l3IP20 {
		t.Fatalf("gopacket decodes the golden frame as %v", p)
	}
}

// l3RandIPv4 returns a random valid header with random options and a
// payload size that keeps the datagram valid.
func l3RandIPv4(r *rand.Rand) (IPv4Header, int) {
	h := IPv4Header{
		TOS: uint8(r.Uint32()), ID: uint16(r.Uint32()), Flags: IPv4Flags(r.IntN(8)),
		TTL: uint8(r.Uint32()), Protocol: IPProtocol(r.Uint32()), Src: l3RandAddr(r), Dst: l3RandAddr(r),
	}
	if r.IntN(3) == 0 {
		h.FragOff = 8 * r.IntN(0x2000)
	}
	room := IPv4MaxOptionsLen
	seen := map[uint8]bool{}
	for n := r.IntN(6); n > 0; n-- {
		var o IPv4Option
		switch r.IntN(8) {
		case 0:
			o = NOPOption()
		case 1:
			o = RecordRouteOption(r.IntN(4))
			o.Data[0] = uint8(4 + 4*r.IntN(len(o.Data)/4+1))
		case 2:
			route := make([]netip.Addr, r.IntN(4))
			for i := range route {
				route[i] = l3RandAddr(r)
			}
			if r.IntN(2) == 0 {
				o, _ = LSRROption(route...)
			} else {
				o, _ = SSRROption(route...)
			}
		case 3:
			o = TimestampOption(IPv4TimestampFlag([]uint8{0, 1, 3}[r.IntN(3)]), r.IntN(3))
			o.Data[1] |= uint8(r.IntN(16)) << 4
		case 4:
			o = RouterAlertOption(uint16(r.Uint32()))
		default:
			o = IPv4Option{Type: uint8(r.IntN(256)), Data: l3Pattern(r.IntN(6))}
			switch o.Type {
			case IPv4OptEOL, IPv4OptNOP, IPv4OptRecordRoute, IPv4OptTimestamp, IPv4OptLSRR, IPv4OptSSRR, IPv4OptRouterAlert:
				o = NOPOption()
			}
		}
		kind := o.Type
		if kind == IPv4OptSSRR {
			kind = IPv4OptLSRR
		}
		if o.Len() > room || (seen[kind] && (kind == IPv4OptRecordRoute || kind == IPv4OptLSRR)) {
			continue
		}
		seen[kind] = true
		room -= o.Len()
		h.Options = append(h.Options, o)
	}
	maxData := IPv4MaxLen - h.FragOff
	if maxData > 300 {
		maxData = 300
	}
	return h, r.IntN(maxData + 1)
}

// l3GPOptions checks that gopacket's options are tipy's, followed when the
// options need padding by an End of Option List and zero padding.
func l3GPOptions(t *testing.T, gp *layers.IPv4, want []IPv4Option) {
	t.Helper()
	n := 0
	for _, o := range want {
		n += o.Len()
	}
	got := gp.Options
	if n%4 != 0 {
		if len(got) != len(want)+1 || got[len(want)].OptionType != 0 || !bytes.Equal(gp.Padding, make([]byte, 3-n%4)) {
			t.Fatalf("gopacket options %+v padding % x, want %v and EOL padding", got, gp.Padding, want)
		}
		got = got[:len(want)]
	} else if len(got) != len(want) {
		t.Fatalf("gopacket options %+v, want %v", got, want)
	}
	for i, o := range want {
		g := got[i]
		if g.OptionType != o.Type || int(g.OptionLength) != o.Len() || !bytes.Equal(g.OptionData, o.Data) {
			t.Fatalf("option %d: gopacket %+v, tipy %v", i, g, o)
		}
	}
}

func TestGopacketIPv4(t *testing.T) {
	r := rand.New(rand.NewPCG(791, 5))
	withOpts := 0
	for i := 0; i < 3000; i++ {
		h, n := l3RandIPv4(r)
		if len(h.Options) > 0 {
			withOpts++
		}
		pkt := make([]byte, h.HeaderLen()+n)
		copy(pkt[h.HeaderLen():], l3Pattern(n))
		if err := h.Marshal(pkt); err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		var ip layers.IPv4
		if err := ip.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%v: gopacket: %v", h, err)
		}
		if err, res := ip.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("%v: gopacket rejects the checksum: %v %+v", h, err, res)
		}
		if ip.Version != 4 || int(ip.IHL)*4 != h.HeaderLen() || ip.TOS != h.TOS || ip.Length != h.TotalLen ||
			ip.Id != h.ID || uint8(ip.Flags) != uint8(h.Flags) || int(ip.FragOffset)*8 != h.FragOff ||
			ip.TTL != h.TTL || uint8(ip.Protocol) != uint8(h.Protocol) || ip.Checksum != h.Checksum ||
			l3GPAddr(t, ip.SrcIP) != h.Src || l3GPAddr(t, ip.DstIP) != h.Dst || !bytes.Equal(ip.Payload, l3Pattern(n)) {
			t.Fatalf("tipy %v\ngopacket %+v", h, ip)
		}
		l3GPOptions(t, &ip, h.Options)

		// And back: gopacket serializes the same header, tipy parses it.
		gp := &layers.IPv4{Version: 4, TOS: h.TOS, Id: h.ID, Flags: layers.IPv4Flag(h.Flags),
			FragOffset: uint16(h.FragOff / 8), TTL: h.TTL, Protocol: layers.IPProtocol(h.Protocol),
			SrcIP: net.IP(h.Src.AsSlice()), DstIP: net.IP(h.Dst.AsSlice())}
		for _, o := range h.Options {
			gp.Options = append(gp.Options, layers.IPv4Option{OptionType: o.Type, OptionLength: uint8(o.Len()), OptionData: o.Data})
		}
		b := l3GPSerialize(t, gp, gopacket.Payload(l3Pattern(n)))
		got, err := ParseIPv4(b)
		if err != nil {
			t.Fatalf("%v: tipy rejects gopacket's % x: %v", h, b, err)
		}
		if !IPv4(b).ChecksumValid() || !l3EqualIPv4(got, h) || !bytes.Equal(IPv4(b).Payload(), l3Pattern(n)) {
			t.Fatalf("tipy parses gopacket's datagram as %v\nwant %v", got, h)
		}
		if !bytes.Equal(b, pkt) {
			t.Fatalf("%v: gopacket\n% x\ntipy\n% x", h, b, pkt)
		}
	}
	if withOpts < 1000 {
		t.Fatalf("only %d of the headers had options", withOpts)
	}
}

// TestGopacketIPv4Golden decodes the golden headers with gopacket.
func TestGopacketIPv4Golden(t *testing.T) {
	for _, g := range l3GoldenIPv4 {
		p := gopacket.NewPacket(g.bytes, layers.LayerTypeIPv4, gopacket.Default)
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			t.Fatalf("%s: gopacket: %v", g.name, p.ErrorLayer())
		}
		if ip.Checksum != g.hdr.Checksum || ip.Length != g.hdr.TotalLen || l3GPAddr(t, ip.DstIP) != g.hdr.Dst {
			t.Fatalf("%s: gopacket %+v", g.name, ip)
		}
		if err, res := ip.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("%s: gopacket checksum %v %+v", g.name, err, res)
		}
		l3GPOptions(t, ip, g.hdr.Options)
	}
	// Non-canonical padding: gopacket keeps it as EOL and Padding, tipy as an
	// EOL option with Data.
	b := l3WithOptions([]byte{0x94, 4, 0, 0, 0, 0, 0x55, 0})
	var ip layers.IPv4
	if err := ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	h, _ := ParseIPv4(b)
	if len(ip.Options) != 2 || len(h.Options) != 2 || ip.Options[1].OptionType != 0 ||
		!bytes.Equal(ip.Padding, h.Options[1].Data) {
		t.Fatalf("gopacket %+v %x, tipy %v", ip.Options, ip.Padding, h.Options)
	}
}
