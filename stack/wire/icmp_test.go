package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// goldenEcho is an echo request as Linux ping sends it: id 1, seq 2, 56
// bytes of data (a timestamp, then 0x10, 0x11, ...).
var goldenEcho = []byte{
	0x08,       // type 8, echo request
	0x00,       // code 0
	0xd0, 0xc3, // checksum over the whole message
	0x00, 0x01, // identifier 1
	0x00, 0x02, // sequence number 2
	// data, 56 bytes
	0x5f, 0x0e, 0x1c, 0x67, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
	0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
}

// goldenPortUnreachable answers a UDP datagram from 192.168.2.10:40000 to
// 192.168.2.20:9999 where nothing listens.
var goldenPortUnreachable = []byte{
	0x03,       // type 3, destination unreachable
	0x03,       // code 3, port unreachable
	0x8d, 0xcb, // checksum
	0x00, 0x00, 0x00, 0x00, // unused
	// quote: the original IPv4 header...
	0x45, 0x00, 0x00, 0x28, // version 4, IHL 5, TOS 0, total length 40
	0x12, 0x34, 0x00, 0x00, // identification 0x1234, no flags, offset 0
	0x40, 0x11, 0xe3, 0x22, // TTL 64, protocol 17 (UDP), header checksum
	0xc0, 0xa8, 0x02, 0x0a, // source 192.168.2.10
	0xc0, 0xa8, 0x02, 0x14, // destination 192.168.2.20
	// ...and the first 8 bytes of its data: the UDP header
	0x9c, 0x40, 0x27, 0x0f, // ports 40000 > 9999
	0x00, 0x14, 0xab, 0xcd, // length 20, checksum 0xabcd
}

// goldenFragNeeded tells 10.0.0.2 that a 1500-byte DF segment to 10.0.0.9
// needs an MTU of 1400 (RFC 1191).
var goldenFragNeeded = []byte{
	0x03,       // type 3, destination unreachable
	0x04,       // code 4, fragmentation needed and DF set
	0x13, 0x23, // checksum
	0x00, 0x00, // unused
	0x05, 0x78, // next-hop MTU 1400
	// quote: the original IPv4 header...
	0x45, 0x00, 0x05, 0xdc, // version 4, IHL 5, TOS 0, total length 1500
	0x00, 0x42, 0x40, 0x00, // identification 0x42, DF
	0x40, 0x06, 0x20, 0xd0, // TTL 64, protocol 6 (TCP), header checksum
	0x0a, 0x00, 0x00, 0x02, // source 10.0.0.2
	0x0a, 0x00, 0x00, 0x09, // destination 10.0.0.9
	// ...and the first 8 bytes of its data: TCP ports and sequence number
	0x0f, 0xa0, 0x00, 0x50, // ports 4000 > 80
	0x07, 0x5b, 0xcd, 0x15, // sequence number 123456789
}

type l4ICMPGolden struct {
	name  string
	bytes []byte
	hdr   ICMPHeader
	str   string
}

func l4ICMPGoldens() []l4ICMPGolden {
	return []l4ICMPGolden{
		{"echo", goldenEcho, ICMPHeader{Type: ICMPEchoRequest, Checksum: 0xd0c3, ID: 1, Seq: 2, Data: goldenEcho[8:]},
			"ICMP echo request, id 1, seq 2, length 64"},
		{"port unreachable", goldenPortUnreachable, ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPPortUnreachable,
			Checksum: 0x8dcb, Quote: goldenPortUnreachable[8:]}, "ICMP 192.168.2.20 udp port 9999 unreachable"},
		{"fragmentation needed", goldenFragNeeded, ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPFragmentationNeeded,
			Checksum: 0x1323, MTU: 1400, Quote: goldenFragNeeded[8:]}, "ICMP 10.0.0.9 unreachable - need to frag (mtu 1400)"},
	}
}

