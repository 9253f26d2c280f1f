package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Fuzz targets for Ethernet, ARP and IPv4. Each checks that any input either
// fails with a *ParseError of a known class or parses, that every accessor
// then works without panicking, and that Parse → Marshal → Parse gives the
// same header (and the same bytes where the format makes them unique).
//
//	go test -run XXX -fuzz FuzzIPv4 -fuzztime 60s ./stack/wire/

// l3CheckParseError fails unless err is a *ParseError wrapping a sentinel.
func l3CheckParseError(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T %v is not a *ParseError", err, err)
	}
	switch {
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrMalformed), errors.Is(err, ErrChecksum), errors.Is(err, ErrUnsupported):
	default:
		t.Fatalf("error %v wraps no sentinel", err)
	}
	if pe.Field == "" || pe.Reason == "" || pe.Error() == "" {
		t.Fatalf("error %#v lacks a field or a reason", pe)
	}
}

func FuzzEthernet(f *testing.F) {
	f.Add(goldenEthernet)                                    // broadcast frame with an ARP request
	f.Add(goldenEthernet[:EthernetHeaderLen])                // header, no payload
	f.Add(goldenEthernet[:13])                               // cut in the EtherType
	f.Add([]byte{})                                          // nothing
	f.Add(append(bytes.Clone(goldenEthernet[:12]), 5, 0xdc)) // IEEE 802.3 length 1500
	f.Fuzz(func(t *testing.T, b []byte) {
		v := Ethernet(b)
		h, err := ParseEthernet(b)
		if err != nil {
			l3CheckParseError(t, err)
			if v.Validate() == nil {
				t.Fatal("ParseEthernet fails, Validate passes")
			}
			return
		}
		_, _, _, _ = v.Dst(), v.Src(), v.Type(), v.Payload()
		_ = h.String()
		frame := make([]byte, len(b))
		copy(frame[h.HeaderLen():], v.Payload())
		if err := h.Marshal(frame); err != nil {
			t.Fatalf("Marshal of a parsed header: %v", err)
		}
		if !bytes.Equal(frame, b) {
			t.Fatalf("round trip\n% x\n% x", frame, b)
		}
		if h2, err := ParseEthernet(frame); err != nil || h2 != h {
			t.Fatalf("reparsed %v, %v; want %v", h2, err, h)
		}
	})
}

func FuzzARP(f *testing.F) {
	f.Add(goldenARP)                                           // request who-has 192.168.2.20
	f.Add(append(bytes.Clone(goldenARP), make([]byte, 18)...)) // with Ethernet padding
	f.Add(goldenARP[:27])                                      // cut in the target address
	f.Add(goldenEthernet)                                      // a whole frame: hardware type ff:ff
	reply := bytes.Clone(goldenARP)
	reply[7] = 2
	f.Add(reply) // a reply
	rarp := bytes.Clone(goldenARP)
	rarp[7] = 3
	f.Add(rarp) // RARP request: unsupported
	f.Fuzz(func(t *testing.T, b []byte) {
		v := ARP(b)
		h, err := ParseARP(b)
		if err != nil {
			l3CheckParseError(t, err)
			if v.Validate() == nil {
				t.Fatal("ParseARP fails, Validate passes")
			}
			return
		}
		_, _, _, _ = v.HardwareType(), v.ProtocolType(), v.HardwareLen(), v.ProtocolLen()
		_, _, _, _, _ = v.Op(), v.SHA(), v.SPA(), v.THA(), v.TPA()
		_ = h.String()
		out := make([]byte, h.HeaderLen())
		h2 := h
		if err := h2.Marshal(out); err != nil {
			t.Fatalf("Marshal of a parsed packet: %v", err)
		}
		if h2 != h || !bytes.Equal(out, b[:ARPLen]) {
			t.Fatalf("round trip\n% x\n% x", out, b[:ARPLen])
		}
		if h3, err := ParseARP(out); err != nil || h3 != h {
			t.Fatalf("reparsed %v, %v; want %v", h3, err, h)
		}
	})
}

