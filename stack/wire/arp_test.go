package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

var (
	l3IP7  = netip.MustParseAddr("192.168.2.7")
	l3IP20 = netip.MustParseAddr("192.168.2.20")
)

// goldenARP is a real ARP request: 192.168.2.7 (02:00:00:00:00:07) asks
// who has 192.168.2.20.
var goldenARP = []byte{
	0x00, 0x01, // hardware type: Ethernet (1)
	0x08, 0x00, // protocol type: IPv4 (0x0800)
	0x06,       // hardware address length: 6
	0x04,       // protocol address length: 4
	0x00, 0x01, // operation: request (1)
	0x02, 0x00, 0x00, 0x00, 0x00, 0x07, // sender hardware address 02:00:00:00:00:07
	0xc0, 0xa8, 0x02, 0x07, // sender protocol address 192.168.2.7
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target hardware address: unknown, zero
	0xc0, 0xa8, 0x02, 0x14, // target protocol address 192.168.2.20
}

var goldenARPHeader = ARPHeader{
	HardwareType: 1, ProtocolType: EtherTypeIPv4, HardwareLen: 6, ProtocolLen: 4,
	Op: ARPRequest, SHA: l3MAC7, SPA: l3IP7, THA: ZeroMAC, TPA: l3IP20,
}

func TestARPGoldenView(t *testing.T) {
	v := ARP(goldenARP)
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	if v.HardwareType() != 1 || v.ProtocolType() != EtherTypeIPv4 || v.HardwareLen() != 6 || v.ProtocolLen() != 4 {
		t.Fatalf("htype %d ptype %v hlen %d plen %d", v.HardwareType(), v.ProtocolType(), v.HardwareLen(), v.ProtocolLen())
	}
	if v.Op() != ARPRequest || v.SHA() != l3MAC7 || v.SPA() != l3IP7 || v.THA() != ZeroMAC || v.TPA() != l3IP20 {
		t.Fatalf("op %v sha %v spa %v tha %v tpa %v", v.Op(), v.SHA(), v.SPA(), v.THA(), v.TPA())
	}
	if !bytes.Equal(Ethernet(goldenEthernet).Payload(), goldenARP) {
		t.Fatal("goldenEthernet does not carry goldenARP")
	}
}

func TestARPGoldenSetters(t *testing.T) {
	b := bytes.Repeat([]byte{0xee}, ARPLen)
	v := ARP(b)
	v.SetHardwareType(ARPHardwareEthernet)
	v.SetProtocolType(EtherTypeIPv4)
	v.SetHardwareLen(6)
	v.SetProtocolLen(4)
	v.SetOp(ARPRequest)
	v.SetSHA(l3MAC7)
	v.SetSPA(l3IP7)
	v.SetTHA(ZeroMAC)
	v.SetTPA(l3IP20)
	if !bytes.Equal(b, goldenARP) {
		t.Fatalf("built\n% x\nwant\n% x", b, goldenARP)
	}
}

func TestARPGoldenParse(t *testing.T) {
	h, err := ParseARP(goldenARP)
	if err != nil {
		t.Fatal(err)
	}
	if h != goldenARPHeader {
		t.Fatalf("parsed %+v\nwant %+v", h, goldenARPHeader)
	}
	// In a minimum-size frame the packet is followed by padding, ignored.
	padded := append(bytes.Clone(goldenARP), make([]byte, 18)...)
	if h, err := ParseARP(padded); err != nil || h != goldenARPHeader {
		t.Fatalf("padded: %+v, %v", h, err)
	}
}

func TestARPGoldenMarshal(t *testing.T) {
	b := bytes.Repeat([]byte{0xee}, ARPLen)
	h := goldenARPHeader
	if h.HeaderLen() != ARPLen {
		t.Fatalf("HeaderLen %d", h.HeaderLen())
	}
	if err := h.Marshal(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenARP) {
		t.Fatalf("marshalled\n% x\nwant\n% x", b, goldenARP)
	}
}

func TestARPMarshalDefaults(t *testing.T) {
	// Zero types and lengths mean Ethernet/IPv4, filled in h too.
	h := ARPHeader{Op: ARPRequest, SHA: l3MAC7, SPA: l3IP7, TPA: l3IP20}
	b := make([]byte, ARPLen)
	if err := h.Marshal(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenARP) {
		t.Fatalf("marshalled\n% x\nwant\n% x", b, goldenARP)
	}
	if h != goldenARPHeader {
		t.Fatalf("h after Marshal %+v", h)
	}
	// IPv4-mapped IPv6 addresses are IPv4 addresses.
	h.SPA = netip.AddrFrom16(l3IP7.As16())
	if err := h.Marshal(b); err != nil || !bytes.Equal(b, goldenARP) {
		t.Fatalf("mapped SPA: %v\n% x", err, b)
	}
}

