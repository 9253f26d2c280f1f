// Multicast is a multicast sender and listener over tipy's socket API: the
// listener binds a UDP port and joins a group with IP_ADD_MEMBERSHIP (the
// stack then reports its membership with IGMP); the sender sets
// IP_MULTICAST_TTL and sends to the group's address.
//
// By default it runs in an in-process virtual network of two tipy hosts:
// peer (10.0.0.2) joins 239.1.2.3 and listens on port 5000, tipy (10.0.0.1)
// sends it a few datagrams.
//
//	go run ./examples/multicast
//
// On a TAP device, tipy sends to the group, or with -listen, listens until
// Ctrl-C (try `socat - UDP4-DATAGRAM:239.1.2.3:5000` from another machine).
//
//	sudo go run ./examples/multicast -tap tap0 -ip 192.168.2.7/24
//	sudo go run ./examples/multicast -tap tap0 -ip 192.168.2.7/24 -listen
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
	"github.com/tipy/tipy/stack/host"
)

func main() { demo.Main(run) }

func run(args []string, stdout io.Writer) error {
	group := "239.1.2.3"
	port := 5000
	count := 3
	ttl := 1
	listen := false
	var g netip.Addr
	ctx := context.Background()
	env, err := demo.Open(ctx, "multicast", args, stdout, demo.Options{
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&group, "group", group, "the multicast group")
			fs.IntVar(&port, "port", port, "the UDP port")
			fs.IntVar(&count, "count", count, "datagrams to send")
			fs.IntVar(&ttl, "ttl", ttl, "IP_MULTICAST_TTL of the datagrams sent (1: this network only)")
			fs.BoolVar(&listen, "listen", listen, "on a TAP device: listen instead of sending")
		},
		Check: func(f demo.Flags) (err error) {
			if g, err = netip.ParseAddr(group); err != nil || !g.Is4() || !g.IsMulticast() {
				return fmt.Errorf("-group %q: want an IPv4 multicast address, 224.0.0.0 to 239.255.255.255", group)
			}
			if f.Peer != "" {
				return errors.New("-peer is not used: the datagrams go to -group")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	defer env.Close()
	dst := netip.AddrPortFrom(g, uint16(port))

	if !env.Virtual() && listen {
		ctx, stop := demo.Interrupted(ctx)
		defer stop()
		l, err := join(env.Tipy, dst, stdout)
		if err != nil {
			return err
		}
		defer l.Close()
		stopper := context.AfterFunc(ctx, func() { l.Close() })
		defer stopper()
		fmt.Fprintln(stdout, "tipy: Ctrl-C stops listening")
		for {
			if _, err := receive(l, stdout); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}

	var l *stack.Socket
	if env.Virtual() {
		if l, err = join(env.Peer, dst, stdout); err != nil {
			return err
		}
		defer l.Close()
		// A lost datagram should not hang the example.
		if err := l.SetTimeout(2 * time.Second); err != nil {
			return err
		}
	}
	s, err := env.Tipy.Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetSockopt(stack.IPPROTO_IP, stack.IP_MULTICAST_TTL, ttl); err != nil {
		return err
	}
	for i := 1; i <= count; i++ {
		msg := fmt.Sprintf("message %d", i)
		if _, err := s.SendTo([]byte(msg), dst); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tipy: sent %q to %s\n", msg, dst)
		if l != nil {
			if _, err := receive(l, stdout); err != nil {
				return err
			}
		}
	}
	if l != nil {
		if err := l.SetSockopt(stack.IPPROTO_IP, stack.IP_DROP_MEMBERSHIP, stack.Membership{Group: g}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: left %s\n", env.Peer.Name(), g)
	}
	return nil
}

// join opens a UDP socket on h bound to dst's port and joins dst's group on
// h's first interface.
func join(h *host.Host, dst netip.AddrPort, out io.Writer) (*stack.Socket, error) {
	so, err := h.Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
	if err != nil {
		return nil, err
	}
	// Other programs may listen on the same group and port.
	if err := so.SetSockopt(stack.SOL_SOCKET, stack.SO_REUSEADDR, true); err != nil {
		so.Close()
		return nil, err
	}
	if err := so.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), dst.Port())); err != nil {
		so.Close()
		return nil, err
	}
	if err := so.SetSockopt(stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: dst.Addr()}); err != nil {
		so.Close()
		return nil, err
	}
	fmt.Fprintf(out, "%s: joined %s on %s, listening on port %d\n", h.Name(), dst.Addr(), h.Addr(), dst.Port())
	return so, nil
}

// receive reads one datagram from l and prints it.
func receive(l *stack.Socket, out io.Writer) ([]byte, error) {
	b, from, err := l.RecvFrom(65535)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%s: received %q from %s\n", l.Stack().Name(), b, from)
	return b, nil
}
