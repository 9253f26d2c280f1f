package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Network namespaces for the kernel workloads. Each is named
// tipybench-PID-TAG; every one this process made is deleted on exit
// (cleanupNamespaces), and those of a process that no longer runs are
// deleted at the next start (sweepNamespaces). Traffic never leaves them:
// the kernel's side of every TAP and veth device lives inside.

const nsPrefix = "tipybench-"

type netns struct{ name string }

var (
	nsMu   sync.Mutex
	nsMade []*netns
)

// canNamespace says why the kernel workloads cannot run here, or "".
func canNamespace() string {
	if runtime.GOOS != "linux" {
		return "network namespaces are Linux-only"
	}
	if os.Geteuid() != 0 {
		return "not root: the kernel and TAP workloads need root for namespaces and TAP devices"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "the ip command (iproute2) is not installed"
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return "/dev/net/tun is missing (modprobe tun)"
	}
	return ""
}

// newNS creates a namespace with loopback up and IPv6 off.
func newNS(tag string) (*netns, error) {
	ns := &netns{name: fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), tag)}
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", ns.name, err, bytes.TrimSpace(out))
	}
	nsMu.Lock()
	nsMade = append(nsMade, ns)
	nsMu.Unlock()
	if err := ns.ip("link", "set", "dev", "lo", "up"); err != nil {
		return nil, err
	}
	// No IPv6: its router solicitations and DAD would only add noise.
	for _, k := range []string{"all", "default"} {
		ns.exec("sysctl", "-q", "-w", "net.ipv6.conf."+k+".disable_ipv6=1")
	}
	return ns, nil
}

// ip runs "ip -n NAME args...".
func (ns *netns) ip(args ...string) error {
	out, err := exec.Command("ip", append([]string{"-n", ns.name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s %s: %v: %s", ns.name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// exec runs a command inside the namespace.
func (ns *netns) exec(args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s in %s: %v: %s", strings.Join(args, " "), ns.name, err, bytes.TrimSpace(out))
	}
	return nil
}

// do runs f on a thread that entered the namespace; sockets and devices f
// opens belong to it and stay there. The thread is discarded if it cannot
// return to the process's own namespace.
func (ns *netns) do(f func() error) error {
	target, err := unix.Open("/run/netns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns.name, err)
	}
	defer unix.Close(target)
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			res <- err
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			res <- fmt.Errorf("enter %s: %w", ns.name, err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			res <- errors.Join(ferr, err) // the thread dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		res <- ferr
	}()
	return <-res
}

func (ns *netns) delete() {
	exec.Command("ip", "netns", "delete", ns.name).Run()
}

// cleanupNamespaces deletes every namespace this process made.
func cleanupNamespaces() {
	nsMu.Lock()
	defer nsMu.Unlock()
	for _, ns := range nsMade {
		ns.delete()
	}
	nsMade = nil
}

// sweepNamespaces deletes the namespaces of earlier runs that died.
func sweepNamespaces() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil {
			continue // still running
		}
		(&netns{name: e.Name()}).delete()
	}
}

// kernelClient opens the kernel's sockets in a namespace.
type kernelClient struct{ ns *netns }

func (k kernelClient) dialTCP(to netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := k.ns.do(func() (err error) {
		c, err = net.DialTimeout("tcp4", to.String(), 5*time.Second)
		return err
	})
	return c, err
}

func (k kernelClient) dialUDP(to netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := k.ns.do(func() (err error) {
		c, err = net.Dial("udp4", to.String())
		return err
	})
	return c, err
}

// ping sends n ICMP echo requests with msgLen bytes of data to dst from
// the kernel (a raw socket in the namespace), one after the other's
// reply, and returns the mean round trip in µs. A few unmeasured ones go
// first.
func (k kernelClient) ping(ctx context.Context, dst netip.Addr, n int) (float64, error) {
	var pc net.PacketConn
	if err := k.ns.do(func() (err error) { pc, err = net.ListenPacket("ip4:icmp", "0.0.0.0"); return err }); err != nil {
		return 0, fmt.Errorf("raw ICMP socket: %w", err)
	}
	defer pc.Close()
	stop := watchdog(ctx, pc)
	defer stop()
	id := uint16(os.Getpid())
	to := &net.IPAddr{IP: dst.AsSlice()}
	msg := make([]byte, 8+msgLen)
	buf := make([]byte, 1500)
	one := func(seq uint16) error {
		msg[0], msg[1] = 8, 0 // echo request
		binary.BigEndian.PutUint16(msg[2:], 0)
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], seq)
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		for try := 0; try < 5; try++ {
			if _, err := pc.WriteTo(msg, to); err != nil {
				return err
			}
			pc.SetReadDeadline(time.Now().Add(time.Second))
			for {
				m, _, err := pc.ReadFrom(buf)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						break
					}
					return err
				}
				// A raw IPv4 socket reads the IP header too.
				if m < 20 || m < int(buf[0]&0x0f)*4+8 {
					continue
				}
				r := buf[int(buf[0]&0x0f)*4 : m]
				if r[0] == 0 && binary.BigEndian.Uint16(r[4:]) == id && binary.BigEndian.Uint16(r[6:]) == seq {
					return nil
				}
			}
		}
		return fmt.Errorf("no reply to echo request %d after 5 tries", seq)
	}
	for i := range 50 {
		if err := one(uint16(i)); err != nil {
			return 0, fmt.Errorf("warm-up: %w", err)
		}
	}
	start := time.Now()
	for i := range n {
		if err := one(uint16(100 + i)); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(n), nil
}

