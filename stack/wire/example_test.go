package wire_test

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/stack/wire"
)

// Build an IPv4 datagram carrying UDP, the way tipy's layers do: the payload
// is placed once, then each header is marshalled into the room in front of
// it. Parsing reads it back; the checksums verify.
func ExampleUDPHeader_Marshal() {
	src, dst := netip.MustParseAddr("192.168.2.7"), netip.MustParseAddr("192.168.2.20")
	ip := wire.IPv4Header{ID: 0x1234, TTL: 64, Protocol: wire.ProtoUDP, Src: src, Dst: dst}
	payload := "hello"

	pkt := make([]byte, ip.HeaderLen()+wire.UDPHeaderLen+len(payload))
	copy(pkt[ip.HeaderLen()+wire.UDPHeaderLen:], payload)
	udp := wire.UDPHeader{SrcPort: 40000, DstPort: 7}
	if err := udp.Marshal(pkt[ip.HeaderLen():], src, dst); err != nil {
		panic(err)
	}
	if err := ip.Marshal(pkt); err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", pkt)

	h, err := wire.ParseIPv4(pkt)
	if err != nil {
		panic(err)
	}
	fmt.Println(h, "checksum ok:", wire.IPv4(pkt).ChecksumValid())
	seg := wire.UDP(pkt[h.HeaderLen():])
	u, err := wire.ParseUDP(seg)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v %q, checksum ok: %v\n", &u, seg.Payload(), seg.ChecksumValid(src, dst))
	// Output:
	// 45 00 00 21 12 34 00 00 40 11 e3 2c c0 a8 02 07 c0 a8 02 14 9c 40 00 07 00 0d 9a 4e 68 65 6c 6c 6f
	// IP 192.168.2.7 > 192.168.2.20: proto UDP (17), ttl 64, id 4660, length 33 checksum ok: true
	// UDP 40000 > 7, length 5 "hello", checksum ok: true
}

// Untrusted bytes go through a Parse function, whose error names the
// layer, the field and what is wrong.
func ExampleParseIPv4() {
	b := []byte{0x45, 0x00, 0x00, 0x54, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01}
	_, err := wire.ParseIPv4(b)
	fmt.Println(err)
	// Output:
	// ipv4: header checksum (offset 10): the header needs 20 bytes, only 10 received
}
