package services_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

var serverAddr = netip.MustParseAddr("10.0.0.1")

// testNet is a server (10.0.0.1) and a client (10.0.0.2) on one virtual
// switch and one virtual loop.
type testNet struct {
	loop           *clock.Virtual
	server, client *stack.Stack
}

func newTestNet(t testing.TB, seed uint64, obs observe.Sink) *testNet {
	t.Helper()
	n := &testNet{loop: clock.NewVirtual()}
	sw := tap.NewSwitch(n.loop, "lan", obs, seed)
	mk := func(name string, i byte) *stack.Stack {
		mac := wire.MAC{2, 0, 0, 0, 0, i}
		s, err := stack.New(stack.Config{Name: name, MAC: mac, Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, i}), 24),
			Seed: seed, ARP: stack.ARPConfig{NoProbe: true}}, sw.AddPort(name, mac, 1500), n.loop, obs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	n.server, n.client = mk("server", 1), mk("client", 2)
	return n
}

// start starts the named services on the server.
func (n *testNet) start(t testing.TB, names ...string) *services.Set {
	t.Helper()
	var set *services.Set
	var err error
	n.loop.Call(func() { set, err = services.Start(n.loop.Now(), n.server, names) })
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// background runs the loop as fast as possible until the test ends.
func (n *testNet) background(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.loop.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// dial opens a TCP connection from the client to the server's port.
func (n *testNet) dial(t testing.TB, port uint16) *stack.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := n.client.DialTCP(ctx, netip.AddrPortFrom(serverAddr, port))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*stack.Conn)
}

// waitConns waits until the server's loop-driven services hold want
// connections.
func (n *testNet) waitConns(t *testing.T, set *services.Set, want int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		var got int
		n.loop.Call(func() { got = set.Conns() })
		if got == want {
			return
		}
	}
	t.Fatalf("the server still holds connections, want %d", want)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestStartAllReportsEveryHalf(t *testing.T) {
	n := newTestNet(t, 1, nil)
	set := n.start(t, services.Names...)
	var got []string
	for _, r := range set.Running {
		got = append(got, r.String())
	}
	want := "echo/udp 7,echo/tcp 7,discard/udp 9,discard/tcp 9,daytime/udp 13,daytime/tcp 13,chargen/tcp 19,http/tcp 80"
	if strings.Join(got, ",") != want {
		t.Fatalf("running %v\nwant %s", got, want)
	}
	if set.HTTP() == nil {
		t.Fatal("no http server")
	}
	// A port in use stops everything started so far and says which.
	var err error
	n.loop.Call(func() { _, err = services.Start(n.loop.Now(), n.server, []string{"chargen"}) })
	if err == nil || !strings.Contains(err.Error(), "chargen/tcp port 19") || !errors.Is(err, stack.EADDRINUSE) {
		t.Fatalf("second chargen: %v", err)
	}
	n.loop.Call(func() { set.Stop(n.loop.Now()) })
	select {
	case <-set.HTTP().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the http server did not stop")
	}
	var left int
	n.loop.Call(func() { left = len(n.server.Sockets()) })
	if left != 0 {
		t.Fatalf("%d sockets left after Stop", left)
	}
}

