package stack_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// udpNoProbe makes an address usable at once (no RFC 5227 probing), so the
// tests start sending at time 0.
func udpNoProbe(c *stack.Config) { c.ARP.NoProbe = true }

// udpLAN builds hosts a, b, c (10.0.0.1-3/24) on one switch.
func udpLAN(t *testing.T, seed uint64) *lan {
	t.Helper()
	return newLAN(t, seed,
		hostSpec{name: "a", addr: "10.0.0.1/24", mod: udpNoProbe},
		hostSpec{name: "b", addr: "10.0.0.2/24", mod: udpNoProbe},
		hostSpec{name: "c", addr: "10.0.0.3/24", mod: udpNoProbe},
	)
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// sock makes a socket on host, failing the test on error.
func (l *lan) sock(host string, typ stack.SockType, proto int) *stack.Socket {
	l.t.Helper()
	so, err := l.hosts[host].Socket(stack.AF_INET, typ, proto)
	if err != nil {
		l.t.Fatal(err)
	}
	return so
}

// udpBound makes a UDP socket on host bound to addr, with SO_REUSEADDR if
// reuse is set.
func (l *lan) udpBound(host, addr string, reuse bool) *stack.Socket {
	l.t.Helper()
	so := l.sock(host, stack.SOCK_DGRAM, 0)
	if reuse {
		if err := so.SetSockopt(stack.SOL_SOCKET, stack.SO_REUSEADDR, true); err != nil {
			l.t.Fatal(err)
		}
	}
	if err := so.Bind(ap(addr)); err != nil {
		l.t.Fatal(err)
	}
	return so
}

// sendTo sends b to addr and fails the test on error.
func (l *lan) sendTo(so *stack.Socket, b string, addr string) {
	l.t.Helper()
	if n, err := so.SendTo([]byte(b), ap(addr)); err != nil || n != len(b) {
		l.t.Fatalf("sendto %s: %d, %v", addr, n, err)
	}
}

// recvNow reads one datagram without waiting (the loop is driven by the
// test); ok is false when none is there.
func recvNow(t *testing.T, so *stack.Socket, max int) (string, netip.AddrPort, bool) {
	t.Helper()
	if err := so.SetTimeout(0); err != nil {
		t.Fatal(err)
	}
	b, from, err := so.RecvFrom(max)
	if errors.Is(err, stack.EAGAIN) {
		return "", from, false
	}
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return string(b), from, true
}

// drain returns every datagram waiting on so.
func drain(t *testing.T, so *stack.Socket) []string {
	t.Helper()
	var out []string
	for {
		b, _, ok := recvNow(t, so, 65535)
		if !ok {
			return out
		}
		out = append(out, b)
	}
}

func wantErrno(t *testing.T, err error, e stack.Errno) {
	t.Helper()
	if !errors.Is(err, e) {
		t.Fatalf("error %v, want %s", err, e.Name())
	}
}

// sentIPv4 returns the IPv4 datagrams host put on the wire, from its link
// tx events.
func (l *lan) sentIPv4(host string) []wire.IPv4 {
	var out []wire.IPv4
	for _, ev := range l.ev.list {
		if ev.Host != host || ev.Layer != observe.LayerLink || ev.Kind != observe.KindTX || ev.Frame == nil {
			continue
		}
		eth := wire.Ethernet(ev.Frame)
		if eth.Validate() != nil || eth.Type() != wire.EtherTypeIPv4 {
			continue
		}
		ip := wire.IPv4(eth.Payload())
		if ip.Validate() != nil {
			l.t.Fatalf("%s sent a bad datagram", host)
		}
		out = append(out, ip[:ip.TotalLen()])
	}
	return out
}

func (l *lan) drops(host, reason string) uint64 {
	var n uint64
	l.hosts[host].Call(func() { n = l.hosts[host].Stats().DropCounts()[reason] })
	return n
}

func TestUDPEchoBlocking(t *testing.T) {
	l := udpLAN(t, 1)
	srv := l.udpBound("b", "0.0.0.0:7", false)
	cli := l.sock("a", stack.SOCK_DGRAM, 0)
	stop := l.background(0)
	defer stop()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 2; i++ {
			b, from, err := srv.RecvFrom(2048)
			if err != nil {
				done <- err
				return
			}
			if _, err := srv.SendTo(bytes.ToUpper(b), from); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if _, err := cli.SendTo([]byte("hello"), ap("10.0.0.2:7")); err != nil {
		t.Fatal(err)
	}
	b, from, err := cli.RecvFrom(2048)
	if err != nil || string(b) != "HELLO" || from != ap("10.0.0.2:7") {
		t.Fatalf("recvfrom: %q from %v, %v", b, from, err)
	}
	local := cli.LocalAddr()
	if !local.Addr().IsUnspecified() || local.Port() < stack.EphemeralFirst || local.Port() > stack.EphemeralLast {
		t.Fatalf("autobound to %v, want 0.0.0.0 and an ephemeral port", local)
	}
	// Connected: Send and Recv without addresses; the source becomes the
	// route's address, as on Linux.
	if err := cli.Connect(ap("10.0.0.2:7")); err != nil {
		t.Fatal(err)
	}
	if got := cli.LocalAddr(); got != netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), local.Port()) {
		t.Fatalf("connected local address %v", got)
	}
	if _, err := cli.Send([]byte("again")); err != nil {
		t.Fatal(err)
	}
	if b, err := cli.Recv(2048); err != nil || string(b) != "AGAIN" {
		t.Fatalf("recv: %q, %v", b, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if si := srv.Info(); si.State != "bound" || si.Counters["datagrams_read"] != uint64(2) {
		t.Fatalf("server snapshot %+v", si)
	}
}

func TestUDPEphemeralPortsSeeded(t *testing.T) {
	port := func(seed uint64, taken uint16) uint16 {
		l := udpLAN(t, seed)
		if taken != 0 {
			l.udpBound("a", fmt.Sprintf("0.0.0.0:%d", taken), false)
		}
		so := l.sock("a", stack.SOCK_DGRAM, 0)
		if err := so.Bind(ap("0.0.0.0:0")); err != nil {
			t.Fatal(err)
		}
		return so.LocalAddr().Port()
	}
	p1, p1again, p2 := port(11, 0), port(11, 0), port(12, 0)
	if p1 != p1again {
		t.Fatalf("same seed gave ports %d and %d", p1, p1again)
	}
	if p1 == p2 {
		t.Fatalf("seeds 11 and 12 both gave port %d", p1)
	}
	for _, p := range []uint16{p1, p2} {
		if p < stack.EphemeralFirst || p > stack.EphemeralLast {
			t.Fatalf("port %d outside %d-%d", p, stack.EphemeralFirst, stack.EphemeralLast)
		}
	}
	// A port in use is skipped: the same random start lands on the next one.
	want := p1 + 1
	if p1 == stack.EphemeralLast {
		want = stack.EphemeralFirst
	}
	if got := port(11, p1); got != want {
		t.Fatalf("with %d in use got %d, want %d", p1, got, want)
	}
}

func TestUDPBindErrors(t *testing.T) {
	l := udpLAN(t, 1)
	bind := func(addr string, reuse bool) error {
		so := l.sock("b", stack.SOCK_DGRAM, 0)
		if reuse {
			so.SetSockopt(stack.SOL_SOCKET, stack.SO_REUSEADDR, 1)
		}
		return so.Bind(ap(addr))
	}
	first := l.udpBound("b", "0.0.0.0:5000", false)
	wantErrno(t, bind("0.0.0.0:5000", false), stack.EADDRINUSE)
	wantErrno(t, bind("10.0.0.2:5000", true), stack.EADDRINUSE) // overlaps the wildcard; only one side has SO_REUSEADDR
	if err := bind("10.0.0.2:5001", false); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bind("0.0.0.0:5000", true); err != nil {
		t.Fatalf("port not free after close: %v", err)
	}
	if err := bind("10.0.0.2:5000", true); err != nil {
		t.Fatalf("SO_REUSEADDR on both: %v", err)
	}
	err := bind("10.0.0.99:5002", false)
	wantErrno(t, err, stack.EADDRNOTAVAIL)
	if !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatal("not a syscall.EADDRNOTAVAIL")
	}
	for _, a := range []string{"255.255.255.255:5003", "10.0.0.255:5004", "239.1.2.3:5005", "10.0.0.2:5006"} {
		if err := bind(a, false); err != nil {
			t.Errorf("bind %s: %v", a, err)
		}
	}
	so := l.udpBound("b", "0.0.0.0:5007", false)
	wantErrno(t, so.Bind(ap("0.0.0.0:5008")), stack.EINVAL)
	if _, err := l.hosts["b"].Socket(stack.AF_INET, stack.SOCK_DGRAM, 6); !errors.Is(err, stack.EPROTONOSUPPORT) {
		t.Fatalf("UDP socket of protocol 6: %v", err)
	}
}

func TestUDPSendErrors(t *testing.T) {
	l := udpLAN(t, 1)
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	_, err := so.Send([]byte("x"))
	wantErrno(t, err, stack.EDESTADDRREQ)
	if !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Fatal("not a syscall.EDESTADDRREQ")
	}
	_, err = so.SendTo(make([]byte, stack.MaxUDPPayload+1), ap("10.0.0.2:9"))
	wantErrno(t, err, stack.EMSGSIZE)
	_, err = so.SendTo([]byte("x"), ap("10.0.0.255:9"))
	wantErrno(t, err, stack.EACCES)
	_, err = so.SendTo([]byte("x"), ap("255.255.255.255:9"))
	wantErrno(t, err, stack.EACCES)
	wantErrno(t, so.Connect(ap("10.0.0.255:9")), stack.EACCES)
	_, err = so.SendTo([]byte("x"), ap("10.9.9.9:9"))
	wantErrno(t, err, stack.ENETUNREACH)
	_, err = so.SendTo([]byte("x"), ap("10.0.0.2:0"))
	wantErrno(t, err, stack.EINVAL)
	_, _, err = so.Accept()
	wantErrno(t, err, stack.EOPNOTSUPP)
	wantErrno(t, so.Shutdown(stack.SHUT_WR), stack.ENOTCONN)
}

