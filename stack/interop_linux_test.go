//go:build linux

package stack_test

// Kernel-interop tests for issue 3: the Linux kernel is tipy's peer over a
// TAP device inside a network namespace each test creates (tap/netnstest).
// tipy runs on a wall-clock loop; the kernel's side is the namespace's TAP
// interface, driven by Go sockets opened inside the namespace (ns.Do) and by
// ping, arping and ip. Nothing is sent outside the namespaces. The tests
// skip without root unless TIPY_REQUIRE_NETNS=1.
//
// This file holds the harness and the ARP, ICMP echo and UDP scenarios;
// interop_more_linux_test.go holds broadcast, multicast, raw sockets,
// reassembly and routing.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
	"github.com/tipy/tipy/tap/netnstest"
)

// koTAP is the name of the TAP interface inside every test namespace (names
// are per namespace, so every test may use the same one).
const koTAP = "ktap"

// koWait bounds every polled wait of these tests.
const koWait = 10 * time.Second

// koSink keeps every event of a stack on a wall loop. The loop publishes,
// the test goroutine reads: a mutex guards the list.
type koSink struct {
	mu   sync.Mutex
	list []observe.Event
}

func (k *koSink) Active() bool { return true }
func (k *koSink) Publish(e observe.Event) {
	k.mu.Lock()
	k.list = append(k.list, e)
	k.mu.Unlock()
}

// match returns the kept events that f accepts.
func (k *koSink) match(f func(observe.Event) bool) []observe.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []observe.Event
	for _, e := range k.list {
		if f(e) {
			out = append(out, e)
		}
	}
	return out
}

// has reports whether an event of host matches layer, kind and (if not
// empty) reason.
func (k *koSink) has(layer observe.Layer, kind observe.Kind, reason string) bool {
	return len(k.match(func(e observe.Event) bool {
		return e.Layer == layer && e.Kind == kind && (reason == "" || e.Reason == reason)
	})) > 0
}

// sentARP returns the ARP packets the stack sent, with the time of each,
// from its link tx events.
func (k *koSink) sentARP() []sentARP {
	var out []sentARP
	for _, e := range k.match(func(e observe.Event) bool {
		return e.Layer == observe.LayerLink && e.Kind == observe.KindTX && e.Frame != nil
	}) {
		eth := wire.Ethernet(e.Frame)
		if eth.Validate() != nil || eth.Type() != wire.EtherTypeARP {
			continue
		}
		if h, err := wire.ParseARP(eth.Payload()); err == nil {
			out = append(out, sentARP{at: clock.Time(e.TimeNS), dst: eth.Dst(), h: h})
		}
	}
	return out
}

// dump returns the kept events as lines, for failure messages.
func (k *koSink) dump() string {
	var b bytes.Buffer
	for _, e := range k.match(func(observe.Event) bool { return true }) {
		fmt.Fprintf(&b, "%s %-6s %-6s %-6s %s %s\n", clock.Time(e.TimeNS), e.Host, e.Layer, e.Kind, e.Summary, e.Reason)
	}
	return b.String()
}

// koHost is one tipy stack on a TAP device inside a namespace.
type koHost struct {
	s   *stack.Stack
	dev *tap.TAP
	ev  *koSink
	mac wire.MAC
}

// kernelNet is a namespace whose TAP interface koTAP holds the kernel's
// address 10.199.N.1/24, with tipy behind the TAP at 10.199.N.2/24.
type kernelNet struct {
	t         *testing.T
	ns        *netnstest.NS
	loop      *clock.Wall
	n         int
	kernel    netip.Addr // 10.199.N.1
	tipyAddr  netip.Addr // 10.199.N.2
	kernelMAC wire.MAC
	tipy      *koHost
}

// koQuiet turns off IPv6 in ns, so that the kernel's router solicitations
// and MLD reports do not crowd the TAP; IPv4 is all these tests speak.
func koQuiet(t *testing.T, ns *netnstest.NS) {
	t.Helper()
	ns.Run(t, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
}

// koLoop starts a wall-clock loop that stops at cleanup.
func koLoop(t *testing.T) *clock.Wall {
	loop := clock.NewWall()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); loop.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return loop
}

// koNoProbe is the stack configuration of tests that are not about RFC
// 5227: the address is usable at once.
func koNoProbe(c *stack.Config) { c.ARP.NoProbe = true }

