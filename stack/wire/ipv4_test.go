package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// goldenIPv4 is the header of an ICMP echo request of 84 bytes from
// 192.168.2.7 to 192.168.2.20 (ping's default 56 data bytes), followed by the
// 64 ICMP bytes (opaque here).
var goldenIPv4 = append([]byte{
	0x45,       // version 4, IHL 5 (20 bytes)
	0x00,       // type of service
	0x00, 0x54, // total length 84
	0x12, 0x34, // identification 4660
	0x40, 0x00, // flags DF, fragment offset 0
	0x40,       // time to live 64
	0x01,       // protocol ICMP
	0xa3, 0x09, // header checksum
	0xc0, 0xa8, 0x02, 0x07, // source 192.168.2.7
	0xc0, 0xa8, 0x02, 0x14, // destination 192.168.2.20
}, l3Pattern(64)...)

var goldenIPv4Header = IPv4Header{
	TotalLen: 84, ID: 4660, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoICMP,
	Checksum: 0xa309, Src: l3IP7, Dst: netip.MustParseAddr("192.168.2.20"),
}

// goldenIPv4Opts is an IGMP message to 224.0.0.22 whose header carries a
// Record Route option with one of its two slots filled, a Router Alert and
// one byte of End of Option List padding, followed by 8 bytes of data.
var goldenIPv4Opts = append([]byte{
	0x49,       // version 4, IHL 9 (36 bytes: 16 bytes of options)
	0x00,       // type of service
	0x00, 0x2c, // total length 44
	0xab, 0xcd, // identification 43981
	0x00, 0x00, // no flags, fragment offset 0
	0x01,       // time to live 1
	0x02,       // protocol IGMP
	0xa3, 0xdb, // header checksum
	0xc0, 0xa8, 0x02, 0x07, // source 192.168.2.7
	0xe0, 0x00, 0x00, 0x16, // destination 224.0.0.22
	0x07, 0x0b, 0x08, // Record Route, length 11, pointer 8 (second slot)
	0xc0, 0xa8, 0x02, 0x07, //   slot 1: 192.168.2.7
	0x00, 0x00, 0x00, 0x00, //   slot 2: empty
	0x94, 0x04, 0x00, 0x00, // Router Alert, length 4, value 0
	0x00, // End of Option List (padding to 16 bytes)
}, l3Pattern(8)...)

var goldenIPv4OptsHeader = IPv4Header{
	TotalLen: 44, ID: 0xabcd, TTL: 1, Protocol: ProtoIGMP, Checksum: 0xa3db,
	Src: l3IP7, Dst: netip.MustParseAddr("224.0.0.22"),
	Options: []IPv4Option{
		{Type: IPv4OptRecordRoute, Data: []byte{8, 192, 168, 2, 7, 0, 0, 0, 0}},
		{Type: IPv4OptRouterAlert, Data: []byte{0, 0}},
	},
}

// l3Pattern returns n bytes of a recognisable payload.
func l3Pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(0xa0 + i)
	}
	return p
}

// l3EqualIPv4 compares parsed headers, treating nil and empty option data
// alike.
func l3EqualIPv4(a, b IPv4Header) bool {
	oa, ob := a.Options, b.Options
	a.Options, b.Options = nil, nil
	if !reflect.DeepEqual(a, b) || len(oa) != len(ob) {
		return false
	}
	for i := range oa {
		if oa[i].Type != ob[i].Type || !bytes.Equal(oa[i].Data, ob[i].Data) {
			return false
		}
	}
	return true
}

var l3GoldenIPv4 = []struct {
	name  string
	bytes []byte
	hdr   IPv4Header
}{
	{"plain", goldenIPv4, goldenIPv4Header},
	{"options", goldenIPv4Opts, goldenIPv4OptsHeader},
}

