package stack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// Internal tests of the ICMP layer: frames are injected into one stack
// through a recording link, and what it sends is read back from the link.

type icmpLink struct {
	mac  wire.MAC
	h    tap.Handler
	sent [][]byte
}

func (l *icmpLink) Name() string             { return "icmptest" }
func (l *icmpLink) MTU() int                 { return 1500 }
func (l *icmpLink) MAC() wire.MAC            { return l.mac }
func (l *icmpLink) SetHandler(h tap.Handler) { l.h = h }
func (l *icmpLink) Close() error             { return nil }
func (l *icmpLink) Send(f []byte) error {
	l.sent = append(l.sent, append([]byte(nil), f...))
	return nil
}

type icmpSink struct{ list []observe.Event }

func (e *icmpSink) Active() bool             { return true }
func (e *icmpSink) Publish(ev observe.Event) { e.list = append(e.list, ev) }

var (
	tOwnMAC  = wire.MAC{0x02, 0, 0, 0, 0, 0x07}
	tPeerMAC = wire.MAC{0x02, 0, 0, 0, 0, 0x14}
	tOwn     = netip.MustParseAddr("192.168.2.7")
	tPeer    = netip.MustParseAddr("192.168.2.20")
	tBcast   = netip.MustParseAddr("192.168.2.255")
)

type icmpHost struct {
	t    *testing.T
	s    *Stack
	link *icmpLink
	loop *clock.Virtual
	ev   *icmpSink
}

// newICMPHost returns a stack 192.168.2.7/24 whose peer 192.168.2.20 is in
// its ARP cache, so that what it sends goes straight to the link.
func newICMPHost(t *testing.T, mod func(*Config)) *icmpHost {
	t.Helper()
	link := &icmpLink{mac: tOwnMAC}
	ev := &icmpSink{}
	loop := clock.NewVirtual()
	cfg := Config{Name: "tipy", MAC: tOwnMAC, Addr: netip.MustParsePrefix("192.168.2.7/24"), Seed: 1}
	cfg.ARP.NoProbe = true
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, link, loop, ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddStaticARP(tPeer, tPeerMAC); err != nil {
		t.Fatal(err)
	}
	loop.RunFor(time.Millisecond)
	link.sent = nil
	return &icmpHost{t: t, s: s, link: link, loop: loop, ev: ev}
}

// icmpDatagram builds an IPv4 datagram.
func icmpDatagram(src, dst netip.Addr, proto wire.IPProtocol, payload []byte, mod func(*wire.IPv4Header)) []byte {
	h := wire.IPv4Header{ID: 0x1234, TTL: 64, Protocol: proto, Src: src, Dst: dst}
	if mod != nil {
		mod(&h)
	}
	b := make([]byte, h.HeaderLen()+len(payload))
	copy(b[h.HeaderLen():], payload)
	if err := h.Marshal(b); err != nil {
		panic(err)
	}
	return b
}

// icmpEthFrame wraps an IPv4 datagram in an Ethernet frame from the peer.
func icmpEthFrame(dst wire.MAC, ip []byte) []byte {
	b := make([]byte, wire.EthernetHeaderLen+len(ip))
	eh := wire.EthernetHeader{Dst: dst, Src: tPeerMAC, Type: wire.EtherTypeIPv4}
	if err := eh.Marshal(b); err != nil {
		panic(err)
	}
	copy(b[wire.EthernetHeaderLen:], ip)
	return b
}

// icmpMessage builds an ICMP message with a valid checksum.
func icmpMessage(h wire.ICMPHeader, data []byte) []byte {
	b := make([]byte, wire.ICMPHeaderLen+len(data))
	copy(b[wire.ICMPHeaderLen:], data)
	if err := h.Marshal(b); err != nil {
		panic(err)
	}
	return b
}

// inject delivers an IPv4 datagram from the peer to the stack.
func (h *icmpHost) inject(dstMAC wire.MAC, ip []byte) {
	h.link.h(icmpEthFrame(dstMAC, ip))
}