func TestUDPTimeoutsOnVirtualTime(t *testing.T) {
	l := udpLAN(t, 1)
	so := l.udpBound("a", "0.0.0.0:4000", false)
	if err := so.SetTimeout(0); err != nil {
		t.Fatal(err)
	}
	_, _, err := so.RecvFrom(100)
	wantErrno(t, err, stack.EAGAIN)
	if !errors.Is(err, syscall.EAGAIN) {
		t.Fatal("not a syscall.EAGAIN")
	}
	if err := so.SetTimeout(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	stop := l.background(0)
	start := l.loop.Now()
	_, _, err = so.RecvFrom(100)
	end := l.loop.Now()
	stop()
	wantErrno(t, err, stack.ETIMEDOUT)
	if d := end.Sub(start); d < 2*time.Second || d > 3*time.Second {
		t.Fatalf("timed out after %v of virtual time, want 2s", d)
	}
}

func TestUDPPortUnreachableConnected(t *testing.T) {
	l := udpLAN(t, 1)
	conn := l.sock("a", stack.SOCK_DGRAM, 0)
	if err := conn.Connect(ap("10.0.0.2:9999")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Send([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	unconn := l.sock("a", stack.SOCK_DGRAM, 0)
	l.sendTo(unconn, "anyone?", "10.0.0.2:9998")
	l.loop.RunFor(100 * time.Millisecond)
	if n := l.drops("b", "udp-no-socket"); n != 2 {
		t.Fatalf("b counted %d udp-no-socket drops, want 2", n)
	}
	conn.SetTimeout(0)
	_, err := conn.Recv(100)
	wantErrno(t, err, stack.ECONNREFUSED)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatal("not a syscall.ECONNREFUSED")
	}
	// Reported once; then the socket works on.
	_, err = conn.Recv(100)
	wantErrno(t, err, stack.EAGAIN)
	// An unconnected socket is not told (Linux without IP_RECVERR).
	if _, _, ok := recvNow(t, unconn, 100); ok {
		t.Fatal("unconnected socket received something")
	}
	// The next send of the connected socket fails instead when the error is
	// pending.
	if _, err := conn.Send([]byte("again")); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	_, err = conn.Send([]byte("third"))
	wantErrno(t, err, stack.ECONNREFUSED)
}

func TestUDPBroadcastNeedsSOBroadcastAndReachesAll(t *testing.T) {
	l := udpLAN(t, 1)
	onB := l.udpBound("b", "0.0.0.0:5000", false)
	onC := l.udpBound("c", "0.0.0.0:5000", false)
	bcastB := l.udpBound("b", "255.255.255.255:5001", false)
	specificB := l.udpBound("b", "10.0.0.2:5001", false)
	wildB := l.udpBound("b", "0.0.0.0:5002", false)
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	_, err := so.SendTo([]byte("x"), ap("10.0.0.255:5000"))
	wantErrno(t, err, stack.EACCES)
	if err := so.SetSockopt(stack.SOL_SOCKET, stack.SO_BROADCAST, true); err != nil {
		t.Fatal(err)
	}
	l.sendTo(so, "directed", "10.0.0.255:5000")
	l.sendTo(so, "limited", "255.255.255.255:5000")
	l.sendTo(so, "to-5001", "255.255.255.255:5001")
	l.loop.RunFor(100 * time.Millisecond)
	for name, s := range map[string]*stack.Socket{"b": onB, "c": onC} {
		if got := drain(t, s); len(got) != 2 || got[0] != "directed" || got[1] != "limited" {
			t.Errorf("%s received %q", name, got)
		}
	}
	if got := drain(t, bcastB); len(got) != 1 {
		t.Errorf("socket bound to the broadcast address received %q", got)
	}
	if got := drain(t, specificB); len(got) != 0 {
		t.Errorf("socket bound to a unicast address received broadcast %q", got)
	}
	if got := drain(t, wildB); len(got) != 0 {
		t.Errorf("socket on another port received %q", got)
	}
}

func TestUDPMulticastJoinLeave(t *testing.T) {
	l := udpLAN(t, 1)
	group := netip.MustParseAddr("239.1.2.3")
	r1 := l.udpBound("b", "0.0.0.0:5000", true)
	r2 := l.udpBound("b", "239.1.2.3:5000", true)
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	if err := so.SetSockopt(stack.IPPROTO_IP, stack.IP_MULTICAST_TTL, 4); err != nil {
		t.Fatal(err)
	}
	l.sendTo(so, "before", "239.1.2.3:5000")
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, r1); len(got) != 0 {
		t.Fatalf("received %q before joining", got)
	}
	if err := r1.SetSockopt(stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: group}); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	reports := igmpSent(l, "b", wire.IGMPv2MembershipReport)
	if len(reports) != 1 || reports[0].h.Group != group || reports[0].dst != group {
		t.Fatalf("after joining, b sent IGMP %+v, want one report to %v", reports, group)
	}
	l.sendTo(so, "during", "239.1.2.3:5000")
	l.loop.RunFor(100 * time.Millisecond)
	// Every matching socket gets a copy: the wildcard one and the one bound
	// to the group, though only r1 joined.
	for i, r := range []*stack.Socket{r1, r2} {
		if got := drain(t, r); len(got) != 1 || got[0] != "during" {
			t.Fatalf("socket %d received %q while joined", i+1, got)
		}
	}
	for _, ip := range l.sentIPv4("a") {
		if ip.Dst() == group && ip.TTL() != 4 {
			t.Fatalf("multicast sent with TTL %d, IP_MULTICAST_TTL is 4", ip.TTL())
		}
	}
	if err := r1.SetSockopt(stack.IPPROTO_IP, stack.IP_DROP_MEMBERSHIP, stack.Membership{Group: group}); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	if leaves := igmpSent(l, "b", wire.IGMPLeaveGroup); len(leaves) != 1 || leaves[0].dst != netip.MustParseAddr("224.0.0.2") {
		t.Fatalf("after leaving, b sent leaves %+v", leaves)
	}
	l.sendTo(so, "after", "239.1.2.3:5000")
	l.loop.RunFor(100 * time.Millisecond)
	if got := append(drain(t, r1), drain(t, r2)...); len(got) != 0 {
		t.Fatalf("received %q after leaving", got)
	}
}

func TestUDPMulticastLoop(t *testing.T) {
	l := udpLAN(t, 1)
	group := netip.MustParseAddr("239.9.9.9")
	me := l.udpBound("a", "0.0.0.0:6000", false)
	if err := me.SetSockopt(stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: group, Interface: netip.MustParseAddr("10.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	other := l.udpBound("b", "0.0.0.0:6000", false)
	if err := other.SetSockopt(stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: group}); err != nil {
		t.Fatal(err)
	}
	l.sendTo(me, "looped", "239.9.9.9:6000")
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, me); len(got) != 1 || got[0] != "looped" {
		t.Fatalf("with IP_MULTICAST_LOOP on, the sender received %q", got)
	}
	if err := me.SetSockopt(stack.IPPROTO_IP, stack.IP_MULTICAST_LOOP, false); err != nil {
		t.Fatal(err)
	}
	l.sendTo(me, "not looped", "239.9.9.9:6000")
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, me); len(got) != 0 {
		t.Fatalf("with IP_MULTICAST_LOOP off, the sender received %q", got)
	}
	if got := drain(t, other); len(got) != 2 {
		t.Fatalf("the other member received %q", got)
	}
}

