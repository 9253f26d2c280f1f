package wire

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// goldenSYN is a SYN from 10.0.0.2:4000 to 10.0.0.1:80 with the options
// Linux puts on a SYN.
var goldenSYN = []byte{
	0x0f, 0xa0, // source port 4000
	0x00, 0x50, // destination port 80
	0x00, 0x00, 0x03, 0xe8, // sequence number 1000
	0x00, 0x00, 0x00, 0x00, // acknowledgment number 0
	0xa0,       // data offset 10 words (40 bytes), reserved 0
	0x02,       // flags SYN
	0xff, 0xff, // window 65535
	0x20, 0x25, // checksum
	0x00, 0x00, // urgent pointer 0
	0x02, 0x04, 0x05, 0xb4, // MSS 1460
	0x04, 0x02, // SACK-permitted
	0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // timestamps val 1 ecr 0
	0x01,             // NOP
	0x03, 0x03, 0x07, // window scale 7
}

var goldenSYNHeader = TCPHeader{
	SrcPort: 4000, DstPort: 80, Seq: 1000, DataOffset: 10, Flags: TCPFlagSYN,
	Window: 65535, Checksum: 0x2025,
	Options: TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 1, TSEcr: 0, HasTS: true, WScale: 7, HasWScale: true},
}

// goldenData is a data segment from 10.0.0.1:80 to 10.0.0.2:4000 carrying
// timestamps and two SACK blocks, laid out as Linux does.
var goldenData = []byte{
	0x00, 0x50, // source port 80
	0x0f, 0xa0, // destination port 4000
	0x00, 0x00, 0x13, 0x88, // sequence number 5000
	0x00, 0x00, 0x03, 0xe9, // acknowledgment number 1001
	0xd0,       // data offset 13 words (52 bytes)
	0x18,       // flags PSH ACK
	0x01, 0xf6, // window 502
	0x5a, 0x53, // checksum
	0x00, 0x00, // urgent pointer 0
	0x01, 0x01, // NOP NOP
	0x08, 0x0a, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x00, 0x64, // timestamps val 200 ecr 100
	0x01, 0x01, // NOP NOP
	0x05, 0x12, // SACK, length 18: two blocks
	0x00, 0x00, 0x07, 0xd0, 0x00, 0x00, 0x0b, 0xb8, // block 2000-3000
	0x00, 0x00, 0x0f, 0xa0, 0x00, 0x00, 0x13, 0x88, // block 4000-5000
	'h', 'e', 'l', 'l', 'o', '!', '\r', '\n', // 8 bytes of data
}

var goldenDataHeader = TCPHeader{
	SrcPort: 80, DstPort: 4000, Seq: 5000, Ack: 1001, DataOffset: 13, Flags: TCPFlagPSH | TCPFlagACK,
	Window: 502, Checksum: 0x5a53,
	Options: TCPOptions{TSVal: 200, TSEcr: 100, HasTS: true,
		SACK: [4]SACKBlock{{2000, 3000}, {4000, 5000}}, NumSACK: 2},
}

type l4TCPGolden struct {
	name     string
	bytes    []byte
	hdr      TCPHeader
	src, dst netip.Addr
}

func l4TCPGoldens() []l4TCPGolden {
	return []l4TCPGolden{
		{"SYN", goldenSYN, goldenSYNHeader, l4HostB, l4HostA},
		{"data+SACK", goldenData, goldenDataHeader, l4HostA, l4HostB},
	}
}

func TestTCPGoldenChecksum(t *testing.T) {
	for _, g := range l4TCPGoldens() {
		if got := l4RefTransportChecksum(g.bytes, 16, g.src, g.dst, 6); got != g.hdr.Checksum {
			t.Fatalf("%s: reference checksum %#04x, golden holds %#04x", g.name, got, g.hdr.Checksum)
		}
		if !TCP(g.bytes).ChecksumValid(g.src, g.dst) {
			t.Fatalf("%s: ChecksumValid = false", g.name)
		}
	}
}

func TestTCPGoldenDecode(t *testing.T) {
	for _, g := range l4TCPGoldens() {
		b := TCP(g.bytes)
		if err := b.Validate(); err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		h := g.hdr
		if b.SrcPort() != h.SrcPort || b.DstPort() != h.DstPort || b.Seq() != h.Seq || b.Ack() != h.Ack ||
			b.DataOffset() != h.DataOffset || b.Flags() != h.Flags || b.Window() != h.Window ||
			b.Checksum() != h.Checksum || b.Urgent() != h.Urgent || b.Reserved() != 0 {
			t.Fatalf("%s: view fields differ from %+v", g.name, h)
		}
		if b.HeaderLen() != int(h.DataOffset)*4 || !bytes.Equal(b.Options(), g.bytes[20:b.HeaderLen()]) ||
			!bytes.Equal(b.Payload(), g.bytes[b.HeaderLen():]) {
			t.Fatalf("%s: options/payload slices wrong", g.name)
		}
	}
	if string(TCP(goldenData).Payload()) != "hello!\r\n" {
		t.Fatal("data payload")
	}
}

