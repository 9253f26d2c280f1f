package stack_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Five datagrams sent before the peer's MAC is known wait, then all arrive in
// order after exactly one request and one reply; the reply is unicast; both
// caches end up with each other (the requester learns from the reply, the
// target from the request, RFC 826).
func TestARPResolveQueuesAndReleasesInOrder(t *testing.T) {
	l := newLAN(t, 1, hostSpec{name: "a", addr: "192.168.2.1/24", mod: arpNoProbe}, hostSpec{name: "b", addr: "192.168.2.2/24", mod: arpNoProbe})
	a, b := l.hosts["a"], l.hosts["b"]
	var c arpCatcher
	c.attach(b)
	l.loop.Post(func() {
		for i := 1; i <= 5; i++ {
			if err := arpSendTest(a, "192.168.2.2", fmt.Sprintf("d%d", i), nil); err != nil {
				t.Errorf("send %d: %v", i, err)
			}
		}
		if e, ok := arpEntryOf(a, "192.168.2.2"); !ok || e.State != stack.ARPIncomplete || e.Queued != 5 || e.Retries != 1 {
			t.Errorf("while resolving: entry %+v (found %v), want incomplete with 5 queued after 1 request", e, ok)
		}
	})
	l.loop.RunFor(time.Second)
	if got := strings.Join(c.got, ","); got != "d1,d2,d3,d4,d5" {
		t.Fatalf("b received %q, want d1..d5 in order\n%s", got, l.ev.dump())
	}
	reqs := filterARP(l.arpSent("a"), func(p sentARP) bool { return p.h.Op == wire.ARPRequest })
	if len(reqs) != 1 || reqs[0].dst != wire.BroadcastMAC || reqs[0].h.TPA != netip.MustParseAddr("192.168.2.2") {
		t.Fatalf("a sent %d requests (%+v), want one broadcast who-has 192.168.2.2", len(reqs), reqs)
	}
	reps := filterARP(l.arpSent("b"), func(p sentARP) bool { return p.h.Op == wire.ARPReply })
	if len(reps) != 1 || reps[0].dst != a.Config().MAC || reps[0].h.THA != a.Config().MAC || reps[0].h.SHA != b.Config().MAC {
		t.Fatalf("b sent replies %+v, want one unicast to a", reps)
	}
	if n := len(filterARP(l.arpSent("b"), func(p sentARP) bool { return p.h.Op == wire.ARPRequest })); n != 0 {
		t.Fatalf("b sent %d requests: it should have learned a from a's request", n)
	}
	if e, ok := arpEntryOf(a, "192.168.2.2"); !ok || e.State != stack.ARPReachable || e.MAC != b.Config().MAC || e.Queued != 0 {
		t.Fatalf("a's entry for b: %+v", e)
	}
	if e, ok := arpEntryOf(b, "192.168.2.1"); !ok || e.State != stack.ARPReachable || e.MAC != a.Config().MAC {
		t.Fatalf("b's entry for a: %+v", e)
	}
	if n := l.ev.count("a", observe.LayerARP, observe.KindInfo, ""); n < 6 { // 5 queued + 1 released
		t.Fatalf("a published %d ARP info events, want queued and released events", n)
	}
	// Later datagrams go straight out, with no further ARP.
	l.loop.Post(func() { arpSendTest(a, "192.168.2.2", "d6", nil) })
	l.loop.RunFor(time.Second)
	if len(c.got) != 6 || len(filterARP(l.arpSent("a"), func(p sentARP) bool { return p.h.Op == wire.ARPRequest })) != 1 {
		t.Fatalf("after resolution: got %v and more requests", c.got)
	}
}