// sentICMP returns the ICMP messages the stack sent since the last call, with
// their IPv4 headers, checking every checksum.
func (h *icmpHost) sentICMP() (ips []wire.IPv4Header, msgs []wire.ICMP) {
	h.t.Helper()
	for _, f := range h.link.sent {
		eth := wire.Ethernet(f)
		if eth.Type() != wire.EtherTypeIPv4 {
			continue
		}
		ip := wire.IPv4(eth.Payload())
		iph, err := wire.ParseIPv4(ip)
		if err != nil || !ip.ChecksumValid() {
			h.t.Fatalf("stack sent a bad IPv4 datagram: %v", err)
		}
		if iph.Protocol != wire.ProtoICMP {
			continue
		}
		m := wire.ICMP(ip[:iph.TotalLen].Payload())
		if m.Validate() != nil || !m.ChecksumValid() {
			h.t.Fatalf("stack sent an ICMP message with a bad checksum or length: % x", []byte(m))
		}
		ips = append(ips, iph)
		msgs = append(msgs, m)
	}
	h.link.sent = nil
	return ips, msgs
}

func (h *icmpHost) drops(r Reason) uint64 { return h.s.stats.Drops[r] }

func TestICMPEchoReply(t *testing.T) {
	h := newICMPHost(t, nil)
	req := icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: 7, Seq: 3}, []byte("hello, tipy"))
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, req, nil))
	ips, msgs := h.sentICMP()
	if len(msgs) != 1 {
		t.Fatalf("sent %d ICMP messages, want 1 echo reply", len(msgs))
	}
	m, ip := msgs[0], ips[0]
	if m.Type() != wire.ICMPEchoReply || m.ID() != 7 || m.Seq() != 3 || string(m.Payload()) != "hello, tipy" {
		t.Errorf("reply: type %v id %d seq %d data %q", m.Type(), m.ID(), m.Seq(), m.Payload())
	}
	if ip.Src != tOwn || ip.Dst != tPeer || ip.TTL != DefaultTTL {
		t.Errorf("reply header %v", ip)
	}
}

func TestICMPEchoToBroadcastIgnoredByDefault(t *testing.T) {
	h := newICMPHost(t, nil)
	req := icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: 1, Seq: 1}, []byte("smurf"))
	h.inject(wire.BroadcastMAC, icmpDatagram(tPeer, tBcast, wire.ProtoICMP, req, nil))
	h.inject(wire.BroadcastMAC, icmpDatagram(tPeer, limitedBroadcast, wire.ProtoICMP, req, nil))
	h.inject(wire.MulticastMAC(allHostsGroup), icmpDatagram(tPeer, allHostsGroup, wire.ProtoICMP, req, nil))
	if _, msgs := h.sentICMP(); len(msgs) != 0 {
		t.Fatalf("answered %d broadcast/multicast echo requests, want none", len(msgs))
	}
	if n := h.drops(ReasonICMPEchoBroadcast); n != 3 {
		t.Errorf("%d counted, want 3", n)
	}
	h.s.SetICMPEchoBroadcasts(true)
	h.inject(wire.BroadcastMAC, icmpDatagram(tPeer, tBcast, wire.ProtoICMP, req, nil))
	ips, msgs := h.sentICMP()
	if len(msgs) != 1 || msgs[0].Type() != wire.ICMPEchoReply {
		t.Fatalf("with broadcasts answered: %d messages", len(msgs))
	}
	if ips[0].Src != tOwn {
		t.Errorf("reply to a broadcast request comes from %s, want the interface address %s", ips[0].Src, tOwn)
	}
}

