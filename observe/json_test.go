package observe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// stdJSON is what encoding/json writes for v: Marshal's bytes when html is
// set, an Encoder's with SetEscapeHTML(false) (newline dropped) otherwise.
func stdJSON(v any, html bool) ([]byte, error) {
	if html {
		return json.Marshal(v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// checkSameJSON fails t unless AppendJSON and encoding/json agree on e,
// in both escaping modes: the same bytes, or both an error with the same
// text.
func checkSameJSON(t *testing.T, e *Event) {
	t.Helper()
	for _, html := range []bool{true, false} {
		want, werr := stdJSON(e, html)
		prefix := []byte("prefix:")
		got, gerr := appendEventJSON(prefix, e, html)
		if !bytes.HasPrefix(got, []byte("prefix:")) {
			t.Fatalf("html=%v: the output does not extend dst: %q", html, got)
		}
		got = got[len(prefix):]
		switch {
		case werr != nil || gerr != nil:
			if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
				t.Fatalf("html=%v: errors differ for %#v:\nencoding/json: %v\nAppendJSON:    %v", html, e, werr, gerr)
			}
		case !bytes.Equal(got, want):
			t.Fatalf("html=%v: output differs for %#v:\nencoding/json: %s\nAppendJSON:    %s", html, e, want, got)
		case !json.Valid(got):
			t.Fatalf("html=%v: invalid JSON: %s", html, got)
		}
	}
}

// oddStrings are strings every escape rule of JSON meets.
var oddStrings = []string{
	"", "plain", `quote " and backslash \`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "é ü 日本 🙂", "\u2028 and \u2029", "bad \xff utf-8 \xc3", "\xe2\x80", "\xed\xa0\x80 surrogate",
	"RFC 9293 §3.10.7.4", "sent 10.0.9.1:5001 > 10.0.9.2:9 [ACK] seq 1 ack 1 win 502 len 1448",
	"trailing backslash \\", "\ufffd replacement", "nul\x00inside",
}

// oddFloats are floats around the cut-offs between plain and exponent form.
var oddFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.5, 1.0 / 3, 2.5e-3, 1e-6, 9.99999e-7, 1e-7, 123456789.125,
	1e20, 1e21, 1.5e21, 1e300, -1e-300, math.SmallestNonzeroFloat64, math.MaxFloat64, 5e-324,
	float64(time.Millisecond) / 1e6, 12.345678, 100, 1e15 + 0.3,
}

func TestAppendJSONOddValues(t *testing.T) {
	for _, s := range oddStrings {
		checkSameJSON(t, &Event{Host: s, Layer: Layer(s), Kind: Kind(s), Summary: s, Conn: s, Explain: s, RFC: s, Reason: s,
			Fields: map[string]any{s: s, "k" + s: []string{s, s}}})
	}
	for _, f := range oddFloats {
		for _, v := range []any{f, -f, float32(f), float32(-f)} {
			checkSameJSON(t, &Event{Fields: map[string]any{"v": v}})
		}
	}
	type named string
	type pair struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	values := []any{
		nil, true, false, int(-7), int8(math.MinInt8), int16(math.MaxInt16), int32(math.MinInt32), int64(math.MinInt64),
		uint(7), uint8(255), uint16(65535), uint32(math.MaxUint32), uint64(math.MaxUint64), uintptr(42),
		[]string(nil), []string{}, []string{"a", "<b>"}, []any(nil), []any{}, []any{1, "x", nil, []any{2.5, map[string]any{"z": 1, "a": "<"}}},
		map[string]any(nil), map[string]any{}, map[string]any{"b": 1, "a": map[string]any{"y": []string{"q"}}, "<&>": "\u2028"},
		[]byte(nil), []byte{}, []byte("frame bytes \x00\xff"),
		time.Duration(1500) * time.Microsecond, named("named <string>"), netip.MustParseAddr("10.0.9.1"),
		netip.MustParseAddrPort("10.0.9.1:80"), pair{A: 1}, &pair{A: 2, B: "<b>"}, []int{1, 2, 3}, map[string]int{"b": 2, "a": 1},
		json.RawMessage(`{"raw": [1, 2]}`), json.Number("12.5"), [2]uint16{1, 2}, struct{}{},
	}
	for _, v := range values {
		checkSameJSON(t, &Event{Fields: map[string]any{"v": v, "w": 1}})
	}
	// Values JSON cannot carry: the same error as encoding/json's.
	for _, v := range []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), make(chan int), func() {}, []any{1, math.NaN()},
		map[string]any{"x": map[string]any{"y": math.Inf(1)}}, complex(1, 2)} {
		checkSameJSON(t, &Event{Summary: "odd", Fields: map[string]any{"v": v}})
	}
	// Empty and absent parts.
	checkSameJSON(t, &Event{})
	checkSameJSON(t, &Event{Fields: map[string]any{}, Frame: []byte{}})
	checkSameJSON(t, &Event{Seq: math.MaxUint64, TimeNS: math.MinInt64, Frame: []byte{1, 2, 3, 4, 5}})
	// A map larger than the sorting scratch space.
	big := map[string]any{}
	for i := range 40 {
		big[fmt.Sprintf("key%02d<%d>", 40-i, i)] = i
	}
	checkSameJSON(t, &Event{Fields: big})
}

// randString makes a string of random bytes, runes and escapes.
func randString(r *rand.Rand) string {
	var sb strings.Builder
	for n := r.IntN(24); n > 0; n-- {
		switch r.IntN(6) {
		case 0:
			sb.WriteByte(byte(r.IntN(256)))
		case 1:
			sb.WriteRune(rune(r.IntN(0x11000)))
		case 2:
			sb.WriteString(oddStrings[r.IntN(len(oddStrings))])
		default:
			sb.WriteByte(byte(' ' + r.IntN(95)))
		}
	}
	return sb.String()
}

// randValue makes a random value of Fields, nested up to depth.
func randValue(r *rand.Rand, depth int) any {
	switch r.IntN(12) {
	case 0:
		return randString(r)
	case 1:
		return r.Int64() >> r.IntN(64)
	case 2:
		return uint32(r.Uint32())
	case 3:
		return math.Float64frombits(r.Uint64())
	case 4:
		return float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30)))
	case 5:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
	case 6:
		return r.IntN(2) == 0
	case 7:
		return []string{randString(r), randString(r)}
	case 8:
		if depth > 0 {
			return []any{randValue(r, depth-1), randValue(r, depth-1)}
		}
		return nil
	case 9:
		if depth > 0 {
			return randFields(r, depth-1)
		}
		return int8(r.IntN(256) - 128)
	case 10:
		return []byte(randString(r))
	}
	return time.Duration(r.Int64N(1e12))
}

func randFields(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for n := r.IntN(12); n > 0; n-- {
		m[randString(r)] = randValue(r, depth)
	}
	return m
}

func TestAppendJSONRandomEvents(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for range 3000 {
		e := &Event{Seq: r.Uint64(), TimeNS: r.Int64() - r.Int64(), Host: randString(r), Layer: Layer(randString(r)),
			Kind: Kind(randString(r)), Summary: randString(r)}
		if r.IntN(2) == 0 {
			e.Conn, e.Explain, e.RFC, e.Reason = randString(r), randString(r), randString(r), randString(r)
		}
		if r.IntN(4) != 0 {
			e.Fields = randFields(r, 2)
		}
		if r.IntN(3) == 0 {
			e.Frame = []byte(randString(r))
		}
		checkSameJSON(t, e)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkSameJSON(t, &Event{Summary: s, Fields: map[string]any{s: s}})
		if got := appendJSONString(nil, s, true); !json.Valid(got) {
			t.Fatalf("invalid JSON string %s", got)
		}
		var back string
		if err := json.Unmarshal(appendJSONString(nil, s, false), &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

// A trace line is what a json.Encoder without HTML escaping writes for the
// sanitized event, newline included; an event JSON cannot carry goes with
// the note that says why.
func TestTraceLinesAsEncoder(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	var evs []Event
	for range 500 {
		e := Event{Seq: r.Uint64(), TimeNS: r.Int64(), Host: randString(r), Layer: Layer(randString(r)), Kind: Kind(randString(r)),
			Summary: randString(r), Explain: randString(r), Fields: randFields(r, 2)}
		if r.IntN(3) == 0 {
			e.Frame = []byte(randString(r))
		}
		evs = append(evs, e)
	}
	evs = append(evs, Event{Seq: 9, Summary: "odd <&>", Fields: map[string]any{"rtt": math.NaN(), "ok": 1}})
	var got bytes.Buffer
	if err := WriteTrace(&got, TraceHeader{}, evs); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(TraceHeader{Format: TraceFormat, Version: TraceVersion, Hosts: []HostInfo{}}); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		c := *sanitize(&evs[i])
		if err := enc.Encode(&c); err != nil {
			c.Fields = map[string]any{"unencodable": err.Error()}
			if err := enc.Encode(&c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("line %d:\ngot  %s\nwant %s", i+1, g[i], w[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(g), len(w))
	}
	if !strings.Contains(got.String(), `"fields":{"unencodable":"json: unsupported value: NaN"}`) {
		t.Fatal("no note for the NaN")
	}
}