// newKernelNet builds the namespace, the TAP and the kernel's address
// 10.199.N.1/24, and starts tipy on the TAP at 10.199.N.2/24, its
// configuration changed by mod.
func newKernelNet(t *testing.T, n int, mod func(*stack.Config)) *kernelNet {
	t.Helper()
	k := newKernelNetNoStack(t, n)
	mac := wire.MAC{0x02, 0x71, 0x70, 0x79, byte(n), 0x02}
	dev := k.openTAP(t, koTAP, mac)
	k.kernelAddr(t, k.kernel, 24)
	k.tipy = k.startTipy(t, dev, k.tipyAddr, mod)
	return k
}

// newKernelNetNoStack builds the namespace and opens the TAP, without the
// kernel's address and without a stack: the caller configures both.
func newKernelNetNoStack(t *testing.T, n int) *kernelNet {
	t.Helper()
	ns := netnstest.New(t)
	koQuiet(t, ns)
	k := &kernelNet{
		t: t, ns: ns, loop: koLoop(t), n: n,
		kernel:   netip.AddrFrom4([4]byte{10, 199, byte(n), 1}),
		tipyAddr: netip.AddrFrom4([4]byte{10, 199, byte(n), 2}),
	}
	return k
}

// kernelAddr gives the kernel's side of the TAP address a/bits.
func (k *kernelNet) kernelAddr(t *testing.T, a netip.Addr, bits int) {
	t.Helper()
	k.ns.Addr(t, koTAP, netip.PrefixFrom(a, bits).String())
}

// openTAP opens the TAP koTAP in the namespace (once) for a stack with mac.
func (k *kernelNet) openTAP(t *testing.T, name string, mac wire.MAC) *tap.TAP {
	t.Helper()
	dev := k.ns.OpenTAP(t, name, k.loop, tap.TAPConfig{MAC: mac, MTU: 1500, Up: true})
	if k.kernelMAC == (wire.MAC{}) && name == koTAP {
		k.kernelMAC = koIfaceMAC(t, k.ns, name)
	}
	return dev
}