func TestICMPTimestampReply(t *testing.T) {
	h := newICMPHost(t, nil)
	h.loop.RunFor(1500 * time.Millisecond) // virtual clock now 1.501 s
	data := make([]byte, 12)
	binary.BigEndian.PutUint32(data, 12345)
	req := icmpMessage(wire.ICMPHeader{Type: wire.ICMPTimestamp, ID: 9, Seq: 2}, data)
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, req, nil))
	_, msgs := h.sentICMP()
	if len(msgs) != 1 {
		t.Fatalf("sent %d messages, want a timestamp reply", len(msgs))
	}
	m := msgs[0]
	p := m.Payload()
	if m.Type() != wire.ICMPTimestampReply || m.ID() != 9 || m.Seq() != 2 || len(p) != 12 {
		t.Fatalf("reply %v id %d seq %d len %d", m.Type(), m.ID(), m.Seq(), len(p))
	}
	want := uint32(h.loop.Now() / clock.Time(time.Millisecond))
	if o, r, x := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint32(p[8:]); o != 12345 || r != want || x != want {
		t.Errorf("timestamps originate %d receive %d transmit %d, want 12345 %d %d", o, r, x, want, want)
	}
	if got := icmpTimestampMillis(clock.Time(25*time.Hour + 3*time.Millisecond)); got != uint32((time.Hour + 3*time.Millisecond).Milliseconds()) {
		t.Errorf("timestamps wrap at midnight: got %d", got)
	}
	// Too short a timestamp request is malformed.
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPTimestamp}, data[:4]), nil))
	if h.drops(ReasonICMPMalformed) != 1 {
		t.Errorf("short timestamp request not counted malformed")
	}
}

func TestICMPBadChecksumAndMalformed(t *testing.T) {
	h := newICMPHost(t, nil)
	req := icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: 1, Seq: 1}, []byte("data"))
	req[len(req)-1] ^= 0x40
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, req, nil))
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, []byte{8, 0, 0xf7}, nil))
	// An error whose quote is not an IPv4 header.
	unreach := icmpMessage(wire.ICMPHeader{Type: wire.ICMPDestinationUnreachable, Code: wire.ICMPPortUnreachable}, []byte{1, 2, 3})
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, unreach, nil))
	if _, msgs := h.sentICMP(); len(msgs) != 0 {
		t.Errorf("answered %d damaged messages", len(msgs))
	}
	if h.drops(ReasonICMPBadChecksum) != 1 || h.drops(ReasonICMPMalformed) != 2 {
		t.Errorf("drops: %v", h.s.stats.DropCounts())
	}
	var sawChecksum bool
	for _, e := range h.ev.list {
		if e.Reason == ReasonICMPBadChecksum.String() && strings.Contains(e.Summary, "expected") {
			sawChecksum = true
		}
	}
	if !sawChecksum {
		t.Error("no traced bad-checksum drop naming the expected checksum")
	}
}

// receivedDatagram builds the Datagram the IPv4 layer would hand up.
func (h *icmpHost) receivedDatagram(raw []byte, bcast, mcast bool) *Datagram {
	h.t.Helper()
	ip := wire.IPv4(raw)
	hdr, err := wire.ParseIPv4(ip)
	if err != nil {
		h.t.Fatal(err)
	}
	return &Datagram{Iface: h.s.ifaces[0], Header: hdr, Raw: ip, Payload: ip.Payload(), LinkSrc: tPeerMAC, Broadcast: bcast, Multicast: mcast}
}

