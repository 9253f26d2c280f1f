// Udpecho is a UDP echo client and server over tipy, written with Go's
// net.PacketConn and a connected net.Conn.
//
// By default it runs in an in-process virtual network of two tipy hosts:
// peer (10.0.0.2) runs an echo server on UDP port 7, and tipy (10.0.0.1)
// sends it a few datagrams and prints the echoes.
//
//	go run ./examples/udpecho
//
// On a TAP device tipy plays one side and a real machine the other: with
// -peer, tipy is the client of the echo server at that address (for example
// `socat UDP-LISTEN:7,fork EXEC:cat` there); without it, tipy is the server
// until Ctrl-C (try `nc -u 192.168.2.7 7`).
//
//	sudo go run ./examples/udpecho -tap tap0 -ip 192.168.2.7/24 -peer 192.168.2.20
//	sudo go run ./examples/udpecho -tap tap0 -ip 192.168.2.7/24
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/tipy/tipy/examples/internal/demo"
	"github.com/tipy/tipy/stack/host"
)

func main() { demo.Main(run) }

func run(args []string, stdout io.Writer) error {
	port := 7
	messages := "ping 1|ping 2|ping 3"
	timeout := 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := demo.Open(ctx, "udpecho", args, stdout, demo.Options{Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&port, "port", port, "the echo server's UDP port")
		fs.StringVar(&messages, "messages", messages, "datagrams to send, separated by |")
		fs.DurationVar(&timeout, "timeout", timeout, "how long to wait for each echo")
	}})
	if err != nil {
		return err
	}
	defer env.Close()

	if env.Serves() {
		// tipy is the server, for clients on the real network.
		ctx, stop := demo.Interrupted(ctx)
		defer stop()
		pc, err := env.Tipy.ListenUDP(fmt.Sprintf(":%d", port))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tipy: echo server on %s, Ctrl-C stops it\n", pc.LocalAddr())
		n, err := serve(ctx, pc, demo.Logger(stdout, "tipy"))
		fmt.Fprintf(stdout, "tipy: echoed %d datagrams\n", n)
		return err
	}
	served := make(chan int)
	if env.Virtual() {
		// peer is the server, until run returns.
		pc, err := env.Peer.ListenUDP(fmt.Sprintf(":%d", port))
		if err != nil {
			return err
		}
		go func() {
			n, _ := serve(ctx, pc, func(string, ...any) {})
			served <- n
		}()
	}
	if err := client(env.Tipy, netip.AddrPortFrom(env.PeerAddr, uint16(port)), strings.Split(messages, "|"), timeout, stdout); err != nil {
		return err
	}
	if env.Virtual() {
		cancel() // the server stops
		fmt.Fprintf(stdout, "peer: echoed %d datagrams\n", <-served)
	}
	return nil
}

// client sends each message from h to addr in a datagram of its own and
// waits for its echo. A lost datagram is reported, not retried: UDP makes
// no promise of delivery.
func client(h *host.Host, addr netip.AddrPort, messages []string, timeout time.Duration, out io.Writer) error {
	c, err := h.Dial("udp", addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(out, "tipy: sending to %s from %s\n", c.RemoteAddr(), c.LocalAddr())
	buf := make([]byte, 2048)
	for _, m := range messages {
		if _, err := c.Write([]byte(m)); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(timeout))
		n, err := c.Read(buf)
		if err != nil {
			fmt.Fprintf(out, "tipy: sent %q, no echo: %v\n", m, err)
			continue
		}
		fmt.Fprintf(out, "tipy: sent %q, received %q\n", m, buf[:n])
	}
	return nil
}

// serve echoes every datagram that reaches pc back to its sender, until ctx
// ends, and returns how many it echoed.
func serve(ctx context.Context, pc net.PacketConn, logf func(string, ...any)) (int, error) {
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, 65535)
	echoed := 0
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return echoed, nil
			}
			return echoed, err
		}
		logf("%d bytes from %s: %q", n, from, buf[:n])
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			logf("echo to %s: %v", from, err)
			continue
		}
		echoed++
	}
}