func TestTCPEcho(t *testing.T) {
	n := newTestNet(t, 2, nil)
	set := n.start(t, "echo")
	n.background(t)
	c := n.dial(t, services.PortEcho)
	// More than the send and receive buffers hold, so the echo must wait
	// for the client to read (flow control) rather than buffer it all.
	msg := randomBytes(1<<20, 2)
	got := make(chan []byte, 1)
	go func() {
		b, err := io.ReadAll(c)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	var back []byte
	select {
	case back = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no end of the echo")
	}
	if !bytes.Equal(back, msg) {
		t.Fatalf("echoed %d bytes, sent %d (equal: %v)", len(back), len(msg), bytes.Equal(back, msg[:min(len(back), len(msg))]))
	}
	c.Close()
	n.waitConns(t, set, 0) // the server closed after echoing everything
}

func TestTCPDiscard(t *testing.T) {
	n := newTestNet(t, 3, nil)
	set := n.start(t, "discard")
	n.background(t)
	c := n.dial(t, services.PortDiscard)
	if _, err := c.Write(randomBytes(300_000, 3)); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	// Nothing comes back; the server closes once it has read our FIN.
	b, err := io.ReadAll(c)
	if err != nil || len(b) != 0 {
		t.Fatalf("discard answered %d bytes, %v", len(b), err)
	}
	if info := c.Socket().Info(); info.SendQueue != 0 {
		t.Fatalf("the server left %d bytes unacknowledged", info.SendQueue)
	}
	c.Close()
	n.waitConns(t, set, 0)
}

func TestTCPDaytime(t *testing.T) {
	n := newTestNet(t, 4, nil)
	set := n.start(t, "daytime")
	n.background(t)
	for i := range 2 {
		c := n.dial(t, services.PortDaytime)
		if i == 1 {
			c.Write([]byte("ignored")) // what the client sends is thrown away
		}
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		line := string(b)
		if !strings.HasPrefix(line, "Thu Jan  1 00:0") || !strings.HasSuffix(line, " UTC\r\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("connection %d: daytime %q", i, line)
		}
		c.Close()
	}
	n.waitConns(t, set, 0)
}

func TestChargenLine(t *testing.T) {
	l0 := services.ChargenLine(0)
	if l0 != " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n" {
		t.Fatalf("line 0 %q", l0)
	}
	if l := services.ChargenLine(1); l[:2] != "!\"" || l[71] != 'h' {
		t.Fatalf("line 1 %q", l)
	}
	// Line 60 starts at the backslash and wraps around the ring after '~'.
	if l := services.ChargenLine(60); !strings.HasPrefix(l, "\\]^_`") || !strings.Contains(l, "~ !\"") {
		t.Fatalf("line 60 %q", l)
	}
	if services.ChargenLine(95) != l0 || services.ChargenLine(-95) != l0 {
		t.Fatal("the pattern does not repeat after 95 lines")
	}
}

func TestTCPChargen(t *testing.T) {
	n := newTestNet(t, 5, nil)
	set := n.start(t, "chargen")
	n.background(t)
	c := n.dial(t, services.PortChargen)
	c.Write([]byte("thrown away\r\n"))
	// Three periods and a bit: the rotation across the repeat is checked.
	lines := 3*95 + 7
	buf := make([]byte, lines*(services.ChargenLineLen+2))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		got := string(buf[i*74 : (i+1)*74])
		if got != services.ChargenLine(i) {
			t.Fatalf("line %d %q, want %q", i, got, services.ChargenLine(i))
		}
	}
	// The server keeps sending until the client goes.
	if _, err := io.ReadFull(c, buf[:100_000%len(buf)]); err != nil {
		t.Fatal(err)
	}
	var set1 int
	n.loop.Call(func() { set1 = set.Conns() })
	if set1 != 1 {
		t.Fatalf("server holds %d connections while the client reads", set1)
	}
	c.Close()
	n.waitConns(t, set, 0)
	// With a FIN instead (half-close), it stops too.
	c = n.dial(t, services.PortChargen)
	io.ReadFull(c, buf[:1000])
	c.CloseWrite()
	io.Copy(io.Discard, c)
	c.Close()
	n.waitConns(t, set, 0)
}

func TestStopClosesConnections(t *testing.T) {
	n := newTestNet(t, 6, nil)
	set := n.start(t, "echo", "chargen")
	n.background(t)
	c1 := n.dial(t, services.PortEcho)
	c2 := n.dial(t, services.PortChargen)
	c1.Write([]byte("x"))
	io.ReadFull(c1, make([]byte, 1))
	io.ReadFull(c2, make([]byte, 10))
	n.waitConns(t, set, 2)
	n.loop.Call(func() { set.Stop(n.loop.Now()) })
	if b, err := io.ReadAll(c1); err != nil || len(b) != 0 {
		t.Fatalf("echo after Stop: %q, %v", b, err)
	}
	io.Copy(io.Discard, c2) // end of stream or reset, but an end
	c1.Close()
	c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.client.DialTCP(ctx, netip.AddrPortFrom(serverAddr, services.PortEcho)); !errors.Is(err, stack.ECONNREFUSED) {
		t.Fatalf("echo port after Stop: %v", err)
	}
}