func TestTCPGoldenConstruct(t *testing.T) {
	for _, g := range l4TCPGoldens() {
		hl := int(g.hdr.DataOffset) * 4
		buf := make([]byte, len(g.bytes))
		copy(buf[hl:], g.bytes[hl:])
		b := TCP(buf)
		b.SetSrcPort(g.hdr.SrcPort)
		b.SetDstPort(g.hdr.DstPort)
		b.SetSeq(g.hdr.Seq)
		b.SetAck(g.hdr.Ack)
		b.SetDataOffset(g.hdr.DataOffset)
		b.SetFlags(g.hdr.Flags)
		b.SetWindow(g.hdr.Window)
		b.SetUrgent(g.hdr.Urgent)
		copy(b.Options(), g.bytes[20:hl]) // options as raw bytes: the view has no option setters
		b.SetChecksum(l4RefTransportChecksum(buf, 16, g.src, g.dst, 6))
		if !bytes.Equal(buf, g.bytes) {
			t.Fatalf("%s: constructed\n% x\nwant\n% x", g.name, buf, g.bytes)
		}
	}
}

func TestTCPGoldenParse(t *testing.T) {
	for _, g := range l4TCPGoldens() {
		h, err := ParseTCP(g.bytes)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if !h.Equal(&g.hdr) {
			t.Fatalf("%s: parsed\n%+v\nwant\n%+v", g.name, h, g.hdr)
		}
	}
}

func TestTCPGoldenMarshal(t *testing.T) {
	for _, g := range l4TCPGoldens() {
		hl := int(g.hdr.DataOffset) * 4
		buf := make([]byte, len(g.bytes))
		for i := range buf[:hl] {
			buf[i] = 0xee // stale bytes: Marshal must write every header byte
		}
		copy(buf[hl:], g.bytes[hl:])
		h := g.hdr
		h.DataOffset, h.Checksum = 0, 0 // outputs of Marshal
		if h.HeaderLen() != hl {
			t.Fatalf("%s: HeaderLen %d, want %d", g.name, h.HeaderLen(), hl)
		}
		if err := h.Marshal(buf, g.src, g.dst); err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if !bytes.Equal(buf, g.bytes) {
			t.Fatalf("%s: marshaled\n% x\nwant\n% x", g.name, buf, g.bytes)
		}
		if !h.Equal(&g.hdr) {
			t.Fatalf("%s: Marshal left %+v", g.name, h)
		}
	}
}

func TestTCPString(t *testing.T) {
	want := "TCP 4000 > 80: Flags [S], seq 1000, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
	if s := TCP(goldenSYN).String(); s != want {
		t.Fatalf("view String\n%q\nwant\n%q", s, want)
	}
	if s := goldenSYNHeader.String(); s != strings.TrimSuffix(want, ", length 0") {
		t.Fatalf("header String %q", s)
	}
	want = "TCP 80 > 4000: Flags [P.], seq 5000:5008, ack 1001, win 502, options [nop,nop,TS val 200 ecr 100,nop,nop,sack 2 {2000:3000}{4000:5000}], length 8"
	if s := TCP(goldenData).String(); s != want {
		t.Fatalf("view String\n%q\nwant\n%q", s, want)
	}
	if s := TCP(goldenData[:10]).String(); !strings.Contains(s, "truncated") && !strings.Contains(s, "needs bytes") {
		t.Fatalf("String of a truncated segment: %q", s)
	}
}

func TestTCPFlagsString(t *testing.T) {
	for f, want := range map[TCPFlags]string{
		TCPFlagSYN:                           "[S]",
		TCPFlagSYN | TCPFlagACK:              "[S.]",
		TCPFlagPSH | TCPFlagACK:              "[P.]",
		TCPFlagFIN | TCPFlagACK:              "[F.]",
		TCPFlagRST:                           "[R]",
		TCPFlagACK:                           "[.]",
		TCPFlagURG | TCPFlagACK:              "[.U]",
		TCPFlagSYN | TCPFlagECE | TCPFlagCWR: "[SEW]",
		0:                                    "[none]",
		0xff:                                 "[FSRP.UEW]",
	} {
		if s := f.String(); s != want {
			t.Errorf("%#02x: %q, want %q", uint8(f), s, want)
		}
	}
	if !(TCPFlagSYN | TCPFlagACK).Has(TCPFlagACK) || TCPFlagSYN.Has(TCPFlagSYN|TCPFlagACK) {
		t.Fatal("Has")
	}
}

func TestTCPTruncatedEachField(t *testing.T) {
	want := []string{"source port", "source port", "destination port", "destination port",
		"sequence number", "sequence number", "sequence number", "sequence number",
		"acknowledgment number", "acknowledgment number", "acknowledgment number", "acknowledgment number",
		"data offset", "control bits", "window", "window", "checksum", "checksum", "urgent pointer", "urgent pointer"}
	for n, f := range want {
		_, err := ParseTCP(goldenSYN[:n])
		l4WantParseError(t, err, ErrTruncated, "tcp", f)
		l4WantParseError(t, TCP(goldenSYN[:n]).Validate(), ErrTruncated, "tcp", f)
	}
	// Fixed header present, options cut short by the buffer.
	for n := 20; n < 40; n++ {
		_, err := ParseTCP(goldenSYN[:n])
		l4WantParseError(t, err, ErrTruncated, "tcp", "data offset")
	}
}

