//go:build linux

package netnstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func namespaces(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	return string(out)
}

func listed(list, name string) bool {
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// TestNewCleansUp checks that a namespace exists during its test, with
// loopback up and a background command running, and that both are gone
// after the test.
func TestNewCleansUp(t *testing.T) {
	Require(t)
	var name string
	var pid int
	t.Run("inner", func(t *testing.T) {
		ns := New(t)
		name = ns.Name()
		if !strings.HasPrefix(name, "tipy-"+strconv.Itoa(os.Getpid())+"-") {
			t.Errorf("name %q does not encode pid %d", name, os.Getpid())
		}
		if !listed(namespaces(t), name) {
			t.Fatalf("%s not in ip netns list", name)
		}
		if out := ns.Run(t, "ip", "-o", "link", "show", "lo"); !strings.Contains(out, ",UP") {
			t.Errorf("loopback not up: %s", out)
		}
		cmd := ns.Start(t, "sleep", "600")
		pid = cmd.Process.Pid
		Eventually(t, 5*time.Second, "sleep to be in the namespace", func() bool {
			out, _ := exec.Command("ip", "netns", "pids", name).Output()
			return strings.Contains(" "+strings.Join(strings.Fields(string(out)), " ")+" ", " "+strconv.Itoa(pid)+" ")
		})
	})
	if listed(namespaces(t), name) {
		t.Errorf("%s still exists after its test", name)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("background command %d still exists: kill 0 = %v", pid, err)
	}
}

func TestRunAndOutput(t *testing.T) {
	ns := New(t)
	if out := ns.Run(t, "echo", "hi"); out != "hi\n" {
		t.Errorf("Run = %q", out)
	}
	out, err := ns.Output("sh", "-c", "echo oops >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "oops") || out != "oops\n" {
		t.Errorf("Output of a failing command = %q, %v", out, err)
	}
	// The command runs in the namespace: only lo is there.
	if links := ns.Run(t, "ip", "-o", "link"); strings.Count(links, "\n") != 1 || !strings.Contains(links, "lo:") {
		t.Errorf("ip link in a fresh namespace:\n%s", links)
	}
}

func netnsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// TestDoLeavesThreadsAlone checks that Do runs f inside the namespace and
// that afterwards no thread of the process is left in it.
func TestDoLeavesThreadsAlone(t *testing.T) {
	ns := New(t)
	own, err := netnsInode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	want, err := netnsInode(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		var inside uint64
		if err := ns.Do(func() (err error) {
			inside, err = netnsInode("/proc/thread-self/ns/net")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if inside != want {
			t.Fatalf("Do ran in namespace inode %d; want %d", inside, want)
		}
	}
	if err := ns.Do(func() error { return io.ErrUnexpectedEOF }); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Do did not return f's error: %v", err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, p := range tasks {
		if ino, err := netnsInode(p); err == nil && ino != own {
			t.Errorf("%s is in namespace %d, not the process's own %d", p, ino, own)
		}
	}
}

// udpIn opens a UDP socket bound to addr:port inside ns.
func udpIn(t *testing.T, ns *NS, addr [4]byte, port int) net.PacketConn {
	t.Helper()
	var fd int
	if err := ns.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: addr, Port: port})
	}); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "udp")
	defer f.Close()
	pc, err := net.FilePacketConn(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// TestLinkVeth connects two namespaces and sends a datagram across, watched
// by a sniffer on the receiving end.
func TestLinkVeth(t *testing.T) {
	a, b := New(t), New(t)
	a.Link(t, b, "va", "vb")
	a.Addr(t, "va", "10.198.0.1/24")
	b.Addr(t, "vb", "10.198.0.2/24")
	sniff := b.Sniff(t, "vb")
	recv := udpIn(t, b, [4]byte{10, 198, 0, 2}, 7000)
	send := udpIn(t, a, [4]byte{10, 198, 0, 1}, 7001)
	msg := []byte("across the veth")
	if _, err := send.WriteTo(msg, &net.UDPAddr{IP: net.IPv4(10, 198, 0, 2), Port: 7000}); err != nil {
		t.Fatal(err)
	}
	recv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := recv.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no datagram across the veth pair: %v", err)
	}
	if !bytes.Equal(buf[:n], msg) || from.String() != "10.198.0.1:7001" {
		t.Errorf("got %q from %v", buf[:n], from)
	}
	f := sniff.Wait(t, 5*time.Second, "the datagram", func(f Frame) bool { return bytes.Contains(f.Data, msg) })
	if f.Outgoing {
		t.Error("a received frame was marked outgoing")
	}
	// b's ARP reply to a went out through vb.
	sniff.Wait(t, 5*time.Second, "b's ARP reply", func(f Frame) bool {
		return f.Outgoing && len(f.Data) >= 22 && f.Data[12] == 0x08 && f.Data[13] == 0x06 && f.Data[21] == 2
	})
}