// icmpChecksum is the Internet checksum of b (RFC 1071).
func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// kernelServer is the kernel as the far end of a veth pair, serving from
// its own namespace: the reference for the TAP workloads.
type kernelServer struct {
	ns   *netns
	addr netip.Addr
}

func (k *kernelServer) Addr() netip.Addr { return k.addr }

func (k *kernelServer) Listen(port uint16) (net.Listener, error) {
	var ln net.Listener
	err := k.ns.do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(k.addr, port).String())
		return err
	})
	return ln, err
}

func (k *kernelServer) ListenPacket(port uint16) (net.PacketConn, error) {
	var pc net.PacketConn
	err := k.ns.do(func() (err error) {
		pc, err = net.ListenPacket("udp4", netip.AddrPortFrom(k.addr, port).String())
		return err
	})
	return pc, err
}

func (k *kernelServer) Close() {}

// newVeth joins client and server namespaces with a veth pair at
// 10.199.N.1 (client) and 10.199.N.2 (server), MTU 1500, with the
// offloads off (ethtool: checksums, TSO, GSO, GRO) so that the kernel,
// like the user-space stacks, checksums and handles every 1500-byte packet
// on its own. Without ethtool the offloads stay on, and the note says so.
func newVeth(client, server *netns, n byte) (*kernelServer, netip.Addr, string, error) {
	ca := netip.AddrFrom4([4]byte{10, 199, n, 1})
	sa := netip.AddrFrom4([4]byte{10, 199, n, 2})
	if err := client.ip("link", "add", "vc", "type", "veth", "peer", "name", "vs", "netns", server.name); err != nil {
		return nil, ca, "", err
	}
	note := ""
	if _, err := exec.LookPath("ethtool"); err != nil {
		note = "ethtool is not installed: the kernel's veth kept its offloads (TSO, GSO, checksums), which flatters its figures"
	}
	for _, side := range []struct {
		ns   *netns
		dev  string
		addr netip.Addr
	}{{client, "vc", ca}, {server, "vs", sa}} {
		if note == "" {
			if err := side.ns.exec("ethtool", "-K", side.dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off"); err != nil {
				note = "the kernel's veth kept some offloads: " + err.Error()
			}
		}
		if err := side.ns.ip("link", "set", "dev", side.dev, "mtu", "1500"); err != nil {
			return nil, ca, "", err
		}
		if err := side.ns.ip("addr", "add", netip.PrefixFrom(side.addr, 24).String(), "dev", side.dev); err != nil {
			return nil, ca, "", err
		}
		if err := side.ns.ip("link", "set", "dev", side.dev, "up"); err != nil {
			return nil, ca, "", err
		}
	}
	return &kernelServer{ns: server, addr: sa}, ca, note, nil
}

// kernelPair is two kernel endpoints in different namespaces joined by
// veth, presented as a pair (the client dials from its namespace).
type kernelPair struct {
	client kernelClient
	srv    *kernelServer
}

func (p *kernelPair) Listen(port uint16) (net.Listener, error) { return p.srv.Listen(port) }

func (p *kernelPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return p.client.dialTCP(netip.AddrPortFrom(p.srv.addr, port))
}

func (p *kernelPair) Close() {}