// hashSink hashes every event, to compare two runs.
type hashSink struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int
}

func (h *hashSink) Active() bool { return true }
func (h *hashSink) Publish(e observe.Event) {
	h.n++
	fmt.Fprintf(h.h, "%d %s %s %s %s %s %v\n", e.TimeNS, e.Host, e.Layer, e.Kind, e.Summary, e.Reason, e.Frame)
}

// TestTCPServicesDeterministic: the loop-driven servers need no goroutine.
// A client driven from loop work alone (no background loop, no blocking
// call) gets its echo, daytime and chargen answers, and two runs with the
// same seed publish the same events.
func TestTCPServicesDeterministic(t *testing.T) {
	run := func() (string, int) {
		sink := &hashSink{h: sha256.New()}
		n := newTestNet(t, 42, sink)
		n.start(t, "echo", "daytime", "chargen")
		type conv struct {
			port uint16
			send string
			want func(string) bool
			so   *stack.Socket
			got  []byte
			done bool
		}
		convs := []*conv{
			{port: services.PortEcho, send: strings.Repeat("echo me ", 5000), want: func(s string) bool { return s == strings.Repeat("echo me ", 5000) }},
			{port: services.PortDaytime, want: func(s string) bool { return strings.HasSuffix(s, " UTC\r\n") }},
			{port: services.PortChargen, want: func(s string) bool { return strings.HasPrefix(s, services.ChargenLine(0)+services.ChargenLine(1)) }},
		}
		n.loop.Call(func() {
			now := n.loop.Now()
			for _, cv := range convs {
				so, err := n.client.SocketNow(now, stack.AF_INET, stack.SOCK_STREAM, 0)
				if err != nil {
					t.Fatal(err)
				}
				cv.so = so
				sent, connected := false, false
				so.SetNotify(func() {
					now := n.loop.Now()
					if cv.done {
						return
					}
					if !connected {
						if so.ConnectNow(now, netip.AddrPortFrom(serverAddr, cv.port)) != nil {
							return // the handshake is under way
						}
						connected = true
					}
					if !sent {
						for len(cv.send) > 0 {
							k, err := so.SendToNow(now, []byte(cv.send), netip.AddrPort{})
							if err != nil || k == 0 {
								return
							}
							cv.send = cv.send[k:]
						}
						if cv.port != services.PortChargen { // a FIN ends chargen
							so.ShutdownNow(now, stack.SHUT_WR)
						}
						sent = true
					}
					for {
						b, _, err := so.RecvFromNow(now, 65536)
						if err != nil {
							return
						}
						cv.got = append(cv.got, b...)
						if len(b) == 0 || (cv.port == services.PortChargen && len(cv.got) >= 1000) {
							cv.done = true
							so.CloseNow(now)
							return
						}
					}
				})
				so.ConnectNow(now, netip.AddrPortFrom(serverAddr, cv.port))
			}
		})
		all := func() bool {
			for _, cv := range convs {
				if !cv.done {
					return true
				}
			}
			return false
		}
		if !n.loop.RunWhile(all, n.loop.Now().Add(time.Minute)) {
			t.Fatal("the conversations did not end within a minute of virtual time")
		}
		n.loop.RunFor(2 * time.Minute) // TIME-WAIT and the last segments
		for _, cv := range convs {
			if !cv.want(string(cv.got)) {
				t.Fatalf("port %d answered %d bytes: %.80q", cv.port, len(cv.got), cv.got)
			}
		}
		return fmt.Sprintf("%x", sink.h.Sum(nil)), sink.n
	}
	h1, n1 := run()
	h2, n2 := run()
	if h1 != h2 || n1 != n2 || n1 < 50 {
		t.Fatalf("two runs with one seed: %d events %s, %d events %s", n1, h1, n2, h2)
	}
}