func TestICMPErrorSuppressionRules(t *testing.T) {
	udp := make([]byte, 16)
	binary.BigEndian.PutUint16(udp, 5000)
	binary.BigEndian.PutUint16(udp[2:], 9999)
	echo := icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: 1, Seq: 1}, []byte("x"))
	quoted := icmpDatagram(tOwn, tPeer, wire.ProtoUDP, udp, nil)
	icmpErr := icmpMessage(wire.ICMPHeader{Type: wire.ICMPDestinationUnreachable, Code: 3}, quoted)
	unknown := icmpMessage(wire.ICMPHeader{Type: 200}, []byte("?"))
	frag := func(off int, more bool) func(*wire.IPv4Header) {
		return func(h *wire.IPv4Header) {
			h.FragOff = off
			if more {
				h.Flags |= wire.IPv4FlagMF
			}
		}
	}
	cases := []struct {
		name         string
		src, dst     string
		proto        wire.IPProtocol
		payload      []byte
		mod          func(*wire.IPv4Header)
		bcast, mcast bool
		sent         bool
	}{
		{"udp to us", "192.168.2.20", "192.168.2.7", wire.ProtoUDP, udp, nil, false, false, true},
		{"echo request", "192.168.2.20", "192.168.2.7", wire.ProtoICMP, echo, nil, false, false, true},
		{"icmp error", "192.168.2.20", "192.168.2.7", wire.ProtoICMP, icmpErr, nil, false, false, false},
		{"unknown icmp type", "192.168.2.20", "192.168.2.7", wire.ProtoICMP, unknown, nil, false, false, false},
		{"empty icmp", "192.168.2.20", "192.168.2.7", wire.ProtoICMP, nil, nil, false, false, false},
		{"directed broadcast", "192.168.2.20", "192.168.2.255", wire.ProtoUDP, udp, nil, true, false, false},
		{"limited broadcast", "192.168.2.20", "255.255.255.255", wire.ProtoUDP, udp, nil, true, false, false},
		{"multicast", "192.168.2.20", "239.1.2.3", wire.ProtoUDP, udp, nil, false, true, false},
		{"first fragment", "192.168.2.20", "192.168.2.7", wire.ProtoUDP, udp, frag(0, true), false, false, true},
		{"non-first fragment", "192.168.2.20", "192.168.2.7", wire.ProtoUDP, udp, frag(8, true), false, false, false},
		{"last fragment", "192.168.2.20", "192.168.2.7", wire.ProtoUDP, udp, frag(16, false), false, false, false},
		{"source 0.0.0.0", "0.0.0.0", "192.168.2.7", wire.ProtoUDP, udp, nil, false, false, false},
		{"source loopback", "127.0.0.1", "192.168.2.7", wire.ProtoUDP, udp, nil, false, false, false},
		{"source broadcast", "192.168.2.255", "192.168.2.7", wire.ProtoUDP, udp, nil, false, false, false},
		{"source limited broadcast", "255.255.255.255", "192.168.2.7", wire.ProtoUDP, udp, nil, false, false, false},
		{"source multicast", "224.0.0.5", "192.168.2.7", wire.ProtoUDP, udp, nil, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newICMPHost(t, func(cfg *Config) { cfg.IPv4.ICMPRateLimit = -1 })
			raw := icmpDatagram(netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst), c.proto, c.payload, c.mod)
			h.s.icmpError(h.loop.Now(), h.receivedDatagram(raw, c.bcast, c.mcast), wire.ICMPDestinationUnreachable, wire.ICMPPortUnreachable, 0)
			_, msgs := h.sentICMP()
			if c.sent && len(msgs) != 1 {
				t.Fatalf("sent %d errors, want 1; drops %v", len(msgs), h.s.stats.DropCounts())
			}
			if !c.sent {
				if len(msgs) != 0 {
					t.Fatalf("sent an error that RFC 1122 §3.2.2 forbids")
				}
				if h.drops(ReasonICMPNoError) != 1 {
					t.Fatalf("suppression not counted: %v", h.s.stats.DropCounts())
				}
				last := h.ev.list[len(h.ev.list)-1]
				if last.Reason != ReasonICMPNoError.String() || !strings.Contains(last.Summary, "no ICMP port unreachable") {
					t.Errorf("suppression traced as %q (%s)", last.Summary, last.Reason)
				}
			}
		})
	}
}

