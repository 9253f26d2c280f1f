//go:build linux

package demotest

// The examples' -tap mode, tested without touching the machine's own
// network: a TAP device inside a network namespace a test creates, with the
// Linux kernel as the real machine on the other side.

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/tipy/tipy/tap/netnstest"
)

// Addresses on the TAP device's network: the kernel's side and tipy's.
const (
	KernelAddr = "10.199.72.1"
	TipyAddr   = "10.199.72.2"
)

// TAP is a TAP device, tp0, inside a fresh namespace, made before tipy
// attaches to it so that the kernel's side has its address (KernelAddr/24)
// from the start.
type TAP struct {
	*netnstest.NS
}

// New creates the namespace and the device. It skips the test without root
// (or fails it when TIPY_REQUIRE_NETNS=1).
func New(t *testing.T) *TAP {
	ns := netnstest.New(t)
	ns.Run(t, "ip", "tuntap", "add", "dev", "tp0", "mode", "tap")
	ns.Addr(t, "tp0", KernelAddr+"/24")
	ns.Up(t, "tp0")
	return &TAP{ns}
}

// Args returns the flags that put an example on the device, followed by
// extra.
func (d *TAP) Args(extra ...string) []string {
	return append([]string{"-tap", "tp0", "-ip", TipyAddr + "/24"}, extra...)
}

// Run runs an example's run function inside the namespace (so that the
// device it opens is the namespace's) and returns what it printed.
func (d *TAP) Run(t *testing.T, run func(args []string, stdout io.Writer) error, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	err := d.Do(func() error { return run(args, &out) })
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	return out.String()
}

// EchoTCP runs a TCP echo server of the kernel's on KernelAddr:port until
// the test ends.
func (d *TAP) EchoTCP(t *testing.T, port int) {
	t.Helper()
	var ln net.Listener
	if err := d.Do(func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(KernelAddr, strconv.Itoa(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
}

// EchoUDP runs a UDP echo server of the kernel's on KernelAddr:port until
// the test ends.
func (d *TAP) EchoUDP(t *testing.T, port int) {
	t.Helper()
	var pc net.PacketConn
	if err := d.Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", net.JoinHostPort(KernelAddr, strconv.Itoa(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}
