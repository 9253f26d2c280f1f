package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

// expIPFragmentation: a UDP datagram larger than the MTU to peer's echo
// service, fragmented both ways.
var expIPFragmentation = &Experiment{
	ID:    "ip-fragmentation",
	Title: "IP fragmentation and reassembly",
	Topic: "IPv4",
	Explain: "tipy sends a 4000-byte UDP datagram to peer's echo service, but an Ethernet frame carries at most 1500 bytes of IP (the MTU). " +
		"So IPv4 cuts the datagram into fragments (RFC 791 §3.2): each is a datagram of its own with the same identification, an offset counted in 8-byte units, and the More Fragments flag on all but the last. " +
		"peer holds the fragments until every hole between them is filled, joins them and hands the whole datagram to UDP. " +
		"The echo reply is just as big, so peer fragments it in turn and tipy reassembles it.",
	Look: []Pointer{
		{Page: "frames", Layers: "ipv4,udp", Text: "three frames each way sharing one IP id, with offsets 0, 1480 and 2960 and the MF flag on the first two"},
		{Page: "overview", Host: "peer", Text: "the fragments arriving, the holes left after each, then \"reassembled\""},
	},
	Proof: []Proof{
		{Text: "tipy cuts the datagram into fragments that fit the MTU", Host: "tipy", Layer: observe.LayerIPv4, Kind: observe.KindInfo, Summary: "fragmenting", Field: "dst", FieldValue: PeerAddr},
		{Text: "peer holds each fragment until the others fill the holes", Host: "peer", Layer: observe.LayerIPv4, Kind: observe.KindRX, Summary: "fragment of " + TipyAddr + " > " + PeerAddr + " UDP", Count: 2},
		{Text: "peer reassembles the datagram and gives it to UDP", Host: "peer", Layer: observe.LayerIPv4, Kind: observe.KindInfo, Summary: "reassembled " + TipyAddr + " > " + PeerAddr + " UDP"},
		{Text: "the echo reply is fragmented by peer", Host: "peer", Layer: observe.LayerIPv4, Kind: observe.KindInfo, Summary: "fragmenting", Field: "dst", FieldValue: TipyAddr},
		{Text: "tipy reassembles the reply", Host: "tipy", Layer: observe.LayerIPv4, Kind: observe.KindInfo, Summary: "reassembled " + PeerAddr + " > " + TipyAddr + " UDP"},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		var mtu int
		tipy.Call(func() { mtu = tipy.MTU() })
		size := min(3*mtu-500, stack.MaxUDPPayload) // 4000 bytes on a 1500-byte MTU
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte('a' + i%26)
		}
		dst := netip.AddrPortFrom(peerIP, 7) // echo
		if _, err := so.SendToContext(ctx, payload, dst); err != nil {
			return err
		}
		env.Logf("sent %d bytes to %s: %d with the UDP header, more than the %d-byte MTU", size, dst, size+8, mtu)
		if err := expectEcho(ctx, so, dst, payload); err != nil {
			return err
		}
		env.Logf("the echo came back whole: %d bytes from %s", size, dst)
		return env.Sleep(ctx, defaultSettle)
	},
}

// reassemblyTimeout is the reassembly timeout peer uses during
// expReassemblyTimeout instead of its default of 30 s.
const reassemblyTimeout = 5 * time.Second