// koIfaceMAC returns the MAC of interface dev in ns.
func koIfaceMAC(t *testing.T, ns *netnstest.NS, dev string) wire.MAC {
	t.Helper()
	var mac wire.MAC
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		copy(mac[:], ifi.HardwareAddr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// startTipy builds a stack on dev with address addr/24.
func (k *kernelNet) startTipy(t *testing.T, dev *tap.TAP, addr netip.Addr, mod func(*stack.Config)) *koHost {
	t.Helper()
	cfg := stack.Config{Name: "tipy", MAC: dev.MAC(), Addr: netip.PrefixFrom(addr, 24), Seed: uint64(k.n)}
	if mod != nil {
		mod(&cfg)
	}
	return koStack(t, k.loop, cfg, dev)
}

// koStack builds a stack on dev; it is built on the loop, since the TAP
// delivers frames as soon as the stack sets its handler.
func koStack(t *testing.T, loop clock.Loop, cfg stack.Config, dev tap.Link) *koHost {
	t.Helper()
	h := &koHost{ev: &koSink{}, dev: nil, mac: cfg.MAC}
	if d, ok := dev.(*tap.TAP); ok {
		h.dev = d
	}
	var err error
	loop.Call(func() { h.s, err = stack.New(cfg, dev, loop, h.ev) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("events of %s:\n%s", cfg.Name, h.ev.dump())
		}
	})
	return h
}

// inNS runs f inside the namespace and fails the test on its error.
func inNS(t *testing.T, ns *netnstest.NS, f func() error) {
	t.Helper()
	if err := ns.Do(f); err != nil {
		t.Fatal(err)
	}
}

// kernelUDP opens a kernel UDP socket bound to addr inside ns, closed at
// cleanup.
func kernelUDP(t *testing.T, ns *netnstest.NS, addr string) *net.UDPConn {
	t.Helper()
	var c net.PacketConn
	inNS(t, ns, func() (err error) {
		c, err = net.ListenPacket("udp4", addr)
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// kernelEcho serves UDP echo on c until c is closed.
func kernelEcho(c *net.UDPConn) {
	buf := make([]byte, 65536)
	go func() {
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
}

// kernelRead reads one datagram from c within koWait.
func kernelRead(t *testing.T, c net.PacketConn) ([]byte, net.Addr) {
	t.Helper()
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(koWait))
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("kernel read on %s: %v", c.LocalAddr(), err)
	}
	return buf[:n], from
}

// tipySock makes a socket on h with a timeout (wall time).
func (h *koHost) sock(t *testing.T, typ stack.SockType, proto int) *stack.Socket {
	t.Helper()
	so, err := h.s.Socket(stack.AF_INET, typ, proto)
	if err != nil {
		t.Fatal(err)
	}
	if err := so.SetTimeout(koWait); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { so.Close() })
	return so
}

var pingReceived = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// kernelPing runs ping in ns and returns how many of count requests were
// answered, and the output.
func kernelPing(t *testing.T, ns *netnstest.NS, dst netip.Addr, count int, args ...string) (int, string) {
	t.Helper()
	cmd := append([]string{"ping", "-n", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "2"}, args...)
	cmd = append(cmd, dst.String())
	out, _ := ns.Output(cmd...) // a lost reply makes ping exit 1: the count says it
	m := pingReceived.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ping output not understood:\n%s", out)
	}
	got, _ := strconv.Atoi(m[2])
	return got, out
}

// arpFrame parses an ARP frame a sniffer saw, or reports false.
func arpFrame(f netnstest.Frame) (wire.ARPHeader, bool) {
	eth := wire.Ethernet(f.Data)
	if eth.Validate() != nil || eth.Type() != wire.EtherTypeARP {
		return wire.ARPHeader{}, false
	}
	h, err := wire.ParseARP(eth.Payload())
	return h, err == nil
}

// ipFrame parses the IPv4 datagram of a frame a sniffer saw.
func ipFrame(f netnstest.Frame) (wire.IPv4Header, wire.IPv4, bool) {
	eth := wire.Ethernet(f.Data)
	if eth.Validate() != nil || eth.Type() != wire.EtherTypeIPv4 {
		return wire.IPv4Header{}, nil, false
	}
	ip := wire.IPv4(eth.Payload())
	if ip.Validate() != nil {
		return wire.IPv4Header{}, nil, false
	}
	ip = ip[:ip.HeaderLen()+len(ip.Payload())]
	h, err := wire.ParseIPv4(ip)
	return h, ip, err == nil
}

// countFrames counts the frames of s that match. The sniffer reads its
// socket on its own goroutine, a little behind the traffic: the count is
// polled until it reaches atLeast, for up to two seconds, and returned
// either way for the caller to judge.
func countFrames(s *netnstest.Sniffer, atLeast int, match func(netnstest.Frame) bool) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := 0
		for _, f := range s.Frames() {
			if match(f) {
				n++
			}
		}
		if n >= atLeast || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// --- Scenario 1: ICMP echo both ways, plain and fragmented -------------------

func TestKernelPingsTipy(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 11, koNoProbe)
	sn := k.ns.Sniff(t, koTAP)

	if got, out := kernelPing(t, k.ns, k.tipyAddr, 5); got != 5 {
		t.Fatalf("kernel ping: %d of 5 replies\n%s", got, out)
	}
	if got, out := kernelPing(t, k.ns, k.tipyAddr, 5, "-s", "4000"); got != 5 {
		t.Fatalf("kernel ping -s 4000: %d of 5 replies\n%s", got, out)
	}
	// Fragmented both ways: the kernel's requests were reassembled by tipy,
	// and tipy's replies reached the kernel as fragments.
	var st stack.ReassemblyStats
	k.tipy.s.Call(func() { st = k.tipy.s.ReassemblyStats() })
	if st.Completed < 5 {
		t.Errorf("tipy reassembled %d datagrams, want at least the 5 large requests", st.Completed)
	}
	tipyFrags := countFrames(sn, 15, func(f netnstest.Frame) bool {
		h, _, ok := ipFrame(f)
		return ok && !f.Outgoing && h.Src == k.tipyAddr && h.Protocol == wire.ProtoICMP && h.IsFragment()
	})
	if tipyFrags < 5*3 { // 4008 ICMP bytes in 1480-byte pieces: 3 fragments per reply
		t.Errorf("the kernel saw %d fragments from tipy, want at least 15", tipyFrags)
	}

	res, err := k.tipy.s.Ping(context.Background(), k.kernel, stack.PingOptions{Count: 5, Size: 4000, Interval: 100 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 5 || res.Received != 5 || len(res.Lost) != 0 || len(res.Errors) != 0 {
		t.Fatalf("tipy ping 4000 bytes: sent %d received %d lost %v errors %v", res.Sent, res.Received, res.Lost, res.Errors)
	}
	for _, r := range res.Replies {
		if r.Corrupt || r.From != k.kernel || r.Bytes != 4008 || r.RTT <= 0 {
			t.Errorf("reply %+v", r)
		}
	}
}

// --- Scenario 2: ARP -------------------------------------------------------

func TestKernelArpingIsAnswered(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 12, koNoProbe)
	out, err := k.ns.Output("arping", "-c", "3", "-w", "5", "-I", koTAP, k.tipyAddr.String())
	if err != nil {
		t.Fatalf("arping: %v", err)
	}
	if !regexp.MustCompile(`Received 3 response`).MatchString(out) {
		t.Fatalf("arping did not get 3 replies:\n%s", out)
	}
	if !regexp.MustCompile(`(?i)` + regexp.QuoteMeta(k.tipy.mac.String())).MatchString(out) {
		t.Errorf("the replies do not name tipy's MAC %s:\n%s", k.tipy.mac, out)
	}
}

func TestKernelQueuedDatagramsAfterOneResolution(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 13, koNoProbe)
	sn := k.ns.Sniff(t, koTAP)
	kc := kernelUDP(t, k.ns, netip.AddrPortFrom(k.kernel, 5000).String())
	so := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	dst := netip.AddrPortFrom(k.kernel, 5000)

	// All five leave in one piece of loop work, so they all wait for the
	// one resolution that the first starts.
	var errs []error
	k.tipy.s.Call(func() {
		now := k.loop.Now()
		for i := 1; i <= 5; i++ {
			if _, err := so.SendToNow(now, []byte(fmt.Sprintf("datagram %d", i)), dst); err != nil {
				errs = append(errs, err)
			}
		}
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for i := 1; i <= 5; i++ {
		b, _ := kernelRead(t, kc)
		if want := fmt.Sprintf("datagram %d", i); string(b) != want {
			t.Fatalf("datagram %d: kernel read %q", i, b)
		}
	}
	reqs := countFrames(sn, 1, func(f netnstest.Frame) bool {
		h, ok := arpFrame(f)
		return ok && !f.Outgoing && h.Op == wire.ARPRequest && h.SPA == k.tipyAddr && h.TPA == k.kernel
	})
	if reqs != 1 {
		t.Errorf("the kernel saw %d ARP requests from tipy, want 1", reqs)
	}
	if n := len(filterARP(k.tipy.ev.sentARP(), arpIsRequestFor(k.kernel.String()))); n != 1 {
		t.Errorf("tipy's events show %d ARP requests for the kernel, want 1", n)
	}
	var entry stack.ARPEntry
	k.tipy.s.Call(func() { entry, _ = arpEntryOf(k.tipy.s, k.kernel.String()) })
	if entry.MAC != k.kernelMAC || entry.State != stack.ARPReachable {
		t.Errorf("tipy's entry for the kernel: %+v, want reachable at %s", entry, k.kernelMAC)
	}
}

func TestKernelAbsentNeighbourHostUnreachable(t *testing.T) {
	t.Parallel()
	const retries, interval = 3, 200 * time.Millisecond
	k := newKernelNet(t, 14, func(c *stack.Config) {
		c.ARP.NoProbe = true
		c.ARP.Retries = retries
		c.ARP.RetryInterval = interval
	})
	sn := k.ns.Sniff(t, koTAP)
	absent := netip.AddrFrom4([4]byte{10, 199, 14, 77})
	so := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	if err := so.Connect(netip.AddrPortFrom(absent, 5000)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := so.Send([]byte("to nobody")); err != nil {
		t.Fatalf("send before resolution failed at once: %v", err)
	}
	_, err := so.Recv(100)
	took := time.Since(start)
	if !errors.Is(err, stack.EHOSTUNREACH) || !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("recv after failed resolution: %v, want EHOSTUNREACH", err)
	}
	if took < retries*interval-50*time.Millisecond {
		t.Errorf("EHOSTUNREACH after %v, before %d requests %v apart could be sent", took, retries, interval)
	}
	onWire := countFrames(sn, retries, func(f netnstest.Frame) bool {
		h, ok := arpFrame(f)
		return ok && !f.Outgoing && h.Op == wire.ARPRequest && h.TPA == absent
	})
	if onWire != retries {
		t.Errorf("the kernel saw %d ARP requests for %s, want %d", onWire, absent, retries)
	}
	reqs := filterARP(k.tipy.ev.sentARP(), arpIsRequestFor(absent.String()))
	if len(reqs) != retries {
		t.Fatalf("tipy sent %d requests, want %d", len(reqs), retries)
	}
	// Wall-clock spacing: the loop may be late by scheduling, never early.
	for i := 1; i < len(reqs); i++ {
		gap := reqs[i].at.Sub(reqs[i-1].at)
		if gap < interval-5*time.Millisecond || gap > interval+150*time.Millisecond {
			t.Errorf("requests %d and %d are %v apart, want %v", i, i+1, gap, interval)
		}
	}
	if !k.tipy.ev.has(observe.LayerARP, observe.KindDrop, "arp-unresolved") {
		t.Error("no arp-unresolved drop event")
	}
}

// --- Scenario 3: RFC 5227 probe and gratuitous ARP -------------------------

func TestKernelProbeDetectsConflict(t *testing.T) {
	t.Parallel()
	k := newKernelNetNoStack(t, 15)
	mac := wire.MAC{0x02, 0x71, 0x70, 0x79, 15, 0x02}
	dev := k.openTAP(t, koTAP, mac)
	// The kernel already holds the address tipy is configured with.
	k.kernelAddr(t, k.tipyAddr, 24)
	sn := k.ns.Sniff(t, koTAP)
	h := koStack(t, k.loop, stack.Config{
		Name: "tipy", MAC: mac, Addr: netip.PrefixFrom(k.tipyAddr, 24), Seed: 15,
		ARP: stack.ARPConfig{ProbeWait: 20 * time.Millisecond, ProbeMin: 50 * time.Millisecond, ProbeMax: 100 * time.Millisecond,
			AnnounceWait: 300 * time.Millisecond, AnnounceInterval: 100 * time.Millisecond},
	}, dev)
	var state stack.AddrState
	netnstest.Eventually(t, koWait, "tipy to see the conflict", func() bool {
		h.s.Call(func() { state = h.s.Iface().AddressState() })
		return state != stack.AddrTentative
	})
	if state != stack.AddrConflict {
		t.Fatalf("address state %s, want conflict", state)
	}
	probes := countFrames(sn, 1, func(f netnstest.Frame) bool {
		a, ok := arpFrame(f)
		return ok && !f.Outgoing && a.Op == wire.ARPRequest && a.SPA.IsUnspecified() && a.TPA == k.tipyAddr && a.SHA == mac
	})
	replies := countFrames(sn, 1, func(f netnstest.Frame) bool {
		a, ok := arpFrame(f)
		return ok && f.Outgoing && a.Op == wire.ARPReply && a.SPA == k.tipyAddr
	})
	if probes < 1 || replies < 1 {
		t.Fatalf("on the wire: %d probes from tipy, %d replies from the kernel", probes, replies)
	}
	if !h.ev.has(observe.LayerARP, observe.KindError, "") {
		t.Error("no conflict event")
	}
	// tipy does not use the address: no announcement, no datagram from it.
	so := h.sock(t, stack.SOCK_DGRAM, 0)
	_, err := so.SendTo([]byte("x"), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 199, 15, 9}), 9))
	if !errors.Is(err, stack.EADDRNOTAVAIL) {
		t.Errorf("send from the conflicting address: %v, want EADDRNOTAVAIL", err)
	}
	announced := countFrames(sn, 0, func(f netnstest.Frame) bool {
		a, ok := arpFrame(f)
		return ok && !f.Outgoing && a.SHA == mac && a.SPA == k.tipyAddr
	})
	if announced != 0 {
		t.Errorf("tipy sent %d ARP packets claiming the address", announced)
	}
}