func TestOwnerAlive(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	st, err := startTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	dead := deadPid(t)
	for name, want := range map[string]bool{
		newName(): true,
		"tipy-" + self + "-" + strconv.FormatUint(st, 36) + "-9":   true,
		"tipy-" + self + "-" + strconv.FormatUint(st+1, 36) + "-9": false, // pid reused by another process
		"tipy-" + strconv.Itoa(dead) + "-1a-1":                     false,
		"tipy-lab":                                                 true, // not our scheme: never touched
		"other-" + strconv.Itoa(dead) + "-1a-1":                    true,
	} {
		if got := ownerAlive(name); got != want {
			t.Errorf("ownerAlive(%q) = %v; want %v", name, got, want)
		}
	}
}

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestSweepLeftovers(t *testing.T) {
	Require(t)
	stale := fmt.Sprintf("tipy-%d-1a-1", deadPid(t))
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", stale).Run() })
	exec.Command("ip", "netns", "exec", stale, "ip", "link", "add", "left0", "type", "dummy").Run()
	live := New(t)
	sweepLeftovers()
	list := namespaces(t)
	if listed(list, stale) {
		t.Errorf("leftover %s was not removed", stale)
	}
	if !listed(list, live.Name()) {
		t.Errorf("live namespace %s was removed", live.Name())
	}
}

// fakeTB records a fatal failure instead of ending the test.
type fakeTB struct {
	testing.TB
	msg string
}

type fatal struct{}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatal{})
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, 5*time.Second, "three calls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times", n)
	}
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (fatal{}) {
				panic(r)
			}
		}()
		Eventually(f, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !strings.Contains(f.msg, "still waiting for never") {
		t.Errorf("timeout message %q", f.msg)
	}
}

const helperEnv = "TIPY_NETNS_HELPER"

// TestRequireHelper is not a test: TestRequireUnprivileged runs it as an
// unprivileged user.
func TestRequireHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestRequireUnprivileged")
	}
	Require(t)
	t.Log("Require did not skip")
}

// TestRequireUnprivileged checks that Require skips for a non-root user
// with a message saying what is needed, and fails with TIPY_REQUIRE_NETNS=1.
func TestRequireUnprivileged(t *testing.T) {
	Require(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv")
	}
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	bin := helperBinary(t)
	run := func(require string) (string, error) {
		cmd := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all",
			bin, "-test.run=^TestRequireHelper$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"=1", RequireEnv+"="+require)
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP") || !strings.Contains(out, "needs root and iproute2 to create a network namespace; set TIPY_REQUIRE_NETNS=1 to make this a failure") {
		t.Errorf("unprivileged, not required: %v\n%s", err, out)
	}
	out, err = run("1")
	if err == nil || !strings.Contains(out, "--- FAIL") || !strings.Contains(out, "not root") {
		t.Errorf("unprivileged, required: %v\n%s", err, out)
	}
}

// helperBinary copies the test binary where an unprivileged user can run it.
func helperBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "tipy-netns-helper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "netnstest.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not searchable by other users", d)
		}
	}
	return bin
}