func TestICMPErrorFormat(t *testing.T) {
	h := newICMPHost(t, nil)
	big := make([]byte, 1000)
	binary.BigEndian.PutUint16(big, 5000)
	binary.BigEndian.PutUint16(big[2:], 9999)
	for i := 8; i < len(big); i++ {
		big[i] = byte(i * 7)
	}
	raw := icmpDatagram(tPeer, tOwn, wire.ProtoUDP, big, nil)
	h.s.icmpError(h.loop.Now(), h.receivedDatagram(raw, false, false), wire.ICMPDestinationUnreachable, wire.ICMPPortUnreachable, 0)
	ips, msgs := h.sentICMP()
	if len(msgs) != 1 {
		t.Fatalf("sent %d messages", len(msgs))
	}
	if ips[0].TotalLen != 576 {
		t.Errorf("error datagram is %d bytes, want 576 (RFC 1812 §4.3.2.3)", ips[0].TotalLen)
	}
	if ips[0].Src != tOwn || ips[0].Dst != tPeer || ips[0].TTL != 64 {
		t.Errorf("error header %v", ips[0])
	}
	m := msgs[0]
	if m.Type() != wire.ICMPDestinationUnreachable || m.Code() != wire.ICMPPortUnreachable {
		t.Errorf("type %v code %d", m.Type(), m.Code())
	}
	if !bytes.Equal(m.Payload(), raw[:548]) {
		t.Error("quote is not the first 548 bytes of the original datagram")
	}
	var explained bool
	for _, e := range h.ev.list {
		if e.Layer == observe.LayerICMP && e.Kind == observe.KindTX && strings.Contains(e.Explain, "no program listens on UDP port 9999 of this host") {
			explained = true
		}
	}
	if !explained {
		t.Error("the error's event does not explain it in words")
	}

	// A small datagram is quoted whole; fragmentation needed carries the
	// MTU; an error about a datagram to another host (a router's) comes
	// from the interface address.
	small := icmpDatagram(tPeer, netip.MustParseAddr("10.9.9.9"), wire.ProtoUDP, big[:12], func(ih *wire.IPv4Header) { ih.Flags = wire.IPv4FlagDF })
	h.s.icmpError(h.loop.Now(), h.receivedDatagram(small, false, false), wire.ICMPDestinationUnreachable, wire.ICMPFragmentationNeeded, 1400)
	ips, msgs = h.sentICMP()
	if len(msgs) != 1 {
		t.Fatalf("sent %d messages", len(msgs))
	}
	if !bytes.Equal(msgs[0].Payload(), small) || msgs[0].MTU() != 1400 || ips[0].Src != tOwn {
		t.Errorf("frag needed: quote %d bytes, mtu %d, src %s", len(msgs[0].Payload()), msgs[0].MTU(), ips[0].Src)
	}
	h.s.icmpError(h.loop.Now(), h.receivedDatagram(small, false, false), wire.ICMPParameterProblem, 0, 12)
	if _, msgs = h.sentICMP(); len(msgs) != 1 || msgs[0].Pointer() != 12 {
		t.Errorf("parameter problem pointer not carried")
	}
}

func TestICMPRateLimit(t *testing.T) {
	h := newICMPHost(t, nil) // defaults: 10 back to back, then one per 100 ms
	raw := icmpDatagram(tPeer, tOwn, wire.ProtoUDP, make([]byte, 8), nil)
	fire := func(n int) int {
		for i := 0; i < n; i++ {
			h.s.icmpError(h.loop.Now(), h.receivedDatagram(raw, false, false), wire.ICMPDestinationUnreachable, wire.ICMPPortUnreachable, 0)
		}
		_, msgs := h.sentICMP()
		return len(msgs)
	}
	if got := fire(15); got != 10 {
		t.Fatalf("burst: %d sent, want 10", got)
	}
	if got := h.drops(ReasonICMPRateLimited); got != 5 {
		t.Fatalf("%d rate-limited, want 5", got)
	}
	h.loop.RunFor(99 * time.Millisecond)
	if got := fire(1); got != 0 {
		t.Errorf("a token appeared before 100 ms")
	}
	h.loop.RunFor(time.Millisecond)
	if got := fire(2); got != 1 {
		t.Errorf("after 100 ms: %d sent, want 1", got)
	}
	h.loop.RunFor(350 * time.Millisecond)
	if got := fire(5); got != 3 {
		t.Errorf("after 350 ms: %d sent, want 3", got)
	}
	// Fragmentation needed is not limited: path MTU discovery needs it.
	h.s.icmpError(h.loop.Now(), h.receivedDatagram(raw, false, false), wire.ICMPDestinationUnreachable, wire.ICMPFragmentationNeeded, 1280)
	if _, msgs := h.sentICMP(); len(msgs) != 1 {
		t.Errorf("fragmentation needed was rate-limited")
	}
	h.loop.RunFor(10 * time.Second)
	if got := fire(12); got != 10 {
		t.Errorf("after a long pause: %d sent, want a full burst of 10", got)
	}
}

