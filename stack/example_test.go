package stack_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/host"
)

// hosts starts a virtual network of hosts a (10.0.0.1) and b (10.0.0.2);
// stack/host is the usual way to get running stacks.
func hosts() (*host.Network, *host.Host, *host.Host) {
	n := host.NewNetwork(host.NetworkConfig{Seed: 1})
	a, _ := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	b, _ := n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.2/24"})
	if err := n.Start(); err != nil {
		log.Fatal(err)
	}
	if err := n.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	return n, a, b
}

// The socket API, as in C or Python: a UDP socket bound to a port receives
// with RecvFrom; another sends to it with SendTo. Errors carry the errno
// that a C program would see.
func ExampleStack_Socket() {
	n, a, b := hosts()
	defer n.Close()

	srv, err := b.Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Bind(netip.MustParseAddrPort("0.0.0.0:5353")); err != nil {
		log.Fatal(err)
	}
	srv.SetTimeout(2 * time.Second) // on the stack's clock

	cli, err := a.Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.SendTo([]byte("query"), netip.MustParseAddrPort("10.0.0.2:5353")); err != nil {
		log.Fatal(err)
	}
	data, from, err := srv.RecvFrom(512)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("b got %q from %s\n", data, from)

	// Nobody listens on port 9: b answers with an ICMP port unreachable,
	// which a connected socket reports as ECONNREFUSED.
	if err := cli.Connect(netip.MustParseAddrPort("10.0.0.2:9")); err != nil {
		log.Fatal(err)
	}
	cli.SetTimeout(2 * time.Second)
	cli.Send([]byte("anyone?"))
	_, err = cli.Recv(512)
	fmt.Println(err)
	// Output:
	// b got "query" from 10.0.0.1:33654
	// recv 10.0.0.2:9: ECONNREFUSED: connection refused (ICMP port unreachable from 10.0.0.2)
}

// Ping sends ICMP echo requests and gathers the replies, as the ping
// command does. In a virtual network the round-trip times are those of the
// network's clock.
func ExampleStack_Ping() {
	n, a, b := hosts()
	defer n.Close()

	res, err := a.Ping(context.Background(), b.Addr(), stack.PingOptions{Count: 3, Interval: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.Replies {
		fmt.Printf("%d bytes from %s: seq=%d ttl=%d\n", r.Bytes, r.From, r.Seq, r.TTL)
	}
	fmt.Printf("%d sent, %d received, %d lost\n", res.Sent, res.Received, len(res.Lost))
	// Output:
	// 64 bytes from 10.0.0.2: seq=1 ttl=64
	// 64 bytes from 10.0.0.2: seq=2 ttl=64
	// 64 bytes from 10.0.0.2: seq=3 ttl=64
	// 3 sent, 3 received, 0 lost
}
