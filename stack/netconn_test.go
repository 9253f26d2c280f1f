package stack_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
)

// echoPackets answers every datagram on pc with the same bytes until pc is
// closed.
func echoPackets(pc net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}

func wantDeadlineErr(t *testing.T, err error) {
	t.Helper()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error %v is not a net.Error timeout", err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("error %v is not os.ErrDeadlineExceeded", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("error %v is not a read *net.OpError", err)
	}
}

func TestPacketConnRoundTripAndDeadlines(t *testing.T) {
	l := udpLAN(t, 1)
	stop := l.background(0)
	defer stop()
	srv, err := l.hosts["b"].ListenPacket(ap("10.0.0.2:9000"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go echoPackets(srv)
	cli, err := l.hosts["a"].ListenPacket(ap("0.0.0.0:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if la, ok := cli.LocalAddr().(*net.UDPAddr); !ok || la.Port < stack.EphemeralFirst {
		t.Fatalf("local address %v", cli.LocalAddr())
	}
	to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 9000}
	if n, err := cli.WriteTo([]byte("over tipy"), to); err != nil || n != 9 {
		t.Fatalf("WriteTo: %d, %v", n, err)
	}
	cli.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	n, from, err := cli.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "over tipy" {
		t.Fatalf("ReadFrom: %q, %v", buf[:n], err)
	}
	if ua, ok := from.(*net.UDPAddr); !ok || ua.AddrPort() != ap("10.0.0.2:9000") {
		t.Fatalf("from %#v", from)
	}

	// A read deadline in the future ends a read that gets nothing.
	start := time.Now()
	cli.SetReadDeadline(start.Add(50 * time.Millisecond))
	_, _, err = cli.ReadFrom(buf)
	wantDeadlineErr(t, err)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("deadline error after %v", d)
	}
	// A deadline in the past fails at once, even with data waiting.
	cli.SetReadDeadline(time.Time{})
	cli.WriteTo([]byte("waiting"), to)
	time.Sleep(20 * time.Millisecond)
	cli.SetReadDeadline(time.Now().Add(-time.Second))
	_, _, err = cli.ReadFrom(buf)
	wantDeadlineErr(t, err)
	// Clearing it reads again.
	cli.SetReadDeadline(time.Time{})
	if n, _, err := cli.ReadFrom(buf); err != nil || string(buf[:n]) != "waiting" {
		t.Fatalf("after clearing the deadline: %q, %v", buf[:n], err)
	}
	// Moving the deadline affects a read already waiting.
	cli.SetReadDeadline(time.Now().Add(time.Hour))
	done := make(chan error, 1)
	go func() {
		_, _, err := cli.ReadFrom(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cli.SetDeadline(time.Now().Add(20 * time.Millisecond))
	select {
	case err := <-done:
		wantDeadlineErr(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting read did not see its deadline move closer")
	}
	// Close ends a waiting read with net.ErrClosed.
	cli.SetReadDeadline(time.Time{})
	go func() {
		_, _, err := cli.ReadFrom(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not end a waiting read")
	}
	if _, err := cli.WriteTo([]byte("x"), to); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestDialUDPConn(t *testing.T) {
	l := udpLAN(t, 1)
	stop := l.background(0)
	defer stop()
	srv, err := l.hosts["b"].ListenPacket(ap("0.0.0.0:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go echoPackets(srv)
	c, err := l.hosts["a"].DialUDP(ap("10.0.0.2:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ra := c.RemoteAddr().(*net.UDPAddr); ra.AddrPort() != ap("10.0.0.2:7") {
		t.Fatalf("remote %v", ra)
	}
	if la := c.LocalAddr().(*net.UDPAddr); la.AddrPort().Addr() != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("local %v", la)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for _, msg := range []string{"one", "two"} {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("read %q, %v", buf[:n], err)
		}
	}
	if _, err := l.hosts["a"].ListenPacket(ap("10.0.0.99:1")); !errors.Is(err, stack.EADDRNOTAVAIL) {
		t.Fatalf("listen on a foreign address: %v", err)
	}
}

func TestPacketConnRaw(t *testing.T) {
	l := udpLAN(t, 1)
	stop := l.background(0)
	defer stop()
	so, err := l.hosts["b"].Socket(stack.AF_INET, stack.SOCK_RAW, 253)
	if err != nil {
		t.Fatal(err)
	}
	recv := stack.NewPacketConn(so)
	defer recv.Close()
	so2, err := l.hosts["a"].Socket(stack.AF_INET, stack.SOCK_RAW, 253)
	if err != nil {
		t.Fatal(err)
	}
	send := stack.NewPacketConn(so2)
	if _, err := send.WriteTo([]byte("raw"), &net.IPAddr{IP: net.IPv4(10, 0, 0, 2)}); err != nil {
		t.Fatal(err)
	}
	recv.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	n, from, err := recv.ReadFrom(buf)
	if err != nil || n != 23 || string(buf[20:n]) != "raw" {
		t.Fatalf("read % x, %v", buf[:n], err)
	}
	if ia, ok := from.(*net.IPAddr); !ok || !ia.IP.Equal(net.IPv4(10, 0, 0, 1)) {
		t.Fatalf("from %#v", from)
	}
	if recv.Socket() != so {
		t.Fatal("Socket() is not the adapted socket")
	}
}
