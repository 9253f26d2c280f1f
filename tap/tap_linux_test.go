//go:build linux

package tap_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
	"github.com/tipy/tipy/tap/netnstest"
)

var (
	tipyMAC    = wire.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x07}
	kernelIP   = netip.MustParseAddr("10.199.0.1")
	tipyIP     = netip.MustParseAddr("10.199.0.2")
	kernelCIDR = "10.199.0.1/24"
)

const waitFor = 10 * time.Second // a failure deadline, generous for loaded machines

// arpFrame builds an Ethernet II frame carrying an ARP packet for IPv4 over
// Ethernet (RFC 826), by hand.
func arpFrame(dst, src wire.MAC, op uint16, sha wire.MAC, spa netip.Addr, tha wire.MAC, tpa netip.Addr) []byte {
	f := make([]byte, 14+28)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], 0x0806)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:2], 1)      // hardware type Ethernet
	binary.BigEndian.PutUint16(a[2:4], 0x0800) // protocol type IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], op)
	copy(a[8:14], sha[:])
	s, t := spa.As4(), tpa.As4()
	copy(a[14:18], s[:])
	copy(a[18:24], tha[:])
	copy(a[24:28], t[:])
	return f
}

// arpFields reads an ARP-over-Ethernet frame; ok is false for anything else.
type arpFields struct {
	dst, sha, tha wire.MAC
	op            uint16
	spa, tpa      netip.Addr
}

func parseARP(f []byte) (arpFields, bool) {
	if len(f) < 14+28 || binary.BigEndian.Uint16(f[12:14]) != 0x0806 {
		return arpFields{}, false
	}
	a := f[14:]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != 0x0800 || a[4] != 6 || a[5] != 4 {
		return arpFields{}, false
	}
	var r arpFields
	copy(r.dst[:], f[0:6])
	r.op = binary.BigEndian.Uint16(a[6:8])
	copy(r.sha[:], a[8:14])
	r.spa = netip.AddrFrom4([4]byte(a[14:18]))
	copy(r.tha[:], a[18:24])
	r.tpa = netip.AddrFrom4([4]byte(a[24:28]))
	return r, true
}

// recorder is a handler that keeps copies of the frames it is given.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) handle(f []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, append([]byte(nil), f...))
	r.mu.Unlock()
}

func (r *recorder) find(match func([]byte) bool) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.frames {
		if match(f) {
			return f
		}
	}
	return nil
}

// runWall starts a wall-clock loop that stops at cleanup.
func runWall(t *testing.T) *clock.Wall {
	w := clock.NewWall()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// kernelSendUDP makes the kernel in ns send a UDP datagram to dst, from a
// socket created inside the namespace.
func kernelSendUDP(t *testing.T, ns *netnstest.NS, dst netip.Addr) {
	t.Helper()
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, []byte("hello tipy"), 0, &unix.SockaddrInet4{Port: 9, Addr: dst.As4()})
	})
	if err != nil {
		t.Fatalf("kernel send: %v", err)
	}
}

