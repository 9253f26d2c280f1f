package stack_test

import (
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

const icmpProtoUnused wire.IPProtocol = 253 // RFC 3692 experimental: nothing handles it

func TestProtocolUnreachableReachesSender(t *testing.T) {
	l := twoHosts(t, 21)
	a, b := l.hosts["a"], l.hosts["b"]
	var got []*stack.TransportError
	a.HandleTransportError(icmpProtoUnused, func(now clock.Time, e *stack.TransportError) { got = append(got, e) })
	p := stack.NewPacket(stack.Headroom, 1000)
	for i := range p.Payload() {
		p.Payload()[i] = byte(i)
	}
	if err := a.SendIPv4(l.loop.Now(), netip.MustParseAddr("10.0.0.2"), icmpProtoUnused, p, nil); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(time.Second)
	if len(got) != 1 {
		t.Fatalf("a got %d transport errors, want 1\n%s", len(got), l.ev.dump())
	}
	e := got[0]
	if e.Type != wire.ICMPDestinationUnreachable || e.Code != wire.ICMPProtocolUnreachable || e.Errno != stack.ENOPROTOOPT || !e.Hard ||
		e.From != netip.MustParseAddr("10.0.0.2") || e.Src != netip.MustParseAddr("10.0.0.1") || e.Dst != netip.MustParseAddr("10.0.0.2") || e.Proto != icmpProtoUnused {
		t.Errorf("transport error %+v", *e)
	}
	if n := b.Stats().Drops[stack.ReasonIPUnknownProtocol]; n != 1 {
		t.Errorf("b counted %d unknown-protocol drops", n)
	}
	// The error b sent stays within 576 bytes and says why in words.
	found := false
	for _, ev := range l.ev.list {
		if ev.Host == "b" && ev.Layer == observe.LayerICMP && ev.Kind == observe.KindTX {
			found = true
			if n, _ := ev.Fields["len"].(int); n != 576-20 {
				t.Errorf("ICMP message of %v bytes, want %d", ev.Fields["len"], 576-20)
			}
			if !strings.Contains(ev.Explain, "protocol 253") || ev.RFC == "" {
				t.Errorf("explain %q rfc %q", ev.Explain, ev.RFC)
			}
		}
	}
	if !found {
		t.Error("b traced no ICMP error")
	}
	if !icmpHasEvent(l.ev, "a", func(ev observe.Event) bool {
		return ev.Layer == observe.LayerICMP && ev.Kind == observe.KindError && ev.Fields["errno"] == "ENOPROTOOPT"
	}) {
		t.Error("a did not trace the error it received")
	}
}

func TestICMPErrnoTable(t *testing.T) {
	du := wire.ICMPDestinationUnreachable
	cases := []struct {
		typ   wire.ICMPType
		code  uint8
		errno stack.Errno
		hard  bool
	}{
		{du, wire.ICMPNetUnreachable, stack.ENETUNREACH, false},
		{du, wire.ICMPHostUnreachable, stack.EHOSTUNREACH, false},
		{du, wire.ICMPProtocolUnreachable, stack.ENOPROTOOPT, true},
		{du, wire.ICMPPortUnreachable, stack.ECONNREFUSED, true},
		{du, wire.ICMPFragmentationNeeded, stack.EMSGSIZE, true},
		{du, wire.ICMPSourceRouteFailed, stack.EOPNOTSUPP, false},
		{du, wire.ICMPDestNetUnknown, stack.ENETUNREACH, false},
		{du, wire.ICMPDestHostUnknown, stack.EHOSTDOWN, false},
		{du, wire.ICMPSourceHostIsolated, stack.EHOSTUNREACH, false},
		{du, wire.ICMPNetProhibited, stack.ENETUNREACH, false},
		{du, wire.ICMPHostProhibited, stack.EHOSTUNREACH, false},
		{du, wire.ICMPNetUnreachableForTOS, stack.ENETUNREACH, false},
		{du, wire.ICMPHostUnreachableForTOS, stack.EHOSTUNREACH, false},
		{du, wire.ICMPCommProhibited, stack.EHOSTUNREACH, false},
		{du, wire.ICMPHostPrecedenceViolation, stack.EHOSTUNREACH, false},
		{du, wire.ICMPPrecedenceCutoff, stack.EHOSTUNREACH, false},
		{du, 99, stack.EHOSTUNREACH, false},
		{wire.ICMPTimeExceeded, wire.ICMPTTLExceeded, stack.EHOSTUNREACH, false},
		{wire.ICMPTimeExceeded, wire.ICMPReassemblyExceeded, stack.EHOSTUNREACH, false},
		{wire.ICMPParameterProblem, 0, stack.EPROTO, false},
		{wire.ICMPSourceQuench, 0, stack.EOK, false},
		{wire.ICMPRedirect, 1, stack.EOK, false},
		{wire.ICMPEchoReply, 0, stack.EOK, false},
	}
	for _, c := range cases {
		errno, hard := stack.ICMPErrno(c.typ, c.code)
		if errno != c.errno || hard != c.hard {
			t.Errorf("%s code %d: %s hard=%v, want %s hard=%v", c.typ, c.code, errno.Name(), hard, c.errno.Name(), c.hard)
		}
	}
}

// icmpHasEvent reports whether host published an event that match accepts.
func icmpHasEvent(ev *events, host string, match func(observe.Event) bool) bool {
	for _, e := range ev.list {
		if e.Host == host && match(e) {
			return true
		}
	}
	return false
}

func TestPortUnreachableRefusesConnectedUDP(t *testing.T) {
	l := twoHosts(t, 22)
	so, err := l.hosts["a"].Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	if err := so.Connect(netip.MustParseAddrPort("10.0.0.2:9999")); err != nil {
		t.Fatal(err)
	}
	if _, err := so.Send([]byte("anyone there?")); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(time.Second)
	if err := so.SetBlocking(false); err != nil {
		t.Fatal(err)
	}
	if _, err := so.Recv(100); !errors.Is(err, stack.ECONNREFUSED) {
		t.Errorf("recv after port unreachable: %v, want ECONNREFUSED\n%s", err, l.ev.dump())
	}
	if !icmpHasEvent(l.ev, "b", func(ev observe.Event) bool {
		return ev.Layer == observe.LayerICMP && ev.Kind == observe.KindTX && strings.Contains(ev.Explain, "no program listens on UDP port 9999 of this host")
	}) {
		t.Error("b did not explain its port unreachable")
	}
}
