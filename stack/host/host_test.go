package host_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/tap"
)

// pair builds and starts a virtual network of hosts a (10.0.0.1) and b
// (10.0.0.2) and waits until their addresses are usable.
func pair(t *testing.T, bus *observe.Bus) (*host.Network, *host.Host, *host.Host) {
	t.Helper()
	n := host.NewNetwork(host.NetworkConfig{Seed: 1, Bus: bus})
	a, err := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.2/24"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return n, a, b
}

// tcpEcho serves one TCP echo connection on h's port in the background.
func tcpEcho(t *testing.T, h *host.Host, port int) {
	t.Helper()
	ln, err := h.ListenTCP(fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
}

// roundTrip sends msg on c and reads as many bytes back.
func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

func TestNetworkTCPBothWays(t *testing.T) {
	_, a, b := pair(t, nil)
	for _, tc := range []struct {
		from, to *host.Host
		port     int
	}{{a, b, 7}, {b, a, 8}} {
		tcpEcho(t, tc.to, tc.port)
		c, err := tc.from.Dial("tcp", fmt.Sprintf("%s:%d", tc.to.Addr(), tc.port))
		if err != nil {
			t.Fatalf("%s dials %s: %v", tc.from.Name(), tc.to.Name(), err)
		}
		msg := strings.Repeat("from "+tc.from.Name()+" ", 5000) // several segments
		if got := roundTrip(t, c, msg); got != msg {
			t.Fatalf("%s → %s: echo differs (%d bytes back)", tc.from.Name(), tc.to.Name(), len(got))
		}
		if got, want := c.RemoteAddr().String(), fmt.Sprintf("%s:%d", tc.to.Addr(), tc.port); got != want {
			t.Errorf("RemoteAddr %s, want %s", got, want)
		}
		c.Close()
	}
}

func TestNetworkUDPBothWays(t *testing.T) {
	_, a, b := pair(t, nil)
	for _, tc := range []struct{ from, to *host.Host }{{a, b}, {b, a}} {
		pc, err := tc.to.ListenUDP(":9000")
		if err != nil {
			t.Fatal(err)
		}
		c, err := tc.from.Dial("udp", tc.to.Addr().String()+":9000")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("hi from " + tc.from.Name())); err != nil {
			t.Fatal(err)
		}
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != "hi from "+tc.from.Name() || from.String() != c.LocalAddr().String() {
			t.Fatalf("got %q from %s, want %q from %s", got, from, "hi from "+tc.from.Name(), c.LocalAddr())
		}
		if _, err := pc.WriteTo([]byte("back"), from); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err = c.Read(buf); err != nil || string(buf[:n]) != "back" {
			t.Fatalf("reply: %q, %v", buf[:n], err)
		}
		c.Close()
		pc.Close()
	}
}

