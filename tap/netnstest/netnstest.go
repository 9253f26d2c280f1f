//go:build linux

package netnstest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/tap"
)

// RequireEnv is the environment variable that turns a skip for lack of
// namespaces into a failure: set it to 1 where the tests must run (CI as
// root).
const RequireEnv = "TIPY_REQUIRE_NETNS"

const (
	namePrefix = "tipy-"
	netnsDir   = "/run/netns"
)

// NS is a network namespace created for one test.
type NS struct {
	name string
}

var (
	probeOnce sync.Once
	probeErr  error
	nsCounter atomic.Uint64
)

// Require skips the test unless network namespaces can be created here: the
// process must be root, iproute2's ip must be installed, and creating a
// namespace must work. With TIPY_REQUIRE_NETNS=1 it fails the test instead
// of skipping it.
func Require(t testing.TB) {
	t.Helper()
	probeOnce.Do(func() { probeErr = probe() })
	if probeErr == nil {
		return
	}
	msg := "needs root and iproute2 to create a network namespace; set " + RequireEnv + "=1 to make this a failure (" + probeErr.Error() + ")"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// probe checks once per process that a namespace can be created and
// deleted, and sweeps namespaces left by dead test processes.
func probe() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("network namespaces are Linux-only, this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("running as uid %d, not root", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the ip command (iproute2) is not installed")
	}
	sweepLeftovers()
	name := newName()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// startTime returns the start time of process pid in clock ticks since boot
// (field 22 of /proc/pid/stat), which with the pid identifies one process
// even after the pid is reused.
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 { // fields 3..22
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

var selfStart = sync.OnceValue(func() string {
	st, err := startTime(os.Getpid())
	if err != nil {
		return "0"
	}
	return strconv.FormatUint(st, 36)
})

// newName returns a namespace name that encodes this process (see the
// package documentation).
func newName() string {
	return fmt.Sprintf("%s%d-%s-%d", namePrefix, os.Getpid(), selfStart(), nsCounter.Add(1))
}

// ownerAlive reports whether the process that created namespace name still
// runs. Names that do not follow the scheme count as alive: they are not
// ours to delete.
func ownerAlive(name string) bool {
	parts := strings.Split(strings.TrimPrefix(name, namePrefix), "-")
	if !strings.HasPrefix(name, namePrefix) || len(parts) != 3 {
		return true
	}
	pid, err1 := strconv.Atoi(parts[0])
	start, err2 := strconv.ParseUint(parts[1], 36, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return true
	}
	st, err := startTime(pid)
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	return start == 0 || st == start
}

// sweepLeftovers deletes tipy-* namespaces whose creator is dead.
func sweepLeftovers() {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, namePrefix) && !ownerAlive(name) {
			destroy(name)
		}
	}
}

// destroy kills every process in namespace name and deletes it. Interfaces
// in it (TAP devices, veth ends) go with it.
func destroy(name string) error {
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// New creates a network namespace for the test, with loopback up, and
// registers a cleanup that deletes it and everything in it, whether the test
// passes or fails. It calls [Require] first.
func New(t testing.TB) *NS {
	t.Helper()
	Require(t)
	ns := &NS{name: newName()}
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: ip netns add %s: %v: %s", ns.name, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if err := destroy(ns.name); err != nil {
			t.Errorf("netnstest: %v", err)
		}
	})
	ns.Up(t, "lo")
	return ns
}

// Name returns the namespace's name, as ip netns knows it.
func (ns *NS) Name() string { return ns.name }

// Path returns the namespace's bind mount, /run/netns/NAME.
func (ns *NS) Path() string { return filepath.Join(netnsDir, ns.name) }

// Output runs a command inside the namespace (ip netns exec) and returns its
// combined output and error. Use it where a failure is expected or polled
// for; [NS.Run] fails the test instead.
func (ns *NS) Output(args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("netnstest: no command")
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w: %s", strings.Join(args, " "), ns.name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Run runs a command inside the namespace and returns its combined output.
// It fails the test, with the output, when the command fails.
func (ns *NS) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ns.Output(args...)
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	return out
}

// Start starts a command inside the namespace in the background, with its
// output going to the test log at cleanup. The command and anything it
// starts are killed at cleanup.
func (ns *NS) Start(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	if len(args) == 0 {
		t.Fatal("netnstest: Start with no command")
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &lockedWriter{w: &out}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("netnstest: start %s in %s: %v", strings.Join(args, " "), ns.name, err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole process group
		<-waited
		if s := cmd.Stdout.(*lockedWriter).String(); s != "" {
			t.Logf("netnstest: output of %s:\n%s", strings.Join(args, " "), s)
		}
	})
	return cmd
}

// lockedWriter lets a background command write while cleanup reads.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// Do runs f on an OS thread that has entered the namespace, and returns f's
// error. Sockets and devices f creates belong to the namespace and stay
// there after Do returns. The calling goroutine's thread, and so the
// machine's own namespace, is never switched: f runs on a fresh goroutine
// locked to its thread, which is discarded if it cannot be switched back.
func (ns *NS) Do(f func() error) error {
	return tap.InNetns(ns.Path(), f)
}

// OpenTAP opens a tipy TAP device inside the namespace (see [tap.OpenTAP])
// and closes it at cleanup. The kernel's side of the device lives in the
// namespace only.
func (ns *NS) OpenTAP(t testing.TB, name string, loop clock.Loop, cfg tap.TAPConfig) *tap.TAP {
	t.Helper()
	var dev *tap.TAP
	err := ns.Do(func() error {
		var err error
		dev, err = tap.OpenTAP(name, loop, cfg)
		return err
	})
	if err != nil {
		t.Fatalf("netnstest: in %s: %v", ns.name, err)
	}
	t.Cleanup(func() {
		if err := dev.Close(); err != nil {
			t.Errorf("netnstest: %v", err)
		}
	})
	return dev
}

// ip runs an ip command against the namespace (ip -n NAME ...).
func (ns *NS) ip(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns.name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("netnstest: ip -n %s %s: %v: %s", ns.name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out)
}

// Addr adds address cidr ("10.199.0.1/24") to interface dev in the namespace.
func (ns *NS) Addr(t testing.TB, dev, cidr string) {
	t.Helper()
	ns.ip(t, "addr", "add", cidr, "dev", dev)
}

// Up brings interface dev in the namespace up.
func (ns *NS) Up(t testing.TB, dev string) {
	t.Helper()
	ns.ip(t, "link", "set", "dev", dev, "up")
}

// Link connects ns and other with a veth pair: devA in ns, devB in other,
// both brought up. The pair goes away with either namespace.
func (ns *NS) Link(t testing.TB, other *NS, devA, devB string) {
	t.Helper()
	ns.ip(t, "link", "add", devA, "type", "veth", "peer", "name", devB, "netns", other.name)
	ns.Up(t, devA)
	other.Up(t, devB)
}

// Neigh returns the kernel's neighbour (ARP) entry for ip on dev, as "ip
// neigh show" prints it, or "" when there is none.
func (ns *NS) Neigh(t testing.TB, dev, ip string) string {
	t.Helper()
	return strings.TrimSpace(ns.ip(t, "neigh", "show", ip, "dev", dev))
}

// Eventually polls cond every few milliseconds until it returns true, and
// fails the test with what when it is still false after timeout. Call it
// from the test goroutine (it may call t.Fatalf); cond runs there too.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("netnstest: after %v still waiting for %s", timeout, what)
		}
		time.Sleep(wait)
	}
}
