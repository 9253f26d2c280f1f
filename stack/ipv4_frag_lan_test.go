package stack_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// fragSentIPv4 returns the IPv4 datagrams host sent with Ethernet source
// mac, from its link tx events.
func fragSentIPv4(ev *events, host string, mac wire.MAC) []wire.IPv4 {
	var out []wire.IPv4
	for _, e := range ev.list {
		if e.Host != host || e.Layer != observe.LayerLink || e.Kind != observe.KindTX || e.Frame == nil {
			continue
		}
		eth := wire.Ethernet(e.Frame)
		if eth.Validate() != nil || eth.Src() != mac || eth.Type() != wire.EtherTypeIPv4 {
			continue
		}
		ip := wire.IPv4(eth.Payload())
		if ip.Validate() == nil {
			out = append(out, ip)
		}
	}
	return out
}

// A router between a 1500-byte and a 576-byte link cuts the fragments it
// forwards again; the destination puts the original datagram back together.
func TestRefragmentAtRouter(t *testing.T) {
	loop := clock.NewVirtual()
	ev := &events{}
	sw1 := tap.NewSwitch(loop, "lan1", ev, 5)
	sw2 := tap.NewSwitch(loop, "lan2", ev, 5)
	var (
		alphaMAC = wire.MAC{0x02, 0, 0, 0, 3, 1}
		r1MAC    = wire.MAC{0x02, 0, 0, 0, 3, 2}
		r2MAC    = wire.MAC{0x02, 0, 0, 0, 3, 3}
		betaMAC  = wire.MAC{0x02, 0, 0, 0, 3, 4}
	)
	mk := func(name string, mac wire.MAC, addr, gw string, link tap.Link) *stack.Stack {
		cfg := stack.Config{Name: name, MAC: mac, Addr: netip.MustParsePrefix(addr), Seed: 5}
		cfg.ARP.NoProbe = true
		if gw != "" {
			cfg.Gateway = netip.MustParseAddr(gw)
		}
		s, err := stack.New(cfg, link, loop, ev)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alpha := mk("alpha", alphaMAC, "10.0.1.2/24", "10.0.1.1", sw1.AddPort("alpha", alphaMAC, 1500))
	router := mk("router", r1MAC, "10.0.1.1/24", "", sw1.AddPort("router", r1MAC, 1500))
	if _, err := router.AddInterface(stack.IfaceConfig{Name: "eth1", MAC: r2MAC, Addr: netip.MustParsePrefix("10.0.2.1/24"), MTU: 576},
		sw2.AddPort("router", r2MAC, 1500)); err != nil {
		t.Fatal(err)
	}
	router.SetForwarding(true)
	beta := mk("beta", betaMAC, "10.0.2.2/24", "10.0.2.1", sw2.AddPort("beta", betaMAC, 1500))
	var got [][]byte
	beta.HandleProtocol(protoTest, func(now clock.Time, d *stack.Datagram) { got = append(got, append([]byte(nil), d.Payload...)) })

	payload := fragPayload(9, 4000)
	p := stack.NewPacket(stack.Headroom, len(payload))
	copy(p.Payload(), payload)
	betaAddr := netip.MustParseAddr("10.0.2.2")
	if err := alpha.SendIPv4(loop.Now(), betaAddr, protoTest, p, nil); err != nil {
		t.Fatal(err)
	}
	loop.RunFor(5 * time.Second)
	if len(got) != 1 || !bytes.Equal(got[0], payload) {
		t.Fatalf("beta received %d datagrams (want the 4000 bytes once)", len(got))
	}

	// alpha cut 1480+1480+1040; the router cut each again for 576:
	// 552+552+376, 552+552+376, 552+488.
	sent := fragSentIPv4(ev, "alpha", alphaMAC)
	var pieces []wire.IPv4
	for _, ip := range fragSentIPv4(ev, "router", r2MAC) {
		if ip.Dst() == betaAddr && ip.Protocol() == protoTest {
			pieces = append(pieces, ip)
		}
	}
	if len(sent) != 3 || len(pieces) != 8 {
		t.Fatalf("alpha sent %d fragments (want 3), the router %d pieces (want 8)", len(sent), len(pieces))
	}
	slices.SortFunc(pieces, func(a, b wire.IPv4) int { return a.FragmentOffset() - b.FragmentOffset() })
	at := 0
	for i, ip := range pieces {
		end := ip.FragmentOffset() + len(ip.Payload())
		if ip.ID() != sent[0].ID() || ip.FragmentOffset() != at || len(ip) > 576 || ip.TTL() != sent[0].TTL()-1 || !ip.ChecksumValid() {
			t.Fatalf("piece %d: id %d offset %d (want %d) length %d ttl %d", i, ip.ID(), ip.FragmentOffset(), at, len(ip), ip.TTL())
		}
		if ip.More() != (end != len(payload)) {
			t.Fatalf("piece %d ending at %d: MF %v", i, end, ip.More())
		}
		at = end
	}
	if at != len(payload) {
		t.Fatalf("pieces cover %d bytes of %d", at, len(payload))
	}
	if st := router.ReassemblyStats(); st.FragmentsIn != 0 {
		t.Fatalf("the router reassembled forwarded fragments: %+v", st)
	}
	if !hasEvent(ev, "router", func(e observe.Event) bool {
		return e.RFC == "RFC 791 §3.2" && bytes.Contains([]byte(e.Summary), []byte("for MTU 576")) && e.Fields["offsets"] != nil
	}) {
		t.Error("the router published no fragmentation event")
	}
}

// A lone first fragment draws ICMP time exceeded, code 1, quoting it, after
// the reassembly timeout; a lone later fragment draws nothing.
func TestReassemblyTimeExceededOnTheWire(t *testing.T) {
	l := newLAN(t, 11,
		hostSpec{name: "alpha", addr: "192.168.2.20/24", mod: func(c *stack.Config) { c.ARP.NoProbe = true }},
		hostSpec{name: "tipy", addr: "192.168.2.7/24", mod: func(c *stack.Config) {
			c.ARP.NoProbe = true
			c.IPv4.ReassemblyTimeout = 3 * time.Second
		}},
	)
	alpha, tipy := l.hosts["alpha"], l.hosts["tipy"]
	var errs []stack.TransportError
	alpha.HandleTransportError(protoTest, func(now clock.Time, e *stack.TransportError) { errs = append(errs, *e) })
	// A third port injects fragments claiming to come from alpha.
	injMAC := wire.MAC{0x02, 0, 0, 0, 9, 9}
	inj := l.sw.AddPort("inj", injMAC, 1500)
	inject := func(id uint16, off int, more bool, data []byte) {
		h := wire.IPv4Header{ID: id, FragOff: off, TTL: 64, Protocol: protoTest,
			Src: netip.MustParseAddr("192.168.2.20"), Dst: netip.MustParseAddr("192.168.2.7")}
		if more {
			h.Flags = wire.IPv4FlagMF
		}
		b := make([]byte, wire.EthernetHeaderLen+h.HeaderLen()+len(data))
		eh := wire.EthernetHeader{Dst: tipy.Iface().MAC(), Src: injMAC, Type: wire.EtherTypeIPv4}
		if err := eh.Marshal(b); err != nil {
			t.Fatal(err)
		}
		copy(b[wire.EthernetHeaderLen+h.HeaderLen():], data)
		if err := h.Marshal(b[wire.EthernetHeaderLen:]); err != nil {
			t.Fatal(err)
		}
		if err := inj.Send(b); err != nil {
			t.Fatal(err)
		}
	}
	inject(77, 0, true, fragFill(16, 'q'))
	inject(78, 16, false, fragFill(8, 'r'))
	l.loop.RunFor(2900 * time.Millisecond)
	if len(errs) != 0 {
		t.Fatalf("an ICMP error before the timeout: %+v", errs)
	}
	l.loop.RunFor(2 * time.Second)
	if len(errs) != 1 {
		t.Fatalf("alpha got %d ICMP errors, want 1\n%s", len(errs), l.ev.dump())
	}
	e := errs[0]
	if e.Type != wire.ICMPTimeExceeded || e.Code != wire.ICMPReassemblyExceeded || e.From != netip.MustParseAddr("192.168.2.7") {
		t.Fatalf("alpha got %+v, want time exceeded code 1 from tipy", e)
	}
	// The frame on the wire quotes the first fragment's header and its
	// first 8 data bytes.
	var quoted wire.IPv4
	for _, ip := range fragSentIPv4(l.ev, "tipy", tipy.Iface().MAC()) {
		if ip.Protocol() == wire.ProtoICMP {
			body := ip.Payload()
			if len(body) >= 8+20 && wire.ICMPType(body[0]) == wire.ICMPTimeExceeded && body[1] == wire.ICMPReassemblyExceeded {
				quoted = wire.IPv4(body[8:])
			}
		}
	}
	if quoted == nil || len(quoted) < 28 || quoted.IHL() != 5 || quoted.ID() != 77 || !quoted.More() || quoted.FragmentOffset() != 0 ||
		!bytes.Equal(quoted[20:28], fragFill(8, 'q')) {
		t.Fatalf("no ICMP time exceeded quoting fragment 77 on the wire (quote %x)", []byte(quoted))
	}
	if d := tipy.Stats().DropCounts(); d["ip-frag-timeout"] != 2 {
		t.Fatalf("tipy drops %v, want 2 ip-frag-timeout", d)
	}
}