func TestKernelGratuitousARPUpdatesNeighbour(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 16, koNoProbe)
	k.ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_accept=1", "net.ipv4.conf."+koTAP+".arp_accept=1")
	tipy := k.tipyAddr.String()
	neighMAC := func() string {
		m := regexp.MustCompile(`lladdr (\S+)`).FindStringSubmatch(k.ns.Neigh(t, koTAP, tipy))
		if m == nil {
			return ""
		}
		return m[1]
	}
	// With arp_accept=1, a gratuitous ARP creates the entry...
	if got := neighMAC(); got != "" {
		t.Fatalf("the kernel knows tipy before any ARP: %s", got)
	}
	if err := k.tipy.s.AnnounceARP(); err != nil {
		t.Fatal(err)
	}
	netnstest.Eventually(t, koWait, "the kernel to learn tipy's MAC from the announcement", func() bool {
		return neighMAC() == k.tipy.mac.String()
	})
	// ... and updates an entry that holds an old MAC (a non-permanent one:
	// Linux never lets ARP change a permanent entry).
	old := "02:00:00:00:99:99"
	k.ns.Run(t, "ip", "neigh", "replace", tipy, "lladdr", old, "dev", koTAP, "nud", "stale")
	if got := neighMAC(); got != old {
		t.Fatalf("neighbour entry after replace: %q", got)
	}
	if err := k.tipy.s.AnnounceARP(); err != nil {
		t.Fatal(err)
	}
	netnstest.Eventually(t, koWait, "the kernel to replace the old MAC", func() bool {
		return neighMAC() == k.tipy.mac.String()
	})
}