// Sending to an absent address produces exactly Retries requests at
// RetryInterval, then EHOSTUNREACH to the waiting sender; during FailedHold
// new sends fail at once; after it a new resolution starts.
func TestARPRetryThenHostUnreachable(t *testing.T) {
	const retries, interval, hold = 4, 500 * time.Millisecond, 5 * time.Second
	l := newLAN(t, 2, hostSpec{name: "a", addr: "192.168.2.1/24", mod: func(c *stack.Config) {
		c.ARP = stack.ARPConfig{NoProbe: true, Retries: retries, RetryInterval: interval, FailedHold: hold}
	}})
	a := l.hosts["a"]
	var errs []error
	var errAt []clock.Time
	onErr := func(err error) { errs = append(errs, err); errAt = append(errAt, l.loop.Now()) }
	start := arpAt(100 * time.Millisecond)
	l.loop.Schedule(start, func() {
		for i := 0; i < 2; i++ {
			if err := arpSendTest(a, "192.168.2.99", "x", onErr); err != nil {
				t.Errorf("first send: %v (should queue)", err)
			}
		}
	})
	l.loop.RunFor(3 * time.Second)
	reqs := filterARP(l.arpSent("a"), arpIsRequestFor("192.168.2.99"))
	if len(reqs) != retries {
		t.Fatalf("%d requests, want %d\n%s", len(reqs), retries, l.ev.dump())
	}
	for i, r := range reqs {
		if want := start.Add(time.Duration(i) * interval); r.at != want || r.dst != wire.BroadcastMAC {
			t.Errorf("request %d at %v to %v, want %v broadcast", i+1, r.at, r.dst, want)
		}
	}
	if len(errs) != 2 {
		t.Fatalf("onErr called %d times, want once per queued datagram", len(errs))
	}
	var se *stack.SocketError
	if !errors.As(errs[0], &se) || se.Errno != stack.EHOSTUNREACH || !errors.Is(errs[0], syscall.EHOSTUNREACH) {
		t.Fatalf("error %v, want an EHOSTUNREACH *SocketError", errs[0])
	}
	if want := "no ARP reply from 192.168.2.99 after 4 requests"; !strings.Contains(errs[0].Error(), want) {
		t.Fatalf("error %q does not say %q", errs[0], want)
	}
	if want := start.Add(retries * interval); errAt[0] != want {
		t.Fatalf("failed at %v, want %v (last request + interval)", errAt[0], want)
	}
	if a.Stats().DropCounts()["arp-unresolved"] != 2 {
		t.Fatalf("drops %v, want 2 arp-unresolved", a.Stats().DropCounts())
	}
	if e, _ := arpEntryOf(a, "192.168.2.99"); e.State != stack.ARPFailed {
		t.Fatalf("entry %+v, want failed", e)
	}
	// During the hold: synchronous EHOSTUNREACH, no request, onErr untouched.
	failedAt := errAt[0]
	l.loop.Schedule(failedAt.Add(hold-time.Second), func() {
		err := arpSendTest(a, "192.168.2.99", "y", onErr)
		if !errors.Is(err, stack.EHOSTUNREACH) {
			t.Errorf("send during the hold: %v, want EHOSTUNREACH", err)
		}
	})
	l.loop.RunUntil(failedAt.Add(hold - time.Second/2))
	if n := len(filterARP(l.arpSent("a"), arpIsRequestFor("192.168.2.99"))); n != retries || len(errs) != 2 {
		t.Fatalf("during the hold: %d requests, %d async errors", n, len(errs))
	}
	// After the hold the entry is gone and a send starts over.
	l.loop.RunUntil(failedAt.Add(hold))
	if _, ok := arpEntryOf(a, "192.168.2.99"); ok {
		t.Fatal("failed entry still there after the hold")
	}
	l.loop.Post(func() {
		if err := arpSendTest(a, "192.168.2.99", "z", onErr); err != nil {
			t.Errorf("send after the hold: %v, want queued", err)
		}
	})
	l.loop.RunFor(time.Millisecond)
	if n := len(filterARP(l.arpSent("a"), arpIsRequestFor("192.168.2.99"))); n != retries+1 {
		t.Fatalf("after the hold: %d requests, want a new one", n)
	}
}

