package stack_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// rrEcho sends an echo request with a Record Route option of slots slots
// from a raw ICMP socket of n.a to n.b and returns the addresses recorded in
// the reply.
func rrEcho(t *testing.T, n *routedNet, slots int) []netip.Addr {
	t.Helper()
	var so *stack.Socket
	dst := n.b.Iface().Addr().Addr()
	n.loop.Call(func() {
		now := n.loop.Now()
		var err error
		if so, err = n.a.SocketNow(now, stack.AF_INET, stack.SOCK_RAW, 1); err != nil {
			t.Fatal(err)
		}
		if err := so.SetSockoptNow(now, stack.IPPROTO_IP, stack.IP_OPTIONS, []wire.IPv4Option{wire.RecordRouteOption(slots)}); err != nil {
			t.Fatal(err)
		}
		msg := echoRequest(t, 77, 1, "\x00\x00\x00\x00")
		if _, err := so.SendToNow(now, msg, netip.AddrPortFrom(dst, 0)); err != nil {
			t.Fatal(err)
		}
	})
	var reply wire.IPv4
	n.loop.RunWhile(func() bool {
		b, _, err := so.RecvFromNow(n.loop.Now(), 65535)
		if err == nil && wire.IPv4(b).Src() == dst && wire.ICMP(wire.IPv4(b).Payload()).Type() == wire.ICMPEchoReply {
			reply = b
		}
		return reply == nil
	}, n.loop.Now().Add(5*time.Second))
	if reply == nil {
		t.Fatalf("no echo reply\n%s", n.ev.dump())
	}
	h, err := wire.ParseIPv4(reply)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range h.Options {
		if o.Type == wire.IPv4OptRecordRoute {
			ptr, addrs, err := o.Route()
			if err != nil {
				t.Fatal(err)
			}
			return addrs[:(int(ptr)-4)/4]
		}
	}
	t.Fatalf("the reply has no Record Route option: %v", h)
	return nil
}

func TestRecordRouteRoundTrip(t *testing.T) {
	n := newRoutedNet(t, 50, 50)
	got := rrEcho(t, n, 9)
	want := []netip.Addr{netip.MustParseAddr("10.50.2.1"), netip.MustParseAddr("10.50.2.2"), netip.MustParseAddr("10.50.1.1")}
	if !slices.Equal(got, want) {
		t.Fatalf("recorded %v, want %v (router out, destination, router back)\n%s", got, want, n.ev.dump())
	}
	if !icmpHasEvent(n.ev, "r", func(e observe.Event) bool {
		return e.Layer == observe.LayerIPv4 && strings.HasPrefix(e.Summary, "recorded 10.50.2.1 in the Record Route option") && e.Fields["slot"] == 1
	}) {
		t.Error("the router did not trace its recording")
	}
	if !icmpHasEvent(n.ev, "b", func(e observe.Event) bool {
		return e.Layer == observe.LayerICMP && strings.HasPrefix(e.Summary, "recorded 10.50.2.2 in the Record Route option of the echo reply") && e.RFC == "RFC 1122 §3.2.2.6"
	}) {
		t.Error("the destination did not trace its recording")
	}
}

