package wire

import (
	"bytes"
	"testing"
)

// Fuzz targets for the transport formats. Each checks: no panic on any
// input, every accessor callable after Validate, and Parse → Marshal → Parse
// giving the same struct, with a second Marshal giving the same bytes.

func FuzzTCP(f *testing.F) {
	f.Add(bytes.Clone(goldenSYN))  // SYN with MSS, SACK-permitted, TS, NOP, wscale
	f.Add(bytes.Clone(goldenData)) // data segment with TS and two SACK blocks
	f.Add(goldenSYN[:20])          // data offset 10 with only the fixed header: truncated
	// Bare header, data offset 5, with two bytes of data.
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0x50, 0x10, 0, 5, 0, 0, 0, 0, 'h', 'i'})
	// Unknown option kinds 30 and 34, an EOL and padding after it.
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0x80, 0x02, 0, 5, 0, 0, 0, 0,
		30, 4, 1, 2, 34, 2, 0, 9, 9, 9, 9, 9})
	// Densely packed options that only fit without alignment NOPs.
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0xf0, 0x10, 0, 5, 0, 0, 0, 0,
		2, 4, 5, 0xb4, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
		5, 26, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6})
	// Malformed MSS length.
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0x60, 0x02, 0, 5, 0, 0, 0, 0, 2, 3, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		v := TCP(data)
		_ = v.String()
		h, err := ParseTCP(data)
		if verr := v.Validate(); (err == nil) != (verr == nil) {
			t.Fatalf("ParseTCP says %v, Validate says %v", err, verr)
		}
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			return
		}
		_ = v.SrcPort() + v.DstPort() + v.Window() + v.Checksum() + v.Urgent()
		_ = v.Seq() + v.Ack()
		_ = v.DataOffset() + v.Reserved()
		_ = v.Flags().String()
		_ = FormatTCPOptions(v.Options())
		payload := v.Payload()
		_ = v.ChecksumValid(l4HostA, l4HostB)
		_ = v.VerifyChecksum(l4HostA, l4HostB)
		_ = h.String()

		want := h
		want.Options.SkippedUnknown = 0 // Marshal writes only the kept unknown options
		seg := make([]byte, want.HeaderLen()+len(payload))
		copy(seg[want.HeaderLen():], payload)
		if err := want.Marshal(seg, l4HostA, l4HostB); err != nil {
			t.Fatalf("cannot marshal parsed %+v: %v", want, err)
		}
		got, err := ParseTCP(seg)
		if err != nil {
			t.Fatalf("cannot parse marshaled % x: %v", seg, err)
		}
		if !got.Equal(&want) {
			t.Fatalf("round trip\n%+v\nwant\n%+v", got, want)
		}
		if !TCP(seg).ChecksumValid(l4HostA, l4HostB) || !bytes.Equal(TCP(seg).Payload(), payload) {
			t.Fatal("marshaled segment: checksum or payload")
		}
		again := make([]byte, len(seg))
		copy(again[got.HeaderLen():], payload)
		if err := got.Marshal(again, l4HostA, l4HostB); err != nil || !bytes.Equal(again, seg) {
			t.Fatalf("second marshal differs (%v)\n% x\n% x", err, again, seg)
		}
	})
}

func FuzzTCPOptions(f *testing.F) {
	f.Add(bytes.Clone(goldenSYN[20:]))                                          // Linux SYN options
	f.Add(bytes.Clone(goldenData[20:52]))                                       // NOP NOP TS NOP NOP SACK x2
	f.Add([]byte{})                                                             // no options
	f.Add([]byte{0, 2, 3})                                                      // EOL, then padding that would be malformed
	f.Add([]byte{1, 1, 1, 1})                                                   // NOPs only
	f.Add([]byte{30, 4, 1, 2, 31, 2, 32, 2, 33, 2, 34, 2, 35, 2})               // six unknown options, two skipped
	f.Add([]byte{5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 3, 0, 0, 0, 4}) // two SACK options
	f.Add([]byte{2, 4, 5})                                                      // MSS past the end
	f.Add([]byte{3, 1, 7})                                                      // length below 2
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = FormatTCPOptions(data)
		o, err := ParseTCPOptions(data)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			return
		}
		o.SkippedUnknown = 0
		if o.Len() > TCPMaxOptionsLen || o.Len()%4 != 0 {
			t.Fatalf("Len %d for %d parsed bytes", o.Len(), len(data))
		}
		_ = o.String()
		var buf [TCPMaxOptionsLen]byte
		n, err := o.Marshal(buf[:])
		if err != nil || n != o.Len() {
			t.Fatalf("marshal: %d bytes, %v", n, err)
		}
		back, err := ParseTCPOptions(buf[:n])
		if err != nil {
			t.Fatalf("cannot parse marshaled % x: %v", buf[:n], err)
		}
		if !back.Equal(&o) {
			t.Fatalf("round trip\n%+v\nwant\n%+v", back, o)
		}
		var buf2 [TCPMaxOptionsLen]byte
		if m, _ := back.Marshal(buf2[:]); !bytes.Equal(buf2[:m], buf[:n]) {
			t.Fatal("second marshal differs")
		}
	})
}