// TestTAPKernelARPInterop exchanges ARP with the real kernel through a TAP
// device inside a namespace, in both directions.
func TestTAPKernelARPInterop(t *testing.T) {
	ns := netnstest.New(t)
	w := runWall(t)
	dev := ns.OpenTAP(t, "tipy0", w, tap.TAPConfig{MAC: tipyMAC, Up: true})
	rec := &recorder{}
	dev.SetHandler(rec.handle)
	ns.Addr(t, "tipy0", kernelCIDR)
	sniff := ns.Sniff(t, "tipy0")

	if dev.Name() != "tipy0" || dev.MTU() != 1500 || dev.MAC() != tipyMAC {
		t.Fatalf("Name, MTU, MAC = %q, %d, %v; want tipy0, 1500, %v", dev.Name(), dev.MTU(), dev.MAC(), tipyMAC)
	}
	kernelMAC := kernelSideMAC(t, ns, "tipy0")

	// Kernel to tipy: the kernel must resolve 10.199.0.2 before it can
	// send to it, so it broadcasts an ARP request that tipy receives.
	kernelSendUDP(t, ns, tipyIP)
	var req arpFields
	netnstest.Eventually(t, waitFor, "the kernel's ARP request for 10.199.0.2 on the TAP", func() bool {
		f := rec.find(func(f []byte) bool {
			a, ok := parseARP(f)
			return ok && a.op == 1 && a.tpa == tipyIP
		})
		if f == nil {
			return false
		}
		req, _ = parseARP(f)
		return true
	})
	if req.dst != wire.BroadcastMAC || req.sha != kernelMAC || req.spa != kernelIP {
		t.Errorf("kernel's request: dst %v sender %v/%v; want broadcast, %v/%v", req.dst, req.sha, req.spa, kernelMAC, kernelIP)
	}

	// Tipy to kernel: ask who has 10.199.0.1; the kernel answers and
	// learns tipy's address from the request.
	ask := arpFrame(wire.BroadcastMAC, tipyMAC, 1, tipyMAC, tipyIP, wire.MAC{}, kernelIP)
	var sendErr error
	w.Call(func() { sendErr = dev.Send(ask) })
	if sendErr != nil {
		t.Fatalf("Send: %v", sendErr)
	}
	netnstest.Eventually(t, waitFor, "the kernel's ARP reply on the TAP", func() bool {
		return rec.find(func(f []byte) bool {
			a, ok := parseARP(f)
			return ok && a.op == 2 && a.spa == kernelIP && a.sha == kernelMAC &&
				a.tpa == tipyIP && a.tha == tipyMAC && a.dst == tipyMAC
		}) != nil
	})
	netnstest.Eventually(t, waitFor, "ip neigh listing 10.199.0.2 at tipy's MAC", func() bool {
		return strings.Contains(ns.Neigh(t, "tipy0", tipyIP.String()), "lladdr "+tipyMAC.String())
	})
	got := sniff.Wait(t, waitFor, "tipy's ARP request", func(f netnstest.Frame) bool {
		return !f.Outgoing && bytes.Equal(f.Data, ask)
	})
	if len(got.Data) != len(ask) {
		t.Errorf("kernel saw %d bytes, tipy sent %d", len(got.Data), len(ask))
	}

	st := dev.Stats()
	if st.TxFrames != 1 || st.TxBytes != uint64(len(ask)) || st.TxErrors != 0 || st.TxDropped != 0 {
		t.Errorf("tx stats %+v; want 1 frame of %d bytes, no errors", st, len(ask))
	}
	if st.RxFrames < 2 || st.RxBytes < 2*42 || st.RxErrors != 0 {
		t.Errorf("rx stats %+v; want at least the request and the reply", st)
	}
}