func TestIPv4GoldenView(t *testing.T) {
	for _, g := range l3GoldenIPv4 {
		v := IPv4(g.bytes)
		if err := v.Validate(); err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		h := g.hdr
		hl := h.HeaderLen()
		switch {
		case v.Version() != 4, int(v.IHL())*4 != hl, v.HeaderLen() != hl:
			t.Errorf("%s: version %d IHL %d", g.name, v.Version(), v.IHL())
		case v.TOS() != h.TOS, v.DSCP() != 0, v.ECN() != 0, v.TotalLen() != h.TotalLen, v.ID() != h.ID:
			t.Errorf("%s: tos %d len %d id %d", g.name, v.TOS(), v.TotalLen(), v.ID())
		case v.Flags() != h.Flags, v.DontFragment() != (h.Flags&IPv4FlagDF != 0), v.More(),
			v.FragmentOffset() != 0, v.IsFragment():
			t.Errorf("%s: flags %v offset %d", g.name, v.Flags(), v.FragmentOffset())
		case v.TTL() != h.TTL, v.Protocol() != h.Protocol, v.Checksum() != h.Checksum:
			t.Errorf("%s: ttl %d proto %v checksum %#x", g.name, v.TTL(), v.Protocol(), v.Checksum())
		case v.Src() != h.Src, v.Dst() != h.Dst:
			t.Errorf("%s: %v > %v", g.name, v.Src(), v.Dst())
		case !v.ChecksumValid(), v.ComputeChecksum() != h.Checksum:
			t.Errorf("%s: checksum does not verify (computed %#x)", g.name, v.ComputeChecksum())
		case !bytes.Equal(v.Options(), g.bytes[20:hl]):
			t.Errorf("%s: options % x", g.name, v.Options())
		case !bytes.Equal(v.Payload(), g.bytes[hl:]):
			t.Errorf("%s: payload % x", g.name, v.Payload())
		}
	}
	ra, ok := IPv4(goldenIPv4Opts).FindOption(IPv4OptRouterAlert)
	if val, err := ra.RouterAlert(); !ok || err != nil || val != 0 {
		t.Fatalf("FindOption(RA): %v %v %v %v", ra, ok, val, err)
	}
	if _, ok := IPv4(goldenIPv4Opts).FindOption(IPv4OptTimestamp); ok {
		t.Fatal("FindOption found a Timestamp")
	}
	if _, ok := IPv4(goldenIPv4).FindOption(IPv4OptRouterAlert); ok {
		t.Fatal("FindOption found an option in a header without")
	}
}

func TestIPv4GoldenSetters(t *testing.T) {
	// Without options.
	b := bytes.Repeat([]byte{0xee}, len(goldenIPv4))
	copy(b[20:], goldenIPv4[20:])
	v := IPv4(b)
	v.SetVersion(4)
	v.SetIHL(5)
	v.SetTOS(0)
	v.SetTotalLen(84)
	v.SetID(4660)
	v.SetFragmentOffset(0)
	v.SetFlags(IPv4FlagDF)
	v.SetTTL(64)
	v.SetProtocol(ProtoICMP)
	v.SetSrc(l3IP7)
	v.SetDst(l3IP20)
	v.UpdateChecksum()
	if !bytes.Equal(b, goldenIPv4) {
		t.Fatalf("built\n% x\nwant\n% x", b, goldenIPv4[:20])
	}
	// With options: the option bytes are written as raw bytes, the rest by
	// setters, and the checksum set explicitly.
	b = bytes.Repeat([]byte{0xee}, len(goldenIPv4Opts))
	copy(b[20:], goldenIPv4Opts[20:])
	v = IPv4(b)
	v.SetIHL(9)
	v.SetVersion(4)
	v.SetTOS(0)
	v.SetTotalLen(44)
	v.SetID(0xabcd)
	v.SetFlags(0)
	v.SetFragmentOffset(0)
	v.SetTTL(1)
	v.SetProtocol(ProtoIGMP)
	v.SetChecksum(0xa3db)
	v.SetSrc(l3IP7)
	v.SetDst(netip.MustParseAddr("224.0.0.22"))
	if !bytes.Equal(b, goldenIPv4Opts) {
		t.Fatalf("built\n% x\nwant\n% x", b, goldenIPv4Opts)
	}
	// Setters of flags and offset leave each other alone.
	v.SetFlags(IPv4FlagMF | IPv4FlagDF | IPv4FlagReserved)
	v.SetFragmentOffset(IPv4MaxFragOff)
	if v.Flags() != 7 || v.FragmentOffset() != IPv4MaxFragOff || !v.IsFragment() {
		t.Fatalf("flags %v offset %d", v.Flags(), v.FragmentOffset())
	}
	v.SetFlags(0)
	if v.FragmentOffset() != IPv4MaxFragOff {
		t.Fatalf("SetFlags changed the offset to %d", v.FragmentOffset())
	}
}

func TestIPv4GoldenParse(t *testing.T) {
	for _, g := range l3GoldenIPv4 {
		h, err := ParseIPv4(g.bytes)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if !reflect.DeepEqual(h, g.hdr) {
			t.Fatalf("%s: parsed %+v\nwant %+v", g.name, h, g.hdr)
		}
	}
	if h, _ := ParseIPv4(goldenIPv4); h.Options != nil {
		t.Fatal("Options is not nil for a header without options")
	}
}

