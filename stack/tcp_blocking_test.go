package stack_test

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
)

// Blocking socket calls from goroutines while the virtual loop runs in the
// background: the socket API as a program uses it.

func noProbe(c *stack.Config) { c.ARP.NoProbe = true }

func TestTCPBlockingEcho(t *testing.T) {
	l := newLAN(t, 3, hostSpec{name: "srv", addr: "10.0.3.1/24", mod: noProbe}, hostSpec{name: "cli", addr: "10.0.3.2/24", mod: noProbe})
	stop := l.background(0)
	defer stop()
	srv, cli := l.hosts["srv"], l.hosts["cli"]
	ls, _ := srv.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err := ls.Bind(netip.MustParseAddrPort("0.0.0.0:7")); err != nil {
		t.Fatal(err)
	}
	ls.Listen(4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // an echo server: copy until EOF, then close
		defer wg.Done()
		c, _, err := ls.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		for {
			b, err := c.Recv(4096)
			if err != nil {
				t.Error(err)
				return
			}
			if len(b) == 0 {
				break
			}
			for len(b) > 0 {
				n, err := c.Send(b)
				if err != nil {
					t.Error(err)
					return
				}
				b = b[n:]
			}
		}
		c.Close()
	}()
	c, _ := cli.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err := c.Connect(netip.MustParseAddrPort("10.0.3.1:7")); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("tipy echo "), 20000) // 200 kB: more than one window's worth
	go func() {
		for off := 0; off < len(msg); {
			n, err := c.Send(msg[off:])
			if err != nil {
				t.Error(err)
				return
			}
			off += n
		}
		c.Shutdown(stack.SHUT_WR)
	}()
	var got bytes.Buffer
	for {
		b, err := c.Recv(8192)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			break
		}
		got.Write(b)
	}
	if !bytes.Equal(got.Bytes(), msg) {
		t.Fatalf("echo returned %d bytes, want %d", got.Len(), len(msg))
	}
	c.Close()
	wg.Wait()
	// Connecting to a closed port is refused.
	c2, _ := cli.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	if err := c2.Connect(netip.MustParseAddrPort("10.0.3.1:8")); errno(err) != stack.ECONNREFUSED {
		t.Fatalf("connect to a closed port: %v, want ECONNREFUSED", err)
	}
	// A receive timeout on the stack's clock.
	c3, _ := cli.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ls2, _ := srv.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ls2.Bind(netip.MustParseAddrPort("0.0.0.0:9"))
	ls2.Listen(1)
	if err := c3.Connect(netip.MustParseAddrPort("10.0.3.1:9")); err != nil {
		t.Fatal(err)
	}
	c3.SetTimeout(200 * time.Millisecond)
	if _, err := c3.Recv(10); errno(err) != stack.ETIMEDOUT {
		t.Fatalf("recv with nothing to read: %v, want ETIMEDOUT", err)
	}
}
