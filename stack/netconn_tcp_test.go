package stack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
)

// tcpLAN is two hosts, a (10.0.0.1) and b (10.0.0.2), for the TCP adapters.
func tcpLAN(t *testing.T, seed uint64) *lan {
	t.Helper()
	return newLAN(t, seed,
		hostSpec{name: "a", addr: "10.0.0.1/24", mod: udpNoProbe},
		hostSpec{name: "b", addr: "10.0.0.2/24", mod: udpNoProbe})
}

// wantNetErr checks that err is a *net.OpError of op that wraps target.
func wantNetErr(t *testing.T, err error, op string, target error) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != op {
		t.Fatalf("error %v (%T) is not a %q *net.OpError", err, err, op)
	}
	if !errors.Is(err, target) {
		t.Fatalf("error %v does not wrap %v", err, target)
	}
	if target == os.ErrDeadlineExceeded && !oe.Timeout() {
		t.Fatalf("error %v does not say it timed out", err)
	}
}

// within waits for a result on ch, failing the test after 10 s.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no result after 10 s", what)
		panic("unreachable")
	}
}

type acceptResult struct {
	c   net.Conn
	err error
}

func acceptAsync(ln net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := ln.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func TestTCPListenerAcceptAndClose(t *testing.T) {
	l := tcpLAN(t, 1)
	stop := l.background(0)
	defer stop()
	a, b := l.hosts["a"], l.hosts["b"]
	ln, err := b.Listen(ap("0.0.0.0:8080"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || ta.AddrPort() != ap("0.0.0.0:8080") {
		t.Fatalf("listener address %#v", ln.Addr())
	}
	if _, err := b.Listen(ap("0.0.0.0:8080"), 4); !errors.Is(err, stack.EADDRINUSE) {
		t.Fatalf("second listener on the port: %v", err)
	}
	if _, err := b.Listen(ap("10.0.0.99:8081"), 4); !errors.Is(err, stack.EADDRNOTAVAIL) {
		t.Fatalf("listener on a foreign address: %v", err)
	}

	acc := acceptAsync(ln)
	cc, err := a.DialTCP(context.Background(), ap("10.0.0.2:8080"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	r := within(t, acc, "accept")
	if r.err != nil {
		t.Fatal(r.err)
	}
	sc := r.c
	defer sc.Close()
	// Both ends name each other with *net.TCPAddr.
	cl, cr := cc.LocalAddr().(*net.TCPAddr), cc.RemoteAddr().(*net.TCPAddr)
	sl, sr := sc.LocalAddr().(*net.TCPAddr), sc.RemoteAddr().(*net.TCPAddr)
	if cr.AddrPort() != ap("10.0.0.2:8080") || sl.AddrPort() != cr.AddrPort() || sr.AddrPort() != cl.AddrPort() ||
		cl.Port < stack.EphemeralFirst {
		t.Fatalf("client %v→%v, server %v→%v", cl, cr, sl, sr)
	}

	// A byte stream both ways: Write sends all of a large buffer, Read
	// gets it in whatever pieces; CloseWrite is a FIN the peer reads as EOF.
	msg := make([]byte, 300_000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(sc)
		got <- b
	}()
	if n, err := cc.Write(msg); err != nil || n != len(msg) {
		t.Fatalf("write %d, %v", n, err)
	}
	if err := cc.(*stack.Conn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b := within(t, got, "server read"); !bytes.Equal(b, msg) {
		t.Fatalf("server read %d bytes, want %d equal ones", len(b), len(msg))
	}
	// Half-closed: the server still answers, then closes.
	if _, err := sc.Write([]byte("after your FIN")); err != nil {
		t.Fatal(err)
	}
	sc.Close()
	reply, err := io.ReadAll(cc)
	if err != nil || string(reply) != "after your FIN" {
		t.Fatalf("client read %q, %v", reply, err)
	}

	// Close ends a waiting Accept with net.ErrClosed; later ones too.
	acc = acceptAsync(ln)
	time.Sleep(20 * time.Millisecond)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	wantNetErr(t, within(t, acc, "accept after close").err, "accept", net.ErrClosed)
	_, err = ln.Accept()
	wantNetErr(t, err, "accept", net.ErrClosed)
	if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if ln.Addr().String() != "0.0.0.0:8080" {
		t.Fatalf("address after close %v", ln.Addr())
	}
	// The port is closed now: a SYN draws a reset.
	_, err = a.DialTCP(context.Background(), ap("10.0.0.2:8080"))
	wantNetErr(t, err, "dial", stack.ECONNREFUSED)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("refused dial does not match syscall.ECONNREFUSED: %v", err)
	}
	// And it can be listened on again.
	ln2, err := b.Listen(ap("10.0.0.2:8080"), 0)
	if err != nil {
		t.Fatal(err)
	}
	ln2.Close()
}

// TestTCPListenerCloseKeepsAccepted: closing a listener leaves its accepted
// connections working and resets the ones it had not handed out.
func TestTCPListenerCloseKeepsAccepted(t *testing.T) {
	l := tcpLAN(t, 2)
	stop := l.background(0)
	defer stop()
	a, b := l.hosts["a"], l.hosts["b"]
	ln, err := b.Listen(ap("10.0.0.2:9000"), 4)
	if err != nil {
		t.Fatal(err)
	}
	acc := acceptAsync(ln)
	c1, err := a.DialTCP(context.Background(), ap("10.0.0.2:9000"))
	if err != nil {
		t.Fatal(err)
	}
	s1 := within(t, acc, "accept").c
	c2, err := a.DialTCP(context.Background(), ap("10.0.0.2:9000")) // queued, never accepted
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, stack.ECONNRESET) {
		t.Fatalf("unaccepted connection after the listener closed: %v", err)
	}
	if _, err := c1.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	s1.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := s1.Read(buf); err != nil || string(buf[:n]) != "still here" {
		t.Fatalf("accepted connection after the listener closed: %q, %v", buf[:n], err)
	}
	c1.Close()
	s1.Close()
	c2.Close()
}

func TestTCPListenerAcceptDeadline(t *testing.T) {
	l := tcpLAN(t, 3)
	stop := l.background(0)
	defer stop()
	ln, err := l.hosts["b"].Listen(ap("0.0.0.0:0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tl := ln.(*stack.Listener)
	if p := tl.Addr().(*net.TCPAddr).Port; p < stack.EphemeralFirst {
		t.Fatalf("port 0 gave %d", p)
	}
	start := time.Now()
	tl.SetDeadline(start.Add(50 * time.Millisecond))
	_, err = ln.Accept()
	wantNetErr(t, err, "accept", os.ErrDeadlineExceeded)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("accept gave up after %v", d)
	}
	// Cleared, it accepts again.
	tl.SetDeadline(time.Time{})
	acc := acceptAsync(ln)
	c, err := l.hosts["a"].DialTCP(context.Background(), ap("10.0.0.2:"+portOf(ln)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := within(t, acc, "accept"); r.err != nil {
		t.Fatal(r.err)
	} else {
		r.c.Close()
	}
}

func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// tcpPair returns both ends of one connection from a to b.
func tcpPair(t *testing.T, l *lan, port string) (client, server *stack.Conn) {
	t.Helper()
	ln, err := l.hosts["b"].Listen(ap("10.0.0.2:"+port), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := acceptAsync(ln)
	c, err := l.hosts["a"].DialTCP(context.Background(), ap("10.0.0.2:"+port))
	if err != nil {
		t.Fatal(err)
	}
	r := within(t, acc, "accept")
	if r.err != nil {
		t.Fatal(r.err)
	}
	return c.(*stack.Conn), r.c.(*stack.Conn)
}

func TestTCPConnDeadlines(t *testing.T) {
	l := tcpLAN(t, 4)
	// Real-time pacing: the wall-clock deadlines and the stack's timers
	// (persist probes while the window is shut) advance together.
	stop := l.background(1)
	defer stop()
	c, s := tcpPair(t, l, "7000")
	defer c.Close()
	defer s.Close()
	buf := make([]byte, 64)

	// Reading into nothing returns at once, data or not (as net.TCPConn).
	zero := make(chan error, 1)
	go func() {
		n, err := c.Read(nil)
		if n != 0 && err == nil {
			err = errors.New("read bytes into nothing")
		}
		zero <- err
	}()
	if err := within(t, zero, "empty read"); err != nil {
		t.Fatal(err)
	}

	// A read deadline ends a read that gets nothing, after the deadline.
	start := time.Now()
	c.SetReadDeadline(start.Add(50 * time.Millisecond))
	_, err := c.Read(buf)
	wantNetErr(t, err, "read", os.ErrDeadlineExceeded)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("read deadline error after %v", d)
	}
	// A past deadline fails at once even with data waiting; clearing it
	// reads the data: the timeout did not harm the connection.
	s.Write([]byte("late"))
	time.Sleep(20 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.Read(buf)
	wantNetErr(t, err, "read", os.ErrDeadlineExceeded)
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "late" {
		t.Fatalf("after clearing the deadline: %q, %v", buf[:n], err)
	}
	// Moving the deadline closer ends a read already waiting.
	c.SetReadDeadline(time.Now().Add(time.Hour))
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.SetDeadline(time.Now().Add(20 * time.Millisecond))
	wantNetErr(t, within(t, done, "moved read deadline"), "read", os.ErrDeadlineExceeded)

	// A write deadline ends a write that waits for room: the server never
	// reads, so the window shuts and the send buffer fills. The write
	// reports the bytes it did take.
	c.SetDeadline(time.Time{})
	big := make([]byte, 16<<20)
	start = time.Now()
	c.SetWriteDeadline(start.Add(300 * time.Millisecond))
	n, err := c.Write(big)
	wantNetErr(t, err, "write", os.ErrDeadlineExceeded)
	if n <= 0 || n >= len(big) {
		t.Fatalf("write took %d of %d bytes before its deadline", n, len(big))
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("write deadline error after %v", d)
	}
	// The bytes taken all arrive, in order, once the server reads.
	c.SetWriteDeadline(time.Time{})
	c.CloseWrite()
	s.SetReadDeadline(time.Now().Add(20 * time.Second))
	rest, err := io.ReadAll(s)
	if err != nil || len(rest) != n {
		t.Fatalf("server read %d bytes, %v; the client wrote %d", len(rest), err, n)
	}

	// Close ends a waiting read with net.ErrClosed.
	go func() {
		_, err := c.Read(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	wantNetErr(t, within(t, done, "read after close"), "read", net.ErrClosed)
	_, err = c.Read(nil)
	wantNetErr(t, err, "read", net.ErrClosed)
}

func TestTCPConnPeerReset(t *testing.T) {
	l := tcpLAN(t, 5)
	stop := l.background(0)
	defer stop()
	c, s := tcpPair(t, l, "7001")
	defer c.Close()
	if err := s.Socket().SetSockopt(stack.SOL_SOCKET, stack.SO_LINGER, stack.Linger{On: true, Seconds: 0}); err != nil {
		t.Fatal(err)
	}
	s.Close() // SO_LINGER 0: abort with a reset
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 10))
	wantNetErr(t, err, "read", syscall.ECONNRESET)
}

func TestDialContext(t *testing.T) {
	l := tcpLAN(t, 6)
	stop := l.background(1)
	defer stop()
	a, b := l.hosts["a"], l.hosts["b"]
	ln, err := b.Listen(ap("0.0.0.0:80"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	ctx := context.Background()
	for _, network := range []string{"tcp", "tcp4"} {
		c, err := a.DialContext(ctx, network, "10.0.0.2:80")
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
			t.Fatalf("%s: remote %#v", network, c.RemoteAddr())
		}
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("%s: echo %q, %v", network, buf, err)
		}
		c.Close()
	}
	pc, err := b.ListenPacket(ap("0.0.0.0:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go echoPackets(pc)
	for _, network := range []string{"udp", "udp4"} {
		c, err := a.DialContext(ctx, network, "10.0.0.2:7")
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if _, ok := c.RemoteAddr().(*net.UDPAddr); !ok {
			t.Fatalf("%s: remote %#v", network, c.RemoteAddr())
		}
		c.Write([]byte("datagram"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 100)
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "datagram" {
			t.Fatalf("%s: echo %q, %v", network, buf[:n], err)
		}
		c.Close()
	}

	// What tipy cannot dial is refused with the errors net gives.
	var une net.UnknownNetworkError
	for _, network := range []string{"tcp6", "ip4:1", "unix"} {
		if _, err := a.DialContext(ctx, network, "10.0.0.2:80"); !errors.As(err, &une) {
			t.Fatalf("network %q: %v", network, err)
		}
	}
	var ae *net.AddrError
	for _, addr := range []string{"localhost:80", "10.0.0.2", "[::1]:80", "10.0.0.2:http"} {
		_, err := a.DialContext(ctx, "tcp", addr)
		if !errors.As(err, &ae) {
			t.Fatalf("address %q: %v", addr, err)
		}
		if addr == "localhost:80" && !strings.Contains(err.Error(), "resolver") {
			t.Fatalf("host name refused without saying why: %v", err)
		}
	}
	// Nothing listens: refused.
	if _, err := a.DialContext(ctx, "tcp", "10.0.0.2:81"); !errors.Is(err, stack.ECONNREFUSED) {
		t.Fatalf("closed port: %v", err)
	}
	// An ended context stops a dial that waits (here for ARP about a host
	// that does not exist), and the error says why.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = a.DialContext(cctx, "tcp", "10.0.0.77:80")
	var oe *net.OpError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &oe) || !oe.Timeout() {
		t.Fatalf("dial past the context deadline: %v", err)
	}
	cctx, cancel = context.WithCancel(ctx)
	cancel()
	if _, err := a.DialContext(cctx, "tcp", "10.0.0.2:80"); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled context: %v", err)
	}
	if _, err := a.DialContext(cctx, "udp", "10.0.0.2:7"); !errors.Is(err, context.Canceled) {
		t.Fatalf("udp dial with a cancelled context: %v", err)
	}
	// The abandoned half-open connection is gone: no socket is left.
	var left int
	a.Call(func() { left = len(a.Sockets()) })
	if left != 0 {
		t.Fatalf("%d sockets left on the client", left)
	}
}

// TestNetHTTPOverTipy serves net/http through the Listener and fetches
// with an http.Client whose transport dials through tipy.
func TestNetHTTPOverTipy(t *testing.T) {
	l := tcpLAN(t, 7)
	stop := l.background(0)
	defer stop()
	ln, err := l.hosts["b"].Listen(ap("0.0.0.0:80"), 0)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 200_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Remote", r.RemoteAddr)
		w.Write(append(in, body...))
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	client := &http.Client{Transport: &http.Transport{DialContext: l.hosts["a"].DialContext}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	for i := range 3 { // the second and third reuse the kept-alive connection
		resp, err := client.Post("http://10.0.0.2/", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, append([]byte("hello"), body...)) {
			t.Fatalf("request %d: %d bytes, %v", i, len(got), err)
		}
		if !strings.HasPrefix(resp.Header.Get("X-Remote"), "10.0.0.1:") {
			t.Fatalf("server saw the client as %q", resp.Header.Get("X-Remote"))
		}
	}
	srv.Close()
	if err := within(t, served, "Serve"); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}