// The queue keeps at most QueuePerNeighbor datagrams per neighbour and
// QueueTotal on the stack, dropping the oldest, and the survivors leave in
// order.
func TestARPQueueBounds(t *testing.T) {
	l := newLAN(t, 3, hostSpec{name: "a", addr: "10.0.0.1/24", mod: arpMod(func(c *stack.ARPConfig) {
		c.NoProbe, c.QueuePerNeighbor, c.QueueTotal = true, 3, 5
	})})
	a := l.hosts["a"]
	r := l.addARPRaw("r", wire.MAC{0x02, 0, 0, 0, 9, 9})
	l.loop.Post(func() {
		for i := 1; i <= 5; i++ { // per neighbour: d1, d2 dropped
			arpSendTest(a, "10.0.0.99", fmt.Sprintf("n%d", i), nil)
		}
	})
	l.loop.RunFor(time.Millisecond)
	if e, _ := arpEntryOf(a, "10.0.0.99"); e.Queued != 3 {
		t.Fatalf("queued %d, want 3", e.Queued)
	}
	if n := a.Stats().DropCounts()["arp-queue-full"]; n != 2 {
		t.Fatalf("arp-queue-full %d, want 2", n)
	}
	// Answer now: the three survivors arrive, in order.
	r.sendARP(a.Config().MAC, wire.ARPHeader{Op: wire.ARPReply, SHA: r.mac, SPA: netip.MustParseAddr("10.0.0.99"), THA: a.Config().MAC, TPA: netip.MustParseAddr("10.0.0.1")})
	l.loop.RunFor(time.Millisecond)
	if got := strings.Join(r.ipv4Payloads("10.0.0.99"), ","); got != "n3,n4,n5" {
		t.Fatalf("received %q, want n3,n4,n5", got)
	}

	// Total bound: six datagrams for three neighbours, total 5 → t1 (the
	// oldest of all) goes.
	l.loop.Post(func() {
		for i, dst := range []string{"10.0.0.97", "10.0.0.98", "10.0.0.96", "10.0.0.97", "10.0.0.98", "10.0.0.96"} {
			arpSendTest(a, dst, fmt.Sprintf("t%d", i+1), nil)
		}
	})
	l.loop.RunFor(time.Millisecond)
	if n := a.Stats().DropCounts()["arp-queue-full"]; n != 3 {
		t.Fatalf("arp-queue-full %d, want 3", n)
	}
	for _, ip := range []string{"10.0.0.96", "10.0.0.97", "10.0.0.98"} {
		r.sendARP(a.Config().MAC, wire.ARPHeader{Op: wire.ARPReply, SHA: r.mac, SPA: netip.MustParseAddr(ip), THA: a.Config().MAC, TPA: netip.MustParseAddr("10.0.0.1")})
	}
	l.loop.RunFor(time.Millisecond)
	for ip, want := range map[string]string{"10.0.0.97": "t4", "10.0.0.98": "t2,t5", "10.0.0.96": "t3,t6"} {
		if got := strings.Join(r.ipv4Payloads(ip), ","); got != want {
			t.Errorf("%s received %q, want %q", ip, got, want)
		}
	}
}

