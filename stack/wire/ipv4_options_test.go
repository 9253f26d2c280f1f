package wire

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
)

var (
	l3RouteA = netip.MustParseAddr("10.0.0.1")
	l3RouteB = netip.MustParseAddr("10.0.1.1")
	l3RouteC = netip.MustParseAddr("10.0.2.1")
)

// l3WithOptions builds a datagram from 192.168.2.7 to 192.168.2.20 whose
// option area is exactly opts (len(opts) must be a multiple of 4), followed
// by 4 data bytes, with a valid checksum.
func l3WithOptions(opts []byte) []byte {
	b := make([]byte, 20+len(opts)+4)
	v := IPv4(b)
	v.SetVersion(4)
	v.SetIHL(uint8((20 + len(opts)) / 4))
	v.SetTotalLen(uint16(len(b)))
	v.SetID(7)
	v.SetTTL(64)
	v.SetProtocol(ProtoUDP)
	v.SetSrc(l3IP7)
	v.SetDst(l3IP20)
	copy(b[20:], opts)
	copy(b[20+len(opts):], "data")
	v.UpdateChecksum()
	return b
}

func TestIPv4OptionConstructors(t *testing.T) {
	must := func(o IPv4Option, err error) IPv4Option {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a, b, c := l3RouteA.As4(), l3RouteB.As4(), l3RouteC.As4()
	cases := []struct {
		o             IPv4Option
		typ           uint8
		data          []byte
		copied        bool
		class, number uint8
		length        int
		str           string
	}{
		{EOLOption(), 0, nil, false, 0, 0, 0, "EOL"},
		{NOPOption(), 1, nil, false, 0, 1, 1, "NOP"},
		{RecordRouteOption(2), 7, []byte{4, 0, 0, 0, 0, 0, 0, 0, 0}, false, 0, 7, 11,
			"RR ptr 4 [0.0.0.0 0.0.0.0]"},
		{must(LSRROption(l3RouteA, l3RouteB)), 131, append(append([]byte{4}, a[:]...), b[:]...), true, 0, 3, 11,
			"LSRR ptr 4 [10.0.0.1 10.0.1.1]"},
		{must(SSRROption(l3RouteC)), 137, append([]byte{4}, c[:]...), true, 0, 9, 7,
			"SSRR ptr 4 [10.0.2.1]"},
		{TimestampOption(IPv4TSOnly, 2), 68, []byte{5, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, 2, 4, 12,
			"TS tsonly ptr 5 oflw 0 [0 0]"},
		{TimestampOption(IPv4TSAndAddr, 1), 68, []byte{5, 1, 0, 0, 0, 0, 0, 0, 0, 0}, false, 2, 4, 12,
			"TS tsandaddr ptr 5 oflw 0 [0.0.0.0@0]"},
		{must(TimestampPrespecifiedOption(l3RouteA, l3RouteB)), 68,
			[]byte{5, 3, 10, 0, 0, 1, 0, 0, 0, 0, 10, 0, 1, 1, 0, 0, 0, 0}, false, 2, 4, 20,
			"TS prespec ptr 5 oflw 0 [10.0.0.1@0 10.0.1.1@0]"},
		{RouterAlertOption(0), 148, []byte{0, 0}, true, 0, 20, 4, "RA 0"},
		{RouterAlertOption(0x1234), 148, []byte{0x12, 0x34}, true, 0, 20, 4, "RA 4660"},
		{IPv4Option{Type: 130, Data: []byte{1, 2}}, 130, []byte{1, 2}, true, 0, 2, 4, "opt-130 len 4 [0102]"},
	}
	for _, c := range cases {
		o := c.o
		if o.Type != c.typ || !bytes.Equal(o.Data, c.data) {
			t.Errorf("%v: type %d data % x, want %d % x", o, o.Type, o.Data, c.typ, c.data)
		}
		if o.Copied() != c.copied || o.Class() != c.class || o.Number() != c.number || o.Len() != c.length {
			t.Errorf("%v: copied %v class %d number %d len %d", o, o.Copied(), o.Class(), o.Number(), o.Len())
		}
		if o.String() != c.str {
			t.Errorf("String %q, want %q", o.String(), c.str)
		}
	}
	if RecordRouteOption(-1).Len() != 3 {
		t.Error("negative slots")
	}
	// Constructors that take addresses reject what does not fit.
	_, err := LSRROption(l3RouteA, netip.IPv6Loopback())
	l3WantParseError(t, err, ErrMalformed, "ipv4", "option Loose Source Route")
	_, err = SSRROption(make([]netip.Addr, 10)...)
	l3WantParseError(t, err, ErrMalformed, "ipv4", "option Strict Source Route")
	_, err = TimestampPrespecifiedOption(l3RouteA, l3RouteB, l3RouteC, l3RouteA, l3RouteB)
	l3WantParseError(t, err, ErrMalformed, "ipv4", "option Timestamp")
	_, err = TimestampPrespecifiedOption(netip.Addr{})
	l3WantParseError(t, err, ErrMalformed, "ipv4", "option Timestamp")
}

// TestIPv4OptionsRoundTrip marshals each kind of option, parses the result
// and decodes the option again.
func TestIPv4OptionsRoundTrip(t *testing.T) {
	lsrr, _ := LSRROption(l3RouteA, l3RouteB, l3RouteC)
	ssrr, _ := SSRROption(l3RouteA)
	prespec, _ := TimestampPrespecifiedOption(l3RouteA, l3RouteB)
	lists := [][]IPv4Option{
		{NOPOption(), RecordRouteOption(9)}, // 40 bytes, the most
		{lsrr},
		{ssrr, NOPOption(), RouterAlertOption(0)},
		{TimestampOption(IPv4TSOnly, 9)},
		{TimestampOption(IPv4TSAndAddr, 4)},
		{prespec},
		{RouterAlertOption(1)},
		{{Type: 130, Data: []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}}}, // Security, opaque
		{{Type: 136, Data: []byte{0x12, 0x34}}},                                           // Stream ID, opaque
		{{Type: 30, Data: []byte{}}, NOPOption(), NOPOption()},                            // experimental, no data
		{RouterAlertOption(0), EOLOption()},                                               // EOL explicit: dropped when canonical
	}
	for _, list := range lists {
		h := goldenIPv4Header
		h.Options = list
		hl := h.HeaderLen()
		if hl%4 != 0 || hl > IPv4MaxHeaderLen {
			t.Fatalf("%v: HeaderLen %d", list, hl)
		}
		pkt := make([]byte, hl+8)
		if err := h.Marshal(pkt); err != nil {
			t.Fatalf("%v: %v", list, err)
		}
		got, err := ParseIPv4(pkt)
		if err != nil {
			t.Fatalf("%v: %v\n% x", list, err, pkt)
		}
		want := list
		if last := len(list) - 1; list[last].Type == IPv4OptEOL {
			want = list[:last]
		}
		h.Options = want
		if !l3EqualIPv4(got, h) {
			t.Fatalf("%v: parsed %+v\nwant %+v", list, got, h)
		}
		if !IPv4(pkt).ChecksumValid() {
			t.Fatalf("%v: checksum", list)
		}
		for i, o := range got.Options {
			if o.String() != list[i].String() {
				t.Errorf("option %d: %q, want %q", i, o.String(), list[i].String())
			}
		}
	}
}

// TestIPv4OptionPadding checks that option padding that is not the canonical
// one is kept as an EOL option and marshalled back to the same bytes.
func TestIPv4OptionPadding(t *testing.T) {
	cases := []struct {
		opts []byte
		want []IPv4Option
	}{
		{[]byte{0x94, 4, 0, 0}, []IPv4Option{RouterAlertOption(0)}},                                   // no padding
		{[]byte{1, 1, 1, 0}, []IPv4Option{NOPOption(), NOPOption(), NOPOption()}},                     // canonical EOL
		{[]byte{1, 0, 0, 0}, []IPv4Option{NOPOption()}},                                               // canonical EOL + zeros
		{[]byte{0x94, 4, 0, 0, 0, 0, 0, 0}, []IPv4Option{RouterAlertOption(0), {0, []byte{0, 0, 0}}}}, // a word too many
		{[]byte{0, 0, 0, 0}, []IPv4Option{{0, []byte{0, 0, 0}}}},                                      // only padding
		{[]byte{1, 0, 0x55, 0}, []IPv4Option{NOPOption(), {0, []byte{0x55, 0}}}},                      // non-zero padding
		{[]byte{1, 0, 7, 1}, []IPv4Option{NOPOption(), {0, []byte{7, 1}}}},                            // garbage after EOL is not parsed
	}
	for _, c := range cases {
		b := l3WithOptions(c.opts)
		h, err := ParseIPv4(b)
		if err != nil {
			t.Fatalf("% x: %v", c.opts, err)
		}
		if !l3EqualIPv4(h, IPv4Header{TotalLen: h.TotalLen, ID: 7, TTL: 64, Protocol: ProtoUDP,
			Checksum: h.Checksum, Src: l3IP7, Dst: l3IP20, Options: c.want}) {
			t.Fatalf("% x: options %v, want %v", c.opts, h.Options, c.want)
		}
		if h.HeaderLen() != 20+len(c.opts) {
			t.Fatalf("% x: HeaderLen %d", c.opts, h.HeaderLen())
		}
		pkt := make([]byte, len(b))
		copy(pkt[h.HeaderLen():], "data")
		if err := h.Marshal(pkt); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pkt, b) {
			t.Fatalf("% x: marshalled\n% x\nwant\n% x", c.opts, pkt, b)
		}
	}
}