func TestUDPReceiveQueueOverflow(t *testing.T) {
	l := udpLAN(t, 1)
	r := l.udpBound("b", "0.0.0.0:5000", false)
	if err := r.SetSockopt(stack.SOL_SOCKET, stack.SO_RCVBUF, 2048); err != nil {
		t.Fatal(err)
	}
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	payload := string(bytes.Repeat([]byte("x"), 500))
	for i := 0; i < 6; i++ {
		l.sendTo(so, payload, "10.0.0.2:5000")
	}
	l.loop.RunFor(100 * time.Millisecond)
	// Each datagram costs 500 bytes plus 64 of bookkeeping: three fit in 2048.
	if si := r.Info(); si.RecvQueue != 1500 {
		t.Fatalf("queue holds %d bytes, want 1500", si.RecvQueue)
	}
	if n := l.drops("b", "sock-queue-full"); n != 3 {
		t.Fatalf("sock-queue-full counted %d, want 3", n)
	}
	if n := l.ev.count("b", observe.LayerUDP, observe.KindDrop, "sock-queue-full"); n != 3 {
		t.Fatalf("%d sock-queue-full events", n)
	}
	if got := drain(t, r); len(got) != 3 {
		t.Fatalf("read %d datagrams", len(got))
	}
	l.sendTo(so, payload, "10.0.0.2:5000")
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, r); len(got) != 1 {
		t.Fatal("queue does not take datagrams again after being read")
	}
}

