package stack_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// FuzzStackInput feeds arbitrary frames to a running stack with every layer
// built in (ARP, IPv4, ICMP, UDP with a bound socket, raw sockets, TCP with a
// listener), and runs its timers. Whatever the frame, the stack must not
// panic and must count it; a frame that fails the Ethernet or IPv4 checks,
// or carries an EtherType no layer handles, must be counted as a drop.
func FuzzStackInput(f *testing.F) {
	// Seeds: the golden frames of the wire package's dissection tests and
	// a few hand-made frames addressed to the stack.
	own := wire.MAC{0x02, 0, 0, 0, 0, 0x07}
	peer := wire.MAC{0x02, 0, 0, 0, 0, 0x14}
	for _, seed := range seedFrames(own, peer) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		link := &fakeLink{mtu: 1500, mac: own}
		loop := clock.NewVirtual()
		s, err := stack.New(stack.Config{Name: "tipy", MAC: own, Addr: netip.MustParsePrefix("192.168.2.7/24"),
			Gateway: netip.MustParseAddr("192.168.2.1"), ARP: stack.ARPConfig{NoProbe: true}}, link, loop, &events{})
		if err != nil {
			t.Fatal(err)
		}
		loop.Call(func() {
			now := loop.Now()
			if u, err := s.SocketNow(now, stack.AF_INET, stack.SOCK_DGRAM, 0); err == nil {
				u.BindNow(now, netip.MustParseAddrPort("0.0.0.0:7"))
			}
			if r, err := s.SocketNow(now, stack.AF_INET, stack.SOCK_RAW, 1); err == nil {
				_ = r
			}
			if l, err := s.SocketNow(now, stack.AF_INET, stack.SOCK_STREAM, 0); err == nil {
				l.BindNow(now, netip.MustParseAddrPort("0.0.0.0:80"))
				l.ListenNow(now, 8)
			}
		})
		before := s.Stats()
		link.h(frame)
		loop.RunFor(2 * time.Minute) // every timer the frame may have armed
		after := s.Stats()
		if after.FramesIn != before.FramesIn+1 {
			t.Fatalf("FramesIn went from %d to %d", before.FramesIn, after.FramesIn)
		}
		if mustDrop(frame, own) && dropTotal(after) == dropTotal(before) {
			t.Fatalf("an invalid frame was not counted as a drop: % x", frame)
		}
	})
}

// seedFrames builds frames for each layer, addressed to the stack.
func seedFrames(own, peer wire.MAC) [][]byte {
	ip := func(proto wire.IPProtocol, payload []byte, mod func(*wire.IPv4Header)) []byte {
		h := wire.IPv4Header{TTL: 64, Protocol: proto, Src: netip.MustParseAddr("192.168.2.20"), Dst: netip.MustParseAddr("192.168.2.7"), ID: 7}
		if mod != nil {
			mod(&h)
		}
		b := make([]byte, wire.EthernetHeaderLen+h.HeaderLen()+len(payload))
		eh := wire.EthernetHeader{Dst: own, Src: peer, Type: wire.EtherTypeIPv4}
		eh.Marshal(b)
		copy(b[wire.EthernetHeaderLen+h.HeaderLen():], payload)
		h.Marshal(b[wire.EthernetHeaderLen:])
		return b
	}
	var seeds [][]byte
	arp := make([]byte, wire.EthernetHeaderLen+wire.ARPLen)
	(&wire.EthernetHeader{Dst: wire.BroadcastMAC, Src: peer, Type: wire.EtherTypeARP}).Marshal(arp)
	(&wire.ARPHeader{Op: wire.ARPRequest, SHA: peer, SPA: netip.MustParseAddr("192.168.2.20"), TPA: netip.MustParseAddr("192.168.2.7")}).Marshal(arp[wire.EthernetHeaderLen:])
	seeds = append(seeds, arp)
	echo := make([]byte, 8+32)
	(&wire.ICMPHeader{Type: wire.ICMPEchoRequest, ID: 1, Seq: 1}).Marshal(echo)
	seeds = append(seeds, ip(wire.ProtoICMP, echo, nil))
	udp := make([]byte, 8+5)
	copy(udp[8:], "hello")
	(&wire.UDPHeader{SrcPort: 4000, DstPort: 7}).Marshal(udp, netip.MustParseAddr("192.168.2.20"), netip.MustParseAddr("192.168.2.7"))
	seeds = append(seeds, ip(wire.ProtoUDP, udp, nil))
	seeds = append(seeds, ip(wire.ProtoUDP, udp, func(h *wire.IPv4Header) { h.Flags = wire.IPv4FlagMF }))
	syn := make([]byte, 40)
	th := wire.TCPHeader{SrcPort: 4000, DstPort: 80, Seq: 1000, Flags: wire.TCPFlagSYN, Window: 65535}
	th.Options.MSS, th.Options.HasMSS = 1460, true
	th.Options.WScale, th.Options.HasWScale = 7, true
	th.Options.SACKPermitted = true
	th.Options.TSVal, th.Options.HasTS = 1, true
	syn = syn[:th.HeaderLen()]
	th.Marshal(syn, netip.MustParseAddr("192.168.2.20"), netip.MustParseAddr("192.168.2.7"))
	seeds = append(seeds, ip(wire.ProtoTCP, syn, nil))
	seeds = append(seeds, ip(253, []byte("custom protocol"), nil))
	seeds = append(seeds, ip(wire.ProtoIGMP, []byte{0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0}, func(h *wire.IPv4Header) { h.Dst = netip.MustParseAddr("224.0.0.1") }))
	// Whatever the wire fuzzers keep in their corpora.
	for _, dir := range []string{"wire/testdata/fuzz/FuzzEthernet", "wire/testdata/fuzz/FuzzDissect"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				seeds = append(seeds, corpusBytes(b))
			}
		}
	}
	return seeds
}

// corpusBytes extracts the []byte value of a "go test fuzz v1" corpus file;
// anything else is used as is.
func corpusBytes(b []byte) []byte {
	const prefix = "go test fuzz v1\n[]byte("
	s := string(b)
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		var out []byte
		if _, err := fmtSscanQuoted(s[len(prefix):], &out); err == nil {
			return out
		}
	}
	return b
}

// mustDrop reports whether frame is one the stack may not accept: a broken
// Ethernet header, or a frame for us with an unknown EtherType or a broken
// IPv4 header.
func mustDrop(frame []byte, own wire.MAC) bool {
	eth := wire.Ethernet(frame)
	if eth.Validate() != nil {
		return true
	}
	if eth.Dst() != own || eth.Src() == own {
		return false // a broadcast or a group may be legitimately handled
	}
	switch eth.Type() {
	case wire.EtherTypeARP:
		return false
	case wire.EtherTypeIPv4:
		ip := wire.IPv4(eth.Payload())
		return ip.Validate() != nil || !ip.ChecksumValid()
	}
	return true
}

func dropTotal(st stack.Stats) uint64 {
	var n uint64
	for _, d := range st.Drops {
		n += d
	}
	return n
}