// l3TouchIPv4 calls every accessor of a validated view and of its options.
func l3TouchIPv4(v IPv4, h IPv4Header) {
	_, _, _, _, _, _ = v.Version(), v.IHL(), v.HeaderLen(), v.TOS(), v.DSCP(), v.ECN()
	_, _, _, _, _ = v.TotalLen(), v.ID(), v.Flags(), v.DontFragment(), v.More()
	_, _, _, _, _ = v.FragmentOffset(), v.IsFragment(), v.TTL(), v.Protocol(), v.Checksum()
	_, _, _, _ = v.Src(), v.Dst(), v.Options(), v.Payload()
	_, _ = v.ChecksumValid(), v.ComputeChecksum()
	for _, t := range []uint8{IPv4OptEOL, IPv4OptNOP, IPv4OptRecordRoute, IPv4OptTimestamp,
		IPv4OptLSRR, IPv4OptSSRR, IPv4OptRouterAlert, 130} {
		v.FindOption(t)
	}
	_, _, _ = h.String(), h.IsFragment(), h.HeaderLen()
	for _, o := range h.Options {
		_, _, _, _, _ = o.String(), o.Copied(), o.Class(), o.Number(), o.Name()
		_, _, _ = o.Route()
		if ts, err := o.Timestamp(); err == nil {
			_ = ts.Recorded()
		}
		_, _ = o.RouterAlert()
	}
}

func FuzzIPv4(f *testing.F) {
	f.Add(goldenIPv4)                                                          // ICMP echo request, DF
	f.Add(goldenIPv4Opts)                                                      // Record Route + Router Alert + EOL padding
	f.Add(append(bytes.Clone(goldenIPv4), 0, 0))                               // with link padding after total length
	f.Add(goldenIPv4[:19])                                                     // cut in the destination
	f.Add(goldenIPv4Opts[:30])                                                 // cut in the options
	f.Add(l3WithOptions([]byte{0x94, 4, 0, 0, 0, 0, 0x55, 0}))                 // non-canonical padding
	f.Add(l3WithOptions([]byte{68, 12, 13, 0x21, 10, 0, 0, 1, 0, 0, 3, 0xe8})) // full Timestamp with address
	f.Add(l3WithOptions([]byte{131, 11, 8, 10, 0, 0, 1, 10, 0, 1, 1, 0}))      // LSRR half done
	f.Add(l3WithOptions([]byte{0x82, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))       // Security, opaque
	f.Add(l3WithOptions([]byte{7, 7, 5, 0, 0, 0, 0, 0}))                       // RR pointer 5: malformed
	f.Add(l3WithOptions([]byte{7, 3, 4, 7, 3, 4, 0, 0}))                       // RR twice: malformed
	frag := bytes.Clone(goldenIPv4)
	IPv4(frag).SetFlags(IPv4FlagMF | IPv4FlagReserved)
	IPv4(frag).SetFragmentOffset(65464)
	f.Add(frag) // a fragment near the end of the largest datagram, reserved flag set
	f.Fuzz(func(t *testing.T, b []byte) {
		v := IPv4(b)
		h, err := ParseIPv4(b)
		if err != nil {
			l3CheckParseError(t, err)
			if v.Validate() == nil {
				t.Fatal("ParseIPv4 fails, Validate passes")
			}
			return
		}
		l3TouchIPv4(v, h)
		if h.HeaderLen() != v.HeaderLen() {
			t.Fatalf("HeaderLen %d, the header has %d", h.HeaderLen(), v.HeaderLen())
		}
		payload := v.Payload()
		pkt := make([]byte, h.HeaderLen()+len(payload))
		copy(pkt[h.HeaderLen():], payload)
		h2 := h
		h2.Options = append([]IPv4Option(nil), h.Options...)
		if err := h2.Marshal(pkt); err != nil {
			t.Fatalf("Marshal of a parsed header %v: %v", h, err)
		}
		h3, err := ParseIPv4(pkt)
		if err != nil {
			t.Fatalf("parse of a marshalled header: %v\n% x", err, pkt)
		}
		if !l3EqualIPv4(h2, h3) || !IPv4(pkt).ChecksumValid() {
			t.Fatalf("round trip\n%+v\n%+v", h2, h3)
		}
		// Only the checksum may differ from the input, and only when the
		// input's was not the computed one.
		h3.Checksum = h.Checksum
		if !l3EqualIPv4(h, h3) {
			t.Fatalf("round trip changed the header\n%+v\n%+v", h, h3)
		}
		if v.Checksum() == v.ComputeChecksum() && !bytes.Equal(pkt, b[:v.TotalLen()]) {
			t.Fatalf("round trip changed the bytes\n% x\n% x", pkt, b[:v.TotalLen()])
		}
		if !reflect.DeepEqual(h.Options == nil, h3.Options == nil) {
			t.Fatal("nil options became non-nil or back")
		}
	})
}