func TestIPv4GoldenMarshal(t *testing.T) {
	for _, g := range l3GoldenIPv4 {
		h := g.hdr
		h.TotalLen, h.Checksum = 0, 0 // Marshal computes them
		hl := h.HeaderLen()
		if hl != int(g.bytes[0]&0xf)*4 {
			t.Fatalf("%s: HeaderLen %d", g.name, hl)
		}
		pkt := bytes.Repeat([]byte{0xee}, len(g.bytes))
		copy(pkt[hl:], g.bytes[hl:])
		if err := h.Marshal(pkt); err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if !bytes.Equal(pkt, g.bytes) {
			t.Fatalf("%s: marshalled\n% x\nwant\n% x", g.name, pkt, g.bytes)
		}
		if !reflect.DeepEqual(h, g.hdr) {
			t.Fatalf("%s: header after Marshal %+v", g.name, h)
		}
	}
}

func TestIPv4RoundTrip(t *testing.T) {
	for _, g := range l3GoldenIPv4 {
		h, _ := ParseIPv4(g.bytes)
		pkt := make([]byte, h.HeaderLen()+len(IPv4(g.bytes).Payload()))
		copy(pkt[h.HeaderLen():], IPv4(g.bytes).Payload())
		if err := h.Marshal(pkt); err != nil {
			t.Fatal(err)
		}
		h2, err := ParseIPv4(pkt)
		if err != nil || !l3EqualIPv4(h, h2) || !bytes.Equal(pkt, g.bytes) {
			t.Fatalf("%s: round trip %+v, %v", g.name, h2, err)
		}
	}
}

func TestIPv4Truncated(t *testing.T) {
	bounds := []struct {
		n     int
		field string
	}{
		{0, "version"}, {1, "type of service"}, {2, "total length"}, {3, "total length"},
		{4, "identification"}, {6, "flags"}, {8, "time to live"}, {9, "protocol"},
		{10, "header checksum"}, {12, "source address"}, {15, "source address"},
		{16, "destination address"}, {19, "destination address"},
	}
	for _, c := range bounds {
		_, err := ParseIPv4(goldenIPv4[:c.n])
		l3WantParseError(t, err, ErrTruncated, "ipv4", c.field)
	}
	// The options cut: IHL says 36 bytes, 20 to 35 arrive.
	for n := 20; n < 36; n++ {
		_, err := ParseIPv4(goldenIPv4Opts[:n])
		l3WantParseError(t, err, ErrTruncated, "ipv4", "IHL")
	}
	// The header is whole but the data are cut: total length says 84.
	_, err := ParseIPv4(goldenIPv4[:83])
	pe := l3WantParseError(t, err, ErrTruncated, "ipv4", "total length")
	if pe.Offset != 2 || pe.Reason != "84 exceeds the 83 bytes received" {
		t.Fatalf("offset %d reason %q", pe.Offset, pe.Reason)
	}
}

func TestIPv4Malformed(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(v IPv4)
		field string
	}{
		{"version 6", func(v IPv4) { v.SetVersion(6) }, "version"},
		{"version 0", func(v IPv4) { v.SetVersion(0) }, "version"},
		{"IHL 4", func(v IPv4) { v.SetIHL(4) }, "IHL"},
		{"IHL 0", func(v IPv4) { v.SetIHL(0) }, "IHL"},
		{"total length 19", func(v IPv4) { v.SetTotalLen(19) }, "total length"},
		{"total length 0", func(v IPv4) { v.SetTotalLen(0) }, "total length"},
		{"fragment past 65535", func(v IPv4) { v.SetFragmentOffset(IPv4MaxLen - 63) }, "fragment offset"},
	}
	for _, c := range cases {
		b := bytes.Clone(goldenIPv4)
		c.mod(IPv4(b))
		_, err := ParseIPv4(b)
		l3WantParseError(t, err, ErrMalformed, "ipv4", c.field)
	}
	// One 8-byte step lower, the 64 data bytes end at 65528: accepted.
	b := bytes.Clone(goldenIPv4)
	IPv4(b).SetFragmentOffset(IPv4MaxLen - 63 - 8)
	if _, err := ParseIPv4(b); err != nil {
		t.Fatalf("fragment ending at 65528: %v", err)
	}
	// A total length smaller than the buffer: the rest is link padding.
	b = append(bytes.Clone(goldenIPv4), 0, 0, 0, 0)
	if v := IPv4(b); v.Validate() != nil || len(v.Payload()) != 64 {
		t.Fatalf("padded: payload %d bytes", len(v.Payload()))
	}
}

