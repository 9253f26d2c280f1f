package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

// tracePort is the UDP port of the first traceroute probe (traceroute's
// default); probe n goes to tracePort+n-1, a port nobody listens on.
const tracePort = 33434

// expTraceroute: UDP probes with TTL 1, 2, ... until the destination answers.
var expTraceroute = &Experiment{
	ID:    "traceroute",
	Title: "Traceroute with TTL-limited UDP probes",
	Topic: "ICMP",
	Explain: "Every router decrements a datagram's TTL, and one that would send it on with TTL 0 discards it and tells the source with ICMP time exceeded (RFC 1812 §5.3.1, RFC 792). " +
		"Traceroute uses that to find the routers of a path: it sends a UDP probe to far with TTL 1, which gw refuses, so gw's time exceeded names the first hop. " +
		"The next probe, with TTL 2, gets through gw and reaches far, whose probe port is closed: far answers ICMP port unreachable, which says the destination is reached. " +
		"A UDP socket does not see these errors, so tipy reads them from a raw ICMP socket, as the classic traceroute does.",
	Look: []Pointer{
		{Page: "frames", Layers: "ipv4,icmp,udp", Text: "the probe with ttl 1 and gw's time exceeded, then the probe with ttl 2 and far's port unreachable"},
		{Page: "sockets", Host: "tipy", Text: "the UDP socket sending the probes and the raw ICMP socket reading the answers"},
	},
	Proof: []Proof{
		{Text: "gw receives the probe with TTL 1 and may not forward it", Host: "gw", Layer: observe.LayerIPv4, Kind: observe.KindDrop, Reason: "ip-ttl-exceeded", Summary: "ttl 1 to " + FarAddr},
		{Text: "gw sends ICMP time exceeded to tipy", Host: "gw", Layer: observe.LayerICMP, Kind: observe.KindTX, Summary: "sending ICMP time exceeded in-transit"},
		{Text: "tipy learns the first hop: gw's address", Host: "tipy", Layer: observe.LayerICMP, Kind: observe.KindRX, Summary: "received ICMP time exceeded in-transit, " + GwAddr + " > " + TipyAddr},
		{Text: "the TTL-2 probe reaches far, where its port is closed", Host: "far", Layer: observe.LayerUDP, Kind: observe.KindDrop, Reason: "udp-no-socket", Summary: fmt.Sprintf("port %d", tracePort+1)},
		{Text: "far's port unreachable tells tipy the destination is reached", Host: "tipy", Layer: observe.LayerICMP, Kind: observe.KindRX, Summary: fmt.Sprintf("ICMP %s udp port %d unreachable, %s > %s", FarAddr, tracePort+1, FarAddr, TipyAddr)},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		icmp, err := socket(tipy, stack.SOCK_RAW, int(wire.ProtoICMP))
		if err != nil {
			return err
		}
		defer icmp.Close()
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		type hop struct {
			from        netip.Addr
			typ         wire.ICMPType
			code        uint8
			description string
		}
		var hops []hop
		for ttl := 1; ttl <= 5; ttl++ {
			port := uint16(tracePort + ttl - 1)
			if err := so.SetSockopt(stack.IPPROTO_IP, stack.IP_TTL, ttl); err != nil {
				return err
			}
			if _, err := so.SendToContext(ctx, []byte("traceroute probe"), netip.AddrPortFrom(farIP, port)); err != nil {
				return err
			}
			ip, m, err := readICMP(ctx, icmp, 3*time.Second, func(ip wire.IPv4, m wire.ICMP) bool {
				q := wire.ParseICMPQuote(m.Payload())
				return (m.Type() == wire.ICMPTimeExceeded || m.Type() == wire.ICMPDestinationUnreachable) &&
					q.HasPorts && q.Protocol == wire.ProtoUDP && q.Dst == farIP && q.DstPort == port
			})
			if err != nil {
				return fmt.Errorf("probe with TTL %d: %w", ttl, err)
			}
			h := hop{from: ip.Src(), typ: m.Type(), code: m.Code(), description: "time exceeded in transit"}
			if m.Type() == wire.ICMPDestinationUnreachable {
				h.description = fmt.Sprintf("destination unreachable, code %d: the destination answered", m.Code())
			}
			hops = append(hops, h)
			env.Logf("%d  %s  (%s)", ttl, h.from, h.description)
			if m.Type() == wire.ICMPDestinationUnreachable {
				break
			}
		}
		if len(hops) != 2 || hops[0].from != gwIP || hops[0].typ != wire.ICMPTimeExceeded ||
			hops[1].from != farIP || hops[1].typ != wire.ICMPDestinationUnreachable || hops[1].code != wire.ICMPPortUnreachable {
			return fmt.Errorf("the path found is %+v; want gw (time exceeded) then far (port unreachable)", hops)
		}
		return env.Sleep(ctx, defaultSettle)
	},
}

