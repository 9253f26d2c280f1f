package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// The Ping tests run on virtual time: the test goroutine steps the loop
// while Ping waits in another goroutine, so a ping of several seconds takes
// milliseconds of real time, and its round-trip times are exact.

func icmpNoProbe(c *stack.Config) { c.ARP.NoProbe = true }

// pingReturn is what Ping returned.
type pingReturn struct {
	R   stack.PingResult
	Err error
}

// pingOn runs s.Ping in a goroutine and steps loop until it returns. cancelAt,
// when positive, cancels the ping's context that long (virtual time) after
// it starts.
func pingOn(t *testing.T, loop *clock.Virtual, s *stack.Stack, dst string, o stack.PingOptions, cancelAt time.Duration) (stack.PingResult, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan pingReturn, 1)
	before := 0
	loop.Call(func() { before = s.ActivePings() })
	go func() {
		r, err := s.Ping(ctx, netip.MustParseAddr(dst), o)
		out <- pingReturn{r, err}
	}()
	// Let the ping start before time moves, so that it starts at the same
	// virtual instant in every run.
	for started := false; !started; {
		select {
		case r := <-out:
			return r.R, r.Err
		default:
		}
		loop.Call(func() { started = s.ActivePings() > before })
		runtime.Gosched()
	}
	start := loop.Now()
	limit := start.Add(10 * time.Minute)
	for {
		select {
		case r := <-out:
			return r.R, r.Err
		default:
		}
		if loop.Now() > limit {
			t.Fatalf("ping %s did not end within 10 virtual minutes", dst)
		}
		if cancelAt > 0 && loop.Now().Sub(start) >= cancelAt {
			// Hold the clock while the ping notices: cancelling needs no
			// loop work, only a Call.
			cancel()
			r := <-out
			return r.R, r.Err
		}
		loop.RunFor(time.Millisecond)
	}
}

func twoHosts(t *testing.T, seed uint64) *lan {
	return newLAN(t, seed,
		hostSpec{name: "a", addr: "10.0.0.1/24", mod: icmpNoProbe},
		hostSpec{name: "b", addr: "10.0.0.2/24", mod: icmpNoProbe})
}