func TestIPv4OptionDecoders(t *testing.T) {
	rr := IPv4Option{Type: IPv4OptRecordRoute, Data: []byte{12, 10, 0, 0, 1, 10, 0, 1, 1, 0, 0, 0, 0}}
	ptr, addrs, err := rr.Route()
	if err != nil || ptr != 12 || !reflect.DeepEqual(addrs, []netip.Addr{l3RouteA, l3RouteB, netip.IPv4Unspecified()}) {
		t.Fatalf("Route: %d %v %v", ptr, addrs, err)
	}
	full := IPv4Option{Type: IPv4OptRecordRoute, Data: []byte{8, 10, 0, 0, 1}}
	if ptr, addrs, err := full.Route(); err != nil || ptr != 8 || len(addrs) != 1 {
		t.Fatalf("full RR: %d %v %v", ptr, addrs, err)
	}
	ts := IPv4Option{Type: IPv4OptTimestamp, Data: []byte{
		13, 0x21, // pointer 13 (second entry), overflow 2, flag 1
		10, 0, 0, 1, 0, 0, 0x03, 0xe8, // 10.0.0.1 at 1000 ms
		0, 0, 0, 0, 0, 0, 0, 0, // free
	}}
	tv, err := ts.Timestamp()
	if err != nil {
		t.Fatal(err)
	}
	want := IPv4Timestamp{Pointer: 13, Overflow: 2, Flag: IPv4TSAndAddr, Entries: []IPv4TimestampEntry{
		{l3RouteA, 1000}, {netip.IPv4Unspecified(), 0},
	}}
	if !reflect.DeepEqual(tv, want) || len(tv.Recorded()) != 1 || tv.Recorded()[0].Time != 1000 {
		t.Fatalf("Timestamp %+v, recorded %v", tv, tv.Recorded())
	}
	if ts.String() != "TS tsandaddr ptr 13 oflw 2 [10.0.0.1@1000 0.0.0.0@0]" {
		t.Fatalf("String %q", ts.String())
	}
	tsonly := IPv4Option{Type: IPv4OptTimestamp, Data: []byte{9, 0, 0, 0, 0, 7, 0, 0, 0, 0}}
	if tv, err := tsonly.Timestamp(); err != nil || tv.Entries[0].Time != 7 || tv.Entries[0].Addr.IsValid() ||
		len(tv.Recorded()) != 1 {
		t.Fatalf("tsonly %+v %v", tv, err)
	}
	// Decoders refuse the wrong kind of option and malformed data.
	_, _, err = RouterAlertOption(0).Route()
	l3WantParseError(t, err, ErrMalformed, "ipv4", "option Router Alert")
	_, err = rr.Timestamp()
	l3WantParseError(t, err, ErrMalformed, "ipv4", "option Record Route")
	_, err = rr.RouterAlert()
	l3WantParseError(t, err, ErrMalformed, "ipv4", "option Record Route")
	_, _, err = IPv4Option{Type: IPv4OptLSRR, Data: []byte{3}}.Route()
	pe := l3WantParseError(t, err, ErrMalformed, "ipv4", "option Loose Source Route")
	if pe.Offset != 2 {
		t.Fatalf("offset %d, want 2 (the pointer, relative to the option)", pe.Offset)
	}
	bad := IPv4Option{Type: IPv4OptRouterAlert, Data: []byte{1}}
	if _, err := bad.RouterAlert(); err == nil || bad.String() != "opt-148 len 3 [01]" {
		t.Fatalf("malformed RA: %v %q", err, bad.String())
	}
	if s := (IPv4Option{Type: 0, Data: []byte{0, 0, 0}}).String(); s != "EOL pad 3" {
		t.Fatalf("EOL String %q", s)
	}
}

