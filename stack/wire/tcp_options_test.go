package wire

import (
	"bytes"
	"testing"
)

func TestTCPOptionsMalformed(t *testing.T) {
	for _, c := range []struct {
		name     string
		opts     []byte
		sentinel error
		field    string
		offset   int
	}{
		{"MSS length 3", []byte{2, 3, 5, 1}, ErrMalformed, "option MSS", 20},
		{"MSS length 5", []byte{2, 5, 5, 0xb4, 0, 0, 0, 0}, ErrMalformed, "option MSS", 20},
		{"MSS past the end", []byte{1, 1, 2, 4, 5}, ErrTruncated, "option MSS", 22},
		{"MSS no length byte", []byte{1, 1, 1, 2}, ErrTruncated, "option MSS", 23},
		{"wscale length 4", []byte{3, 4, 7, 0}, ErrMalformed, "option window scale", 20},
		{"wscale length 2", []byte{3, 2, 1, 1}, ErrMalformed, "option window scale", 20},
		{"SACK-permitted length 3", []byte{4, 3, 0, 1}, ErrMalformed, "option SACK-permitted", 20},
		{"SACK no blocks", []byte{1, 1, 5, 2}, ErrMalformed, "option SACK", 22},
		{"SACK partial block", []byte{5, 6, 0, 0, 0, 1}, ErrMalformed, "option SACK", 20},
		{"SACK past the end", []byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0}, ErrTruncated, "option SACK", 22},
		{"timestamps length 8", []byte{8, 8, 0, 0, 0, 1, 0, 0}, ErrMalformed, "option timestamps", 20},
		{"timestamps past the end", []byte{8, 10, 0, 0, 0, 1, 0, 0}, ErrTruncated, "option timestamps", 20},
		{"unknown length 0", []byte{30, 0, 0, 0}, ErrMalformed, "option kind 30", 20},
		{"unknown length 1", []byte{1, 30, 1, 0}, ErrMalformed, "option kind 30", 21},
		{"unknown past the end", []byte{1, 1, 1, 30, 6, 1, 2, 3}, ErrTruncated, "option kind 30", 23},
		{"area too long", make([]byte, 44), ErrMalformed, "options", 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTCPOptions(c.opts)
			l4WantParseError(t, err, c.sentinel, "tcp", c.field)
			if pe := err.(*ParseError); pe.Offset != c.offset {
				t.Fatalf("offset %d, want %d", pe.Offset, c.offset)
			}
			// The same list inside a segment is rejected by ParseTCP and Validate.
			if len(c.opts)%4 == 0 && len(c.opts) <= TCPMaxOptionsLen {
				seg := append(bytes.Clone(goldenSYN[:20]), c.opts...)
				TCP(seg).SetDataOffset(uint8(len(seg) / 4))
				_, err := ParseTCP(seg)
				l4WantParseError(t, err, c.sentinel, "tcp", c.field)
				l4WantParseError(t, TCP(seg).Validate(), c.sentinel, "tcp", c.field)
			}
		})
	}
}

func TestTCPOptionsEOLEndsList(t *testing.T) {
	// After EOL come padding bytes, even ones that would be malformed.
	o, err := ParseTCPOptions([]byte{2, 4, 0x05, 0xb4, 0, 2, 9, 9})
	if err != nil {
		t.Fatal(err)
	}
	if !o.HasMSS || o.MSS != 1460 {
		t.Fatalf("%+v", o)
	}
}

func TestTCPOptionsUnknownKept(t *testing.T) {
	raw := []byte{
		30, 4, 0xaa, 0xbb, // MPTCP-like unknown kind 30 with 2 data bytes
		1,          // NOP
		2, 4, 2, 0, // MSS 512
		34, 2, // TFO cookie request (kind 34, empty)
		1, 1, 1,
	}
	o, err := ParseTCPOptions(raw)
	if err != nil {
		t.Fatal(err)
	}
	if o.NumUnknown != 2 || o.Unknown[0].Kind != 30 || !bytes.Equal(o.Unknown[0].Data, []byte{0xaa, 0xbb}) ||
		o.Unknown[1].Kind != 34 || len(o.Unknown[1].Data) != 0 || !o.HasMSS || o.MSS != 512 {
		t.Fatalf("%+v", o)
	}
	// Data aliases the input.
	raw[2] = 0xcc
	if o.Unknown[0].Data[0] != 0xcc {
		t.Fatal("unknown option data was copied")
	}
	// Marshal keeps them, after the known ones.
	var buf [TCPMaxOptionsLen]byte
	n, err := o.Marshal(buf[:])
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{2, 4, 2, 0, 30, 4, 0xcc, 0xbb, 34, 2, 1, 1}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("marshaled % x, want % x", buf[:n], want)
	}
	if s := o.String(); s != "mss 512,opt-30:ccbb,opt-34:,nop,nop" {
		t.Fatalf("String %q", s)
	}
}

