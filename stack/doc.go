// Package stack is tipy's TCP/IP stack: a deterministic state machine that is
// fed Ethernet frames, timer deadlines and socket calls, each with an explicit
// "now", and that answers with frames and events.
//
// A [Stack] belongs to one clock.Loop, its single owner: frames arrive through
// the link's handler on the loop, timers fire on the loop, and calls from other
// goroutines go through clock.Loop.Call. Nothing in the package reads the wall
// clock, keeps global state or starts goroutines; every random choice comes
// from a source seeded by [Config.Seed].
//
// Every decision is published to an observe.Sink as an event with a reason in
// plain words and the RFC section behind it; a dropped frame is counted under
// its [Reason] and traced, never silently lost.
//
// # How it fits
//
// A frame comes up from a tap.Link to the Ethernet layer (ethernet.go), then
// to ARP (arp*.go) or IPv4 (ipv4*.go: validation, reassembly, routing and
// forwarding), then to ICMP, IGMP, UDP, TCP (tcp*.go) or a raw socket; what
// the layers send goes down the same way. Wire formats come from stack/wire,
// TCP's algorithms (congestion control, RTT, SACK) from stack/tcp, sequence
// arithmetic from stack/seqnum, time from stack/clock.
//
// Programs use a stack through its sockets, from any goroutine: [Stack.Socket]
// is the BSD socket API (AF_INET; SOCK_STREAM, SOCK_DGRAM, SOCK_RAW) and
// [Stack.DialContext], [Stack.Listen] and [Stack.ListenPacket] give Go's
// net.Conn, net.Listener and net.PacketConn; [Stack.Ping] pings. Code that runs
// on the loop itself uses the *Now forms of the socket calls, which never
// wait.
//
// [New] makes a stack from its parts (a configuration, a link, a loop, a
// sink). Package stack/host assembles those parts for you, for a host on a TAP
// device or a virtual network of hosts, and is the usual way in.
package stack
