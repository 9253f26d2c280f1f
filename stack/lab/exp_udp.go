package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/host"
)

// BroadcastAddr is the directed broadcast address of the lab's LAN.
const BroadcastAddr = "192.168.2.255"

// broadcastPort is the UDP port the broadcast experiment listens on.
const broadcastPort = 5555

// listenUDP opens a UDP socket on h bound to port on every address.
func listenUDP(h *host.Host, port uint16) (*stack.Socket, error) {
	so, err := socket(h, stack.SOCK_DGRAM, 0)
	if err != nil {
		return nil, err
	}
	if err := so.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), port)); err != nil {
		so.Close()
		return nil, fmt.Errorf("%s: %w", h.Name(), err)
	}
	return so, nil
}

// expectDatagram reads one datagram from so and checks it is want from tipy.
func expectDatagram(ctx context.Context, env *Env, name string, so *stack.Socket, want []byte) error {
	b, from, err := recvTimeout(ctx, so, 3*time.Second)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if from.Addr() != tipyIP || !bytes.Equal(b, want) {
		return fmt.Errorf("%s got %q from %s, want %q from tipy", name, b, from, want)
	}
	env.Logf("%s received %q from %s", name, b, from)
	return nil
}

// expUDPBroadcast: one datagram to the LAN's broadcast address reaches
// every host of the LAN.
var expUDPBroadcast = &Experiment{
	ID:    "udp-broadcast",
	Title: "UDP broadcast to the whole LAN",
	Topic: "UDP",
	Explain: fmt.Sprintf("peer and gw each open a UDP socket on port %d. tipy sends one datagram to %s, the directed broadcast address of the LAN: all host bits set (RFC 919, RFC 1122 §3.3.6). ", broadcastPort, BroadcastAddr) +
		"A socket may send to a broadcast address only after SO_BROADCAST is set, so that no program floods a network by mistake; without it the send fails with EACCES. " +
		"The datagram needs no ARP: it leaves in a single frame to ff:ff:ff:ff:ff:ff, which the switch floods and every network card accepts, so both peer and gw receive it. " +
		"It stays on the LAN: a router does not forward broadcasts, so far never sees it.",
	Look: []Pointer{
		{Page: "frames", Layers: "link,udp", Text: fmt.Sprintf("one frame from tipy to ff:ff:ff:ff:ff:ff carrying UDP to %s:%d, received by peer and by gw", BroadcastAddr, broadcastPort)},
		{Page: "sockets", Host: "peer", Text: fmt.Sprintf("the socket on port %d and the datagram it read", broadcastPort)},
	},
	Proof: []Proof{
		{Text: "tipy sends one frame to the Ethernet broadcast address", Host: "tipy", Layer: observe.LayerLink, Kind: observe.KindTX, Summary: "> ff:ff:ff:ff:ff:ff, ethertype IPv4"},
		{Text: "peer's network card accepts the frame", Host: "peer", Layer: observe.LayerLink, Kind: observe.KindRX, Summary: "> ff:ff:ff:ff:ff:ff, ethertype IPv4"},
		{Text: "gw's network card accepts it too", Host: "gw", Layer: observe.LayerLink, Kind: observe.KindRX, Summary: "> ff:ff:ff:ff:ff:ff, ethertype IPv4"},
		{Text: "peer's socket gets the datagram", Host: "peer", Layer: observe.LayerSocket, Kind: observe.KindRX, Summary: fmt.Sprintf(":%d) queued", broadcastPort)},
		{Text: "gw's socket gets it too", Host: "gw", Layer: observe.LayerSocket, Kind: observe.KindRX, Summary: fmt.Sprintf(":%d) queued", broadcastPort)},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		var listeners []*stack.Socket
		defer func() {
			for _, so := range listeners {
				so.Close()
			}
		}()
		for _, name := range []string{"peer", "gw"} {
			so, err := listenUDP(env.Host(name), broadcastPort)
			if err != nil {
				return err
			}
			listeners = append(listeners, so)
		}
		env.Logf("peer and gw listen on UDP port %d", broadcastPort)
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		dst := netip.AddrPortFrom(netip.MustParseAddr(BroadcastAddr), broadcastPort)
		msg := []byte("hello, everyone on the LAN")
		_, err = so.SendToContext(ctx, msg, dst)
		if err := wantErrno(err, stack.EACCES); err != nil {
			return fmt.Errorf("sending to %s without SO_BROADCAST: %w", dst, err)
		}
		env.Logf("without SO_BROADCAST: %v", err)
		if err := so.SetSockopt(stack.SOL_SOCKET, stack.SO_BROADCAST, true); err != nil {
			return err
		}
		if _, err := so.SendToContext(ctx, msg, dst); err != nil {
			return err
		}
		env.Logf("with SO_BROADCAST set: sent %d bytes to %s", len(msg), dst)
		for i, name := range []string{"peer", "gw"} {
			if err := expectDatagram(ctx, env, name, listeners[i], msg); err != nil {
				return err
			}
		}
		return env.Sleep(ctx, defaultSettle)
	},
}