// --- Scenario 4: UDP -------------------------------------------------------

func TestKernelUDPEchoBothWays(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 17, koNoProbe)
	big := pattern(8000, 17)

	// tipy is the client, the kernel echoes.
	kc := kernelUDP(t, k.ns, netip.AddrPortFrom(k.kernel, 7).String())
	kernelEcho(kc)
	so := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	for _, msg := range [][]byte{[]byte("hello kernel"), big} {
		if _, err := so.SendTo(msg, netip.AddrPortFrom(k.kernel, 7)); err != nil {
			t.Fatal(err)
		}
		got, from, err := so.RecvFrom(65535)
		if err != nil {
			t.Fatalf("echo of %d bytes: %v", len(msg), err)
		}
		if !bytes.Equal(got, msg) || from != netip.AddrPortFrom(k.kernel, 7) {
			t.Fatalf("echo of %d bytes: got %d bytes from %s", len(msg), len(got), from)
		}
	}

	// The kernel is the client, tipy echoes through the socket API.
	srv := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	if err := srv.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), 7)); err != nil {
		t.Fatal(err)
	}
	srv.SetTimeout(-1)
	go func() {
		for {
			b, from, err := srv.RecvFrom(65535)
			if err != nil {
				return
			}
			srv.SendTo(b, from)
		}
	}()
	var cc net.Conn
	inNS(t, k.ns, func() (err error) {
		cc, err = net.Dial("udp4", netip.AddrPortFrom(k.tipyAddr, 7).String())
		return err
	})
	defer cc.Close()
	buf := make([]byte, 65536)
	for _, msg := range [][]byte{[]byte("hello tipy"), big} {
		if _, err := cc.Write(msg); err != nil {
			t.Fatal(err)
		}
		cc.SetReadDeadline(time.Now().Add(koWait))
		n, err := cc.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("kernel echo of %d bytes through tipy: %d bytes, %v", len(msg), n, err)
		}
	}
	var st stack.ReassemblyStats
	k.tipy.s.Call(func() { st = k.tipy.s.ReassemblyStats() })
	if st.Completed != 2 { // the kernel's echo of big, and its own big request
		t.Errorf("tipy reassembled %d datagrams, want 2", st.Completed)
	}
}