// A reachable entry turns stale after ReachableTime; a stale entry is still
// used, the first datagram through it sends one unicast request, and the
// answer makes it reachable again.
func TestARPAgingAndStaleRevalidation(t *testing.T) {
	mod := arpMod(func(c *stack.ARPConfig) { c.NoProbe, c.ReachableTime = true, 5*time.Second })
	l := newLAN(t, 4, hostSpec{name: "a", addr: "192.168.2.1/24", mod: mod}, hostSpec{name: "b", addr: "192.168.2.2/24", mod: mod})
	a, b := l.hosts["a"], l.hosts["b"]
	var c arpCatcher
	c.attach(b)
	l.loop.Post(func() { arpSendTest(a, "192.168.2.2", "one", nil) })
	l.loop.RunFor(4 * time.Second)
	if e, _ := arpEntryOf(a, "192.168.2.2"); e.State != stack.ARPReachable || e.Age < 3*time.Second {
		t.Fatalf("after 4s: %+v, want reachable, about 4s old", e)
	}
	l.loop.RunFor(2 * time.Second)
	if e, _ := arpEntryOf(a, "192.168.2.2"); e.State != stack.ARPStale || e.MAC != b.Config().MAC {
		t.Fatalf("after 6s: %+v, want stale with b's MAC", e)
	}
	l.loop.Post(func() {
		arpSendTest(a, "192.168.2.2", "two", nil)
		arpSendTest(a, "192.168.2.2", "three", nil)
		if e, _ := arpEntryOf(a, "192.168.2.2"); e.Queued != 0 {
			t.Errorf("a stale entry queued datagrams: %+v", e)
		}
	})
	l.loop.RunFor(time.Second)
	if got := strings.Join(c.got, ","); got != "one,two,three" {
		t.Fatalf("b got %q", got)
	}
	reqs := filterARP(l.arpSent("a"), arpIsRequestFor("192.168.2.2"))
	if len(reqs) != 2 || reqs[1].dst != b.Config().MAC {
		t.Fatalf("requests %+v, want the first broadcast and one unicast revalidation to b", reqs)
	}
	if e, _ := arpEntryOf(a, "192.168.2.2"); e.State != stack.ARPReachable || e.Age > time.Second {
		t.Fatalf("after revalidation: %+v, want reachable and fresh", e)
	}
}

// The cache holds MaxEntries dynamic entries; entries with waiting datagrams
// are never evicted (the new one is refused, arp-cache-full), failed ones
// are, oldest first; static entries sit outside the limit.
func TestARPCacheLimitAndEviction(t *testing.T) {
	l := newLAN(t, 5, hostSpec{name: "a", addr: "10.0.0.1/24", mod: arpMod(func(c *stack.ARPConfig) {
		c.NoProbe, c.MaxEntries, c.Retries, c.RetryInterval, c.FailedHold = true, 3, 1, 100*time.Millisecond, time.Hour
	})})
	a := l.hosts["a"]
	l.loop.Post(func() {
		if err := a.AddStaticARP(netip.MustParseAddr("10.0.0.50"), wire.MAC{0x02, 0, 0, 0, 0, 0x50}); err != nil {
			t.Error(err)
		}
		for _, ip := range []string{"10.0.0.91", "10.0.0.92", "10.0.0.93"} {
			if err := arpSendTest(a, ip, "x", nil); err != nil {
				t.Errorf("%s: %v", ip, err)
			}
		}
		err := arpSendTest(a, "10.0.0.94", "x", nil)
		if !errors.Is(err, stack.ENOBUFS) {
			t.Errorf("fourth neighbour with three busy entries: %v, want ENOBUFS", err)
		}
	})
	l.loop.RunFor(time.Millisecond)
	if n := a.Stats().DropCounts()["arp-cache-full"]; n != 1 {
		t.Fatalf("arp-cache-full %d, want 1", n)
	}
	l.loop.RunFor(time.Second) // all three fail together
	l.loop.Post(func() {
		if err := arpSendTest(a, "10.0.0.94", "x", nil); err != nil {
			t.Errorf("with failed entries to evict: %v", err)
		}
	})
	l.loop.RunFor(time.Millisecond)
	var ips []string
	for _, e := range a.ARPTable() {
		ips = append(ips, e.IP.String()+"="+string(e.State))
	}
	want := "10.0.0.50=static 10.0.0.92=failed 10.0.0.93=failed 10.0.0.94=incomplete"
	if got := strings.Join(ips, " "); got != want {
		t.Fatalf("table %q, want %q", got, want)
	}
}