// closedPort is a UDP port on which no built-in service listens.
const closedPort = 9999

// expPortUnreachable: a connected UDP socket to a closed port gets
// ECONNREFUSED.
var expPortUnreachable = &Experiment{
	ID:    "port-unreachable",
	Title: "ICMP port unreachable: ECONNREFUSED on UDP",
	Topic: "ICMP",
	Explain: fmt.Sprintf("tipy connects a UDP socket to port %d of peer, where no program listens, and sends a datagram. ", closedPort) +
		"Connecting a UDP socket sends nothing; it only fixes the peer. " +
		"peer's UDP finds no socket for the port, discards the datagram and answers with ICMP destination unreachable, code 3, port unreachable, quoting the datagram's headers (RFC 1122 §4.1.3.1). " +
		"tipy matches the quote to the connected socket, and its next call fails with ECONNREFUSED (RFC 1122 §4.1.3.3), as on Linux; an unconnected socket would not be told.",
	Look: []Pointer{
		{Page: "frames", Layers: "udp,icmp", Text: fmt.Sprintf("the datagram to port %d and peer's port unreachable, which carries its IP and UDP headers", closedPort)},
		{Page: "sockets", Host: "tipy", Text: "the connected UDP socket whose receive call fails with ECONNREFUSED"},
	},
	Proof: []Proof{
		{Text: "peer has no socket on the port and discards the datagram", Host: "peer", Layer: observe.LayerUDP, Kind: observe.KindDrop, Reason: "udp-no-socket", Summary: fmt.Sprintf("no socket on port %d", closedPort)},
		{Text: "peer answers with ICMP port unreachable", Host: "peer", Layer: observe.LayerICMP, Kind: observe.KindTX, Summary: fmt.Sprintf("ICMP %s udp port %d unreachable", PeerAddr, closedPort)},
		{Text: "tipy maps it to ECONNREFUSED, a hard error", Host: "tipy", Layer: observe.LayerICMP, Kind: observe.KindError, Summary: "ICMP port unreachable from " + PeerAddr + ": hard error ECONNREFUSED"},
		{Text: "the connected socket is told", Host: "tipy", Layer: observe.LayerUDP, Kind: observe.KindError, Reason: "ECONNREFUSED", Summary: "reported as ECONNREFUSED"},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		dst := netip.AddrPortFrom(peerIP, closedPort)
		if err := so.ConnectContext(ctx, dst); err != nil {
			return err
		}
		env.Logf("connected a UDP socket to %s (nothing is sent)", dst)
		if _, err := so.SendContext(ctx, []byte("anyone listening?")); err != nil {
			return err
		}
		env.Logf("sent a datagram")
		_, _, err = recvTimeout(ctx, so, 3*time.Second)
		if err := wantErrno(err, stack.ECONNREFUSED); err != nil {
			return err
		}
		env.Logf("recv failed: %v", err)
		return env.Sleep(ctx, defaultSettle)
	},
}

// unusedProtocol is an IP protocol number no host of the lab handles (253
// is reserved for experiments, RFC 3692).
const unusedProtocol = 253

// expProtocolUnreachable: a raw socket sends a protocol peer does not speak.
var expProtocolUnreachable = &Experiment{
	ID:    "protocol-unreachable",
	Title: "ICMP protocol unreachable",
	Topic: "ICMP",
	Explain: fmt.Sprintf("The IPv4 header's protocol field says which layer the data is for: 1 ICMP, 6 TCP, 17 UDP. tipy opens a raw socket of protocol %d, a number reserved for experiments that no host here speaks, and sends peer a datagram with it. ", unusedProtocol) +
		"peer accepts the datagram, finds no layer and no raw socket for the protocol, discards it and answers ICMP destination unreachable, code 2, protocol unreachable (RFC 1122 §3.2.2.1). " +
		"tipy's stack maps it to ENOPROTOOPT; the program reads the error itself from a raw ICMP socket.",
	Look: []Pointer{
		{Page: "frames", Layers: "ipv4,icmp", Text: fmt.Sprintf("the datagram with protocol %d and peer's protocol unreachable quoting it", unusedProtocol)},
	},
	Proof: []Proof{
		{Text: fmt.Sprintf("tipy's raw socket sends a datagram of protocol %d", unusedProtocol), Host: "tipy", Layer: observe.LayerSocket, Kind: observe.KindTX, Summary: fmt.Sprintf("bytes of protocol %d to %s", unusedProtocol, PeerAddr)},
		{Text: "peer has no handler for the protocol and discards it", Host: "peer", Layer: observe.LayerIPv4, Kind: observe.KindDrop, Reason: "ip-unknown-protocol"},
		{Text: "peer answers with ICMP protocol unreachable", Host: "peer", Layer: observe.LayerICMP, Kind: observe.KindTX, Summary: fmt.Sprintf("ICMP %s protocol %d unreachable", PeerAddr, unusedProtocol)},
		{Text: "tipy maps it to ENOPROTOOPT", Host: "tipy", Layer: observe.LayerICMP, Kind: observe.KindError, Summary: "ICMP protocol unreachable from " + PeerAddr + ": hard error ENOPROTOOPT"},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		icmp, err := socket(tipy, stack.SOCK_RAW, int(wire.ProtoICMP))
		if err != nil {
			return err
		}
		defer icmp.Close()
		so, err := socket(tipy, stack.SOCK_RAW, unusedProtocol)
		if err != nil {
			return err
		}
		defer so.Close()
		if _, err := so.SendToContext(ctx, []byte("an experimental protocol"), netip.AddrPortFrom(peerIP, 0)); err != nil {
			return err
		}
		env.Logf("sent a datagram of protocol %d to %s", unusedProtocol, peerIP)
		ip, _, err := readICMP(ctx, icmp, 3*time.Second, func(ip wire.IPv4, m wire.ICMP) bool {
			q := wire.ParseICMPQuote(m.Payload())
			return ip.Src() == peerIP && m.Type() == wire.ICMPDestinationUnreachable && m.Code() == wire.ICMPProtocolUnreachable &&
				q.HasAddrs && q.Protocol == unusedProtocol
		})
		if err != nil {
			return fmt.Errorf("waiting for protocol unreachable: %w", err)
		}
		env.Logf("the raw ICMP socket read protocol unreachable from %s", ip.Src())
		return env.Sleep(ctx, defaultSettle)
	},
}

