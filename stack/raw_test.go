package stack_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
	addrC = netip.MustParseAddr("10.0.0.3")
)

// rawRecv reads one datagram from a raw socket without waiting and parses
// its IPv4 header.
func rawRecv(t *testing.T, so *stack.Socket) (wire.IPv4Header, wire.IPv4, bool) {
	t.Helper()
	b, from, ok := recvNow(t, so, 65535)
	if !ok {
		return wire.IPv4Header{}, nil, false
	}
	ip := wire.IPv4(b)
	h, err := wire.ParseIPv4(ip)
	if err != nil {
		t.Fatalf("raw socket returned a bad datagram: %v", err)
	}
	if !ip.ChecksumValid() {
		t.Fatal("raw socket returned a datagram whose header checksum does not verify")
	}
	if from.Addr() != h.Src || from.Port() != 0 {
		t.Fatalf("recvfrom address %v, header source %v", from, h.Src)
	}
	return h, ip, true
}

func echoRequest(t *testing.T, id, seq uint16, data string) []byte {
	t.Helper()
	msg := make([]byte, wire.ICMPHeaderLen+len(data))
	copy(msg[wire.ICMPHeaderLen:], data)
	h := wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: id, Seq: seq}
	if err := h.Marshal(msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestRawICMPSeesEchoRequestsAndReplies(t *testing.T) {
	l := udpLAN(t, 1)
	onB := l.sock("b", stack.SOCK_RAW, 1)
	onA := l.sock("a", stack.SOCK_RAW, 1)
	if _, err := onA.SendTo(echoRequest(t, 77, 1, "ping from a raw socket"), netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	// b's raw socket got the request, header included; b's stack answered.
	h, ip, ok := rawRecv(t, onB)
	if !ok {
		t.Fatal("raw ICMP socket on b received nothing")
	}
	if h.Src != addrA || h.Dst != addrB || h.Protocol != wire.ProtoICMP || h.TTL != stack.DefaultTTL {
		t.Fatalf("header %v", h)
	}
	icmp, err := wire.ParseICMP(ip.Payload())
	if err != nil || icmp.Type != wire.ICMPEchoRequest || icmp.ID != 77 {
		t.Fatalf("payload %+v, %v", icmp, err)
	}
	h, ip, ok = rawRecv(t, onA)
	if !ok {
		t.Fatal("raw ICMP socket on a did not see the echo reply")
	}
	if reply, err := wire.ParseICMP(ip.Payload()); err != nil || reply.Type != wire.ICMPEchoReply || reply.ID != 77 || h.Src != addrB {
		t.Fatalf("reply %+v from %v, %v", reply, h.Src, err)
	}
	if _, _, ok := rawRecv(t, onB); ok {
		t.Fatal("b's raw socket got its own reply")
	}
}

func TestRawCustomProtocolBetweenStacks(t *testing.T) {
	l := udpLAN(t, 1)
	recv := l.sock("b", stack.SOCK_RAW, 253)
	other := l.sock("b", stack.SOCK_RAW, 254) // another protocol: sees nothing
	icmpA := l.sock("a", stack.SOCK_RAW, 1)
	send := l.sock("a", stack.SOCK_RAW, 253)
	if err := send.SetSockopt(stack.IPPROTO_IP, stack.IP_TTL, 9); err != nil {
		t.Fatal(err)
	}
	rr := wire.RecordRouteOption(2)
	if err := send.SetSockopt(stack.IPPROTO_IP, stack.IP_OPTIONS, []wire.IPv4Option{rr}); err != nil {
		t.Fatal(err)
	}
	if _, err := send.SendTo([]byte("experimental"), netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	h, ip, ok := rawRecv(t, recv)
	if !ok {
		t.Fatal("raw socket of protocol 253 received nothing")
	}
	if h.Protocol != 253 || h.TTL != 9 || string(ip.Payload()) != "experimental" {
		t.Fatalf("received %v %q", h, ip.Payload())
	}
	if len(h.Options) != 1 || h.Options[0].Type != wire.IPv4OptRecordRoute {
		t.Fatalf("options %v: the raw socket must see the whole header", h.Options)
	}
	if _, _, ok := rawRecv(t, other); ok {
		t.Fatal("raw socket of protocol 254 received a protocol 253 datagram")
	}
	if _, _, ok := rawRecv(t, icmpA); ok {
		t.Fatal("a raw socket took the datagram, yet the sender got an ICMP message")
	}
	// Without a raw socket for it, protocol 252 draws protocol unreachable.
	p252 := l.sock("a", stack.SOCK_RAW, 252)
	if _, err := p252.SendTo([]byte("nobody"), netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	h, ip, ok = rawRecv(t, icmpA)
	if !ok {
		t.Fatal("no ICMP message for an unknown protocol")
	}
	if m, err := wire.ParseICMP(ip.Payload()); err != nil || m.Type != wire.ICMPDestinationUnreachable || m.Code != wire.ICMPProtocolUnreachable {
		t.Fatalf("ICMP %+v, %v", m, err)
	}
	if si := recv.Info(); si.Counters["datagrams_read"] != uint64(1) {
		t.Fatalf("snapshot %+v", si)
	}
}

func TestRawBindAndConnectFilter(t *testing.T) {
	l := udpLAN(t, 1)
	fromC := l.sock("b", stack.SOCK_RAW, 253)
	if err := fromC.Connect(netip.AddrPortFrom(addrC, 0)); err != nil {
		t.Fatal(err)
	}
	toB := l.sock("b", stack.SOCK_RAW, 253)
	if err := toB.Bind(netip.AddrPortFrom(addrB, 1234)); err != nil {
		t.Fatal(err)
	}
	if got := toB.LocalAddr(); got != netip.AddrPortFrom(addrB, 0) {
		t.Fatalf("raw bind kept the port: %v", got)
	}
	if err := toB.Bind(netip.AddrPortFrom(addrC, 0)); !errors.Is(err, stack.EADDRNOTAVAIL) {
		t.Fatalf("bind to another host's address: %v", err)
	}
	for _, h := range []string{"a", "c"} {
		so := l.sock(h, stack.SOCK_RAW, 253)
		if _, err := so.SendTo([]byte("from "+h), netip.AddrPortFrom(addrB, 0)); err != nil {
			t.Fatal(err)
		}
	}
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, fromC); len(got) != 1 || string(wire.IPv4(got[0]).Payload()) != "from c" {
		t.Fatalf("connected raw socket received %d datagrams", len(got))
	}
	if got := drain(t, toB); len(got) != 2 {
		t.Fatalf("bound raw socket received %d datagrams, want 2", len(got))
	}
	// A connected raw socket sends without an address.
	if _, err := fromC.Send([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	unconnected := l.sock("b", stack.SOCK_RAW, 253)
	_, err := unconnected.Send([]byte("x"))
	wantErrno(t, err, stack.EDESTADDRREQ)
}

func TestRawProtocolNumbers(t *testing.T) {
	l := udpLAN(t, 1)
	for _, p := range []int{0, -1, 256} {
		if _, err := l.hosts["a"].Socket(stack.AF_INET, stack.SOCK_RAW, p); !errors.Is(err, stack.EPROTONOSUPPORT) {
			t.Errorf("raw socket of protocol %d: %v, want EPROTONOSUPPORT (as Linux)", p, err)
		}
	}
	// IPPROTO_RAW implies IP_HDRINCL and receives nothing.
	rawB := l.sock("b", stack.SOCK_RAW, stack.IPPROTO_RAW)
	if v, err := rawB.GetSockopt(stack.IPPROTO_IP, stack.IP_HDRINCL); err != nil || v != true {
		t.Fatalf("IPPROTO_RAW: IP_HDRINCL is %v (%v)", v, err)
	}
	so := l.sock("a", stack.SOCK_RAW, 255)
	if _, err := so.SendTo(buildHeader(t, 255, netip.IPv4Unspecified(), addrB, "to 255"), netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	if got := drain(t, rawB); len(got) != 0 {
		t.Fatal("an IPPROTO_RAW socket received a datagram")
	}
}

// buildHeader returns a datagram with an IPv4 header as a program using
// IP_HDRINCL writes it: total length, ID and checksum left zero.
func buildHeader(t *testing.T, proto uint8, src, dst netip.Addr, data string) []byte {
	t.Helper()
	b := make([]byte, 20+len(data))
	copy(b[20:], data)
	h := wire.IPv4Header{TTL: 33, TOS: 0x08, Protocol: wire.IPProtocol(proto), Src: src, Dst: dst}
	if err := h.Marshal(b); err != nil {
		t.Fatal(err)
	}
	ip := wire.IPv4(b)
	ip.SetTotalLen(0)
	ip.SetChecksum(0)
	return b
}

func TestRawHeaderIncluded(t *testing.T) {
	l := udpLAN(t, 1)
	recv := l.sock("b", stack.SOCK_RAW, 253)
	send := l.sock("a", stack.SOCK_RAW, 253)
	if err := send.SetSockopt(stack.IPPROTO_IP, stack.IP_HDRINCL, true); err != nil {
		t.Fatal(err)
	}
	dgram := buildHeader(t, 253, netip.IPv4Unspecified(), addrB, "own header")
	if _, err := send.SendTo(dgram, netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	// The program's ID is kept when it is not zero.
	fixed := buildHeader(t, 253, addrA, addrB, "fixed id")
	wire.IPv4(fixed).SetID(0x4242)
	if _, err := send.SendTo(fixed, netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	h, ip, ok := rawRecv(t, recv)
	if !ok {
		t.Fatal("nothing received")
	}
	if h.Src != addrA || h.ID == 0 || h.TTL != 33 || h.TOS != 0x08 || int(h.TotalLen) != len(dgram) || string(ip.Payload()) != "own header" {
		t.Fatalf("received %v: want the source and ID filled in, TTL 33 and TOS 8 kept", h)
	}
	if h, _, _ := rawRecv(t, recv); h.ID != 0x4242 {
		t.Fatalf("program's ID replaced: %v", h)
	}
	_, err := send.SendTo(make([]byte, 12), netip.AddrPortFrom(addrB, 0))
	wantErrno(t, err, stack.EINVAL)
	_, err = send.SendTo(buildHeader(t, 253, addrA, addrB, string(make([]byte, 1500))), netip.AddrPortFrom(addrB, 0))
	wantErrno(t, err, stack.EMSGSIZE)
	bad := buildHeader(t, 253, addrA, addrB, "v6?")
	bad[0] = 0x65
	_, err = send.SendTo(bad, netip.AddrPortFrom(addrB, 0))
	wantErrno(t, err, stack.EINVAL)
}

func TestRawLargeDatagramFragmented(t *testing.T) {
	l := udpLAN(t, 1)
	recv := l.sock("b", stack.SOCK_RAW, 253)
	send := l.sock("a", stack.SOCK_RAW, 253)
	data := make([]byte, 4000)
	for i := range data {
		data[i] = byte(i)
	}
	if _, err := send.SendTo(data, netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	l.loop.RunFor(100 * time.Millisecond)
	h, ip, ok := rawRecv(t, recv)
	if !ok || len(ip.Payload()) != 4000 || h.IsFragment() {
		t.Fatalf("received %v (%d bytes of data), want the reassembled 4000", h, len(ip.Payload()))
	}
}

func TestRawReceiveQueueBounded(t *testing.T) {
	l := udpLAN(t, 1)
	recv := l.sock("b", stack.SOCK_RAW, 253)
	recv.SetSockopt(stack.SOL_SOCKET, stack.SO_RCVBUF, 2048)
	send := l.sock("a", stack.SOCK_RAW, 253)
	for i := 0; i < 5; i++ {
		if _, err := send.SendTo(make([]byte, 800), netip.AddrPortFrom(addrB, 0)); err != nil {
			t.Fatal(err)
		}
	}
	l.loop.RunFor(100 * time.Millisecond)
	// 820 bytes of datagram + 64: two fit in 2048.
	if got := drain(t, recv); len(got) != 2 {
		t.Fatalf("raw queue held %d datagrams, want 2", len(got))
	}
	if n := l.drops("b", "sock-queue-full"); n != 3 {
		t.Fatalf("sock-queue-full counted %d", n)
	}
}