// expReassemblyTimeout: two fragments of a datagram whose middle never
// comes; peer gives up and tells tipy.
var expReassemblyTimeout = &Experiment{
	ID:    "reassembly-timeout",
	Title: "Reassembly timeout: a fragment that never comes",
	Topic: "IPv4",
	Explain: "A raw socket with IP_HDRINCL lets tipy write IPv4 headers itself: it sends peer the first and the last fragment of a UDP datagram, and leaves out the one in between, as if the network had lost it. " +
		"peer keeps the two fragments, waiting for the hole to fill, but only for a while: when the reassembly timer runs out it throws them away (RFC 1122 §3.3.2). " +
		"Because fragment zero arrived, peer can quote the datagram's header, so it tells the sender with ICMP time exceeded, code 1: fragment reassembly time exceeded (RFC 792). " +
		"The timer is 30 s by default; the experiment sets peer's to 5 s for the demonstration and puts it back afterwards.",
	Look: []Pointer{
		{Page: "frames", Layers: "ipv4,icmp", Text: "two fragments (offset 0 with MF, offset 24 without), then five seconds later the ICMP time exceeded from peer"},
		{Page: "overview", Host: "peer", Text: "\"1 holes remain\" after the second fragment, then the reassembly timer expiring"},
	},
	Proof: []Proof{
		{Text: "peer receives the two fragments and waits for the missing one", Host: "peer", Layer: observe.LayerIPv4, Kind: observe.KindRX, Summary: "fragment of " + TipyAddr + " > " + PeerAddr + " UDP", Count: 2},
		{Text: "peer's reassembly timer runs out, with fragment zero held", Host: "peer", Layer: observe.LayerIPv4, Kind: observe.KindTimer, Summary: "reassembly timer expired for " + TipyAddr + " > " + PeerAddr + " UDP", Field: "icmp_time_exceeded", FieldValue: "true"},
		{Text: "peer discards the incomplete datagram", Host: "peer", Layer: observe.LayerIPv4, Kind: observe.KindDrop, Reason: "ip-frag-timeout"},
		{Text: "peer sends ICMP time exceeded, code 1 (reassembly)", Host: "peer", Layer: observe.LayerICMP, Kind: observe.KindTX, Summary: "sending ICMP ip reassembly time exceeded"},
		{Text: "tipy receives it", Host: "tipy", Layer: observe.LayerICMP, Kind: observe.KindRX, Summary: "received ICMP ip reassembly time exceeded, " + PeerAddr + " > " + TipyAddr},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy, peer := env.Tipy(), env.Host("peer")
		var old stack.IPv4Config
		peer.Call(func() {
			old = peer.Config().IPv4
			c := old
			c.ReassemblyTimeout = reassemblyTimeout
			peer.SetIPv4Config(c)
		})
		defer peer.Call(func() { peer.SetIPv4Config(old) })
		env.Logf("set peer's reassembly timeout to %v", reassemblyTimeout)
		icmp, err := socket(tipy, stack.SOCK_RAW, int(wire.ProtoICMP))
		if err != nil {
			return err
		}
		defer icmp.Close()
		raw, err := socket(tipy, stack.SOCK_RAW, stack.IPPROTO_RAW) // IP_HDRINCL implied
		if err != nil {
			return err
		}
		defer raw.Close()
		id := randomID(tipy) | 1
		// The whole UDP datagram would be 48 bytes: header and 40 bytes of
		// data. Fragment zero carries bytes 0-15, the last one bytes 24-47;
		// bytes 16-23 are never sent.
		udp := make([]byte, 48)
		binary.BigEndian.PutUint16(udp[0:], 40000)
		binary.BigEndian.PutUint16(udp[2:], 7)
		binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
		copy(udp[8:], "a datagram that will never be whole....")
		frags := []struct {
			off, end int
			more     bool
		}{{0, 16, true}, {24, 48, false}}
		for _, f := range frags {
			h := wire.IPv4Header{ID: id, TTL: stack.DefaultTTL, Protocol: wire.ProtoUDP, Src: netip.IPv4Unspecified(), Dst: peerIP, FragOff: f.off}
			if f.more {
				h.Flags = wire.IPv4FlagMF
			}
			b := make([]byte, wire.IPv4MinHeaderLen+f.end-f.off)
			copy(b[wire.IPv4MinHeaderLen:], udp[f.off:f.end])
			if err := h.Marshal(b); err != nil {
				return err
			}
			if _, err := raw.SendToContext(ctx, b, netip.AddrPortFrom(peerIP, 0)); err != nil {
				return fmt.Errorf("fragment at offset %d: %w", f.off, err)
			}
			env.Logf("sent the fragment at offset %d (%d bytes, MF %v) of IP id %d", f.off, f.end-f.off, f.more, id)
		}
		env.Logf("bytes 16 to 23 are never sent: peer waits %v for them", reassemblyTimeout)
		ip, _, err := readICMP(ctx, icmp, reassemblyTimeout+5*time.Second, func(ip wire.IPv4, m wire.ICMP) bool {
			q := wire.ParseICMPQuote(m.Payload())
			return ip.Src() == peerIP && m.Type() == wire.ICMPTimeExceeded && m.Code() == wire.ICMPReassemblyExceeded && q.HasAddrs && q.ID == id
		})
		if err != nil {
			return fmt.Errorf("waiting for ICMP time exceeded from peer: %w", err)
		}
		env.Logf("ICMP time exceeded (reassembly) from %s, quoting the datagram with id %d", ip.Src(), id)
		return env.Sleep(ctx, defaultSettle)
	},
}