// expRawSocket: a hand-made echo request from a raw ICMP socket.
var expRawSocket = &Experiment{
	ID:    "raw-socket",
	Title: "A raw ICMP socket: ping by hand",
	Topic: "raw",
	Explain: "A raw socket lets a program send and receive whole IP datagrams of one protocol, as ping does (raw(7)). " +
		"tipy opens a raw ICMP socket and writes an echo request itself: type 8, code 0, a checksum over the message, an identifier, a sequence number and some data (RFC 792); the stack only puts an IPv4 header in front. " +
		"peer's ICMP layer answers with an echo reply carrying the same identifier, sequence number and data. " +
		"tipy's raw socket gets a copy of every ICMP datagram tipy receives, IPv4 header included, and the program picks out the reply; the stack's own ICMP finds no ping waiting for it and leaves it at that.",
	Look: []Pointer{
		{Page: "frames", Layers: "icmp,socket", Text: "the echo request and reply, and the raw socket's copy"},
		{Page: "sockets", Host: "tipy", Text: "the raw socket (protocol 1) and its counters"},
	},
	Proof: []Proof{
		{Text: "tipy's raw socket sends the hand-made message", Host: "tipy", Layer: observe.LayerSocket, Kind: observe.KindTX, Summary: "bytes of protocol 1 to " + PeerAddr},
		{Text: "peer receives an echo request", Host: "peer", Layer: observe.LayerICMP, Kind: observe.KindRX, Summary: "received ICMP echo request"},
		{Text: "peer answers with an echo reply", Host: "peer", Layer: observe.LayerICMP, Kind: observe.KindTX, Summary: "sending ICMP echo reply"},
		{Text: "tipy's raw socket gets a copy of the reply, header included", Host: "tipy", Layer: observe.LayerSocket, Kind: observe.KindRX, Summary: "(protocol 1) got a copy of", Field: "from", FieldValue: PeerAddr},
		{Text: "no ping of the stack waits for the reply: only the raw socket uses it", Host: "tipy", Layer: observe.LayerICMP, Kind: observe.KindDrop, Reason: "icmp-unmatched", Summary: "echo reply id"},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		so, err := socket(tipy, stack.SOCK_RAW, int(wire.ProtoICMP))
		if err != nil {
			return err
		}
		defer so.Close()
		id := randomID(tipy)
		data := []byte("hello from a raw socket")
		msg := echoRequest(id, 1, data)
		if _, err := so.SendToContext(ctx, msg, netip.AddrPortFrom(peerIP, 0)); err != nil {
			return err
		}
		env.Logf("sent a %d-byte echo request, id %d, seq 1, checksum 0x%04x", len(msg), id, wire.ICMP(msg).Checksum())
		ip, m, err := readEchoReply(ctx, so, peerIP, id, 1, 3*time.Second)
		if err != nil {
			return err
		}
		if !bytes.Equal(m.Payload(), data) {
			return fmt.Errorf("the reply carries %q, not %q", m.Payload(), data)
		}
		env.Logf("read %d bytes: a %d-byte IPv4 header (ttl %d) and an echo reply with id %d, seq %d and the same data", len(ip), ip.HeaderLen(), ip.TTL(), m.ID(), m.Seq())
		return env.Sleep(ctx, defaultSettle)
	},
}