func TestRecordRouteFull(t *testing.T) {
	n := newRoutedNet(t, 51, 51)
	got := rrEcho(t, n, 1)
	if want := []netip.Addr{netip.MustParseAddr("10.51.2.1")}; !slices.Equal(got, want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	if !icmpHasEvent(n.ev, "r", func(e observe.Event) bool {
		return strings.Contains(e.Summary, "Record Route option of 10.51.2.2 > 10.51.1.2 is full: 10.51.1.1 not recorded")
	}) {
		t.Errorf("no event for the full option on the way back\n%s", n.ev.dump())
	}
}

// TestSetIPv4ConfigReassemblyTimeout: a shorter reassembly timeout set at
// run time gives up a lone first fragment sooner, and can be restored.
func TestSetIPv4ConfigReassemblyTimeout(t *testing.T) {
	l := vnPair(t, 52, nil)
	b := l.hosts["b"]
	var old stack.IPv4Config
	l.loop.Call(func() {
		old = b.Config().IPv4
		b.SetIPv4Config(stack.IPv4Config{ReassemblyTimeout: 3 * time.Second})
	})
	raw := vnSock(t, l, "a", stack.SOCK_RAW, stack.IPPROTO_RAW, 0)
	h := wire.IPv4Header{ID: 99, TTL: 64, Protocol: wire.ProtoUDP, Src: netip.IPv4Unspecified(), Dst: vnAddr(52, 2), Flags: wire.IPv4FlagMF}
	frag := make([]byte, wire.IPv4MinHeaderLen+16)
	if err := h.Marshal(frag); err != nil {
		t.Fatal(err)
	}
	start := l.loop.Now()
	if err := vnSend(l, raw, frag, netip.AddrPortFrom(vnAddr(52, 2), 0)); err != nil {
		t.Fatal(err)
	}
	var timedOut uint64
	l.loop.RunWhile(func() bool { timedOut = b.ReassemblyStats().TimedOut; return timedOut == 0 }, start.Add(10*time.Second))
	if took := l.loop.Now().Sub(start); timedOut != 1 || took < 3*time.Second || took > 3500*time.Millisecond {
		t.Fatalf("timed out %d after %v, want 1 after 3s", timedOut, took)
	}
	if n := l.ev.count("b", observe.LayerICMP, observe.KindTX, ""); n != 1 {
		t.Errorf("b sent %d ICMP messages, want the time exceeded", n)
	}
	l.loop.Call(func() { b.SetIPv4Config(old) })
	var st stack.ReassemblyStats
	l.loop.Call(func() { st = b.ReassemblyStats() })
	if st.Timeout != stack.DefaultReassemblyTimeout || st.MemoryCap != stack.DefaultReassemblyMemory {
		t.Errorf("restored settings: timeout %v, cap %d", st.Timeout, st.MemoryCap)
	}
}

// TestNotForUsNamesTheDatagram: a host that did not join a group drops its
// frames, and the drop says which datagram it was.
func TestNotForUsNamesTheDatagram(t *testing.T) {
	l := newLAN(t, 53,
		hostSpec{name: "a", addr: "10.0.53.1/24"}, hostSpec{name: "b", addr: "10.0.53.2/24"}, hostSpec{name: "c", addr: "10.0.53.3/24"})
	group := netip.MustParseAddr("239.5.5.5")
	rx := vnSock(t, l, "b", stack.SOCK_DGRAM, 0, 6000)
	if err := vnDo(l, func(now clock.Time) error {
		return rx.SetSockoptNow(now, stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: group})
	}); err != nil {
		t.Fatal(err)
	}
	tx := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
	if err := vnSend(l, tx, []byte("hi"), netip.AddrPortFrom(group, 6000)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := vnRecv(l, rx, time.Second); err != nil {
		t.Fatal(err)
	}
	var summaries []string
	for _, e := range l.ev.list {
		if e.Host == "c" && e.Reason == "eth-not-for-us" {
			summaries = append(summaries, e.Summary)
		}
	}
	want := []string{
		"dropped: eth-not-for-us (destination 01:00:5e:05:05:05, IPv4 10.0.53.2 > 239.5.5.5 IGMP)",
		"dropped: eth-not-for-us (destination 01:00:5e:05:05:05, IPv4 10.0.53.1 > 239.5.5.5 UDP)",
	}
	if !slices.Equal(summaries, want) {
		t.Errorf("c's drops:\n%s\nwant:\n%s", strings.Join(summaries, "\n"), strings.Join(want, "\n"))
	}
	if err := vnDo(l, func(now clock.Time) error { return errors.Join(rx.CloseNow(now), tx.CloseNow(now)) }); err != nil {
		t.Fatal(err)
	}
}