// Static entries are used without ARP, never changed by ARP packets, never
// aged, and removed by DeleteARP.
func TestARPStaticEntries(t *testing.T) {
	l := newLAN(t, 6, hostSpec{name: "a", addr: "10.0.0.1/24", mod: arpMod(func(c *stack.ARPConfig) {
		c.NoProbe, c.ReachableTime = true, time.Second
	})})
	a := l.hosts["a"]
	r := l.addARPRaw("r", wire.MAC{0x02, 0, 0, 0, 9, 9})
	ip := netip.MustParseAddr("10.0.0.50")
	if err := a.AddStaticARP(ip, r.mac); err != nil {
		t.Fatal(err)
	}
	if err := a.AddStaticARP(netip.MustParseAddr("172.16.0.1"), r.mac); err == nil {
		t.Fatal("static entry off every connected network accepted")
	}
	if err := a.AddStaticARP(netip.MustParseAddr("10.0.0.51"), wire.BroadcastMAC); err == nil {
		t.Fatal("static entry with a broadcast MAC accepted")
	}
	l.loop.Post(func() { arpSendTest(a, "10.0.0.50", "s1", nil) })
	l.loop.RunFor(time.Millisecond)
	if got := r.ipv4Payloads("10.0.0.50"); len(got) != 1 || len(l.arpSent("a")) != 0 {
		t.Fatalf("static: received %v, a sent %d ARP packets", got, len(l.arpSent("a")))
	}
	// A reply claiming another MAC does not move it; time does not age it.
	r.sendARP(a.Config().MAC, wire.ARPHeader{Op: wire.ARPReply, SHA: wire.MAC{0x02, 0, 0, 0, 6, 6}, SPA: ip, THA: a.Config().MAC, TPA: netip.MustParseAddr("10.0.0.1")})
	l.loop.RunFor(time.Minute)
	if e, _ := arpEntryOf(a, "10.0.0.50"); e.State != stack.ARPStatic || !e.Static || e.MAC != r.mac {
		t.Fatalf("static entry after a spoofed reply and a minute: %+v", e)
	}
	if err := a.DeleteARP(ip); err != nil {
		t.Fatal(err)
	}
	if _, ok := arpEntryOf(a, "10.0.0.50"); ok {
		t.Fatal("entry still there after DeleteARP")
	}
	if err := a.DeleteARP(ip); !errors.Is(err, stack.ErrNoARPEntry) {
		t.Fatalf("deleting a missing entry: %v, want ErrNoARPEntry", err)
	}
}

// With probing on, the address is tentative for PROBE_WAIT + probes +
// ANNOUNCE_WAIT, three probes go out PROBE_MIN..PROBE_MAX apart, then the
// address is preferred and announced twice ANNOUNCE_INTERVAL apart.
func TestARPProbeNoConflict(t *testing.T) {
	l := newLAN(t, 7, hostSpec{name: "a", addr: "192.168.2.1/24", mod: arpProbe}, hostSpec{name: "b", addr: "192.168.2.2/24", mod: arpProbe})
	a := l.hosts["a"]
	l.loop.RunFor(time.Millisecond)
	if st := a.Iface().AddressState(); st != stack.AddrTentative {
		t.Fatalf("state %q at start, want tentative", st)
	}
	l.loop.Post(func() {
		if err := arpSendTest(a, "192.168.2.2", "early", nil); !errors.Is(err, stack.EADDRNOTAVAIL) {
			t.Errorf("send while tentative: %v, want EADDRNOTAVAIL", err)
		}
	})
	var preferredAt clock.Time
	l.loop.RunWhile(func() bool {
		if a.Iface().AddressState() == stack.AddrPreferred && preferredAt == 0 {
			preferredAt = l.loop.Now()
		}
		return true
	}, arpAt(20*time.Second))
	own := netip.MustParseAddr("192.168.2.1")
	sent := l.arpSent("a")
	probes := filterARP(sent, func(p sentARP) bool { return p.h.SPA.IsUnspecified() })
	anns := filterARP(sent, func(p sentARP) bool { return p.h.SPA == own && p.h.TPA == own })
	if len(probes) != 3 || len(anns) != 2 {
		t.Fatalf("%d probes and %d announcements, want 3 and 2\n%s", len(probes), len(anns), l.ev.dump())
	}
	if probes[0].at > arpAt(time.Second) {
		t.Errorf("first probe at %v, after PROBE_WAIT", probes[0].at)
	}
	for i, p := range probes {
		if p.dst != wire.BroadcastMAC || p.h.Op != wire.ARPRequest || p.h.TPA != own || p.h.THA != wire.ZeroMAC {
			t.Errorf("probe %d: %+v", i, p)
		}
		if i > 0 {
			if gap := p.at.Sub(probes[i-1].at); gap < time.Second || gap > 2*time.Second {
				t.Errorf("probe %d %v after the previous, want 1s..2s", i+1, gap)
			}
		}
	}
	if want := probes[2].at.Add(2 * time.Second); anns[0].at != want || preferredAt != want {
		t.Errorf("first announcement at %v, preferred at %v, want %v (ANNOUNCE_WAIT after the last probe)", anns[0].at, preferredAt, want)
	}
	if gap := anns[1].at.Sub(anns[0].at); gap != 2*time.Second || anns[1].dst != wire.BroadcastMAC {
		t.Errorf("announcements %v apart, want 2s", gap)
	}
	if st := a.Iface().AddressState(); st != stack.AddrPreferred {
		t.Fatalf("state %q after probing, want preferred", st)
	}
	var c arpCatcher
	c.attach(l.hosts["b"])
	l.loop.Post(func() { arpSendTest(a, "192.168.2.2", "now", nil) })
	l.loop.RunFor(time.Second)
	if len(c.got) != 1 {
		t.Fatalf("b got %v after a's probe", c.got)
	}
	if n := l.ev.count("a", observe.LayerARP, observe.KindState, ""); n != 2 {
		t.Fatalf("%d address state events, want tentative and preferred", n)
	}
}

