package stack_test

// The kernel-interop scenarios of issue 3 (interop_linux_test.go,
// interop_more_linux_test.go) on the virtual network: tipy stacks are both
// peers, on tap.Switch, on virtual time, without root. Each test asserts the
// outcome the kernel test asserts, plus the events that prove it. The tests
// drive the loop from the test goroutine (RunFor, RunWhile) and use the
// sockets' loop-work forms (SocketNow, SendToNow, RecvFromNow) inside
// loop.Call, so nothing runs in the background and every run is the same.
//
// The reassembly memory cap under a flood of incomplete fragments is tested
// by TestReassemblyMemoryCapUnderFlood (ipv4_frag_test.go), which asserts
// the cap and the drop counter; it is not repeated here.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

func vnNoProbe(c *stack.Config) { c.ARP.NoProbe = true }

// vnPair is two hosts, a at 10.0.N.1 and b at 10.0.N.2, on one switch.
func vnPair(t *testing.T, n int, mod func(*stack.Config)) *lan {
	t.Helper()
	if mod == nil {
		mod = vnNoProbe
	}
	return newLAN(t, uint64(n),
		hostSpec{name: "a", addr: fmt.Sprintf("10.0.%d.1/24", n), mod: mod},
		hostSpec{name: "b", addr: fmt.Sprintf("10.0.%d.2/24", n), mod: mod})
}

func vnAddr(n, host int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(n), byte(host)}) }

// vnDo runs f as loop work and returns its error.
func vnDo(l *lan, f func(now clock.Time) error) error {
	var err error
	l.loop.Call(func() { err = f(l.loop.Now()) })
	return err
}

// vnSock makes a socket on host, bound to port when port is not 0.
func vnSock(t *testing.T, l *lan, host string, typ stack.SockType, proto int, port uint16) *stack.Socket {
	t.Helper()
	var so *stack.Socket
	err := vnDo(l, func(now clock.Time) error {
		var err error
		if so, err = l.hosts[host].SocketNow(now, stack.AF_INET, typ, proto); err != nil || port == 0 {
			return err
		}
		return so.BindNow(now, netip.AddrPortFrom(netip.IPv4Unspecified(), port))
	})
	if err != nil {
		t.Fatal(err)
	}
	return so
}

// vnSend sends b from so to dst (the connected peer when dst is zero).
func vnSend(l *lan, so *stack.Socket, b []byte, dst netip.AddrPort) error {
	return vnDo(l, func(now clock.Time) error { _, err := so.SendToNow(now, b, dst); return err })
}

// vnRecv runs the loop until so has a datagram or an error, for at most
// within of virtual time.
func vnRecv(l *lan, so *stack.Socket, within time.Duration) ([]byte, netip.AddrPort, error) {
	var b []byte
	var from netip.AddrPort
	var err error
	limit := l.loop.Now().Add(within)
	done := l.loop.RunWhile(func() bool {
		b, from, err = so.RecvFromNow(l.loop.Now(), 65535)
		return errors.Is(err, stack.EAGAIN)
	}, limit)
	if !done {
		// Nothing is due before the limit: time still passes until it.
		l.loop.RunUntil(limit)
		return nil, from, fmt.Errorf("nothing within %v: %w", within, err)
	}
	return b, from, err
}

// vnPing runs s.Ping in a goroutine and steps the virtual loop until it
// returns.
func vnPing(t *testing.T, loop *clock.Virtual, s *stack.Stack, dst netip.Addr, o stack.PingOptions) stack.PingResult {
	t.Helper()
	type ret struct {
		r   stack.PingResult
		err error
	}
	out := make(chan ret, 1)
	before := 0
	loop.Call(func() { before = s.ActivePings() })
	go func() {
		r, err := s.Ping(context.Background(), dst, o)
		out <- ret{r, err}
	}()
	// Time stands still until the ping has started.
	for started := false; !started; {
		select {
		case r := <-out:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return r.r
		default:
		}
		loop.Call(func() { started = s.ActivePings() > before })
		runtime.Gosched()
	}
	limit := loop.Now().Add(10 * time.Minute)
	for {
		select {
		case r := <-out:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return r.r
		default:
		}
		if loop.Now() > limit {
			t.Fatalf("ping %s did not end within 10 virtual minutes", dst)
		}
		loop.RunFor(time.Millisecond)
	}
}

