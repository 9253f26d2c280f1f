//go:build linux

package stack_test

// Kernel-interop scenarios 5 to 8 of issue 3: broadcast and multicast, raw
// sockets, the reassembly timeout, and routing (the kernel as tipy's
// gateway, and tipy as a router between two kernel namespaces). The harness
// is in interop_linux_test.go.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
	"github.com/tipy/tipy/tap/netnstest"
)

// --- Scenario 5: broadcast and multicast -----------------------------------

func TestKernelBroadcastAndMulticast(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 19, koNoProbe)
	sn := k.ns.Sniff(t, koTAP)
	group := netip.MustParseAddr("239.1.2.3")
	bcast := netip.AddrFrom4([4]byte{10, 199, 19, 255})
	// The namespace has no default route: multicast leaves through the TAP.
	k.ns.Run(t, "ip", "route", "add", "224.0.0.0/4", "dev", koTAP)

	// tipy receives the kernel's broadcast.
	rx := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	if err := rx.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 6000)); err != nil {
		t.Fatal(err)
	}
	ks := kernelUDP(t, k.ns, netip.AddrPortFrom(k.kernel, 0).String())
	rc, err := ks.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.WriteToUDPAddrPort([]byte("kernel broadcast"), netip.AddrPortFrom(bcast, 6000)); err != nil {
		t.Fatal(err)
	}
	b, from, err := rx.RecvFrom(100)
	if err != nil || string(b) != "kernel broadcast" || from.Addr() != k.kernel {
		t.Fatalf("tipy broadcast receive: %q from %s, %v", b, from, err)
	}

	// tipy joins the group: the kernel sees the IGMP report, and tipy
	// receives the kernel's multicast datagram.
	if err := rx.SetSockopt(stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: group}); err != nil {
		t.Fatal(err)
	}
	sn.Wait(t, koWait, "tipy's IGMPv2 report for "+group.String(), func(f netnstest.Frame) bool {
		h, ip, ok := ipFrame(f)
		if !ok || f.Outgoing || h.Protocol != wire.ProtoIGMP || h.Dst != group || h.Src != k.tipyAddr {
			return false
		}
		g, err := wire.ParseIGMP(ip.Payload())
		return err == nil && g.Type == wire.IGMPv2MembershipReport && g.Group == group && wire.Ethernet(f.Data).Dst() == wire.MulticastMAC(group)
	})
	if _, err := ks.WriteToUDPAddrPort([]byte("kernel multicast"), netip.AddrPortFrom(group, 6000)); err != nil {
		t.Fatal(err)
	}
	b, from, err = rx.RecvFrom(100)
	if err != nil || string(b) != "kernel multicast" || from.Addr() != k.kernel {
		t.Fatalf("tipy multicast receive: %q from %s, %v", b, from, err)
	}

	// tipy sends both; kernel sockets receive them.
	var kb, km *net.UDPConn
	inNS(t, k.ns, func() error {
		c, err := net.ListenPacket("udp4", ":6001") // the wildcard receives broadcasts
		if err != nil {
			return err
		}
		kb = c.(*net.UDPConn)
		ifi, err := net.InterfaceByName(koTAP)
		if err != nil {
			return err
		}
		km, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: group.AsSlice(), Port: 6002})
		return err
	})
	t.Cleanup(func() { kb.Close(); km.Close() })
	tx := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	if _, err := tx.SendTo([]byte("tipy broadcast"), netip.AddrPortFrom(bcast, 6001)); !errors.Is(err, stack.EACCES) {
		t.Errorf("broadcast without SO_BROADCAST: %v, want EACCES", err)
	}
	if err := tx.SetSockopt(stack.SOL_SOCKET, stack.SO_BROADCAST, true); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.SendTo([]byte("tipy broadcast"), netip.AddrPortFrom(bcast, 6001)); err != nil {
		t.Fatal(err)
	}
	if got, from := kernelRead(t, kb); string(got) != "tipy broadcast" || from.(*net.UDPAddr).AddrPort().Addr() != k.tipyAddr {
		t.Fatalf("kernel broadcast receive: %q from %s", got, from)
	}
	if _, err := tx.SendTo([]byte("tipy multicast"), netip.AddrPortFrom(group, 6002)); err != nil {
		t.Fatal(err)
	}
	if got, from := kernelRead(t, km); string(got) != "tipy multicast" || from.(*net.UDPAddr).AddrPort().Addr() != k.tipyAddr {
		t.Fatalf("kernel multicast receive: %q from %s", got, from)
	}
	f := sn.Wait(t, koWait, "tipy's multicast datagram", func(f netnstest.Frame) bool {
		h, _, ok := ipFrame(f)
		return ok && !f.Outgoing && h.Dst == group && h.Protocol == wire.ProtoUDP
	})
	if h, _, _ := ipFrame(f); h.TTL != 1 || wire.Ethernet(f.Data).Dst() != wire.MulticastMAC(group) {
		t.Errorf("tipy's multicast datagram: TTL %d, MAC %s", h.TTL, wire.Ethernet(f.Data).Dst())
	}
}

