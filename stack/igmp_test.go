package stack_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// sentIGMP is an IGMP message a host put on the wire.
type sentIGMP struct {
	at  clock.Time
	dst netip.Addr
	ttl uint8
	ra  bool // Router Alert option present
	h   wire.IGMPHeader
}

// igmpSent returns the IGMP messages of type typ (0: any) that host sent.
func igmpSent(l *lan, host string, typ wire.IGMPType) []sentIGMP {
	var out []sentIGMP
	for _, ev := range l.ev.list {
		if ev.Host != host || ev.Layer != observe.LayerLink || ev.Kind != observe.KindTX || ev.Frame == nil {
			continue
		}
		eth := wire.Ethernet(ev.Frame)
		if eth.Validate() != nil || eth.Type() != wire.EtherTypeIPv4 {
			continue
		}
		ip := wire.IPv4(eth.Payload())
		if ip.Validate() != nil || ip.Protocol() != wire.ProtoIGMP {
			continue
		}
		msg := wire.IGMP(ip.Payload())
		h, err := wire.ParseIGMP(msg)
		if err != nil || !msg.ChecksumValid() {
			l.t.Fatalf("%s sent a bad IGMP message: %v", host, err)
		}
		if typ != 0 && h.Type != typ {
			continue
		}
		if eth.Dst() != wire.MulticastMAC(ip.Dst()) {
			l.t.Fatalf("IGMP to %s sent to MAC %s", ip.Dst(), eth.Dst())
		}
		_, ra := ip.FindOption(wire.IPv4OptRouterAlert)
		out = append(out, sentIGMP{at: clock.Time(ev.TimeNS), dst: ip.Dst(), ttl: ip.TTL(), ra: ra, h: h})
	}
	return out
}

// igmpQuery makes host send a membership query about group (unspecified: a
// general query) with max resp time in tenths of a second, as a router
// would, through a raw IGMP socket.
func igmpQuery(t *testing.T, l *lan, host string, group netip.Addr, maxResp uint8) {
	t.Helper()
	raw := l.sock(host, stack.SOCK_RAW, int(wire.ProtoIGMP))
	defer raw.Close()
	raw.SetSockopt(stack.IPPROTO_IP, stack.IP_MULTICAST_LOOP, false)
	msg := make([]byte, wire.IGMPHeaderLen)
	h := wire.IGMPHeader{Type: wire.IGMPMembershipQuery, MaxRespTime: maxResp, Group: group}
	if err := h.Marshal(msg); err != nil {
		t.Fatal(err)
	}
	dst := allHosts
	if !group.IsUnspecified() {
		dst = group
	}
	if _, err := raw.SendTo(msg, netip.AddrPortFrom(dst, 0)); err != nil {
		t.Fatal(err)
	}
}

var (
	allHosts = netip.MustParseAddr("224.0.0.1")
	groupG   = netip.MustParseAddr("239.1.2.3")
	groupH   = netip.MustParseAddr("239.4.5.6")
)

func join(t *testing.T, so *stack.Socket, g netip.Addr) {
	t.Helper()
	if err := so.SetSockopt(stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: g}); err != nil {
		t.Fatal(err)
	}
}

func leave(t *testing.T, so *stack.Socket, g netip.Addr) {
	t.Helper()
	if err := so.SetSockopt(stack.IPPROTO_IP, stack.IP_DROP_MEMBERSHIP, stack.Membership{Group: g}); err != nil {
		t.Fatal(err)
	}
}

func TestIGMPJoinReportsTwiceAndLeaves(t *testing.T) {
	l := udpLAN(t, 3)
	so := l.sock("b", stack.SOCK_DGRAM, 0)
	l.loop.RunFor(time.Second)
	start := l.loop.Now()
	join(t, so, groupG)
	// A second membership of the same group on the same interface sends
	// nothing more.
	other := l.sock("b", stack.SOCK_DGRAM, 0)
	join(t, other, groupG)
	l.loop.RunFor(20 * time.Second)
	reports := igmpSent(l, "b", wire.IGMPv2MembershipReport)
	if len(reports) != 2 {
		t.Fatalf("%d reports after joining, want the report and one repeat: %+v", len(reports), reports)
	}
	if reports[0].at != start {
		t.Fatalf("first report at %v, want at once (%v)", reports[0].at, start)
	}
	if d := reports[1].at.Sub(start); d <= 0 || d > stack.IGMPUnsolicitedReportInterval {
		t.Fatalf("repeat after %v, want within the Unsolicited Report Interval", d)
	}
	for _, r := range reports {
		if r.ttl != 1 || !r.ra || r.dst != groupG || r.h.Group != groupG {
			t.Fatalf("report %+v: want TTL 1, Router Alert, to and about %v", r, groupG)
		}
	}
	leave(t, so, groupG)
	l.loop.RunFor(time.Second)
	if n := len(igmpSent(l, "b", wire.IGMPLeaveGroup)); n != 0 {
		t.Fatalf("%d leaves while another socket is still a member", n)
	}
	other.Close() // closing drops the socket's memberships
	l.loop.RunFor(time.Second)
	leaves := igmpSent(l, "b", wire.IGMPLeaveGroup)
	if len(leaves) != 1 || leaves[0].dst != netip.MustParseAddr("224.0.0.2") || leaves[0].h.Group != groupG || leaves[0].ttl != 1 || !leaves[0].ra {
		t.Fatalf("leaves %+v", leaves)
	}
	// All-hosts is never reported (RFC 2236 §6).
	join(t, so, allHosts)
	l.loop.RunFor(20 * time.Second)
	if n := len(igmpSent(l, "b", wire.IGMPv2MembershipReport)); n != 2 {
		t.Fatalf("joining 224.0.0.1 sent reports (%d in all)", n)
	}
	if l.ev.count("b", "igmp", observe.KindTX, "") == 0 {
		t.Fatal("no igmp tx events")
	}
}