// vnFrames returns the frames host put on its link (kind tx) or took from
// it (kind rx), from its link events.
func vnFrames(ev *events, host string, kind observe.Kind) []wire.Ethernet {
	var out []wire.Ethernet
	for _, e := range ev.list {
		if e.Host == host && e.Layer == observe.LayerLink && e.Kind == kind && e.Frame != nil {
			if f := wire.Ethernet(e.Frame); f.Validate() == nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// vnARPRequests returns the times at which host sent ARP requests for tpa.
func vnARPRequests(ev *events, host string, tpa netip.Addr) []clock.Time {
	var out []clock.Time
	for _, e := range ev.list {
		if e.Host != host || e.Layer != observe.LayerLink || e.Kind != observe.KindTX || e.Frame == nil {
			continue
		}
		f := wire.Ethernet(e.Frame)
		if f.Validate() != nil || f.Type() != wire.EtherTypeARP {
			continue
		}
		if h, err := wire.ParseARP(f.Payload()); err == nil && h.Op == wire.ARPRequest && h.TPA == tpa && !h.SPA.IsUnspecified() {
			out = append(out, clock.Time(e.TimeNS))
		}
	}
	return out
}

// vnEvent reports whether an event of host satisfies match.
func vnEvent(ev *events, host string, match func(observe.Event) bool) bool {
	for _, e := range ev.list {
		if (host == "" || e.Host == host) && match(e) {
			return true
		}
	}
	return false
}

// vnARPEntry returns host's cache entry for ip.
func vnARPEntry(l *lan, host string, ip netip.Addr) (stack.ARPEntry, bool) {
	var out stack.ARPEntry
	found := false
	l.loop.Call(func() {
		for _, e := range l.hosts[host].ARPTable() {
			if e.IP == ip {
				out, found = e, true
			}
		}
	})
	return out, found
}

func vnDrops(l *lan, host, reason string) uint64 {
	var n uint64
	l.loop.Call(func() { n = l.hosts[host].Stats().DropCounts()[reason] })
	return n
}

// pattern returns n bytes that differ from one offset to the next, so a
// misplaced fragment shows.
func pattern(n int, salt byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ salt
	}
	return b
}

// firstFragment builds a first fragment (MF set, offset 0) of a UDP datagram
// of 3000 bytes from src to dst, with 1000 bytes of it.
func firstFragment(src, dst netip.Addr, id uint16) []byte {
	data := make([]byte, 1000)
	binary.BigEndian.PutUint16(data[0:], 4000)     // source port
	binary.BigEndian.PutUint16(data[2:], 4001)     // destination port
	binary.BigEndian.PutUint16(data[4:], 3008)     // UDP length of the whole datagram
	copy(data[8:], bytes.Repeat([]byte("f"), 992)) // checksum 0: none
	h := wire.IPv4Header{ID: id, Flags: wire.IPv4FlagMF, TTL: 64, Protocol: wire.ProtoUDP, Src: src, Dst: dst}
	pkt := make([]byte, h.HeaderLen()+len(data))
	copy(pkt[h.HeaderLen():], data)
	if err := h.Marshal(pkt); err != nil {
		panic(err)
	}
	return pkt
}

// --- Scenario 1: ICMP echo both ways, plain and fragmented -------------------

func TestVnetPingBothWays(t *testing.T) {
	l := vnPair(t, 1, nil)
	a, b := l.hosts["a"], l.hosts["b"]
	for _, size := range []int{56, 4000} {
		r := vnPing(t, l.loop, a, vnAddr(1, 2), stack.PingOptions{Count: 5, Size: size, Interval: 100 * time.Millisecond})
		if r.Received != 5 || len(r.Lost) != 0 || len(r.Errors) != 0 {
			t.Fatalf("a pings b with %d bytes: %+v", size, r)
		}
		r = vnPing(t, l.loop, b, vnAddr(1, 1), stack.PingOptions{Count: 5, Size: size, Interval: 100 * time.Millisecond})
		if r.Received != 5 || len(r.Lost) != 0 || len(r.Errors) != 0 {
			t.Fatalf("b pings a with %d bytes: %+v", size, r)
		}
		for _, rep := range r.Replies {
			if rep.Bytes != size+8 || rep.Corrupt {
				t.Errorf("reply %+v", rep)
			}
		}
	}
	// Each side reassembled the other's 5 large requests and 5 large replies.
	for _, h := range []*stack.Stack{a, b} {
		var st stack.ReassemblyStats
		l.loop.Call(func() { st = h.ReassemblyStats() })
		if st.Completed != 10 {
			t.Errorf("%s reassembled %d datagrams, want 10", h.Name(), st.Completed)
		}
	}
	frags := 0
	for _, f := range vnFrames(l.ev, "b", observe.KindTX) {
		if ip := wire.IPv4(f.Payload()); f.Type() == wire.EtherTypeIPv4 && ip.Validate() == nil && ip.IsFragment() {
			frags++
		}
	}
	if frags != 2*5*3 { // b's 5 requests and 5 replies of 4008 ICMP bytes, 3 fragments each
		t.Errorf("b sent %d fragments, want 30", frags)
	}
}

// --- Scenario 2: ARP -------------------------------------------------------

func TestVnetARPRequestAnswered(t *testing.T) {
	l := vnPair(t, 2, nil)
	// A bare port plays arping: it asks for b and records the answers.
	mac := wire.MAC{0x02, 0, 0, 0, 9, 9}
	port := l.sw.AddPort("arping", mac, 1500)
	var replies []wire.ARPHeader
	port.SetHandler(func(f []byte) {
		eth := wire.Ethernet(f)
		if eth.Validate() == nil && eth.Type() == wire.EtherTypeARP && eth.Dst() == mac {
			if h, err := wire.ParseARP(eth.Payload()); err == nil && h.Op == wire.ARPReply {
				replies = append(replies, h)
			}
		}
	})
	req := wire.ARPHeader{Op: wire.ARPRequest, SHA: mac, SPA: vnAddr(2, 9), TPA: vnAddr(2, 2)}
	frame := make([]byte, wire.EthernetHeaderLen+req.HeaderLen())
	eh := wire.EthernetHeader{Dst: wire.BroadcastMAC, Src: mac, Type: wire.EtherTypeARP}
	eh.Marshal(frame)
	if err := req.Marshal(frame[wire.EthernetHeaderLen:]); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		l.loop.Call(func() { port.Send(frame) })
		l.loop.RunFor(100 * time.Millisecond)
	}
	if len(replies) != 3 {
		t.Fatalf("%d replies to 3 requests", len(replies))
	}
	for _, h := range replies {
		if h.SHA != l.hosts["b"].Iface().MAC() || h.SPA != vnAddr(2, 2) || h.THA != mac || h.TPA != vnAddr(2, 9) {
			t.Errorf("reply %v", h)
		}
	}
}

func TestVnetQueuedDatagramsAfterOneResolution(t *testing.T) {
	l := vnPair(t, 3, nil)
	rx := vnSock(t, l, "b", stack.SOCK_DGRAM, 0, 5000)
	tx := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
	err := vnDo(l, func(now clock.Time) error {
		for i := 1; i <= 5; i++ {
			if _, err := tx.SendToNow(now, []byte(fmt.Sprintf("datagram %d", i)), netip.AddrPortFrom(vnAddr(3, 2), 5000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := vnARPEntry(l, "a", vnAddr(3, 2)); !ok || e.State != stack.ARPIncomplete || e.Queued != 5 {
		t.Fatalf("while resolving: %+v (found %v), want incomplete with 5 queued", e, ok)
	}
	for i := 1; i <= 5; i++ {
		b, _, err := vnRecv(l, rx, time.Second)
		if want := fmt.Sprintf("datagram %d", i); err != nil || string(b) != want {
			t.Fatalf("datagram %d: %q, %v", i, b, err)
		}
	}
	if reqs := vnARPRequests(l.ev, "a", vnAddr(3, 2)); len(reqs) != 1 {
		t.Errorf("a sent %d ARP requests, want 1", len(reqs))
	}
	if e, _ := vnARPEntry(l, "a", vnAddr(3, 2)); e.State != stack.ARPReachable || e.MAC != l.hosts["b"].Iface().MAC() || e.Queued != 0 {
		t.Errorf("after the reply: %+v", e)
	}
}

func TestVnetAbsentNeighbourHostUnreachable(t *testing.T) {
	const retries, interval = 4, 300 * time.Millisecond
	l := vnPair(t, 4, func(c *stack.Config) {
		c.ARP.NoProbe = true
		c.ARP.Retries = retries
		c.ARP.RetryInterval = interval
	})
	absent := vnAddr(4, 77)
	so := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
	if err := vnDo(l, func(now clock.Time) error { return so.ConnectNow(now, netip.AddrPortFrom(absent, 5000)) }); err != nil {
		t.Fatal(err)
	}
	start := l.loop.Now()
	if err := vnSend(l, so, []byte("to nobody"), netip.AddrPort{}); err != nil {
		t.Fatalf("send before resolution: %v", err)
	}
	_, _, err := vnRecv(l, so, 10*time.Second)
	if !errors.Is(err, stack.EHOSTUNREACH) {
		t.Fatalf("recv: %v, want EHOSTUNREACH", err)
	}
	if took := l.loop.Now().Sub(start); took != retries*interval {
		t.Errorf("EHOSTUNREACH after %v, want %v (%d requests %v apart, and %v after the last)", took, retries*interval, retries, interval, interval)
	}
	reqs := vnARPRequests(l.ev, "a", absent)
	if len(reqs) != retries {
		t.Fatalf("%d requests, want %d", len(reqs), retries)
	}
	for i, at := range reqs {
		if want := start.Add(time.Duration(i) * interval); at != want {
			t.Errorf("request %d at %v, want %v", i+1, at, want)
		}
	}
	if got := vnDrops(l, "a", "arp-unresolved"); got != 1 {
		t.Errorf("arp-unresolved drops %d, want 1", got)
	}
	if e, ok := vnARPEntry(l, "a", absent); !ok || e.State != stack.ARPFailed {
		t.Errorf("entry %+v, want failed", e)
	}
	// Nothing more is asked while the failure is held.
	l.loop.RunFor(5 * time.Second)
	if n := len(vnARPRequests(l.ev, "a", absent)); n != retries {
		t.Errorf("%d requests after the failure, want still %d", n, retries)
	}
}

// --- Scenario 3: RFC 5227 probe and gratuitous ARP -------------------------

func TestVnetProbeDetectsConflict(t *testing.T) {
	l := newLAN(t, 5,
		hostSpec{name: "b", addr: "10.0.5.2/24", mod: vnNoProbe},
		hostSpec{name: "c", addr: "10.0.5.2/24", mod: func(c *stack.Config) { c.ARP.NoProbe = false }}) // c probes for b's address
	c := l.hosts["c"]
	l.loop.RunFor(10 * time.Second)
	var cState, bState stack.AddrState
	l.loop.Call(func() { cState, bState = c.Iface().AddressState(), l.hosts["b"].Iface().AddressState() })
	if cState != stack.AddrConflict || bState != stack.AddrPreferred {
		t.Fatalf("c is %s, b is %s; want conflict and preferred\n%s", cState, bState, l.ev.dump())
	}
	if !vnEvent(l.ev, "c", func(e observe.Event) bool { return e.Layer == observe.LayerARP && e.Kind == observe.KindError }) {
		t.Error("no conflict event on c")
	}
	// c never claimed the address: every ARP packet it sent is a probe.
	for _, f := range vnFrames(l.ev, "c", observe.KindTX) {
		if f.Type() != wire.EtherTypeARP {
			t.Errorf("c sent a %s frame", f.Type())
			continue
		}
		if h, _ := wire.ParseARP(f.Payload()); !h.SPA.IsUnspecified() {
			t.Errorf("c sent %v, not a probe", h)
		}
	}
	so := vnSock(t, l, "c", stack.SOCK_DGRAM, 0, 0)
	if err := vnSend(l, so, []byte("x"), netip.AddrPortFrom(vnAddr(5, 9), 9)); !errors.Is(err, stack.EADDRNOTAVAIL) {
		t.Errorf("send from the conflicting address: %v, want EADDRNOTAVAIL", err)
	}
}

func TestVnetGratuitousARPUpdatesNeighbour(t *testing.T) {
	l := newLAN(t, 6,
		hostSpec{name: "b", addr: "10.0.6.2/24", mod: vnNoProbe},
		hostSpec{name: "old", addr: "10.0.6.9/24", mod: vnNoProbe})
	target := vnAddr(6, 9)
	oldMAC := l.hosts["old"].Iface().MAC()
	so := vnSock(t, l, "b", stack.SOCK_DGRAM, 0, 0)
	if err := vnSend(l, so, []byte("hello old"), netip.AddrPortFrom(target, 9)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(time.Second)
	if e, _ := vnARPEntry(l, "b", target); e.MAC != oldMAC {
		t.Fatalf("b's entry %+v, want %s", e, oldMAC)
	}
	// The host restarts with a new MAC and announces itself.
	l.hosts["old"].Close()
	newMAC := wire.MAC{0x02, 0, 0, 0, 6, 0x99}
	s, err := stack.New(stack.Config{Name: "new", MAC: newMAC, Addr: netip.MustParsePrefix("10.0.6.9/24"), Seed: 6, ARP: stack.ARPConfig{NoProbe: true}},
		l.sw.AddPort("new", newMAC, 1500), l.loop, l.ev)
	if err != nil {
		t.Fatal(err)
	}
	l.hosts["new"] = s
	if err := vnDo(l, func(now clock.Time) error { return s.Iface().Announce(now) }); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	if e, _ := vnARPEntry(l, "b", target); e.MAC != newMAC {
		t.Fatalf("after the announcement b's entry is %+v, want %s", e, newMAC)
	}
	if !vnEvent(l.ev, "b", func(e observe.Event) bool { return e.Layer == observe.LayerARP && e.Kind == observe.KindCache }) {
		t.Error("no cache event on b")
	}
	// Datagrams now reach the new MAC without another request.
	rx := vnSock(t, l, "new", stack.SOCK_DGRAM, 0, 7)
	before := len(vnARPRequests(l.ev, "b", target))
	if err := vnSend(l, so, []byte("hello new"), netip.AddrPortFrom(target, 7)); err != nil {
		t.Fatal(err)
	}
	if b, _, err := vnRecv(l, rx, time.Second); err != nil || string(b) != "hello new" {
		t.Fatalf("new received %q, %v", b, err)
	}
	if n := len(vnARPRequests(l.ev, "b", target)); n != before {
		t.Errorf("b asked again (%d requests)", n-before)
	}
}

// --- Scenario 4: UDP -------------------------------------------------------

func TestVnetUDPEchoBothWays(t *testing.T) {
	l := vnPair(t, 7, nil)
	big := pattern(8000, 7)
	for _, dir := range [][2]string{{"a", "b"}, {"b", "a"}} {
		cli, srvHost := dir[0], dir[1]
		srv := vnSock(t, l, srvHost, stack.SOCK_DGRAM, 0, 7)
		// The server echoes from the loop itself, as the built-in services do.
		l.loop.Call(func() {
			srv.SetNotify(func() {
				now := l.loop.Now()
				for {
					b, from, err := srv.RecvFromNow(now, 65535)
					if err != nil {
						return
					}
					srv.SendToNow(now, b, from)
				}
			})
		})
		so := vnSock(t, l, cli, stack.SOCK_DGRAM, 0, 0)
		dst := netip.AddrPortFrom(l.hosts[srvHost].Iface().Addr().Addr(), 7)
		for _, msg := range [][]byte{[]byte("hello " + srvHost), big} {
			if err := vnSend(l, so, msg, dst); err != nil {
				t.Fatal(err)
			}
			got, from, err := vnRecv(l, so, time.Second)
			if err != nil || !bytes.Equal(got, msg) || from != dst {
				t.Fatalf("%s > %s echo of %d bytes: %d bytes from %s, %v", cli, srvHost, len(msg), len(got), from, err)
			}
		}
		vnDo(l, func(now clock.Time) error { return srv.CloseNow(now) })
	}
	for _, h := range []string{"a", "b"} {
		var st stack.ReassemblyStats
		l.loop.Call(func() { st = l.hosts[h].ReassemblyStats() })
		if st.Completed != 2 {
			t.Errorf("%s reassembled %d datagrams, want 2 (a request and an echo)", h, st.Completed)
		}
	}
}

func TestVnetUDPPortUnreachable(t *testing.T) {
	l := vnPair(t, 8, nil)
	so := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
	if err := vnDo(l, func(now clock.Time) error { return so.ConnectNow(now, netip.AddrPortFrom(vnAddr(8, 2), 9)) }); err != nil {
		t.Fatal(err)
	}
	if err := vnSend(l, so, []byte("anyone?"), netip.AddrPort{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := vnRecv(l, so, time.Second); !errors.Is(err, stack.ECONNREFUSED) {
		t.Fatalf("recv: %v, want ECONNREFUSED", err)
	}
	if got := vnDrops(l, "b", "udp-no-socket"); got != 1 {
		t.Errorf("b udp-no-socket drops %d, want 1", got)
	}
	if !vnEvent(l.ev, "b", func(e observe.Event) bool {
		return e.Layer == observe.LayerICMP && e.Kind == observe.KindTX && e.RFC != "" && e.Explain != ""
	}) {
		t.Error("b published no explained ICMP error")
	}
	if !vnEvent(l.ev, "a", func(e observe.Event) bool {
		return e.Layer == observe.LayerUDP && e.Kind == observe.KindError && e.Reason == "ECONNREFUSED"
	}) {
		t.Error("a published no UDP error event")
	}
	// An unconnected socket is not told, as on Linux.
	un := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
	if err := vnSend(l, un, []byte("anyone?"), netip.AddrPortFrom(vnAddr(8, 2), 9)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := vnRecv(l, un, time.Second); errors.Is(err, stack.ECONNREFUSED) {
		t.Error("an unconnected socket got ECONNREFUSED")
	}
}

// --- Scenario 5: broadcast and multicast -----------------------------------

func TestVnetBroadcastAndMulticast(t *testing.T) {
	l := vnPair(t, 9, nil)
	group := netip.MustParseAddr("239.1.2.3")
	bcast := vnAddr(9, 255)
	for _, dir := range [][2]string{{"a", "b"}, {"b", "a"}} {
		from, to := dir[0], dir[1]
		port := uint16(6000)
		if from == "b" {
			port = 6001
		}
		rx := vnSock(t, l, to, stack.SOCK_DGRAM, 0, port)
		tx := vnSock(t, l, from, stack.SOCK_DGRAM, 0, 0)
		if err := vnSend(l, tx, []byte("broadcast"), netip.AddrPortFrom(bcast, port)); !errors.Is(err, stack.EACCES) {
			t.Errorf("broadcast without SO_BROADCAST: %v, want EACCES", err)
		}
		vnDo(l, func(now clock.Time) error { return tx.SetSockoptNow(now, stack.SOL_SOCKET, stack.SO_BROADCAST, true) })
		if err := vnSend(l, tx, []byte("broadcast"), netip.AddrPortFrom(bcast, port)); err != nil {
			t.Fatal(err)
		}
		if b, src, err := vnRecv(l, rx, time.Second); err != nil || string(b) != "broadcast" || src.Addr() != l.hosts[from].Iface().Addr().Addr() {
			t.Fatalf("%s > %s broadcast: %q from %s, %v", from, to, b, src, err)
		}
		// Before the join the group's datagram is filtered; after it, it arrives.
		if err := vnSend(l, tx, []byte("too early"), netip.AddrPortFrom(group, port)); err != nil {
			t.Fatal(err)
		}
		if b, _, err := vnRecv(l, rx, 100*time.Millisecond); err == nil {
			t.Fatalf("%s received %q before joining", to, b)
		}
		if err := vnDo(l, func(now clock.Time) error {
			return rx.SetSockoptNow(now, stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: group})
		}); err != nil {
			t.Fatal(err)
		}
		l.loop.RunFor(10 * time.Millisecond)
		reported := false
		for _, f := range vnFrames(l.ev, to, observe.KindTX) {
			ip := wire.IPv4(f.Payload())
			if f.Type() != wire.EtherTypeIPv4 || ip.Validate() != nil || ip.Protocol() != wire.ProtoIGMP || ip.Dst() != group {
				continue
			}
			if g, err := wire.ParseIGMP(ip.Payload()); err == nil && g.Type == wire.IGMPv2MembershipReport && g.Group == group && f.Dst() == wire.MulticastMAC(group) {
				reported = true
			}
		}
		if !reported {
			t.Errorf("%s sent no IGMPv2 report for %s", to, group)
		}
		if err := vnSend(l, tx, []byte("multicast"), netip.AddrPortFrom(group, port)); err != nil {
			t.Fatal(err)
		}
		if b, src, err := vnRecv(l, rx, time.Second); err != nil || string(b) != "multicast" || src.Addr() != l.hosts[from].Iface().Addr().Addr() {
			t.Fatalf("%s > %s multicast: %q from %s, %v", from, to, b, src, err)
		}
	}
	if got := vnDrops(l, "b", "eth-not-for-us") + vnDrops(l, "b", "ip-not-member"); got == 0 {
		t.Error("b counted no drop for the group datagram before joining")
	}
}

// --- Scenario 6: raw sockets -----------------------------------------------

func TestVnetRawSockets(t *testing.T) {
	l := vnPair(t, 10, nil)
	a := l.hosts["a"]
	raw := vnSock(t, l, "b", stack.SOCK_RAW, 1, 0)
	if r := vnPing(t, l.loop, a, vnAddr(10, 2), stack.PingOptions{Count: 2, Interval: 100 * time.Millisecond}); r.Received != 2 {
		t.Fatalf("ping with a raw socket open: %+v", r)
	}
	requests := 0
	for {
		d, from, err := vnRecv(l, raw, 0)
		if err != nil {
			break
		}
		h, err := wire.ParseIPv4(d)
		if err != nil {
			t.Fatalf("raw data does not start with an IPv4 header: %v", err)
		}
		if m, err := wire.ParseICMP(wire.IPv4(d).Payload()); err == nil && m.Type == wire.ICMPEchoRequest && h.Src == vnAddr(10, 1) && from.Addr() == h.Src {
			requests++
		}
	}
	if requests != 2 {
		t.Errorf("b's raw ICMP socket saw %d echo requests, want 2", requests)
	}

	// Protocol 253 to b, which has no handler: protocol unreachable, which
	// a's raw ICMP socket sees.
	araw := vnSock(t, l, "a", stack.SOCK_RAW, 1, 0)
	a253 := vnSock(t, l, "a", stack.SOCK_RAW, 253, 0)
	if err := vnSend(l, a253, []byte("protocol 253?"), netip.AddrPortFrom(vnAddr(10, 2), 0)); err != nil {
		t.Fatal(err)
	}
	var m wire.ICMPHeader
	for {
		d, _, err := vnRecv(l, araw, time.Second)
		if err != nil {
			t.Fatalf("a's raw ICMP socket: %v", err)
		}
		if m, err = wire.ParseICMP(wire.IPv4(d).Payload()); err == nil && m.Type == wire.ICMPDestinationUnreachable {
			break
		}
	}
	if q := m.Quoted(); m.Code != wire.ICMPProtocolUnreachable || q.Protocol != 253 || q.Src != vnAddr(10, 1) {
		t.Errorf("error %v quoting %+v", m.String(), q)
	}
	if got := vnDrops(l, "b", "ip-unknown-protocol"); got != 1 {
		t.Errorf("b ip-unknown-protocol drops %d, want 1", got)
	}

	// Once b has a raw socket for 253, the datagram reaches it, and no
	// error is sent.
	b253 := vnSock(t, l, "b", stack.SOCK_RAW, 253, 0)
	if err := vnSend(l, a253, []byte("from a, protocol 253"), netip.AddrPortFrom(vnAddr(10, 2), 0)); err != nil {
		t.Fatal(err)
	}
	d, from, err := vnRecv(l, b253, time.Second)
	if err != nil || from.Addr() != vnAddr(10, 1) || string(wire.IPv4(d).Payload()) != "from a, protocol 253" {
		t.Fatalf("b's raw 253 socket: %q from %s, %v", d, from, err)
	}
	if got := vnDrops(l, "b", "ip-unknown-protocol"); got != 1 {
		t.Errorf("b ip-unknown-protocol drops %d after the raw socket opened, want still 1", got)
	}
}

// --- Scenario 7: reassembly timeout ----------------------------------------

func TestVnetLoneFragmentTimeExceeded(t *testing.T) {
	const timeout = 2 * time.Second
	l := vnPair(t, 11, func(c *stack.Config) {
		c.ARP.NoProbe = true
		c.IPv4.ReassemblyTimeout = timeout
	})
	araw := vnSock(t, l, "a", stack.SOCK_RAW, 1, 0)
	hdr := vnSock(t, l, "a", stack.SOCK_RAW, stack.IPPROTO_RAW, 0)
	start := l.loop.Now()
	if err := vnSend(l, hdr, firstFragment(vnAddr(11, 1), vnAddr(11, 2), 0x4242), netip.AddrPortFrom(vnAddr(11, 2), 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := vnRecv(l, araw, timeout-time.Millisecond); err == nil {
		t.Fatal("an ICMP message before the reassembly timeout")
	}
	d, _, err := vnRecv(l, araw, time.Second)
	if err != nil {
		t.Fatalf("no time exceeded: %v\n%s", err, l.ev.dump())
	}
	if took := l.loop.Now().Sub(start); took < timeout || took > timeout+10*time.Millisecond {
		t.Errorf("time exceeded after %v, want %v", took, timeout)
	}
	m, err := wire.ParseICMP(wire.IPv4(d).Payload())
	if err != nil || m.Type != wire.ICMPTimeExceeded || m.Code != wire.ICMPReassemblyExceeded {
		t.Fatalf("got %v, %v; want time exceeded code 1", m.String(), err)
	}
	if q := m.Quoted(); q.ID != 0x4242 || !q.HasPorts || q.DstPort != 4001 {
		t.Errorf("quote %+v", q)
	}
	if got := vnDrops(l, "b", "ip-frag-timeout"); got != 1 {
		t.Errorf("b ip-frag-timeout drops %d, want 1", got)
	}
	// A lone non-first fragment times out silently (RFC 1122 §3.3.2: only
	// when fragment zero arrived).
	frag := firstFragment(vnAddr(11, 1), vnAddr(11, 2), 0x4343)
	ip := wire.IPv4(frag)
	ip.SetFragmentOffset(1000 - 8)
	ip.SetFlags(0)
	ip.SetChecksum(0)
	ip.SetChecksum(ip.ComputeChecksum())
	if err := vnSend(l, hdr, frag, netip.AddrPortFrom(vnAddr(11, 2), 0)); err != nil {
		t.Fatal(err)
	}
	if d, _, err := vnRecv(l, araw, 2*timeout); err == nil {
		t.Errorf("an ICMP message about a non-first fragment: % x", d)
	}
	if got := vnDrops(l, "b", "ip-frag-timeout"); got != 2 {
		t.Errorf("b ip-frag-timeout drops %d, want 2", got)
	}
}

// --- Scenario 8: routing ---------------------------------------------------

func TestVnetRouting(t *testing.T) {
	n := newRoutedNet(t, 12, 1)
	l := &lan{t: t, loop: n.loop, ev: n.ev, hosts: map[string]*stack.Stack{"a": n.a, "r": n.r, "b": n.b}}
	bAddr, aAddr := netip.MustParseAddr("10.1.2.2"), netip.MustParseAddr("10.1.1.2")

	// Ping and UDP cross the router both ways.
	if r := vnPing(t, n.loop, n.a, bAddr, stack.PingOptions{Count: 3, Interval: 100 * time.Millisecond}); r.Received != 3 || r.Replies[0].TTL != stack.DefaultTTL-1 {
		t.Fatalf("a pings b: %+v", r)
	}
	if r := vnPing(t, n.loop, n.b, aAddr, stack.PingOptions{Count: 3, Interval: 100 * time.Millisecond}); r.Received != 3 {
		t.Fatalf("b pings a: %+v", r)
	}
	rx := vnSock(t, l, "b", stack.SOCK_DGRAM, 0, 7)
	tx := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
	if err := vnSend(l, tx, []byte("across"), netip.AddrPortFrom(bAddr, 7)); err != nil {
		t.Fatal(err)
	}
	if d, from, err := vnRecv(l, rx, time.Second); err != nil || string(d) != "across" || from.Addr() != aAddr {
		t.Fatalf("UDP through the router: %q from %s, %v", d, from, err)
	}
	if !vnEvent(n.ev, "a", func(e observe.Event) bool {
		return e.Kind == observe.KindRoute && e.Fields["next_hop"] == "10.1.1.1" && e.Fields["dst"] == bAddr.String()
	}) {
		t.Error("a has no route event via its gateway")
	}
	if len(vnARPRequests(n.ev, "a", bAddr)) != 0 {
		t.Error("a asked ARP for the off-link host")
	}

	// TTL 1 from a: time exceeded from the router, as ping -t 1 sees it.
	r := vnPing(t, n.loop, n.a, bAddr, stack.PingOptions{Count: 1, TTL: 1})
	if r.Received != 0 || len(r.Errors) != 1 {
		t.Fatalf("ttl 1: %+v", r)
	}
	if e := r.Errors[0]; e.From != netip.MustParseAddr("10.1.1.1") || e.Type != wire.ICMPTimeExceeded || e.Code != wire.ICMPTTLExceeded {
		t.Errorf("ttl 1 error %+v", e)
	}
	if got := vnDrops(l, "r", "ip-ttl-exceeded"); got != 1 {
		t.Errorf("router ip-ttl-exceeded drops %d, want 1", got)
	}
}

func TestVnetScenariosDeterministic(t *testing.T) {
	// The same seed gives the same events: run queued datagrams and a failed
	// resolution twice and compare the traces.
	trace := func() string {
		l := vnPair(t, 3, nil)
		tx := vnSock(t, l, "a", stack.SOCK_DGRAM, 0, 0)
		vnSock(t, l, "b", stack.SOCK_DGRAM, 0, 5000)
		for i := 0; i < 3; i++ {
			vnSend(l, tx, []byte{byte(i)}, netip.AddrPortFrom(vnAddr(3, 2), 5000))
		}
		vnSend(l, tx, []byte("to nobody"), netip.AddrPortFrom(vnAddr(3, 77), 5000))
		l.loop.RunFor(10 * time.Second)
		return l.ev.dump()
	}
	if a, b := trace(), trace(); a != b {
		t.Fatalf("two runs differ:\n%s\n---\n%s", a, b)
	}
}
