package lab

import (
	"bytes"
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

// readEchoReply reads datagrams from the raw ICMP socket so until the echo
// reply from src to the request id/seq arrives, each read waiting at most d
// of the lab's clock.
func readEchoReply(ctx context.Context, so *stack.Socket, src netip.Addr, id, seq uint16, d time.Duration) (wire.IPv4, wire.ICMP, error) {
	ip, m, err := readICMP(ctx, so, d, func(ip wire.IPv4, m wire.ICMP) bool {
		return ip.Src() == src && isEchoReply(m, id, seq)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("waiting for the echo reply: %w", err)
	}
	return ip, m, nil
}

// randomID returns 16 random bits from h's seeded random source, for an
// ICMP identifier or an IP identification. The source belongs to h's loop,
// so it is read inside Call.
func randomID(h *host.Host) uint16 {
	var id uint16
	h.Call(func() { id = uint16(h.Rand().Uint32()) })
	return id
}

// expectEcho reads one datagram from the UDP socket so, waiting at most 5 s
// of the lab's clock, and checks that it is the echo of sent from dst.
func expectEcho(ctx context.Context, so *stack.Socket, dst netip.AddrPort, sent []byte) error {
	b, from, err := recvTimeout(ctx, so, 5*time.Second)
	if err != nil {
		return fmt.Errorf("waiting for the echo: %w", err)
	}
	if from != dst || !bytes.Equal(b, sent) {
		return fmt.Errorf("got %d bytes from %s, want the echo of the %d bytes sent to %s", len(b), from, len(sent), dst)
	}
	return nil
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