// A host that probes for an address another host already has detects the
// conflict from the owner's reply and does not use the address; the owner
// keeps it.
func TestARPProbeConflict(t *testing.T) {
	l := newLAN(t, 8, hostSpec{name: "owner", addr: "192.168.2.7/24", mod: arpNoProbe}, hostSpec{name: "late", addr: "192.168.2.7/24", mod: arpProbe})
	owner, late := l.hosts["owner"], l.hosts["late"]
	l.loop.RunFor(20 * time.Second)
	if st := late.Iface().AddressState(); st != stack.AddrConflict {
		t.Fatalf("late: %q, want conflict\n%s", st, l.ev.dump())
	}
	if st := owner.Iface().AddressState(); st != stack.AddrPreferred {
		t.Fatalf("owner: %q, want preferred", st)
	}
	if n := late.Stats().DropCounts()["arp-conflict"]; n != 1 {
		t.Fatalf("late counted %d arp-conflict drops, want 1", n)
	}
	// The late host sent no announcement, and stopped probing at the conflict.
	own := netip.MustParseAddr("192.168.2.7")
	if n := len(filterARP(l.arpSent("late"), func(p sentARP) bool { return p.h.SPA == own })); n != 0 {
		t.Fatalf("late sent %d packets claiming the address", n)
	}
	if n := len(filterARP(l.arpSent("late"), func(p sentARP) bool { return p.h.SPA.IsUnspecified() })); n != 1 {
		t.Fatalf("late sent %d probes, want 1 (it stops at the conflict)", n)
	}
	l.loop.Post(func() {
		if err := arpSendTest(late, "192.168.2.1", "x", nil); !errors.Is(err, stack.EADDRNOTAVAIL) {
			t.Errorf("send from a conflicted address: %v", err)
		}
	})
	l.loop.RunFor(time.Millisecond)
	for _, e := range owner.ARPTable() {
		if e.IP == own || e.IP.IsUnspecified() {
			t.Fatalf("the owner cached %v from the probe", e)
		}
	}
	found := false
	for _, ev := range l.ev.list {
		if ev.Host == "late" && ev.Layer == observe.LayerARP && ev.Kind == observe.KindState && ev.Fields["to"] == "conflict" && ev.Explain != "" && ev.RFC != "" {
			found = true
		}
	}
	if !found {
		t.Fatal("no explained state event for the conflict")
	}
}

