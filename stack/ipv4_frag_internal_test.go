package stack

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// recLink is a link that records what is sent and lets a test inject frames.
type recLink struct {
	mtu  int
	mac  wire.MAC
	sent [][]byte
	h    tap.Handler
}

func (l *recLink) Name() string             { return "rec" }
func (l *recLink) MTU() int                 { return l.mtu }
func (l *recLink) MAC() wire.MAC            { return l.mac }
func (l *recLink) SetHandler(h tap.Handler) { l.h = h }
func (l *recLink) Close() error             { return nil }
func (l *recLink) Send(f []byte) error {
	l.sent = append(l.sent, append([]byte(nil), f...))
	return nil
}

func newRecStack(t testing.TB, mod func(*Config)) (*Stack, *recLink, *clock.Virtual) {
	t.Helper()
	mac := wire.MAC{0x02, 0, 0, 0, 0, 0x07}
	link := &recLink{mtu: 1500, mac: mac}
	cfg := Config{Name: "tipy", MAC: mac, Addr: netip.MustParsePrefix("192.168.2.7/24"), Seed: 1}
	cfg.ARP.NoProbe = true
	if mod != nil {
		mod(&cfg)
	}
	loop := clock.NewVirtual()
	s, err := New(cfg, link, loop, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, link, loop
}

// rawFragment builds an IPv4 fragment from 192.168.2.20 to the stack.
func rawFragment(t testing.TB, id uint16, off int, more bool, data []byte) []byte {
	t.Helper()
	h := wire.IPv4Header{ID: id, FragOff: off, TTL: 64, Protocol: 253,
		Src: netip.MustParseAddr("192.168.2.20"), Dst: netip.MustParseAddr("192.168.2.7")}
	if more {
		h.Flags = wire.IPv4FlagMF
	}
	b := make([]byte, wire.EthernetHeaderLen+h.HeaderLen()+len(data))
	eh := wire.EthernetHeader{Dst: wire.MAC{0x02, 0, 0, 0, 0, 0x07}, Src: wire.MAC{0x02, 0, 0, 0, 0, 0x14}, Type: wire.EtherTypeIPv4}
	if err := eh.Marshal(b); err != nil {
		t.Fatal(err)
	}
	copy(b[wire.EthernetHeaderLen+h.HeaderLen():], data)
	if err := h.Marshal(b[wire.EthernetHeaderLen:]); err != nil {
		t.Fatal(err)
	}
	return b
}

// The timeout asks ICMP for time exceeded, code 1, about fragment zero only,
// quoting fragment zero as it arrived.
func TestReassemblyTimeoutRequestsTimeExceeded(t *testing.T) {
	s, link, loop := newRecStack(t, func(c *Config) { c.IPv4.ReassemblyTimeout = time.Second })
	var quoted []*Datagram
	s.reasm().timeExceeded = func(d *Datagram) { quoted = append(quoted, d) }
	first := rawFragment(t, 7, 0, true, bytes.Repeat([]byte{'a'}, 16))
	link.h(first)
	link.h(rawFragment(t, 7, 24, false, bytes.Repeat([]byte{'c'}, 8)))
	link.h(rawFragment(t, 9, 8, true, bytes.Repeat([]byte{'b'}, 8))) // id 9: no fragment zero
	loop.RunFor(2 * time.Second)
	if len(quoted) != 1 {
		t.Fatalf("time exceeded requested for %d datagrams, want 1", len(quoted))
	}
	d := quoted[0]
	if !bytes.Equal(d.Raw, first[wire.EthernetHeaderLen:]) || d.Header.ID != 7 || d.Header.FragOff != 0 || !d.Header.More() {
		t.Fatalf("quoted datagram %v, raw %x", d.Header, d.Raw)
	}
	if len(d.Payload) != 16 || d.Iface != s.Iface() || d.Broadcast || d.Multicast {
		t.Fatalf("quoted datagram: payload %d bytes, iface %v, broadcast %v, multicast %v", len(d.Payload), d.Iface, d.Broadcast, d.Multicast)
	}
	if st := s.ReassemblyStats(); st.TimedOut != 2 || st.InProgress != 0 || st.BytesHeld != 0 {
		t.Fatalf("stats %+v", st)
	}
	if s.reasm().armedAt != clock.Never || s.reasm().timer.Armed() {
		t.Fatal("the reassembly timer is still armed with nothing to wait for")
	}
}

// A fragment being forwarded is cut again: offsets add to its own, the last
// piece keeps its MF, and only copied options are carried when it is not the
// first fragment of the original datagram.
func TestRefragmentPlan(t *testing.T) {
	ra := wire.RouterAlertOption(0)
	rr := wire.RecordRouteOption(2)
	h := wire.IPv4Header{ID: 1, FragOff: 1480, Flags: wire.IPv4FlagMF, Options: []wire.IPv4Option{ra}}
	plan, err := planFragments(&h, 1480, 576)
	if err != nil {
		t.Fatal(err)
	}
	if plan.hl1 != 24 || plan.hlN != 24 || len(plan.frags) != 3 {
		t.Fatalf("plan %+v", plan)
	}
	for i, f := range plan.frags {
		if f.first || (i < 2 && f.n != 552) || f.off != 552*i {
			t.Fatalf("piece %d: %+v", i, f)
		}
	}
	// A first fragment being cut again keeps every option in its first piece.
	h0 := wire.IPv4Header{ID: 1, Flags: wire.IPv4FlagMF, Options: []wire.IPv4Option{rr, ra}}
	plan, err = planFragments(&h0, 1480, 576)
	if err != nil || !plan.frags[0].first || plan.frags[1].first || plan.hl1 != 36 || plan.hlN != 24 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
}

// Cutting a middle fragment again on the wire: every piece keeps the ID,
// offsets start at the fragment's own, and the last piece keeps MF.
func TestRefragmentSend(t *testing.T) {
	s, link, _ := newRecStack(t, func(c *Config) { c.MTU = 576 })
	bcast := netip.MustParseAddr("192.168.2.255")
	nh, err := s.route(0, bcast, &SendOptions{Broadcast: true})
	if err != nil {
		t.Fatal(err)
	}
	h := wire.IPv4Header{ID: 42, FragOff: 1480, Flags: wire.IPv4FlagMF, TTL: 63, Protocol: 253,
		Src: netip.MustParseAddr("192.168.2.20"), Dst: bcast}
	p := NewPacket(Headroom, 1480)
	if err := s.fragmentAndSend(0, nh, &h, p, nil); err != nil {
		t.Fatal(err)
	}
	if len(link.sent) != 3 {
		t.Fatalf("%d pieces, want 3", len(link.sent))
	}
	at := 1480
	for i, f := range link.sent {
		ip := wire.IPv4(wire.Ethernet(f).Payload())
		if ip.ID() != 42 || ip.FragmentOffset() != at || !ip.More() || !ip.ChecksumValid() || len(ip) > 576 || ip.TTL() != 63 {
			t.Fatalf("piece %d: id %d offset %d (want %d) MF %v len %d ttl %d", i, ip.ID(), ip.FragmentOffset(), at, ip.More(), len(ip), ip.TTL())
		}
		at += len(ip.Payload())
	}
	if at != 2960 {
		t.Fatalf("pieces end at %d, want 2960", at)
	}
}

// A header that leaves fewer than 8 data bytes in the MTU cannot fragment.
func TestFragmentTooSmallMTU(t *testing.T) {
	s, link, _ := newRecStack(t, nil)
	s.ifaces[0].mtu = 64
	opts := []wire.IPv4Option{wire.RecordRouteOption(9)} // 39 bytes: a 60-byte header
	p := NewPacket(Headroom, 100)
	err := s.SendIPv4(0, netip.MustParseAddr("192.168.2.255"), 253, p, &SendOptions{Broadcast: true, Options: opts})
	if !errors.Is(err, EMSGSIZE) {
		t.Fatalf("error %v, want EMSGSIZE", err)
	}
	if len(link.sent) != 0 {
		t.Fatalf("%d frames sent", len(link.sent))
	}
	// At the smallest legal MTU the first fragment carries 8 data bytes
	// behind its 60-byte header; Record Route is not copied, so the others
	// have 20-byte headers and carry 48.
	s.ifaces[0].mtu = 68
	p = NewPacket(Headroom, 100)
	if err := s.SendIPv4(0, netip.MustParseAddr("192.168.2.255"), 253, p, &SendOptions{Broadcast: true, Options: opts}); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, f := range link.sent {
		sizes = append(sizes, len(wire.IPv4(wire.Ethernet(f).Payload()).Payload()))
	}
	if !slices.Equal(sizes, []int{8, 48, 44}) {
		t.Fatalf("fragments of %v data bytes at MTU 68, want [8 48 44]", sizes)
	}
}

// FuzzReassembly feeds arbitrary fragment sequences (a few IDs, any offsets,
// lengths and MF flags) to reassembly and checks its invariants after each:
// no panic, ranges sorted and disjoint, the bytes held add up and stay under
// the cap, and whatever is delivered has a valid header.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 0, 2, 1, 0, 2, 2, 0})
	f.Add([]byte{1, 0, 4, 1, 1, 1, 4, 1, 1, 0, 2, 0})
	f.Add([]byte{2, 255, 255, 0, 2, 0, 1, 1})
	f.Fuzz(func(t *testing.T, script []byte) {
		s, link, loop := newRecStack(t, func(c *Config) { c.IPv4.ReassemblyMemory = 4096 })
		s.HandleProtocol(253, func(now clock.Time, d *Datagram) {
			if !d.Raw.ChecksumValid() || d.Header.IsFragment() || int(d.Header.TotalLen) != len(d.Raw) {
				t.Fatalf("delivered a bad datagram: %v", d.Header)
			}
		})
		for len(script) >= 4 {
			id, off, n, more := uint16(script[0]%4), int(script[1])*8*int(script[0]/4%8+1), int(script[2])%200, script[3]&1 == 1
			script = script[4:]
			if off+n > wire.IPv4MaxLen-wire.IPv4MinHeaderLen+16 {
				continue
			}
			link.h(rawFragment(t, id, off, more, bytes.Repeat([]byte{byte(off)}, n)))
			r := s.reasm()
			held := 0
			for dg := r.head; dg != nil; dg = dg.next {
				held += dg.mem
				for i := 1; i < len(dg.ranges); i++ {
					if dg.ranges[i-1].end > dg.ranges[i].off {
						t.Fatalf("overlapping ranges %+v", dg.ranges)
					}
				}
			}
			if held != r.held || r.held > r.capacity || len(r.dgrams) > MaxReassemblyDatagrams {
				t.Fatalf("held %d (sum %d), cap %d, %d datagrams", r.held, held, r.capacity, len(r.dgrams))
			}
			loop.RunFor(time.Second)
		}
	})
}