func TestICMPGoldenChecksum(t *testing.T) {
	for _, g := range l4ICMPGoldens() {
		c := bytes.Clone(g.bytes)
		c[2], c[3] = 0, 0
		if got := l4RefSum(c); got != g.hdr.Checksum {
			t.Fatalf("%s: reference checksum %#04x, golden holds %#04x", g.name, got, g.hdr.Checksum)
		}
		if !ICMP(g.bytes).ChecksumValid() || ICMP(g.bytes).VerifyChecksum() != nil {
			t.Fatalf("%s: checksum does not verify", g.name)
		}
		if g.bytes[0] == 3 { // the quoted IPv4 header checksum too
			if got := l4RefSum(g.bytes[8:28]); got != 0 {
				t.Fatalf("%s: quoted IPv4 header does not sum to 0xffff", g.name)
			}
		}
	}
}

func TestICMPGoldenDecode(t *testing.T) {
	e := ICMP(goldenEcho)
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.Type() != ICMPEchoRequest || e.Code() != 0 || e.Checksum() != 0xd0c3 || e.ID() != 1 || e.Seq() != 2 ||
		!bytes.Equal(e.Payload(), goldenEcho[8:]) || !bytes.Equal(e.Rest(), []byte{0, 1, 0, 2}) {
		t.Fatal("echo fields")
	}
	p := ICMP(goldenPortUnreachable)
	if p.Type() != ICMPDestinationUnreachable || p.Code() != ICMPPortUnreachable || !p.Type().IsError() || len(p.Payload()) != 28 {
		t.Fatal("port unreachable fields")
	}
	f := ICMP(goldenFragNeeded)
	if f.Code() != ICMPFragmentationNeeded || f.MTU() != 1400 {
		t.Fatal("fragmentation needed fields")
	}
}

func TestICMPGoldenConstruct(t *testing.T) {
	for _, g := range l4ICMPGoldens() {
		buf := make([]byte, len(g.bytes))
		copy(buf[8:], g.bytes[8:])
		b := ICMP(buf)
		b.SetType(g.hdr.Type)
		b.SetCode(g.hdr.Code)
		if g.hdr.Type == ICMPEchoRequest {
			b.SetID(g.hdr.ID)
			b.SetSeq(g.hdr.Seq)
		}
		if g.hdr.Code == ICMPFragmentationNeeded {
			b.SetMTU(g.hdr.MTU)
		}
		b.SetChecksum(l4RefSum(buf))
		if !bytes.Equal(buf, g.bytes) {
			t.Fatalf("%s: constructed\n% x\nwant\n% x", g.name, buf, g.bytes)
		}
	}
}

func TestICMPGoldenParse(t *testing.T) {
	for _, g := range l4ICMPGoldens() {
		h, err := ParseICMP(g.bytes)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if !h.Equal(&g.hdr) {
			t.Fatalf("%s: parsed %+v\nwant %+v", g.name, h, g.hdr)
		}
		if s := h.String(); s != g.str {
			t.Fatalf("%s: String %q, want %q", g.name, s, g.str)
		}
	}
}

func TestICMPGoldenMarshal(t *testing.T) {
	for _, g := range l4ICMPGoldens() {
		buf := make([]byte, len(g.bytes))
		for i := range buf[:8] {
			buf[i] = 0xee // stale bytes: Marshal must write every header byte
		}
		copy(buf[8:], g.bytes[8:])
		h := g.hdr
		h.Checksum = 0
		if err := h.Marshal(buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, g.bytes) {
			t.Fatalf("%s: marshaled\n% x\nwant\n% x", g.name, buf, g.bytes)
		}
		if h.Checksum != g.hdr.Checksum || h.HeaderLen() != 8 {
			t.Fatalf("%s: Checksum %#04x", g.name, h.Checksum)
		}
	}
}