func TestTokenBucket(t *testing.T) {
	var b tokenBucket
	ms := func(n int) clock.Time { return clock.Time(time.Duration(n) * time.Millisecond) }
	allowed := 0
	for i := 0; i < 5; i++ {
		if b.allow(ms(1000), 50*time.Millisecond, 3) {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("burst of 3 allowed %d", allowed)
	}
	if !b.allow(ms(1075), 50*time.Millisecond, 3) || b.allow(ms(1075), 50*time.Millisecond, 3) {
		t.Error("one token after 75 ms")
	}
	// The remaining 25 ms count towards the next token.
	if !b.allow(ms(1100), 50*time.Millisecond, 3) {
		t.Error("the partial interval was forgotten")
	}
	if !(&tokenBucket{}).allow(0, 0, 0) || !(&tokenBucket{}).allow(0, -1, 1) {
		t.Error("a non-positive interval must mean no limit")
	}
}

func TestICMPErrorInputToTransport(t *testing.T) {
	h := newICMPHost(t, nil)
	var got []*TransportError
	h.s.HandleTransportError(wire.ProtoUDP, func(now clock.Time, e *TransportError) { got = append(got, e) })
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp, 5000)
	binary.BigEndian.PutUint16(udp[2:], 9999)
	ours := icmpDatagram(tOwn, tPeer, wire.ProtoUDP, udp, nil)
	errMsg := icmpMessage(wire.ICMPHeader{Type: wire.ICMPDestinationUnreachable, Code: wire.ICMPPortUnreachable}, ours)
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, errMsg, nil))
	if len(got) != 1 {
		t.Fatalf("transport got %d errors, want 1", len(got))
	}
	e := got[0]
	if e.From != tPeer || e.Proto != wire.ProtoUDP || e.Src != tOwn || e.Dst != tPeer || e.SrcPort != 5000 || e.DstPort != 9999 ||
		e.Errno != ECONNREFUSED || !e.Hard || e.Type != wire.ICMPDestinationUnreachable || e.Code != wire.ICMPPortUnreachable {
		t.Errorf("transport error %+v", *e)
	}
	if !strings.Contains(e.Detail, "port unreachable from 192.168.2.20") {
		t.Errorf("detail %q", e.Detail)
	}
	// Fragmentation needed carries the MTU.
	fn := icmpMessage(wire.ICMPHeader{Type: wire.ICMPDestinationUnreachable, Code: wire.ICMPFragmentationNeeded, MTU: 1280}, ours)
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, fn, nil))
	if len(got) != 2 || got[1].MTU != 1280 || got[1].Errno != EMSGSIZE {
		t.Fatalf("frag needed: %d errors", len(got))
	}

	before := h.drops(ReasonICMPUnmatched)
	// About a datagram another host sent.
	theirs := icmpDatagram(netip.MustParseAddr("192.168.2.30"), tPeer, wire.ProtoUDP, udp, nil)
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPDestinationUnreachable, Code: 3}, theirs), nil))
	// About a protocol nobody handles errors for.
	other := icmpDatagram(tOwn, tPeer, 253, udp, nil)
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPDestinationUnreachable, Code: 2}, other), nil))
	// An echo reply no ping waits for.
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoReply, ID: 4242, Seq: 1}, nil), nil))
	if len(got) != 2 {
		t.Errorf("unmatched errors reached the transport")
	}
	if n := h.drops(ReasonICMPUnmatched) - before; n != 3 {
		t.Errorf("%d unmatched counted, want 3", n)
	}

	// Ignored on purpose: an error sent to a broadcast address, source
	// quench, redirect.
	before = h.drops(ReasonICMPIgnored)
	h.inject(wire.BroadcastMAC, icmpDatagram(tPeer, tBcast, wire.ProtoICMP, errMsg, nil))
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPSourceQuench}, ours), nil))
	routes := len(h.s.Routes())
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPRedirect, Code: 1, Gateway: netip.MustParseAddr("192.168.2.66")}, ours), nil))
	if len(got) != 2 || len(h.s.Routes()) != routes {
		t.Error("an ignored message acted")
	}
	if n := h.drops(ReasonICMPIgnored) - before; n != 3 {
		t.Errorf("%d ignored counted, want 3", n)
	}
	if _, msgs := h.sentICMP(); len(msgs) != 0 {
		t.Errorf("answered ICMP errors with %d messages", len(msgs))
	}
}

