package stack_test

import (
	"net/netip"
	"testing"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// arpNullLink is a link that counts and forgets what it sends.
type arpNullLink struct {
	mac  wire.MAC
	h    tap.Handler
	sent int
}

func (l *arpNullLink) Name() string             { return "null" }
func (l *arpNullLink) MTU() int                 { return 1500 }
func (l *arpNullLink) MAC() wire.MAC            { return l.mac }
func (l *arpNullLink) SetHandler(h tap.Handler) { l.h = h }
func (l *arpNullLink) Close() error             { return nil }
func (l *arpNullLink) Send(f []byte) error      { l.sent++; return nil }

func arpBenchStack(b *testing.B) (*stack.Stack, *arpNullLink) {
	link := &arpNullLink{mac: wire.MAC{0x02, 0, 0, 0, 0, 1}}
	s, err := stack.New(stack.Config{Name: "bench", MAC: link.mac, Addr: netip.MustParsePrefix("10.0.0.1/24"),
		ARP: stack.ARPConfig{NoProbe: true}}, link, clock.NewVirtual(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return s, link
}

// BenchmarkARPRequestReply: a request for our address in, a reply out
// (validation, merge, reply built in headroom), with nobody listening.
func BenchmarkARPRequestReply(b *testing.B) {
	s, link := arpBenchStack(b)
	_ = s
	f := make([]byte, wire.EthernetHeaderLen+wire.ARPLen)
	peer := wire.MAC{0x02, 0, 0, 0, 0, 2}
	(&wire.EthernetHeader{Dst: wire.BroadcastMAC, Src: peer, Type: wire.EtherTypeARP}).Marshal(f)
	(&wire.ARPHeader{Op: wire.ARPRequest, SHA: peer, SPA: netip.MustParseAddr("10.0.0.2"), TPA: netip.MustParseAddr("10.0.0.1")}).Marshal(f[wire.EthernetHeaderLen:])
	b.ReportAllocs()
	for b.Loop() {
		link.h(f)
	}
	if link.sent < b.N {
		b.Fatalf("%d replies for %d requests", link.sent, b.N)
	}
}

// BenchmarkARPSendResolved: a 64-byte datagram to a neighbour in the cache.
func BenchmarkARPSendResolved(b *testing.B) {
	s, link := arpBenchStack(b)
	dst := netip.MustParseAddr("10.0.0.2")
	if err := s.AddStaticARP(dst, wire.MAC{0x02, 0, 0, 0, 0, 2}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p := stack.NewPacket(stack.Headroom, 64)
		if err := s.SendIPv4(0, dst, arpProtoTest, p, nil); err != nil {
			b.Fatal(err)
		}
	}
	if link.sent < b.N {
		b.Fatalf("%d frames for %d datagrams", link.sent, b.N)
	}
}