func TestICMPQuote(t *testing.T) {
	q := ParseICMPQuote(goldenPortUnreachable[8:])
	want := ICMPQuote{HasAddrs: true, Src: netip.MustParseAddr("192.168.2.10"), Dst: netip.MustParseAddr("192.168.2.20"),
		Protocol: ProtoUDP, ID: 0x1234, HeaderLen: 20, HasPorts: true, SrcPort: 40000, DstPort: 9999}
	if q != want {
		t.Fatalf("quote %+v\nwant  %+v", q, want)
	}
	h, _ := ParseICMP(goldenFragNeeded)
	q = h.Quoted()
	want = ICMPQuote{HasAddrs: true, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.9"),
		Protocol: ProtoTCP, ID: 0x42, HeaderLen: 20, HasPorts: true, SrcPort: 4000, DstPort: 80, HasSeq: true, Seq: 123456789}
	if q != want {
		t.Fatalf("quote %+v\nwant  %+v", q, want)
	}
	// Truncated quotes give what is there.
	full := goldenFragNeeded[8:]
	for n := 0; n <= len(full); n++ {
		q := ParseICMPQuote(full[:n])
		if q.HasAddrs != (n >= 20) || q.HasPorts != (n >= 24) || q.HasSeq != (n >= 28) {
			t.Fatalf("quote of %d bytes: %+v", n, q)
		}
	}
	// Not IPv4, or an IHL below 5: nothing.
	bad := bytes.Clone(full)
	bad[0] = 0x65
	if ParseICMPQuote(bad).HasAddrs {
		t.Fatal("version 6 quote read as IPv4")
	}
	bad[0] = 0x44
	if ParseICMPQuote(bad).HasAddrs {
		t.Fatal("IHL 4 accepted")
	}
	// With IPv4 options (IHL 6) the ports come after them.
	withOpts := append(append(bytes.Clone(full[:20]), 1, 1, 1, 0), full[20:]...)
	withOpts[0] = 0x46
	if q := ParseICMPQuote(withOpts); q.HeaderLen != 24 || q.SrcPort != 4000 || q.DstPort != 80 {
		t.Fatalf("quote with options %+v", q)
	}
	// ICMP inside the quote: addresses, no ports.
	icmpq := bytes.Clone(full)
	icmpq[9] = 1
	if q := ParseICMPQuote(icmpq); !q.HasAddrs || q.HasPorts {
		t.Fatalf("ICMP quote %+v", q)
	}
}

func TestICMPRestOfHeaderByType(t *testing.T) {
	gw := netip.MustParseAddr("10.0.0.254")
	for _, h := range []ICMPHeader{
		{Type: ICMPEchoReply, ID: 7, Seq: 9},
		{Type: ICMPTimestamp, ID: 3, Seq: 4},
		{Type: ICMPParameterProblem, Code: ICMPParamPointer, Pointer: 12},
		{Type: ICMPRedirect, Code: ICMPRedirectHost, Gateway: gw},
		{Type: ICMPTimeExceeded, Code: ICMPTTLExceeded},
		{Type: ICMPRouterAdvertisement, Rest: [4]byte{1, 2, 0x07, 0x08}},
		{Type: ICMPType(99), Code: 5, Rest: [4]byte{9, 8, 7, 6}},
		{Type: ICMPDestinationUnreachable, Code: ICMPHostUnreachable},
	} {
		buf := make([]byte, 8+28)
		copy(buf[8:], goldenPortUnreachable[8:])
		if err := h.Marshal(buf); err != nil {
			t.Fatal(err)
		}
		g, err := ParseICMP(buf)
		if err != nil {
			t.Fatal(err)
		}
		// Parse puts the data in Quote or Data by type; the rest must match.
		g.Quote, g.Data = nil, nil
		if !g.Equal(&h) {
			t.Fatalf("round trip %+v\nwant %+v", g, h)
		}
		if !ICMP(buf).ChecksumValid() {
			t.Fatalf("%v: checksum", h.Type)
		}
	}
	b := make(ICMP, 8)
	b.SetPointer(5)
	b.SetGateway(gw)
	if b.Gateway() != gw {
		t.Fatal("gateway")
	}
	// A redirect needs an IPv4 gateway.
	h := ICMPHeader{Type: ICMPRedirect}
	l4WantParseError(t, h.Marshal(make([]byte, 8)), ErrMalformed, "icmp", "gateway")
}

