package wire

// Cross-checks with gopacket's layers package: what tipy marshals gopacket
// decodes to the same values (checksums verified through
// SetNetworkLayerForChecksum), and what gopacket serializes tipy parses to
// the same values.

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func l4GPNet(src, dst netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

// l4RandTCPHeader returns a header with a random mix of options that fits.
func l4RandTCPHeader(r *rand.Rand) TCPHeader {
	h := TCPHeader{SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()), Seq: r.Uint32(), Ack: r.Uint32(),
		Flags: TCPFlags(r.Uint32()), Window: uint16(r.Uint32()), Urgent: uint16(r.Uint32())}
	o := &h.Options
	for {
		*o = TCPOptions{}
		if r.IntN(2) == 0 {
			o.MSS, o.HasMSS = uint16(r.Uint32()), true
		}
		if r.IntN(2) == 0 {
			o.WScale, o.HasWScale = uint8(r.IntN(15)), true
		}
		o.SACKPermitted = r.IntN(2) == 0
		if r.IntN(2) == 0 {
			o.TSVal, o.TSEcr, o.HasTS = r.Uint32(), r.Uint32(), true
		}
		o.NumSACK = r.IntN(5)
		for i := range o.NumSACK {
			o.SACK[i] = SACKBlock{r.Uint32(), r.Uint32()}
		}
		if r.IntN(3) == 0 {
			o.NumUnknown = 1
			data := make([]byte, r.IntN(4))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			o.Unknown[0] = TCPOption{Kind: TCPOptionKind(40 + r.IntN(200)), Data: data}
		}
		if o.Len() <= TCPMaxOptionsLen {
			return h
		}
	}
}

func l4RandPayload(r *rand.Rand, max int) []byte {
	p := make([]byte, r.IntN(max+1))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// l4GPOptionsToTipy folds gopacket's option list into TCPOptions.
func l4GPOptionsToTipy(t *testing.T, opts []layers.TCPOption) TCPOptions {
	t.Helper()
	var o TCPOptions
	for _, g := range opts {
		d := g.OptionData
		switch g.OptionType {
		case layers.TCPOptionKindEndList, layers.TCPOptionKindNop:
		case layers.TCPOptionKindMSS:
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(d), true
		case layers.TCPOptionKindWindowScale:
			o.WScale, o.HasWScale = d[0], true
		case layers.TCPOptionKindSACKPermitted:
			o.SACKPermitted = true
		case layers.TCPOptionKindSACK:
			for i := 0; i < len(d); i += 8 {
				o.SACK[o.NumSACK] = SACKBlock{binary.BigEndian.Uint32(d[i:]), binary.BigEndian.Uint32(d[i+4:])}
				o.NumSACK++
			}
		case layers.TCPOptionKindTimestamps:
			o.TSVal, o.TSEcr, o.HasTS = binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:]), true
		default:
			o.Unknown[o.NumUnknown] = TCPOption{Kind: TCPOptionKind(g.OptionType), Data: d}
			o.NumUnknown++
		}
	}
	return o
}

func l4GPFlags(g *layers.TCP) TCPFlags {
	var f TCPFlags
	for _, x := range []struct {
		on  bool
		bit TCPFlags
	}{{g.FIN, TCPFlagFIN}, {g.SYN, TCPFlagSYN}, {g.RST, TCPFlagRST}, {g.PSH, TCPFlagPSH},
		{g.ACK, TCPFlagACK}, {g.URG, TCPFlagURG}, {g.ECE, TCPFlagECE}, {g.CWR, TCPFlagCWR}} {
		if x.on {
			f |= x.bit
		}
	}
	return f
}