func TestIPv4BadChecksum(t *testing.T) {
	b := bytes.Clone(goldenIPv4)
	b[11] ^= 1
	h, err := ParseIPv4(b)
	if err != nil {
		t.Fatalf("a bad checksum is not a parse error: %v", err)
	}
	if IPv4(b).ChecksumValid() || h.Checksum != 0xa308 {
		t.Fatal("ChecksumValid true after corruption")
	}
	// Any flipped bit of the header breaks it, payload bits do not.
	for i := 0; i < 20*8; i++ {
		b := bytes.Clone(goldenIPv4)
		b[i/8] ^= 1 << (i % 8)
		if IPv4(b).ChecksumValid() {
			t.Fatalf("bit %d flipped, checksum still valid", i)
		}
	}
	b = bytes.Clone(goldenIPv4)
	b[40] ^= 0xff
	if !IPv4(b).ChecksumValid() {
		t.Fatal("the header checksum covers the payload")
	}
}

func TestIPv4Fragments(t *testing.T) {
	b := bytes.Clone(goldenIPv4)
	v := IPv4(b)
	v.SetFlags(IPv4FlagMF)
	v.SetFragmentOffset(1480)
	v.UpdateChecksum()
	h, err := ParseIPv4(b)
	if err != nil {
		t.Fatal(err)
	}
	if !v.More() || !v.IsFragment() || v.FragmentOffset() != 1480 || v.DontFragment() {
		t.Fatalf("view: more %v frag %v off %d", v.More(), v.IsFragment(), v.FragmentOffset())
	}
	if !h.More() || !h.IsFragment() || h.FragOff != 1480 || h.DontFragment() {
		t.Fatalf("header: %+v", h)
	}
	want := "IP 192.168.2.7 > 192.168.2.20: proto ICMP (1), ttl 64, id 4660, offset 1480, flags [+], length 84"
	if h.String() != want {
		t.Fatalf("got  %q\nwant %q", h.String(), want)
	}
	// The last fragment: offset without MF.
	v.SetFlags(0)
	if v.More() || !v.IsFragment() {
		t.Fatal("last fragment not a fragment")
	}
	v.SetFragmentOffset(0)
	if v.IsFragment() {
		t.Fatal("whole datagram is a fragment")
	}
}

func TestIPv4DecrementTTL(t *testing.T) {
	b := bytes.Clone(goldenIPv4)
	v := IPv4(b)
	for want := 63; want >= 0; want-- {
		if got := v.DecrementTTL(); int(got) != want {
			t.Fatalf("DecrementTTL %d, want %d", got, want)
		}
		if !v.ChecksumValid() || v.Checksum() != v.ComputeChecksum() {
			t.Fatalf("ttl %d: checksum %#x, recomputed %#x", want, v.Checksum(), v.ComputeChecksum())
		}
	}
	if v.DecrementTTL() != 0 || v.TTL() != 0 {
		t.Fatal("TTL went below 0")
	}
}

