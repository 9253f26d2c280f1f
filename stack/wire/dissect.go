package wire

// Frame dissection: for any Ethernet frame, a layered tree of named fields,
// each with the byte range it covers, produced by tipy's own parsers. It is
// what the dashboard shows in its details pane (tree plus hex pane with
// field-to-byte highlighting) and what a pcap importer shows.
//
// The shape of a dissection of an Ethernet/IPv4/TCP frame with data:
//
//	ethernet        [0, 14)    dst, src, type
//	ipv4            [14, 34+)  version, IHL, DSCP/ECN, ..., options
//	tcp             [34+, ..)  ports, seq, ack, flags, ..., options
//	data            payload
//	padding         Ethernet padding after the IPv4 total length
//
// The top-level layers tile the frame: each starts where the previous one
// ends, and together they cover every byte. A child lies within its parent
// and children come in byte order (bit fields of one byte share its range
// and differ by Mask). A malformed frame dissects as far as it can: the
// failing layer shows the fields it could read, the bytes after it are
// "not dissected" data, and Problem says where and why.

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Severity values of a Field; the empty string is a plain field.
const (
	SeverityWarning = "warning" // legal but suspicious: a reserved bit set, a truncated quote
	SeverityError   = "error"   // wrong: a bad checksum, a malformed field
)

// Field is one node of a dissection tree.
type Field struct {
	Name     string  `json:"name"`               // stable id: "ipv4.ttl", "tcp.options.mss"
	Label    string  `json:"label"`              // human line: "Time to Live: 64"
	Value    string  `json:"value,omitempty"`    // raw value as text: "64", "0x4000"
	Offset   int     `json:"offset"`             // byte offset from the start of the frame
	Length   int     `json:"length"`             // bytes; 0 for a zero-width note
	Mask     uint32  `json:"mask,omitempty"`     // for bit fields: the bits within the bytes
	Severity string  `json:"severity,omitempty"` // "", SeverityWarning or SeverityError
	Children []Field `json:"children,omitempty"`
}

// Dissection is the field tree of one frame and its one-line descriptions.
type Dissection struct {
	Layers      []Field         `json:"layers"`            // one top-level node per layer, bottom-up
	Protocol    string          `json:"protocol"`          // highest layer reached: "TCP", "ARP", "ICMP"
	Source      string          `json:"source"`            // for the frame list: IP or MAC
	Destination string          `json:"destination"`       // for the frame list: IP or MAC
	Info        string          `json:"info"`              // tcpdump-like info column
	Summary     string          `json:"summary"`           // one line: "IP 192.168.2.7.4000 > 192.168.2.20.80: Flags [S], ..."
	Problem     *DissectProblem `json:"problem,omitempty"` // where and why dissection stopped
}

// DissectProblem says where dissection stopped and why.
type DissectProblem struct {
	Layer  string `json:"layer"`  // Name of the failing top-level layer: "ipv4", "tcp", ...
	Offset int    `json:"offset"` // byte offset from the start of the frame of the field at fault
	Reason string `json:"reason"` // the field and the parser's reason
}

// End returns the offset just past the field, Offset+Length.
func (f *Field) End() int { return f.Offset + f.Length }

// Find returns the first node named name in f's subtree (f included),
// depth first, or nil.
func (f *Field) Find(name string) *Field {
	if f.Name == name {
		return f
	}
	for i := range f.Children {
		if g := f.Children[i].Find(name); g != nil {
			return g
		}
	}
	return nil
}

// Find returns the first node named name, searching the layers bottom-up and
// each depth first, or nil.
func (d *Dissection) Find(name string) *Field {
	for i := range d.Layers {
		if f := d.Layers[i].Find(name); f != nil {
			return f
		}
	}
	return nil
}

// Dissect builds the field tree of an Ethernet II frame (without FCS). It
// never fails and never panics: whatever the bytes, the result describes
// them, with Problem set when a layer could not be parsed.
func Dissect(frame []byte) Dissection {
	d := dissector{frame: frame}
	d.ethernet()
	if d.badChecksum {
		d.out.Info += " [bad checksum]"
		d.out.Summary += " [bad checksum]"
	}
	return d.out
}

// dissector carries the state of one Dissect call.
type dissector struct {
	frame       []byte
	out         Dissection
	ipPrefix    string // "IP 10.0.0.1 > 10.0.0.2" once an IPv4 header has been read
	badChecksum bool   // a checksum that should verify did not
}

// addLayer appends a top-level node.
func (d *dissector) addLayer(f Field) { d.out.Layers = append(d.out.Layers, f) }

// data adds a top-level "data" node over frame[off:end], if not empty.
// note, when not empty, is added as a zero-width child explaining the bytes.
func (d *dissector) data(off, end int, note string) {
	if end <= off {
		return
	}
	f := disField("data", fmt.Sprintf("Data (%d bytes)", end-off), "", off, end-off)
	if note != "" {
		f.add(disNote("data.note", note, "", off))
	}
	d.addLayer(f)
}