func TestICMPStrings(t *testing.T) {
	q := goldenPortUnreachable[8:]
	gw := netip.MustParseAddr("192.168.2.1")
	for _, c := range []struct {
		h    ICMPHeader
		want string
	}{
		{ICMPHeader{Type: ICMPEchoReply, ID: 1, Seq: 2, Data: make([]byte, 56)}, "ICMP echo reply, id 1, seq 2, length 64"},
		{ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPNetUnreachable, Quote: q}, "ICMP net 192.168.2.20 unreachable"},
		{ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPHostUnreachable, Quote: q}, "ICMP host 192.168.2.20 unreachable"},
		{ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPProtocolUnreachable, Quote: q}, "ICMP 192.168.2.20 protocol 17 unreachable"},
		{ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPPortUnreachable, Quote: q[:20]}, "ICMP 192.168.2.20 port unreachable"},
		{ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPPortUnreachable}, "ICMP ? port unreachable"},
		{ICMPHeader{Type: ICMPDestinationUnreachable, Code: ICMPCommProhibited, Quote: q}, "ICMP 192.168.2.20 unreachable - code 13"},
		{ICMPHeader{Type: ICMPTimeExceeded, Code: ICMPTTLExceeded, Quote: q}, "ICMP time exceeded in-transit"},
		{ICMPHeader{Type: ICMPTimeExceeded, Code: ICMPReassemblyExceeded, Quote: q}, "ICMP ip reassembly time exceeded"},
		{ICMPHeader{Type: ICMPRedirect, Code: ICMPRedirectHost, Gateway: gw, Quote: q}, "ICMP redirect 192.168.2.20 to host 192.168.2.1"},
		{ICMPHeader{Type: ICMPParameterProblem, Pointer: 9, Quote: q}, "ICMP parameter problem - octet 9"},
		{ICMPHeader{Type: ICMPRouterSolicitation}, "ICMP router solicitation, code 0, length 8"},
		{ICMPHeader{Type: ICMPType(77), Code: 1}, "ICMP type-#77, code 1, length 8"},
	} {
		if s := c.h.String(); s != c.want {
			t.Errorf("%q, want %q", s, c.want)
		}
	}
}

func TestICMPErrors(t *testing.T) {
	fields := []string{"type", "code", "checksum", "checksum", "rest of header", "rest of header", "rest of header", "rest of header"}
	for n, f := range fields {
		_, err := ParseICMP(goldenEcho[:n])
		l4WantParseError(t, err, ErrTruncated, "icmp", f)
	}
	// A header alone is a whole message.
	if _, err := ParseICMP(goldenEcho[:8]); err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(goldenEcho)
	b[40] ^= 0xff
	if ICMP(b).ChecksumValid() {
		t.Fatal("corrupted message verified")
	}
	err := ICMP(b).VerifyChecksum()
	l4WantParseError(t, err, ErrChecksum, "icmp", "checksum")
	var h ICMPHeader
	l4WantParseError(t, h.Marshal(make([]byte, 7)), ErrTruncated, "icmp", "rest of header")
}

func TestICMPTypeNames(t *testing.T) {
	if ICMPEchoRequest.String() != "echo request" || ICMPDestinationUnreachable.String() != "destination unreachable" ||
		ICMPTimeExceeded.String() != "time exceeded" {
		t.Fatal("type names")
	}
	for _, ty := range []ICMPType{ICMPDestinationUnreachable, ICMPSourceQuench, ICMPRedirect, ICMPTimeExceeded, ICMPParameterProblem} {
		if !ty.IsError() {
			t.Fatalf("%v is an error message", ty)
		}
	}
	if ICMPEchoRequest.IsError() || ICMPEchoReply.IsError() {
		t.Fatal("echo is not an error message")
	}
	if ICMPPrecedenceCutoff != 15 || ICMPFragmentationNeeded != 4 || ICMPPortUnreachable != 3 {
		t.Fatal("code values")
	}
}
