package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/tipy/tipy/stack/wire"
)

// The formatters of event_build.go write what the String methods of wire
// write, for every header these random ones stand for.

func randAddr(r *rand.Rand) netip.Addr {
	switch r.IntN(20) {
	case 0:
		return netip.Addr{}
	case 1:
		return netip.MustParseAddr("fe80::1")
	case 2:
		return netip.AddrFrom16(netip.MustParseAddr("10.0.0.1").As16()) // IPv4-mapped IPv6
	}
	return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
}

func TestAppendEthernetHeader(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	types := []wire.EtherType{wire.EtherTypeIPv4, wire.EtherTypeARP, wire.EtherTypeVLAN, wire.EtherTypeIPv6, 0, 0xffff, 0x88cc, 0x0800 + 1}
	for range 20000 {
		var h wire.EthernetHeader
		for i := range h.Src {
			h.Src[i], h.Dst[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		h.Type = types[r.IntN(len(types))]
		if r.IntN(3) == 0 {
			h.Type = wire.EtherType(r.Uint32())
		}
		if got, want := string(appendEthernetHeader([]byte("x"), h)), "x"+h.String(); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
}

func TestAppendIPv4Header(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		h := wire.IPv4Header{TotalLen: uint16(r.Uint32()), ID: uint16(r.Uint32()), TTL: uint8(r.Uint32()),
			Protocol: wire.IPProtocol(r.Uint32()), Src: randAddr(r), Dst: randAddr(r)}
		switch r.IntN(4) {
		case 0:
			h.Protocol = wire.ProtoTCP
		case 1:
			h.Protocol = []wire.IPProtocol{wire.ProtoICMP, wire.ProtoIGMP, wire.ProtoUDP}[r.IntN(3)]
		}
		if r.IntN(3) == 0 {
			h.TOS = uint8(r.Uint32())
		}
		if r.IntN(2) == 0 {
			h.Flags = wire.IPv4Flags(r.IntN(8))
		}
		if r.IntN(20) == 0 {
			h.Flags = wire.IPv4Flags(r.Uint32())
		}
		if r.IntN(4) == 0 {
			h.FragOff = r.IntN(wire.IPv4MaxFragOff/8+1) * 8
		}
		if r.IntN(30) == 0 {
			h.Options = []wire.IPv4Option{{Type: wire.IPv4OptNOP}}
		}
		if got, want := string(appendIPv4Header([]byte("x"), &h)), "x"+h.String(); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
}

// randTCPOptions makes an option area: mostly what stacks send, sometimes
// unknown, malformed or cut short.
func randTCPOptions(r *rand.Rand) []byte {
	var o []byte
	for n := r.IntN(6); n > 0; n-- {
		switch r.IntN(12) {
		case 0, 1:
			o = append(o, 1) // NOP
		case 2:
			o = append(o, 2, 4, byte(r.Uint32()), byte(r.Uint32())) // MSS
		case 3:
			o = append(o, 3, 3, byte(r.IntN(20))) // window scale
		case 4:
			o = append(o, 4, 2) // SACK permitted
		case 5:
			o = append(o, 8, 10)
			o = binary.BigEndian.AppendUint32(o, r.Uint32())
			o = binary.BigEndian.AppendUint32(o, r.Uint32())
		case 6:
			k := 1 + r.IntN(4)
			o = append(o, 5, byte(2+8*k))
			for range 2 * k {
				o = binary.BigEndian.AppendUint32(o, r.Uint32())
			}
		case 7:
			o = append(o, 0) // EOL, then whatever
		case 8:
			o = append(o, byte(r.Uint32()), byte(r.IntN(6))) // unknown kind, maybe a bad length
			for range r.IntN(4) {
				o = append(o, byte(r.Uint32()))
			}
		case 9:
			o = append(o, 2, 5, 1, 2, 3) // MSS of the wrong length
		case 10:
			o = append(o, 5, 9, 1, 2, 3, 4, 5, 6, 7) // SACK of a bad length
		default:
			o = append(o, 8, 10, 1) // cut short
		}
	}
	for len(o)%4 != 0 {
		o = append(o, 0)
	}
	return o[:min(len(o), 40)]
}

func TestAppendTCPSegment(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 50000 {
		opts := randTCPOptions(r)
		hl := wire.TCPMinHeaderLen + (len(opts)+3)&^3
		seg := make([]byte, hl+[]int{0, 0, 1, 536, 1448}[r.IntN(5)])
		for j := range wire.TCPMinHeaderLen {
			seg[j] = byte(r.Uint32())
		}
		copy(seg[wire.TCPMinHeaderLen:], opts)
		seg[12] = byte(hl/4) << 4
		if r.IntN(4) == 0 {
			seg[13] = byte(wire.TCPFlagACK) // the common case
		}
		switch {
		case i%50 == 1:
			seg[12] = byte(r.IntN(16)) << 4 // any data offset, valid or not
		case i%50 == 2:
			seg = seg[:r.IntN(wire.TCPMinHeaderLen)] // truncated
		}
		v := wire.TCP(seg)
		b, from, to, spanned := appendTCPSegment([]byte("x"), v)
		if got, want := string(b), "x"+v.String(); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
		if !spanned {
			continue
		}
		if got, want := string(b[from:to]), wire.FormatTCPOptions(v.Options()); got != want {
			t.Fatalf("options %q, want %q (in %q)", got, want, b)
		}
	}
}

func TestEventMemos(t *testing.T) {
	var s Stack
	r := rand.New(rand.NewPCG(7, 8))
	for range 3 * maxMemo {
		a := randAddr(r)
		if got := s.boxAddr(a); got != a.String() {
			t.Fatalf("boxAddr(%v) = %v", a, got)
		}
		ap := netip.AddrPortFrom(a, uint16(r.Uint32()))
		if got := s.boxAddrPort(ap); got != ap.String() {
			t.Fatalf("boxAddrPort(%v) = %v", ap, got)
		}
		d := time.Duration(r.Int64N(int64(time.Hour)))
		if got := s.durString(d); got != d.String() {
			t.Fatalf("durString(%d) = %v", d, got)
		}
		str := string(rune('a' + r.IntN(26)))
		if got := s.boxString(str); got != str {
			t.Fatalf("boxString(%q) = %v", str, got)
		}
	}
	if len(s.ev.addrs) > maxMemo || len(s.ev.ports) > maxMemo || len(s.ev.durs) > maxMemo {
		t.Fatalf("memos beyond their bound: %d %d %d", len(s.ev.addrs), len(s.ev.ports), len(s.ev.durs))
	}
	for f := range 256 {
		if got := s.boxFlags(wire.TCPFlags(f)); got != wire.TCPFlags(f).String() || string(appendTCPFlags(nil, wire.TCPFlags(f))) != got {
			t.Fatalf("flags %#x: %v", f, got)
		}
	}
	for _, w := range []string{"armed", "cancelled", "fired", "other"} {
		if timerAction(w) != w {
			t.Fatal(w)
		}
	}
}