// TestIPv4OptionsMalformed feeds malformed option areas to ParseIPv4.
func TestIPv4OptionsMalformed(t *testing.T) {
	cases := []struct {
		name  string
		opts  []byte
		field string
		off   int // offset in the header of the byte at fault
	}{
		{"no length byte", []byte{1, 1, 1, 7}, "option Record Route", 24},
		{"length 1", []byte{0x82, 1, 0, 0}, "option type 130", 21},
		{"length 0", []byte{0x44, 0, 0, 0}, "option Timestamp", 21},
		{"length past the end", []byte{7, 11, 4, 0, 0, 0, 0, 0}, "option Record Route", 21},
		{"unknown past the end", []byte{1, 0x99, 5, 0}, "option type 153", 22},
		{"RR no pointer", []byte{7, 2, 0, 0}, "option Record Route", 21},
		{"RR partial address", []byte{7, 5, 4, 0, 0, 0, 0, 0}, "option Record Route", 21},
		{"RR pointer 3", []byte{7, 7, 3, 0, 0, 0, 0, 0}, "option Record Route", 22},
		{"RR pointer 0", []byte{7, 7, 0, 0, 0, 0, 0, 0}, "option Record Route", 22},
		{"RR pointer 5", []byte{7, 7, 5, 0, 0, 0, 0, 0}, "option Record Route", 22},
		{"RR pointer past end", []byte{7, 7, 12, 0, 0, 0, 0, 0}, "option Record Route", 22},
		{"LSRR pointer 2", []byte{131, 7, 2, 0, 0, 0, 0, 0}, "option Loose Source Route", 22},
		{"SSRR pointer 6", []byte{1, 137, 7, 6, 0, 0, 0, 0}, "option Strict Source Route", 23},
		{"TS length 3", []byte{68, 3, 5, 0}, "option Timestamp", 21},
		{"TS pointer 4", []byte{68, 8, 4, 0, 0, 0, 0, 0}, "option Timestamp", 22},
		{"TS flag 2", []byte{68, 12, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0}, "option Timestamp", 23},
		{"TS flag 15", []byte{68, 12, 5, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}, "option Timestamp", 23},
		{"TS partial stamp", []byte{68, 6, 5, 0, 0, 0, 0, 0}, "option Timestamp", 21},
		{"TS partial pair", []byte{68, 8, 5, 1, 0, 0, 0, 0}, "option Timestamp", 21},
		{"TS pointer 6", []byte{68, 8, 6, 0, 0, 0, 0, 0}, "option Timestamp", 22},
		{"TS pointer 9 with pairs", []byte{68, 12, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0}, "option Timestamp", 22},
		{"TS pointer past end", []byte{68, 8, 13, 0, 0, 0, 0, 0}, "option Timestamp", 22},
		{"RA length 3", []byte{148, 3, 0, 0}, "option Router Alert", 21},
		{"RA length 6", []byte{148, 6, 0, 0, 0, 0, 0, 0}, "option Router Alert", 21},
		{"RR twice", []byte{7, 3, 4, 7, 3, 4, 0, 0}, "option Record Route", 23},
		{"LSRR and SSRR", []byte{131, 3, 4, 137, 3, 4, 0, 0}, "option Strict Source Route", 23},
	}
	for _, c := range cases {
		b := l3WithOptions(c.opts)
		_, err := ParseIPv4(b)
		pe := l3WantParseError(t, err, ErrMalformed, "ipv4", c.field)
		if pe.Offset != c.off {
			t.Errorf("%s: offset %d, want %d (%v)", c.name, pe.Offset, c.off, err)
		}
		if err := IPv4(b).Validate(); err == nil {
			t.Errorf("%s: Validate accepts", c.name)
		}
	}
	// Their well-formed neighbours are accepted.
	good := [][]byte{
		{7, 7, 8, 10, 0, 0, 1, 0},                   // RR full: pointer = length + 1
		{7, 3, 4, 0},                                // RR without slots
		{68, 8, 9, 0xf0, 0, 0, 0, 1},                // TS full, overflow 15
		{68, 4, 5, 1},                               // TS without entries
		{131, 3, 4, 68, 4, 5, 0, 0},                 // LSRR and TS
		{0x99, 2, 0, 0},                             // unknown, no data
		{0, 7, 1, 0},                                // garbage after EOL is padding
		{68, 4, 5, 0, 68, 4, 5, 0},                  // Timestamp may repeat
		{148, 4, 0, 0, 148, 4, 0, 1, 7, 3, 4, 0x00}, // RA twice, RR once
	}
	for _, opts := range good {
		if _, err := ParseIPv4(l3WithOptions(opts)); err != nil {
			t.Errorf("% x: %v", opts, err)
		}
	}
}