// kernelSideMAC returns the MAC of the kernel's side of dev in ns.
func kernelSideMAC(t *testing.T, ns *netnstest.NS, dev string) wire.MAC {
	t.Helper()
	out := strings.TrimSpace(ns.Run(t, "cat", "/sys/class/net/"+dev+"/address"))
	m, err := wire.ParseMAC(out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTAPHandlerNilDrops checks that frames read with no handler are
// counted, not delivered, and that setting a handler starts delivery.
func TestTAPHandlerNilDrops(t *testing.T) {
	ns := netnstest.New(t)
	w := runWall(t)
	dev := ns.OpenTAP(t, "tipy0", w, tap.TAPConfig{MAC: tipyMAC, Up: true})
	ns.Addr(t, "tipy0", kernelCIDR)
	kernelSendUDP(t, ns, tipyIP)
	netnstest.Eventually(t, waitFor, "a dropped frame", func() bool { return dev.Stats().RxDropped > 0 })
	if st := dev.Stats(); st.RxFrames != 0 {
		t.Fatalf("RxFrames = %d with no handler", st.RxFrames)
	}
	rec := &recorder{}
	dev.SetHandler(rec.handle)
	kernelSendUDP(t, ns, tipyIP) // the kernel retries ARP too; either gives frames
	netnstest.Eventually(t, waitFor, "a delivered frame", func() bool { return dev.Stats().RxFrames > 0 })
	if rec.find(func([]byte) bool { return true }) == nil {
		t.Fatal("RxFrames counted but the handler got nothing")
	}
}

// TestTAPConfigMTUAndUp checks that the device gets the configured MTU and
// comes up only when asked.
func TestTAPConfigMTUAndUp(t *testing.T) {
	ns := netnstest.New(t)
	w := runWall(t)
	up := ns.OpenTAP(t, "tipyup", w, tap.TAPConfig{MAC: tipyMAC, MTU: 1400, Up: true})
	down := ns.OpenTAP(t, "tipydown", w, tap.TAPConfig{MAC: tipyMAC})
	if up.MTU() != 1400 || down.MTU() != 1500 {
		t.Fatalf("MTU() = %d, %d; want 1400, 1500", up.MTU(), down.MTU())
	}
	flags := func(dev string) string { return ns.Run(t, "ip", "-o", "link", "show", "dev", dev) }
	if s := flags("tipyup"); !strings.Contains(s, "mtu 1400") || !strings.Contains(s, ",UP") {
		t.Errorf("tipyup: %s; want mtu 1400 and UP", s)
	}
	if s := flags("tipydown"); !strings.Contains(s, "mtu 1500") || strings.Contains(s, ",UP") {
		t.Errorf("tipydown: %s; want mtu 1500 and not UP", s)
	}
	// A frame of MTU+14 bytes passes, one byte more is refused.
	frame := make([]byte, 1400+14)
	copy(frame, wire.BroadcastMAC[:])
	copy(frame[6:], tipyMAC[:])
	frame[12], frame[13] = 0x88, 0xb5 // IEEE local experimental EtherType
	var errOK, errLong error
	w.Call(func() {
		errOK = up.Send(frame)
		errLong = up.Send(append(frame, 0))
	})
	if errOK != nil {
		t.Errorf("Send of %d bytes: %v", len(frame), errOK)
	}
	if !errors.Is(errLong, wire.ErrMalformed) {
		t.Errorf("Send of %d bytes: %v; want wire.ErrMalformed", len(frame)+1, errLong)
	}
}

// sink records events, as a stand-in for the bus.
type sink struct {
	mu     sync.Mutex
	events []observe.Event
}

func (s *sink) Active() bool { return true }
func (s *sink) Publish(e observe.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}
func (s *sink) reasons() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r []string
	for _, e := range s.events {
		r = append(r, string(e.Kind)+":"+e.Reason)
	}
	return r
}

// TestTAPSendRefusesAndClose checks Send's refusals, their events and
// counters, that Close stops the reader, and that Send fails after Close.
func TestTAPSendRefusesAndClose(t *testing.T) {
	ns := netnstest.New(t)
	w := runWall(t)
	ev := &sink{}
	var dev *tap.TAP
	if err := ns.Do(func() (err error) {
		dev, err = tap.OpenTAP("tipy0", w, tap.TAPConfig{MAC: tipyMAC, Up: true, Sink: ev})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var short, long error
	w.Call(func() {
		short = dev.Send(make([]byte, 13))
		long = dev.Send(make([]byte, 1515))
	})
	if !errors.Is(short, wire.ErrTruncated) {
		t.Errorf("13-byte frame: %v; want wire.ErrTruncated", short)
	}
	if !errors.Is(long, wire.ErrMalformed) {
		t.Errorf("1515-byte frame: %v; want wire.ErrMalformed", long)
	}
	// A VLAN-tagged frame may be 4 bytes longer.
	tagged := make([]byte, 1518)
	tagged[12], tagged[13] = 0x81, 0x00
	var taggedErr error
	w.Call(func() { taggedErr = dev.Send(tagged) })
	if taggedErr != nil {
		t.Errorf("1518-byte 802.1Q frame: %v", taggedErr)
	}

	select {
	case <-dev.Done():
		t.Fatal("reader stopped before Close")
	default:
	}
	closed := make(chan error, 1)
	go func() { closed <- dev.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Close did not return: the blocked read was not woken")
	}
	select {
	case <-dev.Done():
	default:
		t.Fatal("Close returned before the reader stopped")
	}
	if err := dev.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var after error
	w.Call(func() { after = dev.Send(make([]byte, 60)) })
	if !errors.Is(after, net.ErrClosed) {
		t.Errorf("Send after Close: %v; want net.ErrClosed", after)
	}
	st := dev.Stats()
	if st.TxDropped != 3 || st.TxFrames != 1 {
		t.Errorf("stats %+v; want 3 dropped, 1 sent", st)
	}
	want := "drop:frame-too-short drop:frame-too-long drop:link-closed"
	if got := strings.Join(ev.reasons(), " "); got != want {
		t.Errorf("events %q; want %q", got, want)
	}
	// The device was not persistent: closing it removed the interface.
	netnstest.Eventually(t, waitFor, "tipy0 to disappear", func() bool {
		_, err := ns.Output("ip", "link", "show", "dev", "tipy0")
		return err != nil
	})
}

// TestTAPInterfaceDeleted checks that deleting the interface under a running
// TAP stops the reader with a counted error instead of a busy loop.
func TestTAPInterfaceDeleted(t *testing.T) {
	ns := netnstest.New(t)
	w := runWall(t)
	ev := &sink{}
	var dev *tap.TAP
	if err := ns.Do(func() (err error) {
		dev, err = tap.OpenTAP("tipy0", w, tap.TAPConfig{MAC: tipyMAC, Sink: ev})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	ns.Run(t, "ip", "link", "del", "dev", "tipy0")
	select {
	case <-dev.Done():
	case <-time.After(waitFor):
		t.Fatal("reader still running after the interface was deleted")
	}
	if st := dev.Stats(); st.RxErrors != 1 {
		t.Errorf("RxErrors = %d; want 1", st.RxErrors)
	}
	if got := ev.reasons(); len(got) != 1 || got[0] != "error:read-error" {
		t.Errorf("events %v; want one read-error", got)
	}
	var err error
	w.Call(func() { err = dev.Send(make([]byte, 60)) })
	if err == nil {
		t.Error("Send to a deleted interface succeeded")
	}
}

func TestOpenTAPBadArguments(t *testing.T) {
	w := clock.NewWall()
	if _, err := tap.OpenTAP("a-name-longer-than-15", w, tap.TAPConfig{}); err == nil ||
		!strings.Contains(err.Error(), "at most 15") {
		t.Errorf("long name: %v", err)
	}
	if _, err := tap.OpenTAP("tap7", w, tap.TAPConfig{MTU: 67}); err == nil || !strings.Contains(err.Error(), "MTU 67") {
		t.Errorf("MTU 67: %v", err)
	}
	if _, err := tap.OpenTAP("tap7", nil, tap.TAPConfig{}); err == nil {
		t.Error("nil loop accepted")
	}
}

// helperEnv marks the test binary run as a helper process by
// TestOpenTAPErrors.
const helperEnv = "TIPY_TAP_OPEN_HELPER"

// TestOpenTAPHelper is not a test: run by TestOpenTAPErrors in a prepared
// environment, it opens tap7 and prints the error.
func TestOpenTAPHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestOpenTAPErrors")
	}
	dev, err := tap.OpenTAP("tap7", clock.NewWall(), tap.TAPConfig{})
	if err == nil {
		dev.Close()
		fmt.Println("RESULT: opened")
		return
	}
	fmt.Printf("RESULT: %v\nPERMISSION: %v\n", err, errors.Is(err, os.ErrPermission))
}

// TestOpenTAPErrors checks that failing to open a TAP gives a message a
// person can act on. Each case runs the test binary as a helper inside a
// namespace and a private mount namespace with its own /dev/net, so that
// the device's presence and mode are known, and nothing outside is changed.
func TestOpenTAPErrors(t *testing.T) {
	ns := netnstest.New(t)
	for _, tool := range []string{"unshare", "setpriv", "sh", "mount", "mknod"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	bin := helperBinary(t)
	nobody := "exec setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all " + bin
	cases := []struct {
		name, setup, run, want string
		permission             bool
	}{
		{"no CAP_NET_ADMIN", "mknod -m 0666 /dev/net/tun c 10 200", nobody,
			"open TAP tap7: operation not permitted (run as root or grant CAP_NET_ADMIN)", true},
		{"device not accessible", "mknod -m 0600 /dev/net/tun c 10 200", nobody,
			"open TAP tap7: permission denied on /dev/net/tun (run as root, or grant CAP_NET_ADMIN and read-write access to /dev/net/tun)", true},
		{"no /dev/net/tun", "true", "exec " + bin,
			"open TAP tap7: /dev/net/tun does not exist: no such file or directory (load the tun module with 'modprobe tun'; in a container, pass the device in, e.g. --device /dev/net/tun)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := "mount -t tmpfs -o mode=0755 tipy /dev/net && " + c.setup + " && " + c.run +
				" -test.run='^TestOpenTAPHelper$' -test.count=1"
			cmd := exec.Command("ip", "netns", "exec", ns.Name(), "unshare", "--mount", "--propagation", "private", "sh", "-c", script)
			cmd.Env = append(os.Environ(), helperEnv+"=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			var got, perm string
			for _, line := range strings.Split(string(out), "\n") {
				if s, ok := strings.CutPrefix(line, "RESULT: "); ok {
					got = s
				}
				if s, ok := strings.CutPrefix(line, "PERMISSION: "); ok {
					perm = s
				}
			}
			if got != c.want {
				t.Errorf("error:\n got %q\nwant %q\nhelper output:\n%s", got, c.want, out)
			}
			if perm != fmt.Sprint(c.permission) {
				t.Errorf("errors.Is(err, os.ErrPermission) = %s; want %v", perm, c.permission)
			}
		})
	}
}

// helperBinary copies the test binary where an unprivileged user can run it
// (go test keeps it in a directory only root may enter).
func helperBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "tipy-tap-helper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tap.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	// The directory must be searchable by nobody all the way down.
	for d := dir; d != "/"; d = filepath.Dir(d) {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err == nil && st.Mode&0o001 == 0 {
			t.Skipf("%s is not searchable by other users; cannot run the helper unprivileged", d)
		}
	}
	return bin
}

// benchTAP opens an up TAP in a fresh namespace for a benchmark.
func benchTAP(b *testing.B) (*netnstest.NS, *clock.Wall, *tap.TAP) {
	ns := netnstest.New(b)
	w := clock.NewWall()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	dev := ns.OpenTAP(b, "tipy0", w, tap.TAPConfig{MAC: tipyMAC, Up: true})
	return ns, w, dev
}

// BenchmarkTAPSend measures writing full-size frames to the kernel through
// Send, on the loop.
func BenchmarkTAPSend(b *testing.B) {
	_, w, dev := benchTAP(b)
	frame := make([]byte, 1514)
	copy(frame, wire.BroadcastMAC[:])
	copy(frame[6:], tipyMAC[:])
	frame[12], frame[13] = 0x88, 0xb5 // local experimental EtherType: the kernel drops it
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	var err error
	w.Call(func() {
		for i := 0; i < b.N && err == nil; i++ {
			err = dev.Send(frame)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTAPReceive measures the receive path: frames the kernel sends
// out of the TAP (injected with an AF_PACKET socket in the namespace), read
// by the reader and delivered to the handler on the loop. Frames go in
// batches smaller than the device's queue, so none is dropped.
func BenchmarkTAPReceive(b *testing.B) {
	ns, _, dev := benchTAP(b)
	var got, target atomic.Int64
	reached := make(chan struct{}, 1)
	dev.SetHandler(func(f []byte) {
		if got.Add(1) == target.Load() {
			reached <- struct{}{}
		}
	})
	var fd int
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName("tipy0")
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index})
	}); err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	frame := make([]byte, 1514)
	copy(frame, tipyMAC[:])
	frame[12], frame[13] = 0x88, 0xb5
	const batch = 256
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(batch, b.N-sent)
		target.Store(int64(sent + n))
		for i := 0; i < n; i++ {
			if err := unix.Send(fd, frame, 0); err != nil {
				b.Fatal(err)
			}
		}
		sent += n
		select {
		case <-reached:
		case <-time.After(waitFor):
			b.Fatalf("delivered %d of %d frames", got.Load(), sent)
		}
	}
}

// TestTAPExistingPersistentDevice checks that opening a persistent device
// made beforehand ("ip tuntap add") leaves it persistent after Close, while
// a device OpenTAP creates goes away (see TestTAPSendRefusesAndClose).
func TestTAPExistingPersistentDevice(t *testing.T) {
	ns := netnstest.New(t)
	ns.Run(t, "ip", "tuntap", "add", "dev", "tipyp", "mode", "tap")
	w := runWall(t)
	var dev *tap.TAP
	if err := ns.Do(func() (err error) {
		dev, err = tap.OpenTAP("tipyp", w, tap.TAPConfig{MAC: tipyMAC})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Output("ip", "link", "show", "dev", "tipyp"); err != nil {
		t.Fatalf("the persistent device is gone after Close: %v", err)
	}
	// And it can be opened again.
	again := ns.OpenTAP(t, "tipyp", w, tap.TAPConfig{MAC: tipyMAC})
	if again.Name() != "tipyp" {
		t.Errorf("Name() = %q", again.Name())
	}
}
