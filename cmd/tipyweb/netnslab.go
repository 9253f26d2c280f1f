package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/tap"
)

// Addresses of netns-lab: the kernel plays host peer of the built-in lab.
const (
	netnsLabTipy   = "192.168.2.7/24"
	netnsLabKernel = "192.168.2.20/24"
	netnsLabName   = "tipylab"
	netnsLabTAP    = "tap0"
)

// netnsLab is `tipyweb netns-lab`: it creates a network namespace (named
// by --netns, "tipylab" by default) whose kernel is a peer host, attaches
// host tipy to a TAP device inside it, serves the dashboard, and removes the
// namespace (and with it the TAP device) when it stops. Nothing outside the
// namespace is configured.
func netnsLab(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	if o.tapName != "" || o.ip.IsValid() || o.lab != "" {
		return usageError{errors.New("netns-lab chooses its own TAP device and addresses: leave out --tap, --ip and --lab")}
	}
	if os.Geteuid() != 0 {
		return errors.New("netns-lab creates a network namespace and a TAP device: run it as root (sudo make netns-lab)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netns-lab needs the ip command (Debian package iproute2)")
	}
	ns := o.netns
	if ns == "" {
		ns = netnsLabName
	}
	if _, err := os.Stat(tap.NetnsPath(ns)); err == nil {
		return fmt.Errorf("network namespace %s exists already: another netns-lab runs, or one was killed; remove it with: sudo ip netns del %s", ns, ns)
	}
	if err := ipCmd("netns", "add", ns); err != nil {
		return err
	}
	defer func() {
		if err := ipCmd("netns", "del", ns); err != nil {
			fmt.Fprintf(stderr, "tipyweb: %v\n", err)
		}
	}()
	o.netns = ns
	o.tapName = netnsLabTAP
	o.ip = netip.MustParsePrefix(netnsLabTipy)
	if len(o.services) == 0 {
		o.services = services.Names
	}
	kernel := netnsLabKernel
	tipy := o.ip.Addr().String()
	o.afterOpen = func() error {
		for _, args := range [][]string{
			{"-n", ns, "link", "set", "lo", "up"},
			{"-n", ns, "addr", "add", kernel, "dev", netnsLabTAP},
			{"-n", ns, "link", "set", netnsLabTAP, "up"},
		} {
			if err := ipCmd(args...); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, `tipyweb: network namespace %[1]s: the kernel is %[2]s on %[3]s, tipy is %[4]s
tipyweb: try, as root:  ip netns exec %[1]s ping %[4]s
tipyweb:                ip netns exec %[1]s curl http://%[4]s/
tipyweb:                ip netns exec %[1]s arping -I %[3]s %[4]s
tipyweb: stop with Ctrl-C: the namespace and the TAP device are removed
`, ns, kernel, netnsLabTAP, tipy)
		return nil
	}
	return serve(ctx, o, stdout, stderr)
}

// ipCmd runs the ip command with args, with its output in the error.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