// Two hosts probing for the same address at once: the one that hears the
// other's probe first treats it as a conflict and backs off (RFC 5227
// §2.1.1), so exactly one of them ends up with the address.
func TestARPSimultaneousProbes(t *testing.T) {
	l := newLAN(t, 9, hostSpec{name: "x", addr: "10.1.1.1/24", mod: arpProbe}, hostSpec{name: "y", addr: "10.1.1.1/24", mod: arpProbe})
	l.loop.RunFor(20 * time.Second)
	x, y := l.hosts["x"].Iface().AddressState(), l.hosts["y"].Iface().AddressState()
	if !(x == stack.AddrConflict && y == stack.AddrPreferred) && !(x == stack.AddrPreferred && y == stack.AddrConflict) {
		t.Fatalf("x %q, y %q: want one preferred and one in conflict\n%s", x, y, l.ev.dump())
	}
	loser := "x"
	if x == stack.AddrPreferred {
		loser = "y"
	}
	if n := l.hosts[loser].Stats().DropCounts()["arp-conflict"]; n == 0 {
		t.Fatalf("%s gave up without counting a conflict", loser)
	}
}

// After the claim, a conflicting packet is defended with one announcement;
// a second conflict within DEFEND_INTERVAL makes the host give up; a
// conflict after DEFEND_INTERVAL is defended again.
func TestARPDefence(t *testing.T) {
	l := newLAN(t, 10, hostSpec{name: "a", addr: "10.0.0.1/24", mod: arpNoProbe})
	a := l.hosts["a"]
	r := l.addARPRaw("r", wire.MAC{0x02, 0, 0, 0, 9, 9})
	own := netip.MustParseAddr("10.0.0.1")
	claim := func() {
		r.sendARP(wire.BroadcastMAC, wire.ARPHeader{Op: wire.ARPRequest, SHA: r.mac, SPA: own, TPA: own})
		l.loop.RunFor(time.Millisecond)
	}
	defences := func() int {
		return len(filterARP(l.arpSent("a"), func(p sentARP) bool { return p.h.SPA == own && p.h.TPA == own }))
	}
	l.loop.RunFor(time.Second)
	claim()
	if defences() != 1 || a.Iface().AddressState() != stack.AddrPreferred {
		t.Fatalf("first conflict: %d defences, state %q", defences(), a.Iface().AddressState())
	}
	l.loop.RunFor(11 * time.Second)
	claim()
	if defences() != 2 || a.Iface().AddressState() != stack.AddrPreferred {
		t.Fatalf("conflict after DEFEND_INTERVAL: %d defences, state %q", defences(), a.Iface().AddressState())
	}
	l.loop.RunFor(3 * time.Second)
	claim()
	if defences() != 2 || a.Iface().AddressState() != stack.AddrConflict {
		t.Fatalf("conflict within DEFEND_INTERVAL: %d defences, state %q, want to give up", defences(), a.Iface().AddressState())
	}
	if n := a.Stats().DropCounts()["arp-conflict"]; n != 3 {
		t.Fatalf("arp-conflict %d, want 3", n)
	}
	if err := a.Iface().Announce(l.loop.Now()); !errors.Is(err, stack.EADDRNOTAVAIL) {
		t.Fatalf("announcing a given-up address: %v", err)
	}
}