func TestIGMPAnswersQueriesWithinMaxResp(t *testing.T) {
	l := udpLAN(t, 4)
	so := l.sock("b", stack.SOCK_DGRAM, 0)
	join(t, so, groupG)
	join(t, so, groupH)
	l.loop.RunFor(20 * time.Second) // the join reports and their repeats are over
	before := len(igmpSent(l, "b", wire.IGMPv2MembershipReport))
	q := l.loop.Now()
	igmpQuery(t, l, "c", netip.IPv4Unspecified(), 20) // general, max resp 2 s
	l.loop.RunFor(5 * time.Second)
	reports := igmpSent(l, "b", wire.IGMPv2MembershipReport)[before:]
	if len(reports) != 2 {
		t.Fatalf("%d reports after a general query, want one per group", len(reports))
	}
	groups := map[netip.Addr]bool{}
	for _, r := range reports {
		groups[r.h.Group] = true
		if d := r.at.Sub(q); d <= 0 || d > 2*time.Second+time.Millisecond {
			t.Fatalf("report of %v %v after the query, max resp is 2s", r.h.Group, d)
		}
	}
	if !groups[groupG] || !groups[groupH] {
		t.Fatalf("reported %v", groups)
	}
	// A group-specific query is answered for that group only.
	before += 2
	igmpQuery(t, l, "c", groupH, 10)
	l.loop.RunFor(5 * time.Second)
	reports = igmpSent(l, "b", wire.IGMPv2MembershipReport)[before:]
	if len(reports) != 1 || reports[0].h.Group != groupH {
		t.Fatalf("after a query for %v: %+v", groupH, reports)
	}
}

func TestIGMPReportSuppression(t *testing.T) {
	l := udpLAN(t, 5)
	sa, sb := l.sock("a", stack.SOCK_DGRAM, 0), l.sock("b", stack.SOCK_DGRAM, 0)
	join(t, sa, groupG)
	join(t, sb, groupG)
	l.loop.RunFor(20 * time.Second)
	na, nb := len(igmpSent(l, "a", wire.IGMPv2MembershipReport)), len(igmpSent(l, "b", wire.IGMPv2MembershipReport))
	igmpQuery(t, l, "c", netip.IPv4Unspecified(), 100) // 10 s
	l.loop.RunFor(15 * time.Second)
	ra, rb := len(igmpSent(l, "a", wire.IGMPv2MembershipReport))-na, len(igmpSent(l, "b", wire.IGMPv2MembershipReport))-nb
	if ra+rb != 1 {
		t.Fatalf("a sent %d and b %d reports after the query: one should suppress the other", ra, rb)
	}
	suppressed := "b"
	if rb == 1 {
		suppressed = "a"
	}
	var found bool
	for _, ev := range l.ev.list {
		if ev.Host == suppressed && ev.Layer == "igmp" && bytes.Contains([]byte(ev.Summary), []byte("suppressed")) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no suppression event on %s", suppressed)
	}
	// The host whose report was suppressed did not report last, so it
	// leaves silently; the last reporter sends Leave Group.
	leave(t, sa, groupG)
	leave(t, sb, groupG)
	l.loop.RunFor(time.Second)
	la, lb := len(igmpSent(l, "a", wire.IGMPLeaveGroup)), len(igmpSent(l, "b", wire.IGMPLeaveGroup))
	if (suppressed == "a" && (la != 0 || lb != 1)) || (suppressed == "b" && (la != 1 || lb != 0)) {
		t.Fatalf("leaves: a %d, b %d; %s was suppressed", la, lb, suppressed)
	}
}

func TestIGMPMalformedDropped(t *testing.T) {
	l := udpLAN(t, 6)
	raw := l.sock("c", stack.SOCK_RAW, int(wire.ProtoIGMP))
	msg := make([]byte, wire.IGMPHeaderLen)
	h := wire.IGMPHeader{Type: wire.IGMPMembershipQuery, MaxRespTime: 10, Group: netip.IPv4Unspecified()}
	h.Marshal(msg)
	msg[2] ^= 0x55
	for _, m := range [][]byte{msg, msg[:5]} {
		if _, err := raw.SendTo(m, netip.AddrPortFrom(allHosts, 0)); err != nil {
			t.Fatal(err)
		}
	}
	l.loop.RunFor(time.Second)
	if n := l.drops("b", "igmp-malformed"); n != 2 {
		t.Fatalf("igmp-malformed counted %d on b, want 2", n)
	}
}

func TestIGMPDeterministicPerSeed(t *testing.T) {
	run := func(seed uint64) string {
		l := udpLAN(t, seed)
		join(t, l.sock("a", stack.SOCK_DGRAM, 0), groupG)
		join(t, l.sock("b", stack.SOCK_DGRAM, 0), groupG)
		l.loop.RunFor(12 * time.Second)
		igmpQuery(t, l, "c", netip.IPv4Unspecified(), 100)
		l.loop.RunFor(12 * time.Second)
		var s string
		for _, h := range []string{"a", "b"} {
			for _, r := range igmpSent(l, h, 0) {
				s += fmt.Sprintf("%s %v %s\n", h, r.at, r.h.String())
			}
		}
		return s
	}
	a, b, c := run(9), run(9), run(10)
	if a != b {
		t.Fatalf("same seed, different IGMP timing:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 9 and 10 gave the same IGMP timing:\n%s", a)
	}
}