// The group and port of the multicast experiment. 239.0.0.0/8 is for
// groups used within an organisation (RFC 2365).
const (
	MulticastGroup = "239.1.2.3"
	multicastMAC   = "01:00:5e:01:02:03"
	multicastPort  = 5007
)

// expUDPMulticast: peer joins a group; tipy's datagram to the group is
// accepted by peer's Ethernet filter and refused by gw's.
var expUDPMulticast = &Experiment{
	ID:    "udp-multicast",
	Title: "UDP multicast: joining a group",
	Topic: "UDP",
	Explain: fmt.Sprintf("peer opens a UDP socket on port %d and joins the group %s with IP_ADD_MEMBERSHIP. ", multicastPort, MulticastGroup) +
		"Joining does two things: peer's network card starts accepting frames to the group's Ethernet address, " + multicastMAC + " (01:00:5e followed by the low 23 bits of the group, RFC 1112 §6.4), and peer announces its membership to the routers with an IGMP report (RFC 2236). " +
		"tipy then sends one datagram to the group; no ARP is needed, the destination MAC is computed from the group. " +
		"The switch floods the frame to every port: peer's filter accepts it, gw, which never joined, drops it at the Ethernet layer. When peer closes its socket it leaves the group with an IGMP leave.",
	Look: []Pointer{
		{Page: "frames", Layers: "link,igmp,udp", Text: "peer's IGMP report, tipy's frame to " + multicastMAC + ", and gw dropping it"},
		{Page: "sockets", Host: "peer", Text: "the socket's membership of " + MulticastGroup},
	},
	Proof: []Proof{
		{Text: "peer joins the group and reports it with IGMP", Host: "peer", Layer: observe.LayerIGMP, Kind: observe.KindTX, Summary: "sent IGMP v2 report " + MulticastGroup},
		{Text: "tipy sends the datagram in a frame to the group's MAC", Host: "tipy", Layer: observe.LayerLink, Kind: observe.KindTX, Summary: "> " + multicastMAC + ", ethertype IPv4"},
		{Text: "peer's Ethernet filter accepts the frame", Host: "peer", Layer: observe.LayerLink, Kind: observe.KindRX, Summary: "> " + multicastMAC + ", ethertype IPv4"},
		{Text: "peer's socket gets the datagram", Host: "peer", Layer: observe.LayerSocket, Kind: observe.KindRX, Summary: fmt.Sprintf(":%d) queued", multicastPort)},
		{Text: "gw did not join: its filter drops the frame", Host: "gw", Layer: observe.LayerLink, Kind: observe.KindDrop, Reason: "eth-not-for-us", Summary: TipyAddr + " > " + MulticastGroup + " UDP"},
		{Text: "peer leaves the group when its socket closes", Host: "peer", Layer: observe.LayerIGMP, Kind: observe.KindState, Summary: "left " + MulticastGroup},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy, peer := env.Tipy(), env.Host("peer")
		group := netip.MustParseAddr(MulticastGroup)
		ls, err := listenUDP(peer, multicastPort)
		if err != nil {
			return err
		}
		closed := false
		defer func() {
			if !closed {
				ls.Close()
			}
		}()
		if err := ls.SetSockopt(stack.IPPROTO_IP, stack.IP_ADD_MEMBERSHIP, stack.Membership{Group: group}); err != nil {
			return err
		}
		env.Logf("peer listens on UDP port %d and joined %s", multicastPort, group)
		if err := env.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		dst := netip.AddrPortFrom(group, multicastPort)
		msg := []byte("hello, group")
		if _, err := so.SendToContext(ctx, msg, dst); err != nil {
			return err
		}
		env.Logf("tipy sent %d bytes to %s", len(msg), dst)
		if err := expectDatagram(ctx, env, "peer", ls, msg); err != nil {
			return err
		}
		closed = true
		if err := ls.Close(); err != nil {
			return err
		}
		env.Logf("peer closed its socket, leaving the group")
		return env.Sleep(ctx, defaultSettle)
	},
}