func TestUDPRecvTruncatesOneDatagram(t *testing.T) {
	l := udpLAN(t, 1)
	r := l.udpBound("b", "0.0.0.0:5000", false)
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	l.sendTo(so, "0123456789", "10.0.0.2:5000")
	l.sendTo(so, "second", "10.0.0.2:5000")
	l.loop.RunFor(100 * time.Millisecond)
	if b, _, _ := recvNow(t, r, 4); b != "0123" {
		t.Fatalf("recv(4) = %q", b)
	}
	if b, _, _ := recvNow(t, r, 100); b != "second" {
		t.Fatalf("the rest of a truncated datagram was kept: %q", b)
	}
}

func TestUDPDemuxBestMatch(t *testing.T) {
	l := udpLAN(t, 1)
	// Bound first, so that neither order nor ties make it win.
	connected := l.udpBound("b", "0.0.0.0:6000", true)
	if err := connected.Connect(ap("10.0.0.1:7001")); err != nil {
		t.Fatal(err)
	}
	specific := l.udpBound("b", "10.0.0.2:6000", true)
	wild := l.udpBound("b", "0.0.0.0:6000", true)
	fromPeer := l.udpBound("a", "0.0.0.0:7001", false)
	fromOther := l.udpBound("a", "0.0.0.0:7002", false)
	l.sendTo(fromPeer, "peer", "10.0.0.2:6000")
	l.sendTo(fromOther, "other", "10.0.0.2:6000")
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, connected); len(got) != 1 || got[0] != "peer" {
		t.Fatalf("connected socket received %q", got)
	}
	if got := drain(t, specific); len(got) != 1 || got[0] != "other" {
		t.Fatalf("socket bound to the address received %q", got)
	}
	if got := drain(t, wild); len(got) != 0 {
		t.Fatalf("wildcard socket received %q", got)
	}
	specific.Close()
	l.sendTo(fromOther, "other2", "10.0.0.2:6000")
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, wild); len(got) != 1 {
		t.Fatalf("wildcard socket received %q once the specific one closed", got)
	}
}

