// Package host is the way into tipy from Go: it makes running tipy hosts,
// each a [stack.Stack] with its link and its clock, either alone on a TAP
// device or together in an in-process virtual network.
//
// # A virtual network
//
// [NewNetwork] makes an empty network on one virtual clock; [Network.AddHost]
// plugs hosts into its switches; [Network.Start] runs it;
// [Network.WaitReady] waits until the hosts may use their addresses;
// [Network.Close] stops everything. No root is needed and nothing leaves the process, which
// makes it the place for examples and tests:
//
//	n := host.NewNetwork(host.NetworkConfig{Seed: 1})
//	a, _ := n.AddHost(host.HostConfig{Name: "a", Addr: "10.0.0.1/24"})
//	b, _ := n.AddHost(host.HostConfig{Name: "b", Addr: "10.0.0.2/24"})
//	n.Start()
//	defer n.Close()
//	n.WaitReady(ctx) // the RFC 5227 address probes, in no real time
//
// Hosts on the same switch ("lan" unless HostConfig.Switch says otherwise)
// share an Ethernet segment; a host with Forwarding and a second interface
// ([Network.AddInterface]) routes between two switches. [Network.Impair]
// gives a link (named "switch/host", like "lan/b") loss, delay, jitter, duplication, reordering, corruption or
// a rate limit (see tap.Impairment), in both directions. Every random choice,
// of the stacks and of the impairments, comes from NetworkConfig.Seed. The
// virtual clock keeps pace with the wall clock unless NetworkConfig.Speed
// says otherwise, so socket timeouts and deadlines mean what they say.
//
// # A host on a TAP device
//
// [Start] attaches one host to a Linux TAP device (root or CAP_NET_ADMIN) on
// wall-clock time, or to a [tap.Link] of your own:
//
//	h, err := host.Start(host.Config{TAP: "tap0", Addr: netip.MustParsePrefix("192.168.2.7/24"),
//		Gateway: netip.MustParseAddr("192.168.2.1")})
//	...
//	defer h.Close()
//	h.WaitReady(ctx) // up to about nine seconds of RFC 5227 probes
//
// # Sockets
//
// A [Host] embeds its [stack.Stack], so the whole socket API is a method of
// Host. Go's interfaces come first: [Host.Dial] and [stack.Stack.DialContext]
// return a net.Conn, [Host.ListenTCP] a net.Listener, [Host.ListenUDP] a
// net.PacketConn, so code written for package net (net/http included) runs
// over tipy:
//
//	ln, _ := b.ListenTCP(":7")
//	go func() { c, _ := ln.Accept(); io.Copy(c, c); c.Close() }()
//	c, _ := a.Dial("tcp", "10.0.0.2:7")
//	fmt.Fprint(c, "hello")
//
//	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}}
//
// [stack.Stack.Socket] is the BSD socket API, as Python's socket module has
// it: AF_INET with SOCK_STREAM (TCP), SOCK_DGRAM (UDP) or SOCK_RAW (raw
// IPv4), then Bind, Connect, Listen, Accept, Send, Recv, SendTo, RecvFrom,
// SetSockopt, Shutdown and Close on the [stack.Socket]. [stack.Stack.Ping]
// sends ICMP echo requests. Timeouts of the socket API
// ([stack.Socket.SetTimeout]) run on the host's clock; net.Conn deadlines are
// wall-clock times, as package net defines them.
//
// Socket calls may come from any goroutine. Anything else that touches a
// stack's state (its ARP table, routes, counters) is loop work: run it
// inside [stack.Stack.Call].
//
// # Watching
//
// Give the network (or Start) an observe.Bus and every decision of every
// layer arrives on it as an event saying what happened, why, and which RFC
// section asks for it:
//
//	bus := observe.NewBus(observe.BusOptions{})
//	sub := bus.Subscribe(observe.Filter{Layers: []observe.Layer{observe.LayerTCP}}, 1024)
//	n := host.NewNetwork(host.NetworkConfig{Seed: 1, Bus: bus})
//	...
//	e, _ := sub.Next(ctx) // e.Host, e.Kind, e.Summary, e.Explain, e.RFC
//
// The programs in the repository's examples directory put all of this
// together, each in a virtual network by default and on a TAP device with
// -tap.
package host
