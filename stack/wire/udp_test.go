package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// Addresses of the golden transport packets.
var (
	l4HostA = netip.MustParseAddr("10.0.0.1")
	l4HostB = netip.MustParseAddr("10.0.0.2")
)

// l4RefSum is a deliberately naive reference for the Internet checksum
// (RFC 1071), independent of Checksum: it sums 16-bit words one at a time
// and folds at the end. It returns the complemented sum of the pieces.
func l4RefSum(pieces ...[]byte) uint16 {
	var all []byte
	for _, p := range pieces {
		all = append(all, p...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var sum uint32
	for i := 0; i < len(all); i += 2 {
		sum += uint32(all[i])<<8 | uint32(all[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// l4RefPseudo builds the IPv4 pseudo-header bytes.
func l4RefPseudo(src, dst netip.Addr, proto byte, n int) []byte {
	s, d := src.As4(), dst.As4()
	return []byte{s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3], 0, proto, byte(n >> 8), byte(n)}
}

// l4RefTransportChecksum computes the checksum field for a TCP or UDP
// segment, with the field at off taken as zero.
func l4RefTransportChecksum(seg []byte, off int, src, dst netip.Addr, proto byte) uint16 {
	c := bytes.Clone(seg)
	c[off], c[off+1] = 0, 0
	return l4RefSum(l4RefPseudo(src, dst, proto, len(seg)), c)
}

// l4WantParseError checks that err is a *ParseError of class sentinel for
// layer and field.
func l4WantParseError(t *testing.T, err error, sentinel error, layer, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v in %s %q", sentinel, layer, field)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v is not %v", err, sentinel)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not a *ParseError", err)
	}
	if pe.Layer != layer || pe.Field != field {
		t.Fatalf("error %v: layer %q field %q, want %q %q", err, pe.Layer, pe.Field, layer, field)
	}
}

// goldenUDP is a DNS answer from 10.0.0.1:53 to 10.0.0.2:40000.
var goldenUDP = []byte{
	0x00, 0x35, // source port 53
	0x9c, 0x40, // destination port 40000
	0x00, 0x28, // length 40 (8 header + 32 data)
	0xd8, 0x4b, // checksum over pseudo-header, header and data
	// data, 32 bytes of DNS message (opaque to UDP)
	0x1a, 0x2b, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00,
}

var goldenUDPHeader = UDPHeader{SrcPort: 53, DstPort: 40000, Length: 40, Checksum: 0xd84b}

func TestUDPGoldenChecksum(t *testing.T) {
	got := l4RefTransportChecksum(goldenUDP, 6, l4HostA, l4HostB, 17)
	if got != 0xd84b {
		t.Fatalf("reference checksum of golden UDP = %#04x, golden holds 0xd84b", got)
	}
	if !UDP(goldenUDP).ChecksumValid(l4HostA, l4HostB) {
		t.Fatal("ChecksumValid(golden) = false")
	}
	if err := UDP(goldenUDP).VerifyChecksum(l4HostA, l4HostB); err != nil {
		t.Fatal(err)
	}
	// The pseudo-header matters: swapped addresses still verify (the sum
	// commutes), another address does not.
	if UDP(goldenUDP).ChecksumValid(l4HostA, netip.MustParseAddr("10.0.0.3")) {
		t.Fatal("checksum verified with a wrong destination address")
	}
}

func TestUDPGoldenDecode(t *testing.T) {
	b := UDP(goldenUDP)
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if b.SrcPort() != 53 || b.DstPort() != 40000 || b.Length() != 40 || b.Checksum() != 0xd84b {
		t.Fatalf("fields %d %d %d %#x", b.SrcPort(), b.DstPort(), b.Length(), b.Checksum())
	}
	if !bytes.Equal(b.Payload(), goldenUDP[8:]) {
		t.Fatalf("payload % x", b.Payload())
	}
}

func TestUDPGoldenConstruct(t *testing.T) {
	buf := make([]byte, len(goldenUDP))
	copy(buf[8:], goldenUDP[8:])
	b := UDP(buf)
	b.SetSrcPort(53)
	b.SetDstPort(40000)
	b.SetLength(40)
	b.SetChecksum(l4RefTransportChecksum(buf, 6, l4HostA, l4HostB, 17))
	if !bytes.Equal(buf, goldenUDP) {
		t.Fatalf("constructed\n% x\nwant\n% x", buf, goldenUDP)
	}
}

func TestUDPGoldenParse(t *testing.T) {
	h, err := ParseUDP(goldenUDP)
	if err != nil {
		t.Fatal(err)
	}
	if h != goldenUDPHeader {
		t.Fatalf("parsed %+v, want %+v", h, goldenUDPHeader)
	}
	if s := h.String(); s != "UDP 53 > 40000, length 32" {
		t.Fatalf("String = %q", s)
	}
}

func TestUDPGoldenMarshal(t *testing.T) {
	buf := make([]byte, len(goldenUDP))
	copy(buf, []byte{0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee}) // stale header bytes
	copy(buf[8:], goldenUDP[8:])
	h := UDPHeader{SrcPort: 53, DstPort: 40000}
	if err := h.Marshal(buf, l4HostA, l4HostB); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, goldenUDP) {
		t.Fatalf("marshaled\n% x\nwant\n% x", buf, goldenUDP)
	}
	if h != goldenUDPHeader {
		t.Fatalf("Marshal left %+v, want %+v", h, goldenUDPHeader)
	}
	if h.HeaderLen() != UDPHeaderLen {
		t.Fatalf("HeaderLen = %d", h.HeaderLen())
	}
}

func TestUDPTruncatedEachField(t *testing.T) {
	fields := []string{"source port", "source port", "destination port", "destination port", "length", "length", "checksum", "checksum"}
	for n, f := range fields {
		_, err := ParseUDP(goldenUDP[:n])
		l4WantParseError(t, err, ErrTruncated, "udp", f)
	}
}

func TestUDPBadLength(t *testing.T) {
	b := bytes.Clone(goldenUDP)
	UDP(b).SetLength(7)
	_, err := ParseUDP(b)
	l4WantParseError(t, err, ErrMalformed, "udp", "length")

	UDP(b).SetLength(41)
	_, err = ParseUDP(b)
	l4WantParseError(t, err, ErrTruncated, "udp", "length")

	// Trailing bytes beyond Length (Ethernet padding) are not data.
	b = append(bytes.Clone(goldenUDP), 0, 0, 0, 0)
	if err := UDP(b).Validate(); err != nil {
		t.Fatal(err)
	}
	if len(UDP(b).Payload()) != 32 || !UDP(b).ChecksumValid(l4HostA, l4HostB) {
		t.Fatal("padding counted as data")
	}
}

func TestUDPBadChecksum(t *testing.T) {
	b := bytes.Clone(goldenUDP)
	b[20] ^= 0x40
	if UDP(b).ChecksumValid(l4HostA, l4HostB) {
		t.Fatal("corrupted datagram verified")
	}
	err := UDP(b).VerifyChecksum(l4HostA, l4HostB)
	l4WantParseError(t, err, ErrChecksum, "udp", "checksum")
	// The error names the right value: writing it repairs the datagram.
	UDP(b).SetChecksum(l4RefTransportChecksum(b, 6, l4HostA, l4HostB, 17))
	if !UDP(b).ChecksumValid(l4HostA, l4HostB) {
		t.Fatal("repaired datagram does not verify")
	}
	if !bytes.Contains([]byte(err.Error()), []byte("expected 0x")) {
		t.Fatalf("error %q does not give the expected value", err)
	}
	// Non-IPv4 addresses cannot make a pseudo-header.
	if UDP(goldenUDP).ChecksumValid(netip.Addr{}, l4HostB) {
		t.Fatal("verified with an invalid address")
	}
}

func TestUDPZeroChecksumMeansNone(t *testing.T) {
	b := bytes.Clone(goldenUDP)
	UDP(b).SetChecksum(0)
	if !UDP(b).ChecksumValid(l4HostA, l4HostB) {
		t.Fatal("zero checksum (none, RFC 768) rejected")
	}
}

func TestUDPMarshalZeroSumSentAsOnes(t *testing.T) {
	// Find data that makes the computed checksum zero: set the last two data
	// bytes so that the whole sum is 0xffff with a zero checksum field.
	buf := make([]byte, 12)
	h := UDPHeader{SrcPort: 1, DstPort: 2}
	if err := h.Marshal(buf, l4HostA, l4HostB); err != nil {
		t.Fatal(err)
	}
	// The checksum c just computed satisfies sum(rest) + c = 0xffff; putting
	// c into the data instead makes the sum with a zero field 0xffff.
	c := h.Checksum
	buf[10], buf[11] = byte(c>>8), byte(c)
	if err := h.Marshal(buf, l4HostA, l4HostB); err != nil {
		t.Fatal(err)
	}
	if h.Checksum != 0xffff || UDP(buf).Checksum() != 0xffff {
		t.Fatalf("computed zero sent as %#04x, want 0xffff", h.Checksum)
	}
	if !UDP(buf).ChecksumValid(l4HostA, l4HostB) {
		t.Fatal("0xffff checksum does not verify")
	}
}

func TestUDPMarshalErrors(t *testing.T) {
	var h UDPHeader
	l4WantParseError(t, h.Marshal(make([]byte, 7), l4HostA, l4HostB), ErrTruncated, "udp", "length")
	l4WantParseError(t, h.Marshal(make([]byte, 70000), l4HostA, l4HostB), ErrMalformed, "udp", "length")
	l4WantParseError(t, h.Marshal(make([]byte, 8), netip.IPv6Loopback(), l4HostB), ErrUnsupported, "udp", "checksum")
}
