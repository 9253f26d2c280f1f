// Ping sends ICMP echo requests from a raw socket, as the ping command
// does: it builds each request with stack/wire, sends it with SendTo on a
// SOCK_RAW socket of protocol ICMP, and reads the replies, IPv4 header
// included, with RecvFrom. (Stack.Ping does all of this for you.)
//
// By default it runs in an in-process virtual network of two tipy hosts:
// tipy (10.0.0.1) pings peer (10.0.0.2), whose stack answers.
//
//	go run ./examples/ping
//
// On a TAP device, tipy pings the -peer address on the real network:
//
//	sudo go run ./examples/ping -tap tap0 -ip 192.168.2.7/24 -peer 192.168.2.1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/tipy/tipy/examples/internal/demo"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/stack/wire"
)

func main() { demo.Main(run) }

func run(args []string, stdout io.Writer) error {
	count := 3
	size := 56
	interval := time.Second
	timeout := 2 * time.Second
	ctx := context.Background()
	env, err := demo.Open(ctx, "ping", args, stdout, demo.Options{
		Flags: func(fs *flag.FlagSet) {
			fs.IntVar(&count, "count", count, "echo requests to send")
			fs.IntVar(&size, "size", size, "data bytes in each request")
			fs.DurationVar(&interval, "interval", interval, "time between requests")
			fs.DurationVar(&timeout, "timeout", timeout, "how long to wait for each reply")
		},
		Check: func(f demo.Flags) error {
			if f.TAP != "" && f.Peer == "" {
				return errors.New("on a TAP device, -peer says whom to ping")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	defer env.Close()
	return ping(ctx, env.Tipy, env.PeerAddr, count, size, interval, timeout, stdout)
}

// ping sends count echo requests from h to dst and prints each reply with
// its round-trip time on the host's clock.
func ping(ctx context.Context, h *host.Host, dst netip.Addr, count, size int, interval, timeout time.Duration, out io.Writer) error {
	so, err := h.Socket(stack.AF_INET, stack.SOCK_RAW, int(wire.ProtoICMP))
	if err != nil {
		return err
	}
	defer so.Close()
	// Recv gives up after timeout, measured on the host's clock.
	if err := so.SetTimeout(timeout); err != nil {
		return err
	}
	// The identifier tells our replies from other pings'. The stack's seeded
	// random source belongs to its loop, so it is read inside Call.
	var id uint16
	h.Call(func() { id = uint16(h.Rand().Uint32()) })
	fmt.Fprintf(out, "PING %s: %d data bytes, ICMP id %d\n", dst, size, id)
	received := 0
	for seq := 1; seq <= count; seq++ {
		if seq > 1 {
			if err := h.Sleep(ctx, interval); err != nil {
				return err
			}
		}
		req := make([]byte, wire.ICMPHeaderLen+size)
		for i := range size {
			req[wire.ICMPHeaderLen+i] = byte(i)
		}
		hdr := wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: id, Seq: uint16(seq)}
		if err := hdr.Marshal(req); err != nil {
			return err
		}
		sent := h.Loop().Now()
		if _, err := so.SendTo(req, netip.AddrPortFrom(dst, 0)); err != nil {
			return err
		}
		if line, ok := awaitReply(so, dst, id, uint16(seq), sent); ok {
			received++
			fmt.Fprintln(out, line)
		} else {
			fmt.Fprintf(out, "no reply to icmp_seq=%d: %s\n", seq, line)
		}
	}
	loss := 100 * (count - received) / count
	fmt.Fprintf(out, "--- %s ping statistics ---\n%d packets transmitted, %d received, %d%% packet loss\n", dst, count, received, loss)
	return nil
}

// awaitReply reads datagrams until the reply to request seq arrives, and
// returns the line to print about it. A raw ICMP socket receives every ICMP
// datagram for the host (other pings' replies, requests to it, errors), so
// it keeps only echo replies from dst with our id and sequence number.
func awaitReply(so *stack.Socket, dst netip.Addr, id, seq uint16, sent clock.Time) (string, bool) {
	for {
		b, from, err := so.RecvFrom(65535)
		if err != nil {
			return err.Error(), false
		}
		ip, err := wire.ParseIPv4(b)
		if err != nil {
			continue
		}
		msg := b[ip.HeaderLen():]
		icmp, err := wire.ParseICMP(msg)
		if err != nil || icmp.Type != wire.ICMPEchoReply || icmp.ID != id || icmp.Seq != seq || from.Addr() != dst {
			continue
		}
		rtt := so.Stack().Loop().Now().Sub(sent)
		return fmt.Sprintf("%d bytes from %s: icmp_seq=%d ttl=%d time=%.3f ms", len(msg), from.Addr(), icmp.Seq, ip.TTL, float64(rtt)/float64(time.Millisecond)), true
	}
}
