package wire

import (
	"net/netip"
	"testing"
)

// l4BenchFrame builds a full-size Ethernet frame (1514 bytes): Ethernet,
// IPv4 without options, TCP with timestamps and one SACK block (a 44-byte
// header, laid out as Linux does), and 1436 bytes of data. With timestamps
// alone the data would be 1448 bytes; the SACK block takes 12 of them.
func l4BenchFrame(tb testing.TB) []byte {
	const frameLen, ethLen, ipLen = 1514, 14, 20
	frame := make([]byte, frameLen)
	h := TCPHeader{SrcPort: 80, DstPort: 40000, Seq: 1 << 30, Ack: 12345, Flags: TCPFlagACK | TCPFlagPSH, Window: 502,
		Options: TCPOptions{HasTS: true, TSVal: 1000, TSEcr: 900, SACK: [4]SACKBlock{{5000, 6000}}, NumSACK: 1}}
	seg := frame[ethLen+ipLen:]
	if h.HeaderLen() != 44 || len(seg)-h.HeaderLen() != 1436 {
		tb.Fatalf("TCP header %d, data %d", h.HeaderLen(), len(seg)-h.HeaderLen())
	}
	for i := range seg[h.HeaderLen():] {
		seg[h.HeaderLen()+i] = byte(i)
	}
	if err := h.Marshal(seg, l4HostA, l4HostB); err != nil {
		tb.Fatal(err)
	}
	ip := IPv4(frame[ethLen:])
	ip.SetVersion(4)
	ip.SetIHL(5)
	ip.SetTotalLen(uint16(frameLen - ethLen))
	ip.SetTTL(64)
	ip.SetProtocol(ProtoTCP)
	ip.SetSrc(l4HostA)
	ip.SetDst(l4HostB)
	ip.UpdateChecksum()
	eth := Ethernet(frame)
	eth.SetDst(MAC{2, 0, 0, 0, 0, 2})
	eth.SetSrc(MAC{2, 0, 0, 0, 0, 1})
	eth.SetType(EtherTypeIPv4)
	return frame
}

// Sinks keep results alive. The benchmarks fold a few fields into l4Sink
// rather than storing whole headers in globals, whose write barriers would
// cost more than the parsing measured.
var (
	l4Sink    uint32
	l4SinkTCP TCPHeader
	l4SinkIP  IPv4Header
)

func l4Fold(ip *IPv4Header, tcp *TCPHeader) uint32 {
	return uint32(ip.TotalLen) + tcp.Seq + tcp.Options.TSVal + uint32(tcp.Options.NumSACK)
}

// l4ParseFrame parses the three layers of a frame, as the receive path does.
func l4ParseFrame(frame []byte) (IPv4Header, TCPHeader, error) {
	eth := Ethernet(frame)
	if err := eth.Validate(); err != nil {
		return IPv4Header{}, TCPHeader{}, err
	}
	if eth.Type() != EtherTypeIPv4 {
		return IPv4Header{}, TCPHeader{}, errorf(ErrUnsupported, "ethernet", "ethertype", 12, "not IPv4")
	}
	ip, err := ParseIPv4(eth.Payload())
	if err != nil {
		return ip, TCPHeader{}, err
	}
	tcp, err := ParseTCP(IPv4(eth.Payload()).Payload())
	return ip, tcp, err
}

func TestBenchFrameParses(t *testing.T) {
	frame := l4BenchFrame(t)
	ip, tcp, err := l4ParseFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	if ip.Src != l4HostA || ip.Protocol != ProtoTCP || !IPv4(frame[14:]).ChecksumValid() {
		t.Fatalf("IPv4 %+v", ip)
	}
	if !tcp.Options.HasTS || tcp.Options.NumSACK != 1 || len(TCP(frame[34:]).Payload()) != 1436 ||
		!TCP(frame[34:]).ChecksumValid(ip.Src, ip.Dst) {
		t.Fatalf("TCP %+v", tcp)
	}
	if n := testing.AllocsPerRun(100, func() { l4SinkIP, l4SinkTCP, _ = l4ParseFrame(frame) }); n != 0 {
		t.Fatalf("parsing a frame allocates %v times", n)
	}
}

// BenchmarkParseEthernetIPv4TCP parses a 1514-byte frame through Ethernet,
// IPv4 and TCP (with options); "verify" also checks both checksums.
func BenchmarkParseEthernetIPv4TCP(b *testing.B) {
	frame := l4BenchFrame(b)
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			ip, tcp, err := l4ParseFrame(frame)
			if err != nil {
				b.Fatal(err)
			}
			l4Sink += l4Fold(&ip, &tcp)
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			ip, tcp, err := l4ParseFrame(frame)
			if err != nil {
				b.Fatal(err)
			}
			if !IPv4(frame[14:]).ChecksumValid() || !TCP(frame[34:]).ChecksumValid(ip.Src, ip.Dst) {
				b.Fatal("checksum")
			}
			l4Sink += l4Fold(&ip, &tcp)
		}
	})
}

func BenchmarkParseTCP(b *testing.B) {
	seg := l4BenchFrame(b)[34:]
	b.ReportAllocs()
	for b.Loop() {
		h, err := ParseTCP(seg)
		if err != nil {
			b.Fatal(err)
		}
		l4Sink += h.Seq + h.Options.TSVal + uint32(h.Options.NumSACK)
	}
}

func BenchmarkMarshalTCP(b *testing.B) {
	seg := l4BenchFrame(b)[34:]
	h, err := ParseTCP(seg)
	if err != nil {
		b.Fatal(err)
	}
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	b.ReportAllocs()
	b.SetBytes(int64(len(seg)))
	for b.Loop() {
		h.Seq++
		if err := h.Marshal(seg, src, dst); err != nil {
			b.Fatal(err)
		}
	}
	l4Sink += uint32(h.Checksum)
}