func TestGopacketDecodesTipyTCP(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		h := l4RandTCPHeader(r)
		payload := l4RandPayload(r, 64)
		seg := make([]byte, h.HeaderLen()+len(payload))
		copy(seg[h.HeaderLen():], payload)
		if err := h.Marshal(seg, l4HostA, l4HostB); err != nil {
			t.Fatal(err)
		}
		var g layers.TCP
		if err := g.DecodeFromBytes(seg, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects %x: %v", seg, err)
		}
		if err := g.SetNetworkLayerForChecksum(l4GPNet(l4HostA, l4HostB, layers.IPProtocolTCP)); err != nil {
			t.Fatal(err)
		}
		if err, res := g.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("gopacket: checksum of tipy's segment invalid (%v %+v)", err, res)
		}
		got := TCPHeader{SrcPort: uint16(g.SrcPort), DstPort: uint16(g.DstPort), Seq: g.Seq, Ack: g.Ack,
			DataOffset: g.DataOffset, Flags: l4GPFlags(&g), Window: g.Window, Checksum: g.Checksum, Urgent: g.Urgent,
			Options: l4GPOptionsToTipy(t, g.Options)}
		if !got.Equal(&h) {
			t.Fatalf("gopacket decoded\n%+v\ntipy marshaled\n%+v", got, h)
		}
		if !bytes.Equal(g.Payload, payload) {
			t.Fatal("payload")
		}
	}
}

// l4GPOptionsFromTipy lists o's options for gopacket in a shuffled order,
// with random NOPs between them: tipy must not depend on the layout.
func l4GPOptionsFromTipy(r *rand.Rand, o *TCPOptions) []layers.TCPOption {
	var opts []layers.TCPOption
	add := func(k layers.TCPOptionKind, d []byte) {
		opts = append(opts, layers.TCPOption{OptionType: k, OptionData: d})
	}
	if o.HasMSS {
		add(layers.TCPOptionKindMSS, binary.BigEndian.AppendUint16(nil, o.MSS))
	}
	if o.HasWScale {
		add(layers.TCPOptionKindWindowScale, []byte{o.WScale})
	}
	if o.SACKPermitted {
		add(layers.TCPOptionKindSACKPermitted, nil)
	}
	if o.HasTS {
		add(layers.TCPOptionKindTimestamps, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, o.TSVal), o.TSEcr))
	}
	if o.NumSACK > 0 {
		var d []byte
		for _, s := range o.SACK[:o.NumSACK] {
			d = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(d, s.Left), s.Right)
		}
		add(layers.TCPOptionKindSACK, d)
	}
	for _, u := range o.Unknown[:o.NumUnknown] {
		add(layers.TCPOptionKind(u.Kind), u.Data)
	}
	r.Shuffle(len(opts), func(i, j int) { opts[i], opts[j] = opts[j], opts[i] })
	return opts
}

func TestTipyParsesGopacketTCP(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	checked := 0
	defer func() {
		if checked < 200 {
			t.Errorf("only %d segments cross-checked", checked)
		}
	}()
	for i := 0; i < 500; i++ {
		want := l4RandTCPHeader(r)
		if want.Options.packedLen() > TCPMaxOptionsLen-2 {
			continue // gopacket pads only at the end; keep room for that
		}
		payload := l4RandPayload(r, 64)
		g := &layers.TCP{SrcPort: layers.TCPPort(want.SrcPort), DstPort: layers.TCPPort(want.DstPort),
			Seq: want.Seq, Ack: want.Ack, Window: want.Window, Urgent: want.Urgent,
			FIN: want.Flags.Has(TCPFlagFIN), SYN: want.Flags.Has(TCPFlagSYN), RST: want.Flags.Has(TCPFlagRST),
			PSH: want.Flags.Has(TCPFlagPSH), ACK: want.Flags.Has(TCPFlagACK), URG: want.Flags.Has(TCPFlagURG),
			ECE: want.Flags.Has(TCPFlagECE), CWR: want.Flags.Has(TCPFlagCWR),
			Options: l4GPOptionsFromTipy(r, &want.Options)}
		ip := l4GPNet(l4HostA, l4HostB, layers.IPProtocolTCP)
		if err := g.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ip, g, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		seg := buf.Bytes()[20:]
		h, err := ParseTCP(seg)
		if err != nil {
			t.Fatalf("tipy rejects gopacket's %x: %v", seg, err)
		}
		if !TCP(seg).ChecksumValid(l4HostA, l4HostB) {
			t.Fatal("tipy: gopacket's checksum invalid")
		}
		want.DataOffset, want.Checksum = g.DataOffset, g.Checksum
		if !h.Equal(&want) {
			t.Fatalf("tipy parsed\n%+v\ngopacket serialized\n%+v", h, want)
		}
		if !bytes.Equal(TCP(seg).Payload(), payload) {
			t.Fatal("payload")
		}
		checked++
	}
}