func TestPingCorruptAndDuplicateReply(t *testing.T) {
	h := newICMPHost(t, nil)
	ps, err := h.s.startPing(h.loop.Now(), tPeer, PingOptions{Count: 1, Size: 32, ID: 77})
	if err != nil {
		t.Fatal(err)
	}
	_, msgs := h.sentICMP()
	if len(msgs) != 1 || msgs[0].Type() != wire.ICMPEchoRequest || msgs[0].ID() != 77 || msgs[0].Seq() != 1 || len(msgs[0].Payload()) != 32 {
		t.Fatalf("request not sent as asked: %d messages", len(msgs))
	}
	data := append([]byte(nil), msgs[0].Payload()...)
	h.loop.RunFor(3 * time.Millisecond)
	data[20] ^= 0xff // a peer that changes the data but fixes the checksum
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoReply, ID: 77, Seq: 1}, data), nil))
	select {
	case <-ps.done:
	default:
		t.Fatal("ping not done after its only reply")
	}
	r := ps.res
	if r.Received != 1 || len(r.Replies) != 1 || !r.Replies[0].Corrupt || r.Replies[0].RTT != 3*time.Millisecond {
		t.Fatalf("result %+v", r)
	}
	// The identifier is free again: a late duplicate is unmatched.
	before := h.drops(ReasonICMPUnmatched)
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoReply, ID: 77, Seq: 1}, data), nil))
	if h.drops(ReasonICMPUnmatched) != before+1 {
		t.Error("reply after the ping ended was not counted unmatched")
	}

	// Duplicates are reported, not counted.
	ps, err = h.s.startPing(h.loop.Now(), tPeer, PingOptions{Count: 2, Size: 16, ID: 78, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, msgs = h.sentICMP()
	reply := icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoReply, ID: 78, Seq: 1}, msgs[0].Payload())
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, reply, nil))
	h.inject(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, reply, nil))
	if _, err := h.s.startPing(h.loop.Now(), tPeer, PingOptions{ID: 78}); err == nil {
		t.Error("a second ping with a busy identifier was allowed")
	}
	h.loop.RunFor(5 * time.Second)
	<-ps.done
	r = ps.res
	if r.Sent != 2 || r.Received != 1 || r.Duplicates != 1 || len(r.Replies) != 2 || !r.Replies[1].Duplicate || len(r.Lost) != 1 || r.Lost[0] != 2 {
		t.Errorf("result %+v", r)
	}
}

// BenchmarkICMPEchoReply measures the receive path of an echo request up to
// the reply leaving on the link: validation, checksum, reply construction,
// IPv4 output and Ethernet framing.
func BenchmarkICMPEchoReply(b *testing.B) {
	h := newICMPHost(&testing.T{}, func(c *Config) { c.IPv4.ICMPRateLimit = -1 })
	h.s.obs = observe.Discard
	req := icmpMessage(wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: 7, Seq: 3}, make([]byte, 56))
	frame := icmpEthFrame(tOwnMAC, icmpDatagram(tPeer, tOwn, wire.ProtoICMP, req, nil))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		h.link.h(frame)
		h.link.sent = h.link.sent[:0]
	}
}

// BenchmarkICMPErrorSend measures building and sending a port unreachable
// with a full 548-byte quote, rate limit off.
func BenchmarkICMPErrorSend(b *testing.B) {
	h := newICMPHost(&testing.T{}, func(c *Config) { c.IPv4.ICMPRateLimit = -1 })
	h.s.obs = observe.Discard
	raw := icmpDatagram(tPeer, tOwn, wire.ProtoUDP, make([]byte, 1000), nil)
	ip := wire.IPv4(raw)
	hdr, _ := wire.ParseIPv4(ip)
	d := &Datagram{Iface: h.s.ifaces[0], Header: hdr, Raw: ip, Payload: ip.Payload()}
	b.ReportAllocs()
	for b.Loop() {
		h.s.icmpError(0, d, wire.ICMPDestinationUnreachable, wire.ICMPPortUnreachable, 0)
		h.link.sent = h.link.sent[:0]
	}
}