// rest adds the bytes from off to end, after a layer that failed, as data
// that was not dissected.
func (d *dissector) rest(off, end int) {
	if end <= off {
		return
	}
	f := disField("data", fmt.Sprintf("Data (%d bytes, not dissected)", end-off), "", off, end-off)
	d.addLayer(f)
}

// padding adds the bytes from off to the end of the frame as Ethernet
// padding.
func (d *dissector) padding(off int) {
	if n := len(d.frame) - off; n > 0 {
		d.addLayer(disField("padding", fmt.Sprintf("Padding (%d bytes)", n), "", off, n))
	}
}

// disProtoNames maps layer ids to the names shown in Protocol and Info.
var disProtoNames = map[string]string{
	"ethernet": "Ethernet", "arp": "ARP", "ipv4": "IPv4", "icmp": "ICMP", "udp": "UDP", "tcp": "TCP",
}

// fail records that layer, starting at frame offset base, did not parse:
// it sets Problem, Protocol, Info and Summary, marks the layer node and adds
// a zero-width error note at the offending offset.
func (d *dissector) fail(layer *Field, base int, err error) {
	p := DissectProblem{Layer: layer.Name, Offset: base, Reason: err.Error()}
	var pe *ParseError
	if errors.As(err, &pe) {
		p.Offset = base + pe.Offset
		p.Reason = pe.Field + ": " + pe.Reason
	}
	p.Offset = max(0, min(p.Offset, len(d.frame)))
	d.out.Problem = &p

	what := "Malformed"
	switch {
	case errors.Is(err, ErrTruncated):
		what = "Truncated"
	case errors.Is(err, ErrUnsupported):
		what = "Unsupported"
	}
	proto := disProtoNames[layer.Name]
	layer.Severity = SeverityError
	at := max(layer.Offset, min(p.Offset, layer.End()))
	layer.insert(disNote(layer.Name+".problem", what+": "+p.Reason, SeverityError, at))

	d.out.Protocol = proto
	d.out.Info = fmt.Sprintf("%s %s: %s", what, proto, p.Reason)
	d.out.Summary = d.out.Info
	if d.ipPrefix != "" && layer.Name != "ipv4" {
		d.out.Summary = d.ipPrefix + ": " + d.out.Info
	}
}

// disField makes a field over [off, off+n) of the frame.
func disField(name, label, value string, off, n int) Field {
	return Field{Name: name, Label: label, Value: value, Offset: off, Length: n}
}

// disBits makes a bit field: the bits of mask within [off, off+n).
func disBits(name, label, value string, off, n int, mask uint32) Field {
	return Field{Name: name, Label: label, Value: value, Offset: off, Length: n, Mask: mask}
}

// disNote makes a zero-width note at off.
func disNote(name, label, severity string, off int) Field {
	return Field{Name: name, Label: label, Offset: off, Severity: severity}
}

// add appends children, which must come at or after the last one.
func (f *Field) add(c ...Field) { f.Children = append(f.Children, c...) }

// insert places c among the children after every child that starts at or
// before it, keeping them in byte order.
func (f *Field) insert(c Field) {
	i := len(f.Children)
	for i > 0 && f.Children[i-1].Offset > c.Offset {
		i--
	}
	f.Children = append(f.Children, Field{})
	copy(f.Children[i+1:], f.Children[i:])
	f.Children[i] = c
}

// disSetBit labels one bit of a flags byte: "Set" or "Not set".
func disSetBit(set bool) string {
	if set {
		return "Set"
	}
	return "Not set"
}

// disBool returns "1" or "0", the Value of a one-bit field.
func disBool(set bool) string {
	if set {
		return "1"
	}
	return "0"
}

// disAddr4 reads an IPv4 address from 4 bytes.
func disAddr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }

// disHex formats bytes as hex, eliding the middle of long runs so that a
// label stays short.
func disHex(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x…%x", b[:16], b[len(b)-4:])
}

// disAfter returns s after the first occurrence of sep, or s when sep is
// absent.
func disAfter(s, sep string) string {
	if _, after, ok := strings.Cut(s, sep); ok {
		return after
	}
	return s
}

// disCheck says whether and how a transport checksum can be verified.
type disCheck struct {
	verify   bool       // false: show the field, do not judge it
	why      string     // when !verify: the reason, e.g. "quoted datagram"
	src, dst netip.Addr // for the pseudo-header
	first    bool       // the datagram is the first fragment (MF set, offset 0)
	quoted   bool       // the header is inside an ICMP quote
}

// disChecksumLabel formats a checksum field as verified (or not).
func disChecksumLabel(what string, got, want uint16, ok bool) (string, string) {
	if ok {
		return fmt.Sprintf("%s: 0x%04x [correct]", what, got), ""
	}
	return fmt.Sprintf("%s: 0x%04x [incorrect, should be 0x%04x]", what, got, want), SeverityError
}
