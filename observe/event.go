package observe

// Layer names the part of the stack an event comes from.
type Layer string

// The layers of ../shared/contracts.md.
const (
	LayerLink   Layer = "link"
	LayerARP    Layer = "arp"
	LayerIPv4   Layer = "ipv4"
	LayerICMP   Layer = "icmp"
	LayerIGMP   Layer = "igmp"
	LayerUDP    Layer = "udp"
	LayerTCP    Layer = "tcp"
	LayerSocket Layer = "socket"
	LayerLab    Layer = "lab"
)

// Kind says what happened.
type Kind string

// Event kinds. Layers may add their own; these are the common ones.
const (
	KindRX     Kind = "rx"     // a frame or segment was received and accepted
	KindTX     Kind = "tx"     // a frame or segment was sent
	KindDrop   Kind = "drop"   // something was discarded; Reason says why
	KindState  Kind = "state"  // a state machine changed state
	KindTimer  Kind = "timer"  // a timer was armed, cancelled or fired
	KindCache  Kind = "cache"  // a cache entry (ARP) changed
	KindRoute  Kind = "route"  // a routing decision or a route table change
	KindSample Kind = "sample" // a measured value (cwnd, RTT, ...)
	KindError  Kind = "error"  // an error reported to a user (socket error, ICMP error)
	KindImpair Kind = "impair" // a link impairment acted on a frame (loss, delay, ...)
	KindGap    Kind = "gap"    // a subscriber missed events; Fields["missed"] says how many
	KindReset  Kind = "reset"  // a replay could not start where asked; the stream starts afresh
	KindInfo   Kind = "info"   // anything else worth a line
)

// Event is one observable decision of the stack, the network or the lab.
// Its JSON form is the event of the contracts and the line of a trace file.
type Event struct {
	Seq     uint64         `json:"seq"`               // per stream, increasing; set by the bus
	TimeNS  int64          `json:"t_ns"`              // the host clock (virtual in the lab)
	Host    string         `json:"host"`              // host or link name
	Layer   Layer          `json:"layer"`             // see the Layer constants
	Kind    Kind           `json:"kind"`              // see the Kind constants
	Summary string         `json:"summary"`           // one human line
	Conn    string         `json:"conn,omitempty"`    // connection id, "10.0.0.1:80-10.0.0.2:4000"
	Explain string         `json:"explain,omitempty"` // why, in plain words
	RFC     string         `json:"rfc,omitempty"`     // e.g. "RFC 9293 §3.10.7.4"
	Reason  string         `json:"reason,omitempty"`  // machine-readable drop or error reason
	Fields  map[string]any `json:"fields,omitempty"`  // structured values
	Frame   []byte         `json:"frame,omitempty"`   // the bytes of the frame, base64 in JSON
}

// Sink is what publishers need of an observer: a cheap test of whether anyone
// listens, and a non-blocking publish. Build an event only when Active is
// true. Publish takes ownership of e (its Frame and Fields must not be
// modified afterwards) and must be called from one goroutine at a time per
// publisher, as the single-owner loops do. *Bus is the Sink of tipy.
type Sink interface {
	Active() bool
	Publish(e Event)
}

// Discard is a Sink with no listener.
var Discard Sink = discard{}

type discard struct{}

func (discard) Active() bool  { return false }
func (discard) Publish(Event) {}
