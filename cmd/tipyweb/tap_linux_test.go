//go:build linux

package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/tap/netnstest"
)

// TestTAPModeServesUDP runs the tipyweb binary in TAP mode inside a network
// namespace the test creates, with the UDP services on, and talks to it from
// the kernel's side of the TAP: the contract's TAP mode end to end.
func TestTAPModeServesUDP(t *testing.T) {
	netnstest.Require(t)
	bin := filepath.Join(t.TempDir(), "tipyweb")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ns := netnstest.New(t)
	ns.Start(t, bin, "--tap", "tipy0", "--ip", "10.199.90.2/24", "--listen", "127.0.0.1:18090",
		"--services", "echo,daytime", "--mac", "02:00:00:00:90:02")
	netnstest.Eventually(t, 10*time.Second, "the TAP device tipy0 to appear", func() bool {
		out, err := ns.Output("ip", "link", "show", "tipy0")
		return err == nil && strings.Contains(out, "tipy0")
	})
	ns.Addr(t, "tipy0", "10.199.90.1/24")
	ns.Up(t, "tipy0")

	var echoed, daytime string
	err := ns.Do(func() error {
		c, err := net.Dial("udp4", "10.199.90.2:7")
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 2048)
		// tipy probes its address for conflicts first (RFC 5227: up to about
		// nine seconds), and the first datagram may wait for ARP: retry.
		for i := 0; i < 60 && echoed == ""; i++ {
			c.Write([]byte("hello from the kernel"))
			c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			if n, err := c.Read(buf); err == nil {
				echoed = string(buf[:n])
			}
		}
		d, err := net.Dial("udp4", "10.199.90.2:13")
		if err != nil {
			return err
		}
		defer d.Close()
		d.Write([]byte("?"))
		d.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := d.Read(buf); err == nil {
			daytime = string(buf[:n])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if echoed != "hello from the kernel" {
		t.Fatalf("echo service answered %q", echoed)
	}
	if !strings.HasSuffix(daytime, " UTC\r\n") || !strings.Contains(daytime, time.Now().UTC().Format("2006")) {
		t.Fatalf("daytime service answered %q", daytime)
	}
}