// udpRawSend sends the bytes of a UDP datagram (header included) from a to
// b with a raw socket of protocol 17, so a test can break what UDP checks.
func udpRawSend(t *testing.T, l *lan, dgram []byte) {
	t.Helper()
	raw := l.sock("a", stack.SOCK_RAW, 17)
	if _, err := raw.SendTo(dgram, ap("10.0.0.2:0")); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	raw.Close()
}

func TestUDPChecksumAndLengthChecked(t *testing.T) {
	l := udpLAN(t, 1)
	r := l.udpBound("b", "0.0.0.0:5000", false)
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	build := func(data string) []byte {
		b := make([]byte, 8+len(data))
		copy(b[8:], data)
		h := wire.UDPHeader{SrcPort: 4444, DstPort: 5000}
		if err := h.Marshal(b, src, dst); err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad := build("corrupt")
	bad[9] ^= 0xff
	udpRawSend(t, l, bad)
	if n := l.drops("b", "udp-bad-checksum"); n != 1 {
		t.Fatalf("udp-bad-checksum counted %d", n)
	}
	long := build("short")
	wire.UDP(long).SetLength(40)
	udpRawSend(t, l, long)
	if n := l.drops("b", "udp-malformed"); n != 1 {
		t.Fatalf("udp-malformed counted %d", n)
	}
	none := build("no checksum")
	wire.UDP(none).SetChecksum(0)
	udpRawSend(t, l, none)
	good := build("fine")
	udpRawSend(t, l, good)
	if got := drain(t, r); len(got) != 2 || got[0] != "no checksum" || got[1] != "fine" {
		t.Fatalf("received %q", got)
	}
}

func TestUDPSocketOptionsOnTheWire(t *testing.T) {
	l := udpLAN(t, 1)
	l.udpBound("b", "0.0.0.0:5000", false)
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	rr := wire.RecordRouteOption(3)
	for name, v := range map[string]any{stack.IP_TTL: 7, stack.IP_TOS: 0x10, stack.IP_OPTIONS: []wire.IPv4Option{rr}} {
		if err := so.SetSockopt(stack.IPPROTO_IP, name, v); err != nil {
			t.Fatal(err)
		}
	}
	l.sendTo(so, "opts", "10.0.0.2:5000")
	l.loop.RunFor(100 * time.Millisecond)
	var found bool
	for _, ip := range l.sentIPv4("a") {
		if ip.Protocol() != wire.ProtoUDP {
			continue
		}
		found = true
		if ip.TTL() != 7 || ip.TOS() != 0x10 || ip.HeaderLen() != 36 { // 20 + record route with 3 slots (15 bytes), padded to 16
			t.Fatalf("ttl %d tos %#x header %d bytes", ip.TTL(), ip.TOS(), ip.HeaderLen())
		}
		if _, ok := ip.FindOption(wire.IPv4OptRecordRoute); !ok {
			t.Fatal("no record route option")
		}
		if u := wire.UDP(ip.Payload()); !u.ChecksumValid(ip.Src(), ip.Dst()) || u.Checksum() == 0 {
			t.Fatal("UDP checksum missing or wrong")
		}
	}
	if !found {
		t.Fatal("no UDP datagram on the wire")
	}
}

func TestUDPLargeDatagramFragmented(t *testing.T) {
	l := udpLAN(t, 1)
	r := l.udpBound("b", "0.0.0.0:5000", false)
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	big := make([]byte, 8000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if _, err := so.SendTo(big, ap("10.0.0.2:5000")); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	frags := 0
	for _, ip := range l.sentIPv4("a") {
		if ip.IsFragment() {
			frags++
		}
	}
	if frags != 6 {
		t.Fatalf("8008 bytes of UDP went out in %d fragments, want 6 for MTU 1500", frags)
	}
	r.SetTimeout(0)
	b, err := r.Recv(65535)
	if err != nil || !bytes.Equal(b, big) {
		t.Fatalf("received %d bytes (%v), want the 8000 sent", len(b), err)
	}
	// The largest UDP payload fits in one (fragmented) IPv4 datagram.
	largest := bytes.Repeat([]byte{0xa5}, stack.MaxUDPPayload)
	if _, err := so.SendTo(largest, ap("10.0.0.2:5000")); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	if b, err := r.Recv(65535); err != nil || !bytes.Equal(b, largest) {
		t.Fatalf("received %d bytes (%v), want %d", len(b), err, stack.MaxUDPPayload)
	}
}

func TestUDPSameSeedSameTrace(t *testing.T) {
	run := func(seed uint64) string {
		l := udpLAN(t, seed)
		l.udpBound("b", "0.0.0.0:5000", false)
		so := l.sock("a", stack.SOCK_DGRAM, 0)
		l.sendTo(so, "x", "10.0.0.2:5000")
		l.loop.RunFor(time.Second)
		var b bytes.Buffer
		for _, ev := range l.ev.list {
			fmt.Fprintf(&b, "%d %s %s %x\n", ev.TimeNS, ev.Host, ev.Summary, ev.Frame)
		}
		return b.String()
	}
	if run(5) != run(5) {
		t.Fatal("same seed, different traces")
	}
}

func TestUDPUnresolvedNeighbourReported(t *testing.T) {
	l := udpLAN(t, 1)
	so := l.sock("a", stack.SOCK_DGRAM, 0)
	if err := so.Connect(ap("10.0.0.77:9")); err != nil {
		t.Fatal(err)
	}
	if _, err := so.Send([]byte("into the void")); err != nil {
		t.Fatalf("send while the neighbour resolves: %v", err)
	}
	l.loop.RunFor(10 * time.Second)
	so.SetTimeout(0)
	_, err := so.Recv(100)
	wantErrno(t, err, stack.EHOSTUNREACH)
}

// BenchmarkUDPSendRecv measures one datagram from a socket on one stack to a
// socket on another across the virtual switch: build, checksum, IPv4,
// Ethernet, switch, and back up to the receive queue and recv.
func BenchmarkUDPSendRecv(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			// Nobody listens to events: the cost is the stack's own.
			loop := clock.NewVirtual()
			sw := tap.NewSwitch(loop, "lan", observe.Discard, 1)
			hosts := map[string]*stack.Stack{}
			for i, name := range []string{"a", "b"} {
				cfg := stack.Config{Name: name, MAC: wire.MAC{2, 0, 0, 0, 9, byte(i + 1)}, Addr: netip.MustParsePrefix(fmt.Sprintf("10.0.0.%d/24", i+1)), Seed: 1}
				udpNoProbe(&cfg)
				s, err := stack.New(cfg, sw.AddPort(name, cfg.MAC, 1500), loop, nil)
				if err != nil {
					b.Fatal(err)
				}
				hosts[name] = s
			}
			srv, _ := hosts["b"].Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
			srv.Bind(ap("0.0.0.0:9"))
			srv.SetTimeout(0)
			cli, _ := hosts["a"].Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
			payload := make([]byte, size)
			dst := ap("10.0.0.2:9")
			cli.SendTo(payload, dst) // resolve b's MAC first
			loop.RunFor(time.Second)
			srv.Recv(65535)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := cli.SendTo(payload, dst); err != nil {
					b.Fatal(err)
				}
				loop.RunFor(time.Millisecond)
				if got, err := srv.Recv(65535); err != nil || len(got) != size {
					b.Fatalf("recv %d bytes: %v", len(got), err)
				}
			}
		})
	}
}