func TestGopacketUDPBothWays(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 300; i++ {
		payload := l4RandPayload(r, 100)
		h := UDPHeader{SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32())}
		dg := make([]byte, 8+len(payload))
		copy(dg[8:], payload)
		if err := h.Marshal(dg, l4HostA, l4HostB); err != nil {
			t.Fatal(err)
		}
		var g layers.UDP
		if err := g.DecodeFromBytes(dg, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if err := g.SetNetworkLayerForChecksum(l4GPNet(l4HostA, l4HostB, layers.IPProtocolUDP)); err != nil {
			t.Fatal(err)
		}
		if err, res := g.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("gopacket: tipy's UDP checksum invalid (%v %+v)", err, res)
		}
		if uint16(g.SrcPort) != h.SrcPort || uint16(g.DstPort) != h.DstPort || g.Length != h.Length ||
			g.Checksum != h.Checksum || !bytes.Equal(g.Payload, payload) {
			t.Fatalf("gopacket decoded %+v, tipy marshaled %+v", g, h)
		}

		// And back: gopacket serializes, tipy parses.
		ip := l4GPNet(l4HostB, l4HostA, layers.IPProtocolUDP)
		gu := &layers.UDP{SrcPort: layers.UDPPort(h.DstPort), DstPort: layers.UDPPort(h.SrcPort)}
		_ = gu.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ip, gu, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		p, err := ParseUDP(buf.Bytes()[20:])
		if err != nil {
			t.Fatal(err)
		}
		if p != (UDPHeader{SrcPort: h.DstPort, DstPort: h.SrcPort, Length: gu.Length, Checksum: gu.Checksum}) ||
			!UDP(buf.Bytes()[20:]).ChecksumValid(l4HostB, l4HostA) || !bytes.Equal(UDP(buf.Bytes()[20:]).Payload(), payload) {
			t.Fatalf("tipy parsed %+v from gopacket's %+v", p, gu)
		}
	}
}

func TestGopacketICMPBothWays(t *testing.T) {
	quote := goldenFragNeeded[8:]
	for _, h := range []ICMPHeader{
		{Type: ICMPEchoRequest, ID: 0x1234, Seq: 7},
		{Type: ICMPEchoReply, ID: 1, Seq: 65535},
		{Type: ICMPDestinationUnreachable, Code: ICMPFragmentationNeeded, MTU: 1280},
		{Type: ICMPDestinationUnreachable, Code: ICMPPortUnreachable},
		{Type: ICMPTimeExceeded, Code: ICMPTTLExceeded},
	} {
		msg := make([]byte, 8+len(quote))
		copy(msg[8:], quote)
		if err := h.Marshal(msg); err != nil {
			t.Fatal(err)
		}
		var g layers.ICMPv4
		if err := g.DecodeFromBytes(msg, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if err, res := g.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("gopacket: tipy's ICMP checksum invalid")
		}
		// gopacket reads the rest of header as id and seq whatever the type.
		wantID, wantSeq := h.ID, h.Seq
		if h.Code == ICMPFragmentationNeeded {
			wantSeq = h.MTU
		}
		if g.TypeCode.Type() != uint8(h.Type) || g.TypeCode.Code() != h.Code || g.Checksum != h.Checksum ||
			g.Id != wantID || g.Seq != wantSeq || !bytes.Equal(g.Payload, quote) {
			t.Fatalf("gopacket decoded %+v, tipy marshaled %+v", g, h)
		}

		gi := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(uint8(h.Type), h.Code), Id: wantID, Seq: wantSeq}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, gi, gopacket.Payload(quote)); err != nil {
			t.Fatal(err)
		}
		p, err := ParseICMP(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		want := h
		if h.Type.IsError() {
			want.Quote = quote
		} else {
			want.Data = quote
		}
		if !p.Equal(&want) || !ICMP(buf.Bytes()).ChecksumValid() {
			t.Fatalf("tipy parsed %+v from gopacket's %+v", p, gi)
		}
	}
}