func TestTCPBadDataOffset(t *testing.T) {
	for words := uint8(0); words < 5; words++ {
		b := bytes.Clone(goldenSYN)
		TCP(b).SetDataOffset(words)
		_, err := ParseTCP(b)
		l4WantParseError(t, err, ErrMalformed, "tcp", "data offset")
	}
	b := bytes.Clone(goldenSYN)
	TCP(b).SetDataOffset(11) // 44 bytes of header in a 40-byte segment
	_, err := ParseTCP(b)
	l4WantParseError(t, err, ErrTruncated, "tcp", "data offset")
}

func TestTCPReservedBitsIgnored(t *testing.T) {
	b := bytes.Clone(goldenSYN)
	b[12] |= 0x0f
	h, err := ParseTCP(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.DataOffset != 10 || TCP(b).Reserved() != 0x0f || TCP(b).DataOffset() != 10 {
		t.Fatal("reserved bits leak into the data offset")
	}
	TCP(b).SetDataOffset(10)
	if TCP(b).Reserved() != 0x0f {
		t.Fatal("SetDataOffset cleared the reserved bits")
	}
}

func TestTCPBadChecksum(t *testing.T) {
	b := bytes.Clone(goldenData)
	b[len(b)-1] ^= 1
	if TCP(b).ChecksumValid(l4HostA, l4HostB) {
		t.Fatal("corrupted segment verified")
	}
	err := TCP(b).VerifyChecksum(l4HostA, l4HostB)
	l4WantParseError(t, err, ErrChecksum, "tcp", "checksum")
	if TCP(goldenData).VerifyChecksum(l4HostA, l4HostB) != nil {
		t.Fatal("golden segment fails VerifyChecksum")
	}
	if TCP(goldenData).ChecksumValid(l4HostA, netip.MustParseAddr("10.0.0.3")) {
		t.Fatal("verified with a wrong pseudo-header")
	}
}

func TestTCPMarshalErrors(t *testing.T) {
	h := goldenSYNHeader
	l4WantParseError(t, h.Marshal(make([]byte, 39), l4HostA, l4HostB), ErrTruncated, "tcp", "data offset")
	l4WantParseError(t, h.Marshal(make([]byte, 40), netip.Addr{}, l4HostB), ErrUnsupported, "tcp", "checksum")
	l4WantParseError(t, h.Marshal(make([]byte, 70000), l4HostA, l4HostB), ErrMalformed, "tcp", "data offset")
	h.Options.NumSACK = 4 // 4+12+4+36 = 56 canonical, 53 packed: too long
	l4WantParseError(t, h.Marshal(make([]byte, 100), l4HostA, l4HostB), ErrMalformed, "tcp", "options")
}

func TestTCPMarshalNoOptions(t *testing.T) {
	buf := make([]byte, 20+3)
	copy(buf[20:], "abc")
	h := TCPHeader{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: TCPFlagACK | TCPFlagURG, Window: 5, Urgent: 6}
	if err := h.Marshal(buf, l4HostA, l4HostB); err != nil {
		t.Fatal(err)
	}
	if h.DataOffset != 5 || buf[12] != 0x50 {
		t.Fatalf("data offset %d, byte %#x", h.DataOffset, buf[12])
	}
	g, err := ParseTCP(buf)
	if err != nil || !g.Equal(&h) {
		t.Fatalf("round trip %+v %v", g, err)
	}
	if !TCP(buf).ChecksumValid(l4HostA, l4HostB) || string(TCP(buf).Payload()) != "abc" {
		t.Fatal("checksum or payload")
	}
	if s := TCP(buf).String(); s != "TCP 1 > 2: Flags [.U], seq 3:6, ack 4, win 5, urg 6, length 3" {
		t.Fatalf("String %q", s)
	}
}

func TestL4ParseAndMarshalAllocateNothing(t *testing.T) {
	withUnknown := append(bytes.Clone(goldenSYN[:20]), 30, 4, 1, 2, 1, 1, 1, 1)
	TCP(withUnknown).SetDataOffset(7)
	seg := bytes.Clone(goldenData)
	h := goldenDataHeader
	for name, f := range map[string]func(){
		"ParseTCP":         func() { _, _ = ParseTCP(goldenData) },
		"ParseTCP unknown": func() { _, _ = ParseTCP(withUnknown) },
		"ParseUDP":         func() { _, _ = ParseUDP(goldenUDP) },
		"ParseICMP":        func() { _, _ = ParseICMP(goldenFragNeeded) },
		"ICMP quote":       func() { _ = ParseICMPQuote(goldenFragNeeded[8:]) },
		"TCP Marshal":      func() { _ = h.Marshal(seg, l4HostA, l4HostB) },
		"TCP checksum":     func() { _ = TCP(goldenData).ChecksumValid(l4HostA, l4HostB) },
	} {
		if n := testing.AllocsPerRun(50, f); n != 0 {
			t.Errorf("%s allocates %v times", name, n)
		}
	}
}
