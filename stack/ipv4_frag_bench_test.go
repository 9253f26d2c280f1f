package stack_test

import (
	"net/netip"
	"testing"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// fragDiscardLink takes frames and forgets them.
type fragDiscardLink struct {
	mac    wire.MAC
	frames int
	h      tap.Handler
}

func (l *fragDiscardLink) Name() string             { return "discard" }
func (l *fragDiscardLink) MTU() int                 { return 1500 }
func (l *fragDiscardLink) MAC() wire.MAC            { return l.mac }
func (l *fragDiscardLink) SetHandler(h tap.Handler) { l.h = h }
func (l *fragDiscardLink) Close() error             { return nil }
func (l *fragDiscardLink) Send([]byte) error        { l.frames++; return nil }

func newFragBenchStack(b *testing.B, mac wire.MAC, addr string) (*stack.Stack, *fragDiscardLink) {
	b.Helper()
	link := &fragDiscardLink{mac: mac}
	cfg := stack.Config{Name: "bench", MAC: mac, Addr: netip.MustParsePrefix(addr), Seed: 1}
	cfg.ARP.NoProbe = true
	s, err := stack.New(cfg, link, clock.NewVirtual(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return s, link
}

// BenchmarkFragment8000 sends an 8000-byte datagram at MTU 1500: six
// fragments built and handed to the link (the 8000-byte packet the caller
// fills is included).
func BenchmarkFragment8000(b *testing.B) {
	s, link := newFragBenchStack(b, peerMAC, "192.168.2.20/24")
	payload := fragPayload(1, 8000)
	o := &stack.SendOptions{Broadcast: true}
	b.ReportAllocs()
	b.SetBytes(8000)
	for b.Loop() {
		p := stack.NewPacket(stack.Headroom, len(payload))
		copy(p.Payload(), payload)
		if err := s.SendIPv4(0, fragBcast, protoTest, p, o); err != nil {
			b.Fatal(err)
		}
	}
	if link.frames < 6 {
		b.Fatalf("%d frames sent", link.frames)
	}
}

// BenchmarkReassemble8000 takes the six fragments of an 8000-byte datagram
// through the receive path (Ethernet, IPv4 validation, reassembly) up to the
// protocol handler.
func BenchmarkReassemble8000(b *testing.B) {
	tx := &fakeLink{mtu: 1500, mac: peerMAC}
	cfg := stack.Config{Name: "alpha", MAC: peerMAC, Addr: netip.PrefixFrom(fragSrc, 24), Seed: 1}
	cfg.ARP.NoProbe = true
	sender, err := stack.New(cfg, tx, clock.NewVirtual(), nil)
	if err != nil {
		b.Fatal(err)
	}
	p := stack.NewPacket(stack.Headroom, 8000)
	copy(p.Payload(), fragPayload(2, 8000))
	if err := sender.SendIPv4(0, fragBcast, protoTest, p, &stack.SendOptions{Broadcast: true}); err != nil {
		b.Fatal(err)
	}
	frames := tx.sent
	rx, link := newFragBenchStack(b, ownMAC, "192.168.2.7/24")
	got := 0
	rx.HandleProtocol(protoTest, func(now clock.Time, d *stack.Datagram) {
		if len(d.Payload) == 8000 {
			got++
		}
	})
	b.ReportAllocs()
	b.SetBytes(8000)
	n := 0
	for b.Loop() {
		for _, f := range frames {
			link.h(f)
		}
		n++
	}
	if got != n || len(frames) != 6 {
		b.Fatalf("%d of %d datagrams reassembled from %d fragments", got, n, len(frames))
	}
}