// A gratuitous ARP updates an existing entry and never creates one; the
// stack's own gratuitous ARP (AnnounceARP) refreshes its neighbours.
func TestARPGratuitous(t *testing.T) {
	l := newLAN(t, 11, hostSpec{name: "a", addr: "10.0.0.1/24", mod: arpNoProbe}, hostSpec{name: "b", addr: "10.0.0.2/24", mod: arpNoProbe})
	a, b := l.hosts["a"], l.hosts["b"]
	r := l.addARPRaw("r", wire.MAC{0x02, 0, 0, 0, 9, 9})
	r.answer[netip.MustParseAddr("10.0.0.30")] = true
	l.loop.Post(func() { arpSendTest(a, "10.0.0.30", "hello", nil) })
	l.loop.RunFor(time.Second)
	if e, _ := arpEntryOf(a, "10.0.0.30"); e.MAC != r.mac {
		t.Fatalf("entry %+v", e)
	}
	newMAC := wire.MAC{0x02, 0, 0, 0, 7, 7}
	for _, ip := range []string{"10.0.0.30", "10.0.0.31"} {
		r.sendARP(wire.BroadcastMAC, wire.ARPHeader{Op: wire.ARPRequest, SHA: newMAC, SPA: netip.MustParseAddr(ip), TPA: netip.MustParseAddr(ip)})
	}
	l.loop.RunFor(time.Millisecond)
	if e, _ := arpEntryOf(a, "10.0.0.30"); e.MAC != newMAC || e.State != stack.ARPReachable {
		t.Fatalf("after a gratuitous ARP with a new MAC: %+v", e)
	}
	if _, ok := arpEntryOf(a, "10.0.0.31"); ok {
		t.Fatal("a gratuitous ARP created an entry")
	}
	if _, ok := arpEntryOf(b, "10.0.0.30"); ok {
		t.Fatal("b created an entry from a gratuitous ARP")
	}
	// b knows a; a announces; b's entry is refreshed.
	l.loop.Post(func() { arpSendTest(b, "10.0.0.1", "hi", nil) })
	l.loop.RunFor(10 * time.Second)
	if e, _ := arpEntryOf(b, "10.0.0.1"); e.Age < 9*time.Second {
		t.Fatalf("b's entry for a: %+v", e)
	}
	if err := a.AnnounceARP(); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(time.Millisecond)
	if e, _ := arpEntryOf(b, "10.0.0.1"); e.Age > time.Millisecond || e.MAC != a.Config().MAC {
		t.Fatalf("b's entry for a after a's gratuitous ARP: %+v", e)
	}
}

// Packets that are not Ethernet/IPv4 ARP, requests for other hosts and
// impossible senders are dropped with their reasons; none enter the cache.
func TestARPInputDrops(t *testing.T) {
	l := newLAN(t, 12, hostSpec{name: "a", addr: "10.0.0.1/24", mod: arpNoProbe})
	a := l.hosts["a"]
	r := l.addARPRaw("r", wire.MAC{0x02, 0, 0, 0, 9, 9})
	own := netip.MustParseAddr("10.0.0.1")
	// Truncated.
	short := make([]byte, wire.EthernetHeaderLen+10)
	(&wire.EthernetHeader{Dst: wire.BroadcastMAC, Src: r.mac, Type: wire.EtherTypeARP}).Marshal(short)
	r.port.Send(short)
	// For another host.
	r.sendARP(wire.BroadcastMAC, wire.ARPHeader{Op: wire.ARPRequest, SHA: r.mac, SPA: netip.MustParseAddr("10.0.0.5"), TPA: netip.MustParseAddr("10.0.0.6")})
	// Impossible senders.
	r.sendARP(wire.BroadcastMAC, wire.ARPHeader{Op: wire.ARPRequest, SHA: wire.BroadcastMAC, SPA: netip.MustParseAddr("10.0.0.5"), TPA: own})
	r.sendARP(wire.BroadcastMAC, wire.ARPHeader{Op: wire.ARPRequest, SHA: r.mac, SPA: netip.MustParseAddr("10.0.0.255"), TPA: own})
	r.sendARP(wire.BroadcastMAC, wire.ARPHeader{Op: wire.ARPReply, SHA: r.mac, SPA: netip.MustParseAddr("0.0.0.0"), TPA: own})
	l.loop.RunFor(time.Millisecond)
	d := a.Stats().DropCounts()
	if d["arp-malformed"] != 1 || d["arp-not-for-us"] != 1 || d["arp-bad-sender"] != 3 {
		t.Fatalf("drops %v", d)
	}
	if len(a.ARPTable()) != 0 || len(l.arpSent("a")) != 0 {
		t.Fatalf("table %v, a sent %d packets", a.ARPTable(), len(l.arpSent("a")))
	}
}