func FuzzUDP(f *testing.F) {
	f.Add(bytes.Clone(goldenUDP))                    // DNS answer
	f.Add([]byte{0, 1, 0, 2, 0, 8, 0, 0})            // empty datagram, no checksum
	f.Add([]byte{0, 1, 0, 2, 0, 9, 0, 0, 'x', 0, 0}) // one data byte and link padding
	f.Add([]byte{0, 1, 0, 2, 0, 7, 0, 0})            // length below the header
	f.Add([]byte{0, 1, 0, 2, 0, 99, 0, 0})           // length past the end
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseUDP(data)
		v := UDP(data)
		if verr := v.Validate(); (err == nil) != (verr == nil) {
			t.Fatalf("ParseUDP says %v, Validate says %v", err, verr)
		}
		if err != nil {
			return
		}
		_ = v.SrcPort() + v.DstPort() + v.Length() + v.Checksum()
		payload := v.Payload()
		_ = v.ChecksumValid(l4HostA, l4HostB)
		_ = v.VerifyChecksum(l4HostA, l4HostB)
		_ = h.String()

		want := h
		dg := make([]byte, UDPHeaderLen+len(payload))
		copy(dg[UDPHeaderLen:], payload)
		if err := want.Marshal(dg, l4HostA, l4HostB); err != nil {
			t.Fatal(err)
		}
		got, err := ParseUDP(dg)
		if err != nil || got != want || got.Length != h.Length || got.SrcPort != h.SrcPort || got.DstPort != h.DstPort {
			t.Fatalf("round trip %+v, want %+v (%v)", got, want, err)
		}
		if !UDP(dg).ChecksumValid(l4HostA, l4HostB) || UDP(dg).Checksum() == 0 {
			t.Fatal("marshaled checksum")
		}
	})
}

func FuzzICMP(f *testing.F) {
	f.Add(bytes.Clone(goldenEcho))                        // echo request with 56 data bytes
	f.Add(bytes.Clone(goldenPortUnreachable))             // port unreachable quoting UDP
	f.Add(bytes.Clone(goldenFragNeeded))                  // fragmentation needed, MTU 1400, quoting TCP
	f.Add([]byte{5, 1, 0, 0, 10, 0, 0, 1})                // redirect to 10.0.0.1, no quote
	f.Add([]byte{12, 0, 0, 0, 3, 0, 0, 0, 0x46, 0, 0, 0}) // parameter problem with a cut quote
	f.Add([]byte{9, 0, 0, 0, 1, 2, 0, 30})                // router advertisement: raw rest of header
	f.Add([]byte{3, 3, 0})                                // truncated header
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseICMP(data)
		v := ICMP(data)
		if verr := v.Validate(); (err == nil) != (verr == nil) {
			t.Fatalf("ParseICMP says %v, Validate says %v", err, verr)
		}
		if err != nil {
			return
		}
		_ = v.Type().String()
		_ = v.Code() + v.Pointer()
		_ = v.Checksum() + v.ID() + v.Seq() + v.MTU()
		_ = v.Gateway()
		_ = v.Rest()
		_ = v.ChecksumValid()
		_ = v.VerifyChecksum()
		_ = ParseICMPQuote(v.Payload())
		_ = h.Quoted()
		_ = h.String()

		want := h
		msg := make([]byte, len(data))
		copy(msg[ICMPHeaderLen:], v.Payload())
		if err := want.Marshal(msg); err != nil {
			t.Fatal(err)
		}
		got, err := ParseICMP(msg)
		if err != nil || !got.Equal(&want) {
			t.Fatalf("round trip %+v, want %+v (%v)", got, want, err)
		}
		if !ICMP(msg).ChecksumValid() {
			t.Fatal("marshaled checksum")
		}
		h.Checksum = want.Checksum // only the checksum may change
		if !h.Equal(&want) {
			t.Fatalf("Marshal changed fields: %+v, parsed %+v", want, h)
		}
	})
}