// --- Scenario 6: raw sockets -----------------------------------------------

// kernelRawIP opens a kernel raw IP socket of protocol proto in ns.
func kernelRawIP(t *testing.T, ns *netnstest.NS, proto string, laddr netip.Addr) *net.IPConn {
	t.Helper()
	var c *net.IPConn
	inNS(t, ns, func() (err error) {
		c, err = net.ListenIP("ip4:"+proto, &net.IPAddr{IP: laddr.AsSlice()})
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// kernelICMPWait reads ICMP messages (header stripped by Go) from c until
// one satisfies match, within koWait.
func kernelICMPWait(t *testing.T, c *net.IPConn, what string, match func(from netip.Addr, m wire.ICMPHeader) bool) wire.ICMPHeader {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(koWait)
	for {
		c.SetReadDeadline(deadline)
		n, from, err := c.ReadFromIP(buf)
		if err != nil {
			t.Fatalf("kernel waiting for %s: %v", what, err)
		}
		m, err := wire.ParseICMP(buf[:n])
		if err != nil {
			continue
		}
		a, _ := netip.AddrFromSlice(from.IP)
		if match(a.Unmap(), m) {
			return m
		}
	}
}

func TestKernelRawSockets(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 20, koNoProbe)

	// A raw ICMP socket of tipy sees the kernel's echo requests, header
	// included; the stack still answers them.
	raw := k.tipy.sock(t, stack.SOCK_RAW, 1)
	if got, out := kernelPing(t, k.ns, k.tipyAddr, 2); got != 2 {
		t.Fatalf("kernel ping with a raw socket open: %d of 2\n%s", got, out)
	}
	requests := 0
	raw.SetTimeout(0)
	for {
		b, from, err := raw.RecvFrom(65535)
		if err != nil {
			break
		}
		h, err := wire.ParseIPv4(b)
		if err != nil {
			t.Fatalf("raw socket data does not start with an IPv4 header: %v", err)
		}
		m, err := wire.ParseICMP(wire.IPv4(b).Payload())
		if err != nil {
			t.Fatal(err)
		}
		if h.Src == k.kernel && from.Addr() == k.kernel && m.Type == wire.ICMPEchoRequest {
			requests++
		}
	}
	if requests != 2 {
		t.Errorf("the raw ICMP socket saw %d echo requests, want 2", requests)
	}

	// A datagram of a protocol nobody handles draws protocol unreachable.
	kicmp := kernelRawIP(t, k.ns, "icmp", k.kernel)
	k253 := kernelRawIP(t, k.ns, "253", k.kernel)
	if _, err := k253.WriteToIP([]byte("protocol 253?"), &net.IPAddr{IP: k.tipyAddr.AsSlice()}); err != nil {
		t.Fatal(err)
	}
	m := kernelICMPWait(t, kicmp, "protocol unreachable", func(from netip.Addr, m wire.ICMPHeader) bool {
		return from == k.tipyAddr && m.Type == wire.ICMPDestinationUnreachable
	})
	if m.Code != wire.ICMPProtocolUnreachable {
		t.Errorf("destination unreachable code %d, want protocol unreachable (2)", m.Code)
	}
	if q := m.Quoted(); !q.HasAddrs || q.Protocol != 253 || q.Src != k.kernel {
		t.Errorf("the error quotes %+v, want our protocol-253 datagram", q)
	}
	if !k.tipy.ev.has(observe.LayerIPv4, observe.KindDrop, "ip-unknown-protocol") {
		t.Error("no ip-unknown-protocol drop event")
	}

	// tipy sends a protocol-253 datagram; the kernel's raw socket gets it.
	r253 := k.tipy.sock(t, stack.SOCK_RAW, 253)
	if _, err := r253.SendTo([]byte("from tipy, protocol 253"), netip.AddrPortFrom(k.kernel, 0)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	k253.SetReadDeadline(time.Now().Add(koWait))
	n, from, err := k253.ReadFromIP(buf)
	if err != nil || string(buf[:n]) != "from tipy, protocol 253" || !from.IP.Equal(k.tipyAddr.AsSlice()) {
		t.Fatalf("kernel raw 253 read: %q from %v, %v", buf[:n], from, err)
	}
}

// --- Scenario 7: reassembly timeout ----------------------------------------

func TestKernelLoneFragmentTimeExceeded(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	k := newKernelNet(t, 21, func(c *stack.Config) {
		c.ARP.NoProbe = true
		c.IPv4.ReassemblyTimeout = timeout
	})
	kicmp := kernelRawIP(t, k.ns, "icmp", k.kernel)
	// The kernel side sends the fragment through an IPPROTO_RAW socket
	// (IP_HDRINCL implied): the kernel routes it and resolves tipy's MAC.
	var sent time.Time
	inNS(t, k.ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		sent = time.Now()
		return unix.Sendto(fd, firstFragment(k.kernel, k.tipyAddr, 0x4242), 0, &unix.SockaddrInet4{Addr: k.tipyAddr.As4()})
	})
	m := kernelICMPWait(t, kicmp, "time exceeded", func(from netip.Addr, m wire.ICMPHeader) bool {
		return from == k.tipyAddr && m.Type == wire.ICMPTimeExceeded
	})
	waited := time.Since(sent)
	if m.Code != wire.ICMPReassemblyExceeded {
		t.Errorf("time exceeded code %d, want 1 (reassembly)", m.Code)
	}
	if waited < timeout-100*time.Millisecond {
		t.Errorf("time exceeded after %v, before the %v timeout", waited, timeout)
	}
	if q := m.Quoted(); !q.HasAddrs || q.ID != 0x4242 || q.Src != k.kernel || !q.HasPorts || q.DstPort != 4001 {
		t.Errorf("the error quotes %+v, want the fragment", q)
	}
	var st stack.ReassemblyStats
	k.tipy.s.Call(func() { st = k.tipy.s.ReassemblyStats() })
	if st.TimedOut != 1 || st.InProgress != 0 {
		t.Errorf("reassembly: %d timed out, %d in progress", st.TimedOut, st.InProgress)
	}
	if !k.tipy.ev.has(observe.LayerIPv4, observe.KindDrop, "ip-frag-timeout") {
		t.Error("no ip-frag-timeout drop event")
	}
}

// --- Scenario 8: routing ---------------------------------------------------

func TestKernelRouterForwardsTipy(t *testing.T) {
	t.Parallel()
	// tipy 10.199.22.2 --TAP-- router ns (10.199.22.1 | 10.200.22.1) --veth-- host ns 10.200.22.2
	k := newKernelNet(t, 22, func(c *stack.Config) {
		c.ARP.NoProbe = true
		c.Gateway = netip.MustParseAddr("10.199.22.1")
	})
	far := netnstest.New(t)
	koQuiet(t, far)
	k.ns.Link(t, far, "r0", "h0")
	k.ns.Addr(t, "r0", "10.200.22.1/24")
	far.Addr(t, "h0", "10.200.22.2/24")
	far.Run(t, "ip", "route", "add", "default", "via", "10.200.22.1")
	k.ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	host := netip.MustParseAddr("10.200.22.2")

	res, err := k.tipy.s.Ping(context.Background(), host, stack.PingOptions{Count: 3, Interval: 100 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 3 {
		t.Fatalf("tipy ping through the kernel router: %d of 3 (%+v)", res.Received, res)
	}
	for _, r := range res.Replies {
		if r.TTL != 63 { // one router on the way back
			t.Errorf("reply TTL %d, want 63", r.TTL)
		}
	}
	kc := kernelUDP(t, far, "10.200.22.2:7")
	kernelEcho(kc)
	so := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	if _, err := so.SendTo([]byte("across the router"), netip.AddrPortFrom(host, 7)); err != nil {
		t.Fatal(err)
	}
	if b, from, err := so.RecvFrom(100); err != nil || string(b) != "across the router" || from.Addr() != host {
		t.Fatalf("UDP echo through the router: %q from %s, %v", b, from, err)
	}
	if len(k.tipy.ev.match(func(e observe.Event) bool {
		return e.Layer == observe.LayerIPv4 && e.Kind == observe.KindRoute && e.Fields["next_hop"] == "10.199.22.1" && e.Fields["dst"] == host.String()
	})) == 0 {
		t.Error("no route event sending to the gateway")
	}
	// Only the gateway's MAC was resolved, never the far host's.
	if n := len(filterARP(k.tipy.ev.sentARP(), arpIsRequestFor(host.String()))); n != 0 {
		t.Errorf("tipy sent %d ARP requests for the off-link host", n)
	}
}

func TestKernelThroughTipyRouter(t *testing.T) {
	t.Parallel()
	// ns a (10.201.23.1) --TAP ta-- tipy (10.201.23.2 | 10.202.23.2) --TAP tb-- ns b (10.202.23.1)
	a, b := netnstest.New(t), netnstest.New(t)
	koQuiet(t, a)
	koQuiet(t, b)
	loop := koLoop(t)
	macA := wire.MAC{0x02, 0x71, 0x70, 0x79, 23, 0x0a}
	macB := wire.MAC{0x02, 0x71, 0x70, 0x79, 23, 0x0b}
	devA := a.OpenTAP(t, "ta", loop, tap.TAPConfig{MAC: macA, Up: true})
	devB := b.OpenTAP(t, "tb", loop, tap.TAPConfig{MAC: macB, Up: true})
	a.Addr(t, "ta", "10.201.23.1/24")
	b.Addr(t, "tb", "10.202.23.1/24")
	a.Run(t, "ip", "route", "add", "10.202.23.0/24", "via", "10.201.23.2")
	b.Run(t, "ip", "route", "add", "10.201.23.0/24", "via", "10.202.23.2")

	r := koStack(t, loop, stack.Config{Name: "router", MAC: macA, Addr: netip.MustParsePrefix("10.201.23.2/24"), Seed: 23, ARP: stack.ARPConfig{NoProbe: true}}, devA)
	var err error
	loop.Call(func() {
		_, err = r.s.AddInterface(stack.IfaceConfig{Name: "eth1", MAC: macB, Addr: netip.MustParsePrefix("10.202.23.2/24")}, devB)
		r.s.SetForwarding(true)
	})
	if err != nil {
		t.Fatal(err)
	}

	if got, out := kernelPing(t, a, netip.MustParseAddr("10.202.23.1"), 3); got != 3 {
		t.Fatalf("a pings b through tipy: %d of 3\n%s", got, out)
	}
	if got, out := kernelPing(t, b, netip.MustParseAddr("10.201.23.1"), 3); got != 3 {
		t.Fatalf("b pings a through tipy: %d of 3\n%s", got, out)
	}
	out, _ := a.Output("ping", "-n", "-c", "1", "-t", "1", "-W", "2", "10.202.23.1")
	if !regexp.MustCompile(`From 10\.201\.23\.2 .*Time to live exceeded`).MatchString(out) {
		t.Fatalf("ping -t 1 through tipy did not get time exceeded from tipy:\n%s", out)
	}
	if !r.ev.has(observe.LayerIPv4, observe.KindDrop, "ip-ttl-exceeded") {
		t.Error("no ip-ttl-exceeded drop event on the router")
	}
	var drops map[string]uint64
	loop.Call(func() { drops = r.s.Stats().DropCounts() })
	if drops["ip-ttl-exceeded"] != 1 {
		t.Errorf("router ttl-exceeded drops %d, want 1 (%v)", drops["ip-ttl-exceeded"], drops)
	}
}
