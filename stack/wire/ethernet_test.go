package wire

import (
	"bytes"
	"errors"
	"testing"
)

// Test helpers of the link and network layer tests carry the prefix l3.

// l3WantParseError checks that err is a *ParseError of class sentinel for
// layer and field, and returns it.
func l3WantParseError(t *testing.T, err error, sentinel error, layer, field string) *ParseError {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v in %s %q", sentinel, layer, field)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q is not %v", err, sentinel)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not a *ParseError", err)
	}
	if pe.Layer != layer || pe.Field != field {
		t.Fatalf("error %q: layer %q field %q, want %q %q", err, pe.Layer, pe.Field, layer, field)
	}
	return pe
}

var (
	l3MAC7  = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x07}
	l3MAC20 = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x14}
)

// goldenEthernet is the start of a broadcast frame carrying an ARP request
// (the payload is goldenARP, see arp_test.go).
var goldenEthernet = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
	0x02, 0x00, 0x00, 0x00, 0x00, 0x07, // source: 02:00:00:00:00:07 (locally administered)
	0x08, 0x06, // EtherType: ARP
	// payload: the ARP request
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x07, 0xc0, 0xa8, 0x02, 0x07,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x02, 0x14,
}

var goldenEthernetHeader = EthernetHeader{Dst: BroadcastMAC, Src: l3MAC7, Type: EtherTypeARP}

func TestEthernetGoldenView(t *testing.T) {
	v := Ethernet(goldenEthernet)
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	if v.Dst() != BroadcastMAC || v.Src() != l3MAC7 || v.Type() != EtherTypeARP {
		t.Fatalf("dst %v src %v type %v", v.Dst(), v.Src(), v.Type())
	}
	if !bytes.Equal(v.Payload(), goldenEthernet[14:]) {
		t.Fatalf("payload % x", v.Payload())
	}
}

func TestEthernetGoldenSetters(t *testing.T) {
	b := make([]byte, len(goldenEthernet))
	copy(b[14:], goldenEthernet[14:])
	v := Ethernet(b)
	v.SetDst(BroadcastMAC)
	v.SetSrc(l3MAC7)
	v.SetType(EtherTypeARP)
	if !bytes.Equal(b, goldenEthernet) {
		t.Fatalf("built\n% x\nwant\n% x", b, goldenEthernet)
	}
}

func TestEthernetGoldenParse(t *testing.T) {
	h, err := ParseEthernet(goldenEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if h != goldenEthernetHeader {
		t.Fatalf("parsed %+v, want %+v", h, goldenEthernetHeader)
	}
}

func TestEthernetGoldenMarshal(t *testing.T) {
	b := make([]byte, len(goldenEthernet))
	for i := range b[:14] {
		b[i] = 0xee // the header must overwrite whatever was there
	}
	copy(b[14:], goldenEthernet[14:])
	h := goldenEthernetHeader
	if h.HeaderLen() != EthernetHeaderLen {
		t.Fatalf("HeaderLen %d", h.HeaderLen())
	}
	if err := h.Marshal(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenEthernet) {
		t.Fatalf("marshalled\n% x\nwant\n% x", b, goldenEthernet)
	}
}

func TestEthernetTruncated(t *testing.T) {
	for n := 0; n < EthernetHeaderLen; n++ {
		want := "destination"
		switch {
		case n >= 12:
			want = "ethertype"
		case n >= 6:
			want = "source"
		}
		_, err := ParseEthernet(goldenEthernet[:n])
		pe := l3WantParseError(t, err, ErrTruncated, "ethernet", want)
		if pe.Offset != map[string]int{"destination": 0, "source": 6, "ethertype": 12}[want] {
			t.Errorf("%d bytes: offset %d", n, pe.Offset)
		}
	}
	if _, err := ParseEthernet(goldenEthernet[:EthernetHeaderLen]); err != nil {
		t.Fatalf("header alone: %v", err)
	}
}

func TestEthernet8023Length(t *testing.T) {
	b := bytes.Clone(goldenEthernet)
	b[12], b[13] = 0x05, 0xdc // 1500: an IEEE 802.3 length field
	_, err := ParseEthernet(b)
	l3WantParseError(t, err, ErrUnsupported, "ethernet", "ethertype")
	b[12], b[13] = 0x06, 0x00 // the smallest EtherType
	if _, err := ParseEthernet(b); err != nil {
		t.Fatalf("0x0600: %v", err)
	}
}

func TestEthernetMarshalErrors(t *testing.T) {
	h := goldenEthernetHeader
	err := h.Marshal(make([]byte, 13))
	l3WantParseError(t, err, ErrTruncated, "ethernet", "header")
	h.Type = 0x0100
	buf := make([]byte, 14)
	err = h.Marshal(buf)
	l3WantParseError(t, err, ErrUnsupported, "ethernet", "ethertype")
	if !bytes.Equal(buf, make([]byte, 14)) {
		t.Fatalf("a failed Marshal wrote % x", buf)
	}
}

func TestEthernetString(t *testing.T) {
	cases := []struct {
		h    EthernetHeader
		want string
	}{
		{goldenEthernetHeader, "02:00:00:00:00:07 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)"},
		{EthernetHeader{Dst: l3MAC20, Src: l3MAC7, Type: EtherTypeIPv4}, "02:00:00:00:00:07 > 02:00:00:00:00:14, ethertype IPv4 (0x0800)"},
		{EthernetHeader{Dst: l3MAC20, Src: l3MAC7, Type: 0x88cc}, "02:00:00:00:00:07 > 02:00:00:00:00:14, ethertype Unknown (0x88cc)"},
	}
	for _, c := range cases {
		if got := c.h.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
