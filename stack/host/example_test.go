package host_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/tap"
)

// newPair starts a virtual network of two hosts, a (10.0.0.1) and b
// (10.0.0.2), ready to use.
func newPair(bus *observe.Bus) (*host.Network, *host.Host, *host.Host) {
	n := host.NewNetwork(host.NetworkConfig{Seed: 1, Bus: bus})
	a, err := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	if err != nil {
		log.Fatal(err)
	}
	b, err := n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.2/24"})
	if err != nil {
		log.Fatal(err)
	}
	if err := n.Start(); err != nil {
		log.Fatal(err)
	}
	if err := n.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	return n, a, b
}

// A virtual network of two hosts, and a TCP echo between them through
// Go's net.Listener and net.Conn.
func Example() {
	n := host.NewNetwork(host.NetworkConfig{Seed: 1})
	a, _ := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
	b, _ := n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.2/24"})
	if err := n.Start(); err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	if err := n.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}

	ln, err := b.ListenTCP(":7")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo until a closes
		c.Close()
	}()

	c, err := a.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected from", c.LocalAddr(), "to", c.RemoteAddr())
	fmt.Fprint(c, "hello, tipy")
	buf := make([]byte, 11)
	if _, err := io.ReadFull(c, buf); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echo: %s\n", buf)
	c.Close()
	// Output:
	// connected from 10.0.0.1:33654 to 10.0.0.2:7
	// echo: hello, tipy
}

// UDP through net.PacketConn on one side and a connected net.Conn on the
// other.
func ExampleHost_ListenUDP() {
	n, a, b := newPair(nil)
	defer n.Close()

	pc, err := b.ListenUDP(":9000")
	if err != nil {
		log.Fatal(err)
	}
	c, err := a.Dial("udp", "10.0.0.2:9000")
	if err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("one datagram"))

	buf := make([]byte, 1500)
	k, from, err := pc.ReadFrom(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("b received %q from %s\n", buf[:k], from)
	pc.WriteTo([]byte("and one back"), from)
	if k, err = c.Read(buf); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("a received %q\n", buf[:k])
	// Output:
	// b received "one datagram" from 10.0.0.1:33654
	// a received "and one back"
}

// Go's net/http over tipy: the server serves a tipy net.Listener, the
// client's transport dials with the host's DialContext.
func Example_http() {
	n, a, b := newPair(nil)
	defer n.Close()

	ln, err := b.ListenTCP(":80")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s, this is %s\n", r.URL.Query().Get("name"), b.Name())
	})}
	go srv.Serve(ln)
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}}
	resp, err := client.Get("http://10.0.0.2/?name=a")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Print(string(body))
	// Output:
	// 200 OK
	// hello a, this is b
}

// Impair a link: 40 ms of delay each way on b's port of the switch. Ping
// runs on the network's clock, so its round-trip times are exact; the first
// echo also waits for ARP to resolve b's address through the same delay.
func ExampleNetwork_Impair() {
	n, a, b := newPair(nil)
	defer n.Close()

	if err := n.Impair("lan/b", tap.Impairment{Delay: 40 * time.Millisecond}); err != nil {
		log.Fatal(err)
	}
	res, err := a.Ping(context.Background(), b.Addr(), stack.PingOptions{Count: 3, Interval: 200 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.Replies {
		fmt.Printf("seq %d: %v\n", r.Seq, r.RTT.Round(time.Millisecond))
	}
	fmt.Printf("%d sent, %d received\n", res.Sent, res.Received)
	// Output:
	// seq 1: 160ms
	// seq 2: 80ms
	// seq 3: 80ms
	// 3 sent, 3 received
}

// Watch a connection open on the observer bus: every state change of both
// ends, with the reason the stack gives.
func Example_observer() {
	bus := observe.NewBus(observe.BusOptions{})
	n, a, b := newPair(bus)
	defer n.Close()

	sub := bus.Subscribe(observe.Filter{
		Layers: []observe.Layer{observe.LayerTCP},
		Kinds:  []observe.Kind{observe.KindState},
	}, 64)
	defer sub.Close()

	ln, _ := b.ListenTCP(":7")
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := a.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", e.Host, e.Summary)
		if e.Host == "b" && strings.HasSuffix(e.Summary, "ESTABLISHED") {
			break
		}
	}
	// Output:
	// b: CLOSED → LISTEN on 0.0.0.0:7
	// a: CLOSED → SYN-SENT
	// b: LISTEN → SYN-RECEIVED
	// a: SYN-SENT → ESTABLISHED
	// b: SYN-RECEIVED → ESTABLISHED
}

// A host on a TAP device (as root or with CAP_NET_ADMIN), on the machine's
// own network.
func ExampleStart() {
	h, err := host.Start(host.Config{
		TAP:     "tap0",
		Addr:    netip.MustParsePrefix("192.168.2.7/24"),
		Gateway: netip.MustParseAddr("192.168.2.1"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	if err := h.WaitReady(ctx); err != nil { // RFC 5227 probing
		log.Fatal(err)
	}
	res, err := h.Ping(ctx, netip.MustParseAddr("192.168.2.1"), stack.PingOptions{Count: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Received, "replies from the gateway")
}
