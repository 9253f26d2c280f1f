package observe

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// The JSON form of an event, written by hand: the event stream of the web
// API and the trace recorder write tens of thousands of events a second,
// and encoding/json spends most of its time on reflection, on sorting the
// keys of Fields through reflect.Value and on the garbage that makes. The
// output is the one encoding/json gives, byte for byte (the tests compare
// them over many events): the same field order, omitempty rules, string
// escapes, float spellings and map key order. Values of Fields of a type
// not handled here are handed to encoding/json, so that the result (or the
// error, for a NaN or a channel) stays its own.

// AppendJSON appends the JSON form of e to dst, exactly as
// encoding/json.Marshal writes it (with its HTML escaping of <, > and &),
// and returns the extended buffer. On error (a value of Fields JSON cannot
// carry, such as a NaN) dst is returned with what was appended so far
// and encoding/json's error.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	return appendEventJSON(dst, e, true)
}

// appendEventJSON appends e as encoding/json does, HTML escaping strings
// when html is set (as Marshal does; an Encoder may turn it off).
func appendEventJSON(b []byte, e *Event, html bool) ([]byte, error) {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"t_ns":`...)
	b = strconv.AppendInt(b, e.TimeNS, 10)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, e.Host, html)
	b = append(b, `,"layer":`...)
	b = appendJSONString(b, string(e.Layer), html)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, string(e.Kind), html)
	b = append(b, `,"summary":`...)
	b = appendJSONString(b, e.Summary, html)
	if e.Conn != "" {
		b = append(b, `,"conn":`...)
		b = appendJSONString(b, e.Conn, html)
	}
	if e.Explain != "" {
		b = append(b, `,"explain":`...)
		b = appendJSONString(b, e.Explain, html)
	}
	if e.RFC != "" {
		b = append(b, `,"rfc":`...)
		b = appendJSONString(b, e.RFC, html)
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, e.Reason, html)
	}
	if len(e.Fields) > 0 {
		b = append(b, `,"fields":`...)
		var err error
		if b, err = appendJSONObject(b, e.Fields, html); err != nil {
			return b, err
		}
	}
	if len(e.Frame) > 0 {
		b = append(b, `,"frame":`...)
		b = appendJSONBytes(b, e.Frame)
	}
	return append(b, '}'), nil
}

// appendJSONValue appends v, one value of Fields (or of a slice or map
// inside it).
func appendJSONValue(b []byte, v any, html bool) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x, html), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case uintptr:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return appendJSONFloat(b, x, 64), nil
		}
	case float32:
		if f := float64(x); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return appendJSONFloat(b, f, 32), nil
		}
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s, html)
		}
		return append(b, ']'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONValue(b, e, html); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendJSONObject(b, x, html)
	case []byte:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendJSONBytes(b, x), nil
	}
	return appendJSONOther(b, v, html)
}

// appendJSONOther hands v to encoding/json: a named type (which may have
// its own MarshalJSON or MarshalText), a struct, a NaN...
func appendJSONOther(b []byte, v any, html bool) ([]byte, error) {
	if html {
		out, err := json.Marshal(v)
		if err != nil {
			return b, err
		}
		return append(b, out...), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), nil
}

// appendJSONObject appends m with its keys in sorted order.
func appendJSONObject(b []byte, m map[string]any, html bool) ([]byte, error) {
	var arr [16]jsonMember
	members := arr[:0]
	for k, v := range m {
		members = append(members, jsonMember{keyPrefix(k), k, v})
	}
	sortMembers(members)
	b = append(b, '{')
	for i := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, members[i].key, html)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, members[i].value, html); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// jsonMember is one member of an object, with the first bytes of its key
// as a number for sorting.
type jsonMember struct {
	prefix uint64
	key    string
	value  any
}

// keyPrefix returns the first eight bytes of k, big-endian, zero-padded:
// two keys whose prefixes differ sort as their prefixes do.
func keyPrefix(k string) uint64 {
	var p uint64
	for i := range 8 {
		p <<= 8
		if i < len(k) {
			p |= uint64(k[i])
		}
	}
	return p
}

// sortMembers sorts the few members of an event's fields by key, as
// encoding/json orders them (by bytes): insertion sort, comparing the
// prefixes first and whole keys only when those are equal.
func sortMembers(ms []jsonMember) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && memberLess(&ms[j], &ms[j-1]); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

func memberLess(a, b *jsonMember) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return a.key < b.key
}

// appendJSONBytes appends p as a base64 string, as encoding/json writes a
// []byte.
func appendJSONBytes(b []byte, p []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}

// appendJSONFloat appends a finite f of the given bit size in the
// shortest form that reads back the same, in plain decimal between 1e-6
// and 1e21 and in exponent form (with no padding of the exponent)
// outside, as JavaScript prints numbers and encoding/json writes them.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 {
		small, large := a < 1e-6, a >= 1e21
		if bits == 32 {
			small, large = float32(a) < 1e-6, float32(a) >= 1e21
		}
		if small || large {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// strconv pads the exponent to two digits: 1e-07 becomes 1e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// jsonEscape says, for each ASCII byte, whether a JSON string must spell it
// as an escape: the quote, the backslash and the control characters, and
// with HTML escaping <, > and & too.
var jsonEscape, jsonEscapeHTML = func() (plain, html [utf8.RuneSelf]bool) {
	for c := 0; c < utf8.RuneSelf; c++ {
		plain[c] = c < 0x20 || c == '"' || c == '\\'
		html[c] = plain[c] || c == '<' || c == '>' || c == '&'
	}
	return plain, html
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: the short escapes for \b
// \f \n \r \t, \u00XX for the other control characters (and for <, >, &
// when html is set), \ufffd for each byte of invalid UTF-8, and \u2028 and
// \u2029 always, since JavaScript source cannot hold them raw.
func appendJSONString(b []byte, s string, html bool) []byte {
	esc := &jsonEscape
	if html {
		esc = &jsonEscapeHTML
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain bytes at a time; the loop below looks at
		// anything else byte by byte.
		for i+8 <= len(s) && plainJSON8(s[i:i+8], html) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if !esc[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainJSON8 reports whether the eight bytes of w are ASCII a JSON string
// holds as they are: none is a control character, a quote, a backslash,
// or (when html is set) <, > or &, and none is beyond ASCII. The tests
// on the whole word may report a plain byte as special, never the reverse.
func plainJSON8(w string, html bool) bool {
	_ = w[7]
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// A byte is below n (n <= 0x80) when subtracting n borrows into its
	// high bit while its own high bit was clear; a byte equals c when
	// x^c has a zero byte.
	below := func(n uint64) uint64 { return (x - ones*n) &^ x & highs }
	equal := func(c uint64) uint64 { y := x ^ (ones * c); return (y - ones) &^ y & highs }
	special := x&highs | below(0x20) | equal('"') | equal('\\')
	if html {
		special |= equal('<') | equal('>') | equal('&')
	}
	return special == 0
}