func TestKernelUDPPortUnreachable(t *testing.T) {
	t.Parallel()
	k := newKernelNet(t, 18, koNoProbe)

	// A connected kernel socket sending to a closed tipy port reads
	// ECONNREFUSED.
	var cc net.Conn
	inNS(t, k.ns, func() (err error) {
		cc, err = net.Dial("udp4", netip.AddrPortFrom(k.tipyAddr, 9).String())
		return err
	})
	defer cc.Close()
	if _, err := cc.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	cc.SetReadDeadline(time.Now().Add(koWait))
	if _, err := cc.Read(make([]byte, 100)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("kernel read after sending to a closed tipy port: %v, want ECONNREFUSED", err)
	}
	if !k.tipy.ev.has(observe.LayerUDP, observe.KindDrop, "udp-no-socket") {
		t.Error("tipy has no udp-no-socket drop event")
	}
	if len(k.tipy.ev.match(func(e observe.Event) bool {
		return e.Layer == observe.LayerICMP && e.Kind == observe.KindTX
	})) == 0 {
		t.Error("tipy has no ICMP tx event")
	}

	// A connected tipy socket sending to a closed kernel port gets
	// ECONNREFUSED.
	so := k.tipy.sock(t, stack.SOCK_DGRAM, 0)
	if err := so.Connect(netip.AddrPortFrom(k.kernel, 9)); err != nil {
		t.Fatal(err)
	}
	if _, err := so.Send([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	if _, err := so.Recv(100); !errors.Is(err, stack.ECONNREFUSED) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("tipy recv after sending to a closed kernel port: %v, want ECONNREFUSED", err)
	}
}