func TestPingBetweenHosts(t *testing.T) {
	l := twoHosts(t, 1)
	r, err := pingOn(t, l.loop, l.hosts["a"], "10.0.0.2", stack.PingOptions{Count: 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 3 || r.Received != 3 || len(r.Lost) != 0 || len(r.Errors) != 0 || len(r.Replies) != 3 {
		t.Fatalf("result %+v\n%s", r, l.ev.dump())
	}
	if r.Address != netip.MustParseAddr("10.0.0.2") || r.Source != netip.MustParseAddr("10.0.0.1") || r.ID == 0 || r.Size != 56 {
		t.Errorf("result header %+v", r)
	}
	rtt := 2 * tap.DefaultPropagationDelay
	for i, rep := range r.Replies {
		if rep.Seq != i+1 || rep.From != netip.MustParseAddr("10.0.0.2") || rep.TTL != stack.DefaultTTL || rep.Bytes != 64 || rep.Corrupt || rep.Duplicate {
			t.Errorf("reply %d: %+v", i, rep)
		}
		// The first request waited for ARP; the others cross the switch
		// twice and nothing else.
		if i > 0 && rep.RTT != rtt {
			t.Errorf("reply %d: rtt %v, want %v (twice the switch's delay)", i, rep.RTT, rtt)
		}
		if i == 0 && rep.RTT < rtt {
			t.Errorf("first rtt %v is less than a round trip", rep.RTT)
		}
	}
	if r.MinRTT != rtt || r.MaxRTT != r.Replies[0].RTT {
		t.Errorf("min %v max %v", r.MinRTT, r.MaxRTT)
	}
	if !icmpHasEvent(l.ev, "b", func(e observe.Event) bool {
		return e.Layer == observe.LayerICMP && e.Kind == observe.KindTX && strings.Contains(e.Explain, "pings this host")
	}) {
		t.Error("b did not trace its echo replies with an explanation")
	}
	// One second between requests, on the virtual clock.
	var sent []int64
	for _, e := range l.ev.list {
		if e.Host == "a" && e.Layer == observe.LayerICMP && e.Kind == observe.KindTX && strings.Contains(e.Summary, "echo request") {
			sent = append(sent, e.TimeNS)
		}
	}
	if len(sent) != 3 || time.Duration(sent[1]-sent[0]) != time.Second || time.Duration(sent[2]-sent[1]) != time.Second {
		t.Errorf("requests sent at %v", sent)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"address":"10.0.0.2"`, `"sent":3`, `"received":3`, `"rtt_ns":20000`, `"lost":[]`, `"errors":[]`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("JSON %s lacks %s", js, want)
		}
	}
}

func TestPingLostReplies(t *testing.T) {
	l := twoHosts(t, 3)
	a := l.hosts["a"]
	if r, err := pingOn(t, l.loop, a, "10.0.0.2", stack.PingOptions{Count: 1}, 0); err != nil || r.Received != 1 {
		t.Fatalf("warm-up ping: %+v %v", r, err)
	}
	if err := l.ports["b"].SetImpairmentBoth(tap.Impairment{Loss: 0.3}); err != nil {
		t.Fatal(err)
	}
	r, err := pingOn(t, l.loop, a, "10.0.0.2", stack.PingOptions{Count: 20, Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 20 || r.Received+len(r.Lost) != 20 || r.Received == 0 || len(r.Lost) == 0 {
		t.Fatalf("30%% loss: sent %d received %d lost %v", r.Sent, r.Received, r.Lost)
	}
	for _, seq := range r.Lost {
		for _, rep := range r.Replies {
			if rep.Seq == seq {
				t.Errorf("seq %d both lost and answered", seq)
			}
		}
	}

	// Everything lost: each request times out, and the ping ends one
	// timeout after the last request.
	if err := l.ports["b"].SetImpairmentBoth(tap.Impairment{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	n := len(l.ev.list)
	r, err = pingOn(t, l.loop, a, "10.0.0.2", stack.PingOptions{Count: 2, Interval: time.Second, Timeout: 2 * time.Second}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 2 || r.Received != 0 || len(r.Lost) != 2 || r.Lost[0] != 1 || r.Lost[1] != 2 {
		t.Fatalf("total loss: %+v", r)
	}
	var start, end, timers int64
	for _, e := range l.ev.list[n:] {
		if e.Host != "a" || e.Layer != observe.LayerICMP {
			continue
		}
		switch {
		case e.Kind == observe.KindInfo && strings.HasPrefix(e.Summary, "ping 10.0.0.2 from"):
			start = e.TimeNS
		case e.Kind == observe.KindInfo && strings.Contains(e.Summary, "done"):
			end = e.TimeNS
		case e.Kind == observe.KindTimer:
			timers++
		}
	}
	if time.Duration(end-start) != 3*time.Second || timers != 2 {
		t.Errorf("total loss took %v with %d timeouts traced, want 3s and 2", time.Duration(end-start), timers)
	}
}

func TestPingAbsentHost(t *testing.T) {
	l := twoHosts(t, 4)
	// ARP gives up after 3 requests a second apart: the request fails with
	// EHOSTUNREACH before its 5 s timeout.
	r, err := pingOn(t, l.loop, l.hosts["a"], "10.0.0.9", stack.PingOptions{Count: 1, Timeout: 5 * time.Second}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 1 || r.Received != 0 || len(r.Errors) != 1 || r.Errors[0].Errno != "EHOSTUNREACH" || r.Errors[0].Seq != 1 || len(r.Lost) != 0 {
		t.Fatalf("result %+v", r)
	}
	// With a shorter timeout, the request is lost first.
	r, err = pingOn(t, l.loop, l.hosts["a"], "10.0.0.10", stack.PingOptions{Count: 1, Timeout: 500 * time.Millisecond}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lost) != 1 || len(r.Errors) != 0 {
		t.Fatalf("result %+v", r)
	}
}

func TestPingCancel(t *testing.T) {
	l := twoHosts(t, 5)
	if err := l.ports["b"].SetImpairmentBoth(tap.Impairment{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.hosts["a"].AddStaticARP(netip.MustParseAddr("10.0.0.2"), l.hosts["b"].Config().MAC); err != nil {
		t.Fatal(err)
	}
	r, err := pingOn(t, l.loop, l.hosts["a"], "10.0.0.2", stack.PingOptions{Count: 10, Timeout: 5 * time.Second}, 1500*time.Millisecond)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if r.Sent != 2 || len(r.Lost) != 2 {
		t.Fatalf("cancelled after 1.5 s: %+v", r)
	}
	// The identifier is free again and no timer of the ping is left.
	l.loop.RunFor(time.Minute)
	if got := l.hosts["a"].Stats().Drops[stack.ReasonICMPUnmatched]; got != 0 {
		t.Errorf("%d unmatched after the ping ended", got)
	}
}

func TestPingOptionErrors(t *testing.T) {
	l := twoHosts(t, 6)
	a := l.hosts["a"]
	cases := []struct {
		dst   string
		o     stack.PingOptions
		errno stack.Errno
	}{
		{"10.0.0.2", stack.PingOptions{Count: -1}, stack.EINVAL},
		{"10.0.0.2", stack.PingOptions{Count: 70000}, stack.EINVAL},
		{"10.0.0.2", stack.PingOptions{Size: 65508}, stack.EINVAL},
		{"10.0.0.2", stack.PingOptions{Interval: -time.Second}, stack.EINVAL},
		{"10.0.0.2", stack.PingOptions{Timeout: -time.Second}, stack.EINVAL},
		{"::1", stack.PingOptions{}, stack.EAFNOSUPPORT},
		{"8.8.8.8", stack.PingOptions{}, stack.ENETUNREACH}, // no gateway
		{"10.0.0.255", stack.PingOptions{}, stack.EACCES},   // broadcast needs SO_BROADCAST
	}
	for _, c := range cases {
		_, err := a.Ping(context.Background(), netip.MustParseAddr(c.dst), c.o)
		if !errors.Is(err, c.errno) {
			t.Errorf("ping %s %+v: %v, want %s", c.dst, c.o, err, c.errno.Name())
		}
	}
}

func TestPingLargeFragmented(t *testing.T) {
	l := twoHosts(t, 7)
	r, err := pingOn(t, l.loop, l.hosts["a"], "10.0.0.2", stack.PingOptions{Count: 2, Size: 4000}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Received != 2 || len(r.Replies) != 2 || r.Replies[0].Bytes != 4008 || r.Replies[0].Corrupt || r.Replies[1].Corrupt {
		t.Fatalf("4000-byte ping: %+v\n%s", r, l.ev.dump())
	}
}

func TestPingSameSeedSameResult(t *testing.T) {
	run := func() stack.PingResult {
		l := twoHosts(t, 11)
		r, err := pingOn(t, l.loop, l.hosts["a"], "10.0.0.2", stack.PingOptions{Count: 2}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := run(), run()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("same seed, different pings:\n%s\n%s", ja, jb)
	}
}

// routedNet is host a on the left network, router r between the left and
// right networks, host b on the right: a 10.N.1.2 -- 10.N.1.1 r 10.N.2.1 --
// 10.N.2.2 b, with N = net.
type routedNet struct {
	loop    *clock.Virtual
	ev      *events
	a, r, b *stack.Stack
}

func newRoutedNet(t *testing.T, seed uint64, net int) *routedNet {
	t.Helper()
	n := &routedNet{loop: clock.NewVirtual(), ev: &events{}}
	ip := func(subnet, host int, suffix string) string {
		return fmt.Sprintf("10.%d.%d.%d%s", net, subnet, host, suffix)
	}
	left := tap.NewSwitch(n.loop, "left", n.ev, seed)
	right := tap.NewSwitch(n.loop, "right", n.ev, seed)
	mk := func(sw *tap.Switch, name string, mac byte, addr, gw string) *stack.Stack {
		cfg := stack.Config{Name: name, MAC: wire.MAC{0x02, 0, 0, 0, 2, mac}, Addr: netip.MustParsePrefix(addr), Seed: seed}
		if gw != "" {
			cfg.Gateway = netip.MustParseAddr(gw)
		}
		icmpNoProbe(&cfg)
		s, err := stack.New(cfg, sw.AddPort(name, cfg.MAC, 1500), n.loop, n.ev)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	n.a = mk(left, "a", 1, ip(1, 2, "/24"), ip(1, 1, ""))
	n.r = mk(left, "r", 2, ip(1, 1, "/24"), "")
	mac := wire.MAC{0x02, 0, 0, 0, 2, 3}
	if _, err := n.r.AddInterface(stack.IfaceConfig{Name: "eth1", MAC: mac, Addr: netip.MustParsePrefix(ip(2, 1, "/24"))}, right.AddPort("r", mac, 1500)); err != nil {
		t.Fatal(err)
	}
	n.r.SetForwarding(true)
	n.b = mk(right, "b", 4, ip(2, 2, "/24"), ip(2, 1, ""))
	return n
}

func TestPingThroughRouter(t *testing.T) {
	n := newRoutedNet(t, 8, 0)
	// TTL 1: the router may not forward it and answers time exceeded,
	// which is the ping's result for that request.
	r, err := pingOn(t, n.loop, n.a, "10.0.2.2", stack.PingOptions{Count: 2, TTL: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Received != 0 || len(r.Errors) != 2 || len(r.Lost) != 0 {
		t.Fatalf("ttl 1: %+v\n%s", r, n.ev.dump())
	}
	e := r.Errors[0]
	if e.Seq != 1 || e.From != netip.MustParseAddr("10.0.1.1") || e.Type != wire.ICMPTimeExceeded || e.Code != 0 || e.Errno != "EHOSTUNREACH" || !strings.Contains(e.Text, "time exceeded") {
		t.Errorf("error %+v", e)
	}
	if !icmpHasEvent(n.ev, "r", func(e observe.Event) bool {
		return e.Layer == observe.LayerICMP && e.Kind == observe.KindTX && strings.Contains(e.Explain, "traceroute")
	}) {
		t.Error("the router did not explain its time exceeded")
	}
	// TTL 2 is enough for one router; the reply crosses it too.
	r, err = pingOn(t, n.loop, n.a, "10.0.2.2", stack.PingOptions{Count: 1, TTL: 2}, 0)
	if err != nil || r.Received != 1 || r.Replies[0].TTL != stack.DefaultTTL-1 {
		t.Fatalf("ttl 2: %+v %v", r, err)
	}
	// No route at the router: network unreachable from it.
	r, err = pingOn(t, n.loop, n.a, "10.0.3.3", stack.PingOptions{Count: 1}, 0)
	if err != nil || len(r.Errors) != 1 || r.Errors[0].Type != wire.ICMPDestinationUnreachable || r.Errors[0].Code != wire.ICMPNetUnreachable || r.Errors[0].Errno != "ENETUNREACH" {
		t.Fatalf("no route: %+v %v", r, err)
	}
}