func TestNetworkImpairment(t *testing.T) {
	n, a, b := pair(t, nil)
	ctx := context.Background()
	// A 40 ms delay on b's link, both ways: 80 ms of round trip (the first
	// echo also waits for ARP, another round trip through the link).
	if err := n.Impair("lan/b", tap.Impairment{Delay: 40 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Ping(ctx, b.Addr(), stack.PingOptions{Count: 2, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 2 || res.Replies[1].RTT < 80*time.Millisecond || res.Replies[1].RTT > 81*time.Millisecond ||
		res.Replies[0].RTT < 160*time.Millisecond {
		t.Fatalf("with 40 ms of delay each way: %+v", res.Replies)
	}
	// Everything lost: nothing gets through, and a datagram waits in vain.
	if err := n.Impair("lan/b", tap.Impairment{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	res, err = a.Ping(ctx, b.Addr(), stack.PingOptions{Count: 3, Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != 0 || len(res.Lost) != 3 {
		t.Fatalf("with 100%% loss: received %d, lost %v", res.Received, res.Lost)
	}
	var lost uint64
	n.Loop().Call(func() { lost = n.Port("lan/b").Stats().Drops[tap.DropLoss] }) // the switch's counters are loop state too
	if lost < 3 {
		t.Errorf("port lan/b counted %d losses, want at least 3", lost)
	}
	// Healed.
	if err := n.Impair("lan/b", tap.Impairment{}); err != nil {
		t.Fatal(err)
	}
	if res, err = a.Ping(ctx, b.Addr(), stack.PingOptions{Count: 1}); err != nil || res.Received != 1 {
		t.Fatalf("after healing: %+v, %v", res, err)
	}
	if err := n.Impair("lan/nobody", tap.Impairment{}); err == nil {
		t.Error("Impair of a link that does not exist: no error")
	}
}

func TestWaitReady(t *testing.T) {
	n := host.NewNetwork(host.NetworkConfig{Seed: 3})
	a, _ := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	b, _ := n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.2/24"})
	defer n.Close()
	ctx := context.Background()
	if err := n.WaitReady(ctx); err == nil {
		t.Fatal("WaitReady before Start: no error")
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	// The probes take seconds of the network's clock, which keeps pace with
	// real time: right after Start the address is not usable yet.
	c, err := a.Dial("udp", b.Addr().String()+":9")
	if err == nil {
		_, err = c.Write([]byte("x"))
		c.Close()
	}
	if !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("sending while the address is tentative: %v, want EADDRNOTAVAIL", err)
	}
	start := time.Now()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("WaitReady took %v of real time; the probes should run as fast as possible", el)
	}
	if now := n.Loop().Now(); now < clock.Time(4*time.Second) {
		t.Errorf("ready at %v of virtual time; RFC 5227 probing takes longer", now)
	}
	if sp := n.Loop().Speed(); sp != 1 {
		t.Errorf("speed after WaitReady %v, want 1 again", sp)
	}
	for _, h := range n.Hosts() {
		h.Call(func() {
			if st := h.Iface().AddressState(); st != stack.AddrPreferred {
				t.Errorf("%s: address %s", h.Name(), st)
			}
		})
	}
	if err := n.WaitReady(ctx); err != nil { // ready already: at once
		t.Fatal(err)
	}
	// A host's own WaitReady, on the same clock.
	if err := a.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if err := n.WaitReady(ctx); !errors.Is(err, host.ErrClosed) {
		t.Errorf("WaitReady after Close: %v", err)
	}
}

func TestWaitReadyGivesUp(t *testing.T) {
	n := host.NewNetwork(host.NetworkConfig{Seed: 3, Speed: 0.001}) // the probes would take hours
	n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	a := n.Host("a")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Host.WaitReady at a crawl: %v", err)
	}
	done := make(chan error)
	go func() { done <- a.WaitReady(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	n.Close()
	select {
	case err := <-done:
		if !errors.Is(err, host.ErrClosed) {
			t.Fatalf("WaitReady when the network closes: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitReady still waits after Close")
	}
}

func TestAddressConflict(t *testing.T) {
	n := host.NewNetwork(host.NetworkConfig{Seed: 1})
	n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.1/24"})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	err := n.WaitReady(context.Background())
	if err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("two hosts with one address: WaitReady says %v", err)
	}
}

// TestCloseStopsEverything checks that closing a network returns every call
// waiting on its sockets and leaves no goroutine behind.
func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	n := host.NewNetwork(host.NetworkConfig{Seed: 1})
	a, _ := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24", Services: []string{"echo", "http"}})
	b, _ := n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.2/24"})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := b.ListenTCP(":80")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := b.ListenUDP(":53")
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Dial("tcp", "10.0.0.1:7") // a's echo service
	if err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, c, "echo me"); got != "echo me" {
		t.Fatalf("echo service: %q", got)
	}
	raw, err := a.Socket(stack.AF_INET, stack.SOCK_RAW, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	wait := func(what string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err == nil {
				errs <- what + " returned no error after Close"
			}
		}()
	}
	wait("Accept", func() error { _, err := ln.Accept(); return err })
	wait("ReadFrom", func() error { _, _, err := pc.ReadFrom(make([]byte, 10)); return err })
	wait("Read", func() error { _, err := c.Read(make([]byte, 10)); return err })
	wait("RecvFrom", func() error { _, _, err := raw.RecvFrom(100); return err })
	time.Sleep(50 * time.Millisecond) // let them block
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("calls waiting on sockets did not return after Close")
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Calls after Close fail rather than hang.
	if _, err := a.Dial("tcp", "10.0.0.2:80"); err == nil {
		t.Error("Dial after Close: no error")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if now := runtime.NumGoroutine(); now > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, now, buf[:runtime.Stack(buf, true)])
	}
}

// TestStartOnLink starts two hosts with Start on ports of a switch the test
// makes, on a virtual loop the test drives: Start with a link of your own.
func TestStartOnLink(t *testing.T) {
	loop := clock.NewVirtual()
	loop.SetSpeed(1)
	sw := tap.NewSwitch(loop, "sw", observe.Discard, 1)
	noProbe := func(c *stack.Config) { c.ARP.NoProbe = true }
	start := func(name, addr string) *host.Host {
		mac := host.StableMAC(name)
		h, err := host.Start(host.Config{Name: name, Link: sw.AddPort(name, mac, 1500), Loop: loop, MAC: mac,
			Addr: netip.MustParsePrefix(addr), Tune: noProbe, Services: []string{"echo"}})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	x, y := start("x", "10.1.0.1/24"), start("y", "10.1.0.2/24")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- loop.Run(ctx) }()
	defer func() { cancel(); <-done; x.Close(); y.Close() }()
	if err := x.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := x.Dial("tcp", "10.1.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := roundTrip(t, c, "over my own link"); got != "over my own link" {
		t.Fatalf("echo: %q", got)
	}
	if y.Services() == nil {
		t.Error("Services: nil, want the echo service")
	}
}

func TestStartErrors(t *testing.T) {
	pfx := netip.MustParsePrefix("10.0.0.1/24")
	for _, tc := range []struct {
		name string
		cfg  host.Config
		want string
	}{
		{"no link", host.Config{Addr: pfx}, "needs TAP"},
		{"link without loop", host.Config{Addr: pfx, Link: tap.NewSwitch(clock.NewVirtual(), "s", nil, 1).AddPort("p", host.StableMAC("p"), 1500)}, "needs Config.Loop"},
	} {
		if _, err := host.Start(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	n := host.NewNetwork(host.NetworkConfig{})
	defer n.Close()
	for _, c := range []host.HostConfig{
		{Addr: "10.0.0.1/24"},
		{Name: "a", Addr: "10.0.0.1"},
		{Name: "a", Addr: "10.0.0.1/24", Gateway: "router"},
	} {
		if _, err := n.AddHost(c); err == nil {
			t.Errorf("AddHost(%+v): no error", c)
		}
	}
}

func TestListenAddresses(t *testing.T) {
	_, a, _ := pair(t, nil)
	ln, err := a.ListenTCP(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if p := ln.Addr().(*net.TCPAddr).Port; p < stack.EphemeralFirst || p > stack.EphemeralLast {
		t.Errorf("ListenTCP(\":0\") port %d, want an ephemeral one", p)
	}
	ln2, err := a.ListenTCP("10.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	ln2.Close()
	for _, bad := range []string{"localhost:80", "80", "[::1]:80"} {
		if _, err := a.ListenTCP(bad); err == nil {
			t.Errorf("ListenTCP(%q): no error", bad)
		}
		if _, err := a.ListenUDP(bad); err == nil {
			t.Errorf("ListenUDP(%q): no error", bad)
		}
	}
	if _, err := a.ListenUDP("10.0.0.99:53"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("ListenUDP on an address not ours: %v, want EADDRNOTAVAIL", err)
	}
	if _, err := a.Dial("sctp", "10.0.0.2:1"); err == nil {
		t.Error("Dial(\"sctp\"): no error")
	}
	if got := a.Addr(); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("Addr %s", got)
	}
}

func TestSleepFollowsTheHostClock(t *testing.T) {
	n := host.NewNetwork(host.NetworkConfig{Seed: 1, Speed: 100})
	a, _ := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	v0, r0 := n.Loop().Now(), time.Now()
	if err := a.Sleep(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if dv, dr := n.Loop().Now().Sub(v0), time.Since(r0); dv < 3*time.Second || dr > 2*time.Second {
		t.Errorf("3 s of sleep at speed 100: %v of virtual time, %v of real time", dv, dr)
	}
}

// TestBusSeesBothHosts checks that the network's bus carries the events of
// every host, with the host's name.
func TestBusSeesBothHosts(t *testing.T) {
	bus := observe.NewBus(observe.BusOptions{})
	sub := bus.Subscribe(observe.Filter{Layers: []observe.Layer{observe.LayerTCP}, Kinds: []observe.Kind{observe.KindState}}, 256)
	defer sub.Close()
	_, a, b := pair(t, bus)
	tcpEcho(t, b, 7)
	c, err := a.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !seen["a SYN-SENT → ESTABLISHED"] || !seen["b SYN-RECEIVED → ESTABLISHED"] {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for both ends to be established: %v (seen %v)", err, seen)
		}
		seen[e.Host+" "+e.Summary] = true
	}
}