func TestARPTruncated(t *testing.T) {
	want := func(n int) string {
		for _, f := range arpFields {
			if f.off+f.size > n {
				return f.name
			}
		}
		return ""
	}
	// The boundaries, written out: a field is named when it is cut.
	bounds := map[int]string{
		0: "hardware type", 1: "hardware type", 2: "protocol type", 4: "hardware length",
		5: "protocol length", 6: "operation", 8: "sender hardware address",
		13: "sender hardware address", 14: "sender protocol address",
		18: "target hardware address", 24: "target protocol address", 27: "target protocol address",
	}
	for n, f := range bounds {
		if want(n) != f {
			t.Fatalf("table: %d bytes cut %q, not %q", n, want(n), f)
		}
	}
	for n := 0; n < ARPLen; n++ {
		_, err := ParseARP(goldenARP[:n])
		l3WantParseError(t, err, ErrTruncated, "arp", want(n))
	}
}

func TestARPUnsupported(t *testing.T) {
	cases := []struct {
		off   int
		val   []byte
		field string
	}{
		{arpHType, []byte{0x00, 0x06}, "hardware type"}, // IEEE 802 networks
		{arpPType, []byte{0x86, 0xdd}, "protocol type"}, // IPv6 (not used by ARP, but well formed)
		{arpHLen, []byte{8}, "hardware length"},         // EUI-64
		{arpPLen, []byte{16}, "protocol length"},        // 16-byte addresses
		{arpOp, []byte{0x00, 0x03}, "operation"},        // RARP request
		{arpOp, []byte{0x00, 0x00}, "operation"},        // reserved
	}
	for _, c := range cases {
		b := bytes.Clone(goldenARP)
		copy(b[c.off:], c.val)
		_, err := ParseARP(b)
		pe := l3WantParseError(t, err, ErrUnsupported, "arp", c.field)
		if pe.Offset != c.off {
			t.Errorf("%s: offset %d, want %d", c.field, pe.Offset, c.off)
		}
	}
}

func TestARPMarshalErrors(t *testing.T) {
	cases := []struct {
		mod      func(*ARPHeader)
		size     int
		sentinel error
		field    string
	}{
		{func(h *ARPHeader) {}, ARPLen - 1, ErrTruncated, "packet"},
		{func(h *ARPHeader) { h.HardwareType = 6 }, ARPLen, ErrUnsupported, "hardware type"},
		{func(h *ARPHeader) { h.ProtocolType = EtherTypeIPv6 }, ARPLen, ErrUnsupported, "protocol type"},
		{func(h *ARPHeader) { h.HardwareLen = 8 }, ARPLen, ErrUnsupported, "hardware length"},
		{func(h *ARPHeader) { h.ProtocolLen = 16 }, ARPLen, ErrUnsupported, "protocol length"},
		{func(h *ARPHeader) { h.Op = 0 }, ARPLen, ErrUnsupported, "operation"},
		{func(h *ARPHeader) { h.SPA = netip.Addr{} }, ARPLen, ErrMalformed, "sender protocol address"},
		{func(h *ARPHeader) { h.TPA = netip.MustParseAddr("2001:db8::1") }, ARPLen, ErrMalformed, "target protocol address"},
	}
	for _, c := range cases {
		h := goldenARPHeader
		c.mod(&h)
		before := h
		b := make([]byte, c.size)
		err := h.Marshal(b)
		l3WantParseError(t, err, c.sentinel, "arp", c.field)
		if !bytes.Equal(b, make([]byte, c.size)) || h != before {
			t.Errorf("%s: a failed Marshal changed the buffer or the header", c.field)
		}
	}
}

func TestARPString(t *testing.T) {
	reply := ARPHeader{Op: ARPReply, SHA: l3MAC20, SPA: l3IP20, THA: l3MAC7, TPA: l3IP7}
	probe := ARPHeader{Op: ARPRequest, SHA: l3MAC7, SPA: netip.IPv4Unspecified(), THA: l3MAC20, TPA: l3IP20}
	cases := []struct {
		h    ARPHeader
		want string
	}{
		{goldenARPHeader, "ARP, Request who-has 192.168.2.20 tell 192.168.2.7"},
		{reply, "ARP, Reply 192.168.2.20 is-at 02:00:00:00:00:14"},
		{probe, "ARP, Request who-has 192.168.2.20 (02:00:00:00:00:14) tell 0.0.0.0"},
		{ARPHeader{Op: 9, SHA: l3MAC7, SPA: l3IP7, THA: l3MAC20, TPA: l3IP20},
			"ARP, op-9, sender 192.168.2.7 (02:00:00:00:00:07), target 192.168.2.20 (02:00:00:00:00:14)"},
	}
	for _, c := range cases {
		if got := c.h.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
