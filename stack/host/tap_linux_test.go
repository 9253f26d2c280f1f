//go:build linux

package host_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/tap/netnstest"
)

// TestStartOnTAP starts a host on a TAP device inside a network namespace
// the test creates, with the Linux kernel as its peer on the other side of
// the device: ping and TCP both ways, then Close removes the device.
func TestStartOnTAP(t *testing.T) {
	ns := netnstest.New(t) // skips without root, fails then with TIPY_REQUIRE_NETNS=1
	var h *host.Host
	err := ns.Do(func() error { // the device is made inside the namespace
		var err error
		h, err = host.Start(host.Config{
			Name: "tipy", TAP: "tipy0",
			Addr:     netip.MustParsePrefix("10.199.71.2/24"),
			Gateway:  netip.MustParseAddr("10.199.71.1"),
			Services: []string{"echo"},
			// No RFC 5227 probing: the kernel's side has no address yet,
			// and the test need not wait for the probes.
			Tune: func(c *stack.Config) { c.ARP.NoProbe = true },
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ns.Addr(t, "tipy0", "10.199.71.1/24")
	ns.Up(t, "tipy0")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	// tipy pings the kernel.
	res, err := h.Ping(ctx, netip.MustParseAddr("10.199.71.1"), stack.PingOptions{Count: 2, Interval: 100 * time.Millisecond})
	if err != nil || res.Received != 2 {
		t.Fatalf("ping the kernel: %+v, %v", res, err)
	}

	// The kernel connects to tipy's echo service.
	var echoed string
	err = ns.Do(func() error {
		c, err := net.DialTimeout("tcp", "10.199.71.2:7", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "hello from the kernel")
		buf := make([]byte, len("hello from the kernel"))
		_, err = io.ReadFull(c, buf)
		echoed = string(buf)
		return err
	})
	if err != nil || echoed != "hello from the kernel" {
		t.Fatalf("kernel → tipy echo: %q, %v", echoed, err)
	}

	// tipy connects to a listener of the kernel's.
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp4", "10.199.71.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := h.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, c, strings.Repeat("tipy to the kernel ", 1000)); got != strings.Repeat("tipy to the kernel ", 1000) {
		t.Fatalf("tipy → kernel echo: %d bytes back", len(got))
	}
	c.Close()

	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	netnstest.Eventually(t, 5*time.Second, "the TAP device to go away with the host", func() bool {
		out, err := ns.Output("ip", "link", "show", "tipy0")
		return err != nil && !strings.Contains(out, "state")
	})
	if _, err := h.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("Dial after Close: no error")
	}
}