// expRecordRoute: an echo request with a Record Route option to far.
var expRecordRoute = &Experiment{
	ID:    "record-route",
	Title: "IP options: Record Route",
	Topic: "IPv4",
	Explain: "An IPv4 header may carry options (RFC 791 §3.1). tipy sends far an echo request from a raw socket whose IP_OPTIONS hold an empty Record Route option: a pointer and nine empty address slots. " +
		"Each router that forwards the datagram writes the address of the interface it leaves by into the next slot, so gw records 10.0.5.1. " +
		"far copies the option into its echo reply and adds itself (RFC 1122 §3.2.2.6), and gw records 192.168.2.1 on the way back. " +
		"The reply tipy reads holds the route of the whole round trip, as `ping -R` prints it.",
	Look: []Pointer{
		{Page: "frames", Layers: "ipv4,icmp", Text: "the 60-byte IP headers, and the option's pointer moving 4 → 8 → 12 → 16 as the slots fill"},
		{Page: "overview", Host: "gw", Text: "gw recording a different address each way: the interface the datagram leaves by"},
	},
	Proof: []Proof{
		{Text: "tipy sends the request with an empty Record Route option", Host: "tipy", Layer: observe.LayerIPv4, Kind: observe.KindTX, Summary: "options (RR ptr 4 ["},
		{Text: "gw records its address on far's network", Host: "gw", Layer: observe.LayerIPv4, Kind: observe.KindInfo, Summary: "recorded " + GwFar + " in the Record Route option"},
		{Text: "far copies the option into its echo reply and records itself", Host: "far", Layer: observe.LayerICMP, Kind: observe.KindInfo, Summary: "recorded " + FarAddr + " in the Record Route option of the echo reply"},
		{Text: "gw records its LAN address on the way back", Host: "gw", Layer: observe.LayerIPv4, Kind: observe.KindInfo, Summary: "recorded " + GwAddr + " in the Record Route option"},
		{Text: "tipy receives the reply carrying the whole route", Host: "tipy", Layer: observe.LayerIPv4, Kind: observe.KindRX, Summary: "RR ptr 16 [" + GwFar + " " + FarAddr + " " + GwAddr + " "},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		so, err := socket(tipy, stack.SOCK_RAW, int(wire.ProtoICMP))
		if err != nil {
			return err
		}
		defer so.Close()
		if err := so.SetSockopt(stack.IPPROTO_IP, stack.IP_OPTIONS, []wire.IPv4Option{wire.RecordRouteOption(9)}); err != nil {
			return err
		}
		id := randomID(tipy)
		if _, err := so.SendToContext(ctx, echoRequest(id, 1, []byte("where do I go?")), netip.AddrPortFrom(farIP, 0)); err != nil {
			return err
		}
		env.Logf("sent an echo request to %s with a Record Route option of 9 slots", farIP)
		ip, _, err := readEchoReply(ctx, so, farIP, id, 1, 5*time.Second)
		if err != nil {
			return err
		}
		h, err := wire.ParseIPv4(ip)
		if err != nil {
			return err
		}
		var route []netip.Addr
		for _, o := range h.Options {
			if o.Type == wire.IPv4OptRecordRoute {
				ptr, addrs, err := o.Route()
				if err != nil {
					return err
				}
				route = addrs[:min(len(addrs), (int(ptr)-4)/4)]
			}
		}
		want := []netip.Addr{gwFarIP, farIP, gwIP}
		if !slices.Equal(route, want) {
			return fmt.Errorf("the reply's recorded route is %v, want %v", route, want)
		}
		env.Logf("the echo reply's Record Route option: %v", route)
		return env.Sleep(ctx, defaultSettle)
	},
}

