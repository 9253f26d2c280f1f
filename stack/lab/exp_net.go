package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/stack/wire"
)

// netExperiments are the experiments below TCP: Ethernet, ARP, IPv4, ICMP,
// UDP and raw sockets, in the order the dashboard lists them.
func netExperiments() []*Experiment {
	return []*Experiment{
		expARPQueue,
		expARPRetry,
		expARPProbeConflict,
		expGratuitousARP,
		expIPFragmentation,
		expReassemblyTimeout,
		expRecordRoute,
		expDefaultGateway,
		expTraceroute,
		expPortUnreachable,
		expProtocolUnreachable,
		expUDPBroadcast,
		expUDPMulticast,
		expRawSocket,
	}
}

// UnusedAddr is an address of the LAN that no host of the built-in lab has.
const UnusedAddr = "192.168.2.99"

// forgetARP removes h's ARP entry for ip, if it has one.
func forgetARP(h *host.Host, ip netip.Addr) error {
	var err error
	h.Call(func() { err = h.DeleteARP(ip) })
	if isNoEntry(err) {
		return nil
	}
	return err
}

// arpEntry returns h's ARP entry for ip, if it has one. Loop work only.
func arpEntry(h *host.Host, ip netip.Addr) (stack.ARPEntry, bool) {
	for _, e := range h.ARPTable() {
		if e.IP == ip {
			return e, true
		}
	}
	return stack.ARPEntry{}, false
}

// arpEntryNow returns h's ARP entry for ip, if it has one.
func arpEntryNow(h *host.Host, ip netip.Addr) (e stack.ARPEntry, ok bool) {
	h.Call(func() { e, ok = arpEntry(h, ip) })
	return e, ok
}

// socket opens a socket on h; the caller closes it.
func socket(h *host.Host, typ stack.SockType, proto int) (*stack.Socket, error) {
	so, err := h.Socket(stack.AF_INET, typ, proto)
	if err != nil {
		return nil, fmt.Errorf("%s: socket: %w", h.Name(), err)
	}
	return so, nil
}

// wantErrno checks that err is a socket error with errno want.
func wantErrno(err error, want stack.Errno) error {
	if err == nil {
		return fmt.Errorf("the call succeeded; %s was expected", want.Name())
	}
	if !errors.Is(err, want) {
		return fmt.Errorf("%s was expected, got: %w", want.Name(), err)
	}
	return nil
}

// recvTimeout reads one datagram from so, waiting at most d of the lab's clock.
func recvTimeout(ctx context.Context, so *stack.Socket, d time.Duration) ([]byte, netip.AddrPort, error) {
	if err := so.SetTimeout(d); err != nil {
		return nil, netip.AddrPort{}, err
	}
	return so.RecvFromContext(ctx, 65535)
}

// readICMP reads datagrams from the raw ICMP socket so until match accepts
// one, each read waiting at most d of the lab's clock. It returns the
// datagram (IPv4 header included, as a raw socket gets it) and its ICMP
// message.
func readICMP(ctx context.Context, so *stack.Socket, d time.Duration, match func(ip wire.IPv4, m wire.ICMP) bool) (wire.IPv4, wire.ICMP, error) {
	for {
		b, _, err := recvTimeout(ctx, so, d)
		if err != nil {
			return nil, nil, err
		}
		ip := wire.IPv4(b)
		if ip.Validate() != nil || ip.Protocol() != wire.ProtoICMP {
			continue
		}
		m := wire.ICMP(ip.Payload())
		if m.Validate() != nil {
			continue
		}
		if match(ip, m) {
			return ip, m, nil
		}
	}
}

// echoRequest builds an ICMP echo request by hand: type 8, code 0, the
// checksum over the whole message, identifier, sequence number and data.
func echoRequest(id, seq uint16, data []byte) []byte {
	msg := make([]byte, wire.ICMPHeaderLen+len(data))
	copy(msg[wire.ICMPHeaderLen:], data)
	h := wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: id, Seq: seq}
	if err := h.Marshal(msg); err != nil {
		panic(err) // 8 bytes of room: cannot fail
	}
	return msg
}

// isEchoReply reports whether m answers the echo request id/seq.
func isEchoReply(m wire.ICMP, id, seq uint16) bool {
	return m.Type() == wire.ICMPEchoReply && m.ID() == id && m.Seq() == seq
}

// Addresses of the built-in lab, parsed.
var (
	tipyIP   = netip.MustParseAddr(TipyAddr)
	peerIP   = netip.MustParseAddr(PeerAddr)
	gwIP     = netip.MustParseAddr(GwAddr)
	gwFarIP  = netip.MustParseAddr(GwFar)
	farIP    = netip.MustParseAddr(FarAddr)
	unusedIP = netip.MustParseAddr(UnusedAddr)
)