func TestTCPOptionsUnknownBeyondFourSkipped(t *testing.T) {
	raw := []byte{30, 2, 31, 2, 32, 2, 33, 2, 34, 2, 35, 3, 0, 1}
	o, err := ParseTCPOptions(raw)
	if err != nil {
		t.Fatal(err)
	}
	if o.NumUnknown != TCPMaxUnknownOptions || o.SkippedUnknown != 2 || o.Unknown[3].Kind != 33 {
		t.Fatalf("%+v", o)
	}
	// A skipped option is still checked.
	raw[11] = 20
	if _, err := ParseTCPOptions(raw); err == nil {
		t.Fatal("malformed fifth unknown option accepted")
	}
}

func TestTCPOptionsDuplicatesAndSACKGathering(t *testing.T) {
	raw := []byte{
		2, 4, 0, 100, // MSS 100
		2, 4, 0, 200, // MSS 200: the later one wins
		5, 10, 0, 0, 0, 1, 0, 0, 0, 2, // SACK {1:2}
		5, 10, 0, 0, 0, 3, 0, 0, 0, 4, // SACK {3:4}
	}
	o, err := ParseTCPOptions(raw)
	if err != nil {
		t.Fatal(err)
	}
	if o.MSS != 200 || o.NumSACK != 2 || o.SACK[0] != (SACKBlock{1, 2}) || o.SACK[1] != (SACKBlock{3, 4}) {
		t.Fatalf("%+v", o)
	}
}

func TestTCPOptionsLayout(t *testing.T) {
	for _, c := range []struct {
		name string
		o    TCPOptions
		want []byte
	}{
		{"none", TCPOptions{}, nil},
		{"MSS", TCPOptions{MSS: 1460, HasMSS: true}, []byte{2, 4, 5, 0xb4}},
		{"TS only", TCPOptions{TSVal: 1, TSEcr: 2, HasTS: true}, []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
		{"SACK-permitted only", TCPOptions{SACKPermitted: true}, []byte{1, 1, 4, 2}},
		{"wscale only", TCPOptions{WScale: 14, HasWScale: true}, []byte{1, 3, 3, 14}},
		{"SYN without TS", TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, WScale: 7, HasWScale: true},
			[]byte{2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}},
		{"one SACK block", TCPOptions{SACK: [4]SACKBlock{{5, 6}}, NumSACK: 1},
			[]byte{1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 6}},
		{"TS and 3 SACK blocks", TCPOptions{HasTS: true, TSVal: 1, TSEcr: 2, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}}, NumSACK: 3},
			[]byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 26,
				0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6}},
		// 4+12+28 = 44 aligned is too long: packed without NOPs, 4+10+26 = 40.
		{"packed", TCPOptions{MSS: 1, HasMSS: true, HasTS: true, TSVal: 1, TSEcr: 2, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}}, NumSACK: 3},
			[]byte{2, 4, 0, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 26,
				0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.o.Len() != len(c.want) {
				t.Fatalf("Len %d, want %d", c.o.Len(), len(c.want))
			}
			buf := make([]byte, TCPMaxOptionsLen)
			n, err := c.o.Marshal(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], c.want) {
				t.Fatalf("marshaled % x\nwant      % x", buf[:n], c.want)
			}
			back, err := ParseTCPOptions(buf[:n])
			if err != nil {
				t.Fatal(err)
			}
			if !back.Equal(&c.o) {
				t.Fatalf("round trip %+v\nwant %+v", back, c.o)
			}
		})
	}
}

func TestTCPOptionsMarshalErrors(t *testing.T) {
	o := TCPOptions{NumSACK: 5}
	_, err := o.Marshal(make([]byte, 40))
	l4WantParseError(t, err, ErrMalformed, "tcp", "option SACK")
	o = TCPOptions{NumUnknown: 1, Unknown: [4]TCPOption{{Kind: TCPOptionMSS, Data: []byte{1, 2}}}}
	_, err = o.Marshal(make([]byte, 40))
	l4WantParseError(t, err, ErrMalformed, "tcp", "option MSS")
	o = TCPOptions{MSS: 1, HasMSS: true}
	_, err = o.Marshal(make([]byte, 3))
	l4WantParseError(t, err, ErrTruncated, "tcp", "options")
}

func TestTCPOptionsEqual(t *testing.T) {
	a := TCPOptions{NumUnknown: 1, Unknown: [4]TCPOption{{Kind: 30, Data: []byte{1}}}}
	b := TCPOptions{NumUnknown: 1, Unknown: [4]TCPOption{{Kind: 30, Data: []byte{1}}}}
	if !a.Equal(&b) {
		t.Fatal("equal options differ")
	}
	b.Unknown[0].Data = []byte{2}
	if a.Equal(&b) {
		t.Fatal("different unknown data compare equal")
	}
}

func TestFormatTCPOptionsLenient(t *testing.T) {
	for raw, want := range map[string]string{
		string([]byte{1, 0, 9}):                       "nop,eol",
		string([]byte{2, 4, 5}):                       "bad opt 2",
		string([]byte{4, 2, 30, 1}):                   "sackOK,bad opt 30",
		string([]byte{5, 10, 0, 0, 0, 1, 0, 0, 0, 2}): "sack 1 {1:2}",
	} {
		if s := FormatTCPOptions([]byte(raw)); s != want {
			t.Errorf("% x: %q, want %q", raw, s, want)
		}
	}
}