// expDefaultGateway: a datagram to far goes through the default gateway.
var expDefaultGateway = &Experiment{
	ID:    "default-gateway",
	Title: "Default gateway: leaving the LAN",
	Topic: "IPv4",
	Explain: "tipy sends a UDP datagram to far's echo service at " + FarAddr + ". " +
		"Routing looks for the longest prefix that contains the destination (RFC 1122 §3.3.1): 192.168.2.0/24, tipy's own network, does not, so only the default route 0.0.0.0/0 via gw (" + GwAddr + ") matches. " +
		"tipy therefore resolves gw's MAC with ARP, never far's, and sends the datagram in a frame addressed to gw while its IP destination stays far. " +
		"gw, a router, decrements the TTL from 64 to 63 and sends it on to far's network (RFC 1812 §5.2); the echo comes back the same way.",
	Look: []Pointer{
		{Page: "routes", Host: "tipy", Text: "the connected route of the LAN and the default route via " + GwAddr},
		{Page: "frames", Layers: "arp,ipv4,udp", Text: "the ARP request for " + GwAddr + ", then the datagram to " + FarAddr + " in a frame to gw's MAC"},
		{Page: "arp", Host: "tipy", Text: "an entry for gw and none for far"},
	},
	Proof: []Proof{
		{Text: "far is not on the LAN: the lookup picks the default route via gw", Host: "tipy", Layer: observe.LayerIPv4, Kind: observe.KindRoute, Summary: "route " + FarAddr + " via gateway " + GwAddr},
		{Text: "tipy asks ARP for gw's MAC, not far's", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindTX, Summary: "who-has " + GwAddr},
		{Text: "gw forwards the datagram to far's network, TTL 64 → 63", Host: "gw", Layer: observe.LayerIPv4, Kind: observe.KindTX, Summary: "forwarding " + TipyAddr + " > " + FarAddr + " from eth0 to eth1", Field: "ttl", FieldValue: "63"},
		{Text: "far receives it with TTL 63", Host: "far", Layer: observe.LayerIPv4, Kind: observe.KindRX, Summary: "received IP " + TipyAddr + " > " + FarAddr + ": proto UDP (17), ttl 63"},
		{Text: "far's echo comes back to tipy through gw", Host: "tipy", Layer: observe.LayerUDP, Kind: observe.KindRX, Summary: "from " + FarAddr + ":7 to " + TipyAddr},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		if err := forgetARP(tipy, gwIP); err != nil {
			return err
		}
		env.Logf("forgot gw's ARP entry on tipy, to watch it resolved again")
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		dst := netip.AddrPortFrom(farIP, 7) // echo
		msg := []byte("hello, far network")
		if _, err := so.SendToContext(ctx, msg, dst); err != nil {
			return err
		}
		env.Logf("sent %d bytes to %s", len(msg), dst)
		if err := expectEcho(ctx, so, dst, msg); err != nil {
			return err
		}
		env.Logf("far's echo came back through gw")
		if e, ok := arpEntryNow(tipy, farIP); ok {
			return fmt.Errorf("tipy has an ARP entry for far (%s, %s): it should only ever resolve gw", e.IP, e.State)
		}
		if e, ok := arpEntryNow(tipy, gwIP); ok {
			env.Logf("tipy's ARP cache: gw %s at %s; no entry for far", e.State, e.MAC)
		}
		return env.Sleep(ctx, defaultSettle)
	},
}
