// Tcpecho is a TCP echo client and server over tipy, written with Go's
// net.Conn and net.Listener.
//
// By default it runs in an in-process virtual network of two tipy hosts:
// peer (10.0.0.2) runs an echo server on port 7, and tipy (10.0.0.1)
// connects to it, sends a few lines and prints what comes back.
//
//	go run ./examples/tcpecho
//
// On a TAP device tipy plays one side and a real machine the other: with
// -peer, tipy is the client of the echo server at that address (for example
// `socat TCP-LISTEN:7,fork,reuseaddr EXEC:cat` there); without it, tipy is
// the server until Ctrl-C (try `nc 192.168.2.7 7`).
//
//	sudo go run ./examples/tcpecho -tap tap0 -ip 192.168.2.7/24 -peer 192.168.2.20
//	sudo go run ./examples/tcpecho -tap tap0 -ip 192.168.2.7/24
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/tipy/tipy/examples/internal/demo"
	"github.com/tipy/tipy/stack/host"
)

func main() { demo.Main(run) }

func run(args []string, stdout io.Writer) error {
	port := 7
	lines := "hello, tipy|a TCP echo|over a userspace stack"
	ctx := context.Background()
	env, err := demo.Open(ctx, "tcpecho", args, stdout, demo.Options{Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&port, "port", port, "the echo server's port")
		fs.StringVar(&lines, "lines", lines, "lines to send, separated by |")
	}})
	if err != nil {
		return err
	}
	defer env.Close()

	if env.Serves() {
		// tipy is the server, for clients on the real network.
		ctx, stop := demo.Interrupted(ctx)
		defer stop()
		return serve(ctx, env.Tipy, port, demo.Logger(stdout, "tipy"), nil)
	}
	served := make(chan int64, 1)
	if env.Virtual() {
		// peer is the server; it reports how much it echoed once the client
		// has closed.
		if err := serve(ctx, env.Peer, port, func(string, ...any) {}, served); err != nil {
			return err
		}
	}
	if err := client(env.Tipy, netip.AddrPortFrom(env.PeerAddr, uint16(port)), strings.Split(lines, "|"), stdout); err != nil {
		return err
	}
	if env.Virtual() {
		fmt.Fprintf(stdout, "peer: echoed %d bytes and closed\n", <-served)
	}
	return nil
}

// client connects from h to addr, sends each line and reads its echo.
func client(h *host.Host, addr netip.AddrPort, lines []string, out io.Writer) error {
	c, err := h.Dial("tcp", addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(out, "tipy: connected to %s from %s\n", c.RemoteAddr(), c.LocalAddr())
	r := bufio.NewReader(c)
	for _, line := range lines {
		if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
			return err
		}
		echo, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the echo of %q: %w", line, err)
		}
		fmt.Fprintf(out, "tipy: sent %q, received %q\n", line, strings.TrimSuffix(echo, "\n"))
	}
	return c.Close()
}

// serve listens on h's port and echoes every connection back to its sender.
// With served set, it serves one connection in the background and sends
// the number of bytes echoed on served; otherwise it serves connections
// until ctx ends.
func serve(ctx context.Context, h *host.Host, port int, logf func(string, ...any), served chan<- int64) error {
	ln, err := h.ListenTCP(fmt.Sprintf(":%d", port))
	if err != nil {
		return err
	}
	echo := func(c net.Conn) int64 {
		defer c.Close()
		n, err := io.Copy(c, c)
		logf("echoed %d bytes to %s (%v)", n, c.RemoteAddr(), errOrEOF(err))
		return n
	}
	if served != nil {
		go func() {
			defer ln.Close()
			c, err := ln.Accept()
			if err != nil {
				close(served)
				return
			}
			served <- echo(c)
		}()
		return nil
	}
	logf("echo server on %s, Ctrl-C stops it", ln.Addr())
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		logf("connection from %s", c.RemoteAddr())
		go echo(c)
	}
}

func errOrEOF(err error) string {
	if err == nil {
		return "end of stream"
	}
	return err.Error()
}