func TestIPv4OptionListMarshalErrors(t *testing.T) {
	cases := []struct {
		opts  []IPv4Option
		field string
	}{
		{[]IPv4Option{EOLOption(), NOPOption()}, "option End of Option List"},
		{[]IPv4Option{{Type: IPv4OptNOP, Data: []byte{1}}}, "option No Operation"},
		{[]IPv4Option{RecordRouteOption(1), RecordRouteOption(1)}, "option Record Route"},
		{[]IPv4Option{{Type: IPv4OptTimestamp, Data: []byte{5, 2}}}, "option Timestamp"},
		{[]IPv4Option{{Type: IPv4OptSSRR, Data: []byte{}}}, "option Strict Source Route"},
		{[]IPv4Option{TimestampOption(IPv4TSOnly, 10)}, "options"},
	}
	for _, c := range cases {
		h := goldenIPv4Header
		h.Options = c.opts
		err := h.Marshal(make([]byte, 100))
		l3WantParseError(t, err, ErrMalformed, "ipv4", c.field)
	}
}

// TestIPv4OptionsCopiedOnFragmentation shows how fragmentation uses Copied:
// only source routes and the Router Alert go into later fragments.
func TestIPv4OptionsCopiedOnFragmentation(t *testing.T) {
	lsrr, _ := LSRROption(l3RouteA)
	all := []IPv4Option{RecordRouteOption(1), lsrr, TimestampOption(IPv4TSOnly, 1), RouterAlertOption(0), NOPOption()}
	var later []string
	for _, o := range all {
		if o.Copied() {
			later = append(later, fmt.Sprint(o.Type))
		}
	}
	if fmt.Sprint(later) != "[131 148]" {
		t.Fatalf("copied options %v", later)
	}
}