func TestIPv4MarshalErrors(t *testing.T) {
	payload := 10
	cases := []struct {
		name     string
		mod      func(*IPv4Header)
		size     int
		sentinel error
		field    string
	}{
		{"short buffer", func(h *IPv4Header) {}, 19, ErrTruncated, "header"},
		{"short for options", func(h *IPv4Header) { h.Options = []IPv4Option{RouterAlertOption(0)} }, 23, ErrTruncated, "header"},
		{"too long", func(h *IPv4Header) {}, IPv4MaxLen + 1, ErrMalformed, "total length"},
		{"flags", func(h *IPv4Header) { h.Flags = 8 }, 20 + payload, ErrMalformed, "flags"},
		{"offset not multiple of 8", func(h *IPv4Header) { h.FragOff = 12 }, 20 + payload, ErrMalformed, "fragment offset"},
		{"offset negative", func(h *IPv4Header) { h.FragOff = -8 }, 20 + payload, ErrMalformed, "fragment offset"},
		{"offset too large", func(h *IPv4Header) { h.FragOff = IPv4MaxFragOff + 8 }, 20 + payload, ErrMalformed, "fragment offset"},
		{"fragment past 65535", func(h *IPv4Header) { h.FragOff = IPv4MaxFragOff }, 20 + 8, ErrMalformed, "fragment offset"},
		{"source IPv6", func(h *IPv4Header) { h.Src = netip.IPv6Loopback() }, 20 + payload, ErrMalformed, "source address"},
		{"destination zero", func(h *IPv4Header) { h.Dst = netip.Addr{} }, 20 + payload, ErrMalformed, "destination address"},
		{"options too long", func(h *IPv4Header) { h.Options = []IPv4Option{RecordRouteOption(10)} }, 80, ErrMalformed, "options"},
		{"bad option", func(h *IPv4Header) {
			h.Options = []IPv4Option{{Type: IPv4OptRouterAlert, Data: []byte{0}}}
		}, 40, ErrMalformed, "option Router Alert"},
	}
	for _, c := range cases {
		h := goldenIPv4Header
		c.mod(&h)
		before := h
		pkt := make([]byte, c.size)
		err := h.Marshal(pkt)
		l3WantParseError(t, err, c.sentinel, "ipv4", c.field)
		if !reflect.DeepEqual(h, before) || !bytes.Equal(pkt, make([]byte, c.size)) {
			t.Errorf("%s: a failed Marshal changed the header or the buffer", c.name)
		}
	}
	// The largest datagram and the last fragment that fits are fine.
	h := goldenIPv4Header
	if err := h.Marshal(make([]byte, IPv4MaxLen)); err != nil || h.TotalLen != IPv4MaxLen {
		t.Fatalf("65535 bytes: %v", err)
	}
	h.FragOff = IPv4MaxFragOff
	if err := h.Marshal(make([]byte, 20+7)); err != nil {
		t.Fatalf("last fragment: %v", err)
	}
	// IPv4-mapped addresses are IPv4 addresses.
	h = goldenIPv4Header
	h.Src = netip.AddrFrom16(l3IP7.As16())
	pkt := make([]byte, 84)
	copy(pkt[20:], goldenIPv4[20:])
	if err := h.Marshal(pkt); err != nil || !bytes.Equal(pkt, goldenIPv4) {
		t.Fatalf("mapped source: %v", err)
	}
}

func TestIPv4String(t *testing.T) {
	cases := []struct {
		h    IPv4Header
		want string
	}{
		{IPv4Header{TotalLen: 84, ID: 4660, TTL: 64, Protocol: ProtoICMP, Src: l3IP7, Dst: l3IP20},
			"IP 192.168.2.7 > 192.168.2.20: proto ICMP (1), ttl 64, id 4660, length 84"},
		{goldenIPv4Header,
			"IP 192.168.2.7 > 192.168.2.20: proto ICMP (1), ttl 64, id 4660, flags [DF], length 84"},
		{goldenIPv4OptsHeader,
			"IP 192.168.2.7 > 224.0.0.22: proto IGMP (2), ttl 1, id 43981, length 44, " +
				"options (RR ptr 8 [192.168.2.7 0.0.0.0], RA 0)"},
		{IPv4Header{TOS: 0x10, TotalLen: 40, ID: 1, Flags: IPv4FlagMF | IPv4FlagDF | IPv4FlagReserved, FragOff: 8,
			TTL: 3, Protocol: 99, Src: l3IP7, Dst: l3IP20},
			"IP 192.168.2.7 > 192.168.2.20: proto unknown (99), tos 0x10, ttl 3, id 1, offset 8, flags [+DFrsvd], length 40"},
	}
	for _, c := range cases {
		if got := c.h.String(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
	if IPv4Flags(0).String() != "none" || !strings.Contains(IPv4Flags(9).String(), "0x8") {
		t.Errorf("flags: %q %q", IPv4Flags(0), IPv4Flags(9))
	}
}

func TestParseIPv4NoAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseIPv4(goldenIPv4); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ParseIPv4 without options: %v allocations", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() { _, _ = ParseIPv4(goldenIPv4Opts) })
	if allocs != 1 {
		t.Fatalf("ParseIPv4 with options: %v allocations, want 1 (the option list)", allocs)
	}
}

func BenchmarkParseIPv4(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(goldenIPv4)))
	for b.Loop() {
		if _, err := ParseIPv4(goldenIPv4); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseIPv4Options(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseIPv4(goldenIPv4Opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIPv4ValidateChecksum(b *testing.B) {
	b.ReportAllocs()
	v := IPv4(goldenIPv4)
	for b.Loop() {
		if v.Validate() != nil || !v.ChecksumValid() {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkMarshalIPv4(b *testing.B) {
	b.ReportAllocs()
	pkt := make([]byte, 1500)
	h := goldenIPv4Header
	for b.Loop() {
		if err := h.Marshal(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
