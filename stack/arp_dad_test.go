package stack_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// dadRun probes addr from host's first interface and runs the loop until
// the probe ends (at most 10 s); it returns the result and how long it took.
func dadRun(t *testing.T, l *lan, host string, addr string) (stack.AddrProbeResult, time.Duration) {
	t.Helper()
	var res *stack.AddrProbeResult
	start := l.loop.Now()
	var end clock.Time
	err := vnDo(l, func(now clock.Time) error {
		_, err := l.hosts[host].Iface().ProbeAddress(now, netip.MustParseAddr(addr), func(now clock.Time, r stack.AddrProbeResult) {
			res, end = &r, now
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !l.loop.RunWhile(func() bool { return res == nil }, start.Add(10*time.Second)) {
		t.Fatalf("the probe of %s did not end within 10s\n%s", addr, l.ev.dump())
	}
	return *res, end.Sub(start)
}

// arpIsProbeFor accepts the ARP probes for ip: broadcast requests from
// sender 0.0.0.0 (RFC 5227 §2.1.1).
func arpIsProbeFor(ip netip.Addr) func(sentARP) bool {
	return func(p sentARP) bool {
		return p.h.Op == wire.ARPRequest && p.h.SPA.IsUnspecified() && p.h.TPA == ip && p.dst == wire.BroadcastMAC
	}
}

func TestProbeAddressFree(t *testing.T) {
	l := vnPair(t, 40, nil)
	r, took := dadRun(t, l, "a", "10.0.40.50")
	if r.InUse || r.Probes != 3 || r.Iface != "eth0" || r.Addr != vnAddr(40, 50) {
		t.Fatalf("result %+v", r)
	}
	// PROBE_WAIT (0-1 s), two gaps of PROBE_MIN..PROBE_MAX (1-2 s), ANNOUNCE_WAIT (2 s).
	if took < 4*time.Second || took > 7*time.Second {
		t.Errorf("the probe took %v, want 4s to 7s", took)
	}
	probes := filterARP(l.arpSent("a"), arpIsProbeFor(vnAddr(40, 50)))
	if len(probes) != 3 {
		t.Errorf("%d probes sent, want 3 broadcast requests from 0.0.0.0", len(probes))
	}
	// Nobody learned anything, and a's own address is untouched.
	if _, ok := arpEntryOf(l.hosts["b"], "10.0.40.50"); ok {
		t.Error("b has an entry for the probed address")
	}
	if st := l.hosts["a"].Iface().AddressState(); st != stack.AddrPreferred {
		t.Errorf("a's address is %s", st)
	}
	if !icmpHasEvent(l.ev, "a", func(e observe.Event) bool {
		return e.Layer == observe.LayerARP && e.Kind == observe.KindState && strings.Contains(e.Summary, "the address is free")
	}) {
		t.Error("no event says the address is free")
	}
}

func TestProbeAddressInUse(t *testing.T) {
	l := vnPair(t, 41, nil)
	r, took := dadRun(t, l, "a", "10.0.41.2")
	bMAC := l.hosts["b"].Iface().MAC()
	if !r.InUse || r.By != bMAC || r.Probes != 1 {
		t.Fatalf("result %+v, want in use by %s after one probe", r, bMAC)
	}
	if took > 2*time.Second {
		t.Errorf("the conflict took %v to find", took)
	}
	// b answered the probe with a reply to 0.0.0.0 at a's MAC.
	replies := filterARP(l.arpSent("b"), func(p sentARP) bool {
		return p.h.Op == wire.ARPReply && p.h.TPA.IsUnspecified() && p.dst == l.hosts["a"].Iface().MAC()
	})
	if len(replies) != 1 {
		t.Errorf("b sent %d replies to the probe, want 1", len(replies))
	}
	if !icmpHasEvent(l.ev, "a", func(e observe.Event) bool {
		return e.Layer == observe.LayerARP && e.Kind == observe.KindError && strings.HasPrefix(e.Summary, "address conflict: 10.0.41.2 is in use by "+bMAC.String()) && e.RFC == "RFC 5227 §2.1.1"
	}) {
		t.Errorf("no conflict event\n%s", l.ev.dump())
	}
	// The answer was consumed: no "not for us" drop for it.
	if n := l.ev.count("a", observe.LayerARP, observe.KindDrop, "arp-not-for-us"); n != 0 {
		t.Errorf("%d arp-not-for-us drops on a", n)
	}
	if st := l.hosts["a"].Iface().AddressState(); st != stack.AddrPreferred {
		t.Errorf("a's own address is %s after probing another", st)
	}
}

func TestProbeAddressErrorsAndStop(t *testing.T) {
	l := vnPair(t, 42, nil)
	a := l.hosts["a"]
	try := func(addr string) error {
		return vnDo(l, func(now clock.Time) error {
			_, err := a.Iface().ProbeAddress(now, netip.MustParseAddr(addr), nil)
			return err
		})
	}
	for _, c := range []struct {
		addr string
		want stack.Errno
	}{{"10.0.42.1", stack.EINVAL}, {"10.0.42.255", stack.EINVAL}, {"10.9.9.9", stack.EINVAL}, {"224.0.0.1", stack.EINVAL}} {
		if err := try(c.addr); !errors.Is(err, c.want) {
			t.Errorf("probe %s: %v, want %s", c.addr, err, c.want.Name())
		}
	}
	if _, err := a.ProbeAddress(context.Background(), netip.MustParseAddr("10.9.9.9")); !errors.Is(err, stack.ENETUNREACH) {
		t.Errorf("Stack.ProbeAddress off every network: %v", err)
	}
	// A second probe of the same address while one runs is refused; stop
	// ends the first without a result.
	called := false
	var stop func()
	err := vnDo(l, func(now clock.Time) error {
		var err error
		stop, err = a.Iface().ProbeAddress(now, vnAddr(42, 60), func(clock.Time, stack.AddrProbeResult) { called = true })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := try("10.0.42.60"); !errors.Is(err, stack.EALREADY) {
		t.Errorf("second probe: %v", err)
	}
	l.loop.RunFor(1500 * time.Millisecond)
	l.loop.Call(stop)
	l.loop.RunFor(10 * time.Second)
	if called {
		t.Error("a stopped probe reported a result")
	}
	// Stopped 1.5 s in: PROBE_WAIT (0-1 s) and one gap (1-2 s) leave room
	// for two probes at most.
	if n := len(filterARP(l.arpSent("a"), arpIsProbeFor(vnAddr(42, 60)))); n < 1 || n > 2 {
		t.Errorf("%d probes in all, want 1 or 2: none after stop", n)
	}
}

// TestProbeAddressBlocking: Stack.ProbeAddress from another goroutine, with
// the loop running in the background.
func TestProbeAddressBlocking(t *testing.T) {
	l := vnPair(t, 43, nil)
	stop := l.background(1000)
	defer stop()
	r, err := l.hosts["b"].ProbeAddress(context.Background(), vnAddr(43, 1))
	if err != nil || !r.InUse || r.By != l.hosts["a"].Iface().MAC() {
		t.Fatalf("%+v %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := l.hosts["b"].ProbeAddress(ctx, vnAddr(43, 70)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled probe: %v", err)
	}
}

// TestGratuitousARPMarksCacheEvent: a gratuitous ARP that refreshes an
// entry says so in the cache event.
func TestGratuitousARPMarksCacheEvent(t *testing.T) {
	l := vnPair(t, 44, nil)
	so := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
	if err := vnSend(l, so, []byte("x"), netip.AddrPortFrom(vnAddr(44, 2), 9)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(time.Second) // b learns a from a's request
	if _, ok := arpEntryOf(l.hosts["b"], "10.0.44.1"); !ok {
		t.Fatal("b did not learn a")
	}
	if err := l.hosts["a"].AnnounceARP(); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(time.Second)
	if !icmpHasEvent(l.ev, "b", func(e observe.Event) bool {
		return e.Layer == observe.LayerARP && e.Kind == observe.KindCache && e.Fields["gratuitous"] == true && e.Fields["ip"] == "10.0.44.1"
	}) {
		t.Errorf("no cache event marked gratuitous on b\n%s", l.ev.dump())
	}
}
