package tap

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
)

// Direction says which way a frame crosses a switch port or an [Impaired]
// link. A switch port names directions from the switch's side, an Impaired
// link from its host's side.
type Direction uint8

const (
	// In is, on a switch port, the direction of frames the port's host sends
	// into the switch; on an [Impaired] link, that of frames the host
	// receives from the link.
	In Direction = iota
	// Out is, on a switch port, the direction of frames the switch delivers
	// to the port's host; on an [Impaired] link, that of frames the host
	// sends.
	Out
)

// String returns "in" or "out".
func (d Direction) String() string {
	if d == In {
		return "in"
	}
	return "out"
}

// Defaults of the impairment model.
const (
	// DefaultQueueBytes is the queue limit of a rate-limited direction
	// whose Impairment.Queue is 0: 64 KiB.
	DefaultQueueBytes = 64 << 10
	// DefaultReorderDelay is how long a frame selected for reordering is held
	// back when Impairment.ReorderDelay is 0.
	DefaultReorderDelay = time.Millisecond
	// MaxImpairDelay bounds Delay, Jitter and ReorderDelay.
	MaxImpairDelay = time.Hour
)

// GilbertElliott is the two-state burst-loss model of Gilbert and Elliott. The
// channel is in a good or a bad state; before each frame it moves from good
// to bad with probability P and from bad to good with probability R, then the
// frame is lost with probability LossGood or LossBad of the new state. With
// LossBad 1 and LossGood 0 (the simple Gilbert model) losses come in bursts
// of mean length 1/R separated by runs of mean length 1/P. The zero value is
// off; the channel starts in the good state.
type GilbertElliott struct {
	P        float64 // per-frame probability of moving from good to bad
	R        float64 // per-frame probability of moving from bad to good
	LossBad  float64 // loss probability in the bad state
	LossGood float64 // loss probability in the good state
}

// Active reports whether the model is switched on (any field non-zero).
func (g GilbertElliott) Active() bool { return g != GilbertElliott{} }

// Impairment describes what a link does to the frames crossing it in one
// direction. The zero value is a perfect link. The stages apply in the
// order of the fields:
//
//  1. Rate limit: a frame is serialized at Rate bits per second behind the
//     frames before it (it leaves when its last bit is sent). The queue holds
//     the bytes not yet serialized, including the rest of the frame on the
//     wire; a frame that would push it past Queue bytes is tail-dropped
//     ("queue-full"). Dropped frames use no link time.
//  2. Random loss with probability Loss ("loss").
//  3. Burst loss by the Gilbert-Elliott model ("burst-loss").
//  4. Delay plus jitter: each frame is delayed by Delay plus a uniformly
//     distributed offset in [-Jitter, +Jitter], never below zero. Jitter does
//     not reorder: a frame is never delivered before the frame ahead of it.
//  5. Reordering: with probability Reorder a frame is held back by a further
//     ReorderDelay (DefaultReorderDelay when 0), and later frames may pass it.
//  6. Duplication: with probability Dup a second copy follows the frame.
//  7. Corruption: with probability Corrupt, CorruptBits (1 when 0) distinct
//     random bits of a copy are flipped. Bit i is bit 7-i%8 of byte i/8
//     (network order: bit 0 is the top bit of the first byte).
//
// Probabilities are fractions between 0 and 1. [ParseImpairment] reads the
// command-line form and [Impairment.String] writes it.
type Impairment struct {
	Rate         uint64         // bits per second; 0 is unlimited
	Queue        int            // queue limit in bytes when rate-limited; 0 is DefaultQueueBytes
	Loss         float64        // probability of random loss
	Burst        GilbertElliott // burst loss; zero is off
	Delay        time.Duration  // fixed one-way delay
	Jitter       time.Duration  // uniform jitter around Delay
	Reorder      float64        // probability a frame is held back
	ReorderDelay time.Duration  // how long a reordered frame is held back
	Dup          float64        // probability of a duplicate
	Corrupt      float64        // probability of bit corruption
	CorruptBits  int            // bits flipped in a corrupted frame; 0 is 1
}

// IsZero reports whether imp is a perfect link.
func (imp Impairment) IsZero() bool { return imp == Impairment{} }

// Validate checks that every value is in range; its error names the key of
// the command-line form, like [ParseImpairment]'s.
func (imp Impairment) Validate() error {
	prob := func(key string, v float64) error {
		if !(v >= 0 && v <= 1) {
			return &ImpairError{Key: key, Value: impFormatPercent(v), Reason: "must be between 0% and 100%"}
		}
		return nil
	}
	dur := func(key string, d time.Duration) error {
		if d < 0 {
			return &ImpairError{Key: key, Value: d.String(), Reason: "must not be negative"}
		}
		if d > MaxImpairDelay {
			return &ImpairError{Key: key, Value: d.String(), Reason: "must be at most " + MaxImpairDelay.String()}
		}
		return nil
	}
	for _, err := range []error{
		prob("loss", imp.Loss), prob("burst p", imp.Burst.P), prob("burst r", imp.Burst.R),
		prob("burst loss-bad", imp.Burst.LossBad), prob("burst loss-good", imp.Burst.LossGood),
		prob("reorder", imp.Reorder), prob("dup", imp.Dup), prob("corrupt", imp.Corrupt),
		dur("delay", imp.Delay), dur("jitter", imp.Jitter), dur("reorder-delay", imp.ReorderDelay),
	} {
		if err != nil {
			return err
		}
	}
	if imp.Queue < 0 {
		return &ImpairError{Key: "queue", Value: fmt.Sprint(imp.Queue), Reason: "must not be negative"}
	}
	if imp.Queue > 0 && imp.Rate == 0 {
		return &ImpairError{Key: "queue", Value: impFormatBytes(imp.Queue), Reason: "a queue needs a rate limit (rate=...)"}
	}
	if imp.CorruptBits < 0 || imp.CorruptBits > 64 {
		return &ImpairError{Key: "corrupt-bits", Value: fmt.Sprint(imp.CorruptBits), Reason: "must be between 1 and 64"}
	}
	return nil
}

func (imp Impairment) queueLimit() int {
	if imp.Queue > 0 {
		return imp.Queue
	}
	return DefaultQueueBytes
}

func (imp Impairment) reorderDelay() time.Duration {
	if imp.ReorderDelay > 0 {
		return imp.ReorderDelay
	}
	return DefaultReorderDelay
}

func (imp Impairment) corruptBits() int {
	if imp.CorruptBits > 0 {
		return imp.CorruptBits
	}
	return 1
}

// pipeHost is the link end an impairPipe works for: it names the pipe's
// events and receives them, keeps its counters and lends it frame buffers.
// A switch [Port] is the host of both its pipes; each direction of an
// [Impaired] link is the host of its own.
type pipeHost interface {
	impairName() string       // the events' Host
	impairSink() observe.Sink // where the events go
	count(stage string)       // a frame an impairment acted on, by stage
	countDrop(reason string)  // a dropped frame, by reason
	getBuf(n int) []byte      // a frame buffer of length n
	putBuf(b []byte)          // a buffer nobody refers to any more
}

// impairPipe applies one impairment in one direction. It lives on its
// host's loop and keeps the state that spans frames: the random source,
// the Gilbert-Elliott state, when the rate-limited link is next free, and
// the last delivery time (the FIFO floor).
type impairPipe struct {
	// sw and port are what Switch.AddPort sets; a port's pipe finds its
	// host through port. Other pipes set host.
	sw   *Switch
	port *Port
	host pipeHost
	dir  Direction
	imp  Impairment
	rng  *rand.Rand
	bad  bool       // Gilbert-Elliott state
	busy clock.Time // the rate-limited link is serializing until then
	last clock.Time // latest due time of a frame kept in order
	emit func(buf []byte, due clock.Time)
}

// owner returns the pipe's host: host, or the port for a switch port's pipe.
func (ip *impairPipe) owner() pipeHost {
	if ip.host == nil {
		ip.host = ip.port
	}
	return ip.host
}

func (ip *impairPipe) set(imp Impairment) {
	ip.imp = imp
	ip.bad = false
}

// process runs buf, which the pipe now owns, through the stages at time t
// and hands each surviving copy to emit with its due time.
func (ip *impairPipe) process(buf []byte, t clock.Time) {
	imp := &ip.imp
	if imp.IsZero() {
		ip.emit(buf, t)
		return
	}
	h := ip.owner()
	sink := h.impairSink()
	at := t
	if imp.Rate > 0 {
		var backlog int
		if ip.busy > t {
			backlog = int((float64(ip.busy-t)*float64(imp.Rate) + 8e9 - 1) / 8e9)
		}
		if backlog+len(buf) > imp.queueLimit() {
			ip.drop(DropQueueFull, buf, t, func() (string, string, map[string]any) {
				return fmt.Sprintf("queue full (%d of %d bytes queued at %s)", backlog, imp.queueLimit(), impFormatRate(imp.Rate)),
					"the link sends at a limited rate and its queue had no room for this frame, so it was tail-dropped, as a router's full buffer does",
					map[string]any{"backlog_bytes": backlog, "queue_bytes": imp.queueLimit(), "rate_bps": imp.Rate}
			})
			return
		}
		start := max(t, ip.busy)
		ser := time.Duration((uint64(len(buf))*8e9 + imp.Rate - 1) / imp.Rate)
		ip.busy = start.Add(ser)
		at = ip.busy
		h.count("queue")
		if start > t && sink.Active() {
			ip.event(observe.KindImpair, "", buf, t,
				fmt.Sprintf("queued %d-byte frame %v behind %d bytes at %s", len(buf), start.Sub(t), backlog, impFormatRate(imp.Rate)),
				"the link sends at a limited rate; this frame waits until the frames ahead of it have been sent",
				map[string]any{"wait_ns": int64(start.Sub(t)), "serialize_ns": int64(ser), "backlog_bytes": backlog})
		}
	}
	if imp.Loss > 0 && ip.rng.Float64() < imp.Loss {
		ip.drop(DropLoss, buf, t, func() (string, string, map[string]any) {
			return "random loss " + impFormatPercent(imp.Loss),
				"the link loses each frame independently with a fixed probability",
				map[string]any{"loss": imp.Loss}
		})
		return
	}
	if imp.Burst.Active() && ip.burstLoss(buf, t) {
		return
	}
	due := at
	if imp.Delay > 0 || imp.Jitter > 0 {
		d := imp.Delay
		var jit time.Duration
		if imp.Jitter > 0 {
			jit = time.Duration(ip.rng.Int64N(2*int64(imp.Jitter)+1)) - imp.Jitter
			d = max(d+jit, 0)
		}
		due = at.Add(d)
	}
	due = max(due, ip.last) // jitter never reorders
	if (imp.Delay > 0 || imp.Jitter > 0) && sink.Active() {
		ip.event(observe.KindImpair, "", buf, t,
			fmt.Sprintf("delayed %d-byte frame by %v (delay %v, jitter ±%v)", len(buf), due.Sub(at), imp.Delay, imp.Jitter),
			"the link adds a one-way delay; jitter varies it per frame but a frame never overtakes the one ahead of it",
			map[string]any{"delay_ns": int64(due.Sub(at))})
	}
	if imp.Delay > 0 || imp.Jitter > 0 {
		h.count("delay")
	}
	if imp.Reorder > 0 && ip.rng.Float64() < imp.Reorder {
		hold := imp.reorderDelay()
		due = due.Add(hold)
		h.count("reorder")
		if sink.Active() {
			ip.event(observe.KindImpair, "", buf, t,
				fmt.Sprintf("held back %d-byte frame by %v so later frames pass it (reorder %s)", len(buf), hold, impFormatPercent(imp.Reorder)),
				"the link reorders: this frame is held back while the frames behind it go ahead, as parallel paths in a network do",
				map[string]any{"hold_ns": int64(hold), "delay_ns": int64(due.Sub(at))})
		}
	} else {
		ip.last = due
	}
	var dup []byte
	if imp.Dup > 0 && ip.rng.Float64() < imp.Dup {
		dup = h.getBuf(len(buf))
		copy(dup, buf)
		h.count("dup")
		if sink.Active() {
			ip.event(observe.KindImpair, "", buf, t,
				fmt.Sprintf("duplicated %d-byte frame (dup %s)", len(buf), impFormatPercent(imp.Dup)),
				"the link delivers this frame twice, as a retransmitting lower layer whose acknowledgment was lost does",
				map[string]any{"delay_ns": int64(due.Sub(at))})
		}
	}
	if imp.Corrupt > 0 {
		ip.corrupt(buf, t)
		if dup != nil {
			ip.corrupt(dup, t)
		}
	}
	ip.emit(buf, due)
	if dup != nil {
		ip.emit(dup, due)
	}
}

// burstLoss steps the Gilbert-Elliott chain and reports whether it lost
// (and dropped) buf.
func (ip *impairPipe) burstLoss(buf []byte, t clock.Time) bool {
	g := ip.imp.Burst
	if ip.bad {
		if ip.rng.Float64() < g.R {
			ip.bad = false
			ip.stateEvent(buf, t)
		}
	} else if ip.rng.Float64() < g.P {
		ip.bad = true
		ip.stateEvent(buf, t)
	}
	p, state := g.LossGood, "good"
	if ip.bad {
		p, state = g.LossBad, "bad"
	}
	if p <= 0 || (p < 1 && ip.rng.Float64() >= p) {
		return false
	}
	ip.drop(DropBurstLoss, buf, t, func() (string, string, map[string]any) {
		return fmt.Sprintf("burst loss (Gilbert-Elliott %s state, loss %s)", state, impFormatPercent(p)),
			"the link loses frames in bursts: it alternates between a good and a bad state, and losses cluster while it is bad",
			map[string]any{"state": state, "loss": p}
	})
	return true
}

func (ip *impairPipe) stateEvent(buf []byte, t clock.Time) {
	if !ip.owner().impairSink().Active() {
		return
	}
	state, why := "good", "the burst is over: frames get through again"
	if ip.bad {
		state, why = "bad", "a loss burst starts: while bad, the link loses most frames"
	}
	ip.event(observe.KindImpair, "", buf, t, "link entered the "+state+" state (Gilbert-Elliott)",
		why, map[string]any{"state": state})
}

// corrupt flips random bits of buf with the configured probability.
func (ip *impairPipe) corrupt(buf []byte, t clock.Time) {
	imp := &ip.imp
	if ip.rng.Float64() >= imp.Corrupt || len(buf) == 0 {
		return
	}
	n := min(imp.corruptBits(), len(buf)*8)
	h := ip.owner()
	var before []byte
	if h.impairSink().Active() {
		before = bytes.Clone(buf)
	}
	bits := make([]int, 0, n)
	for len(bits) < n {
		b := ip.rng.IntN(len(buf) * 8)
		dupBit := false
		for _, x := range bits {
			dupBit = dupBit || x == b
		}
		if dupBit {
			continue
		}
		bits = append(bits, b)
		buf[b/8] ^= 0x80 >> (b % 8)
	}
	h.count("corrupt")
	if before != nil {
		ip.event(observe.KindImpair, "", before, t,
			fmt.Sprintf("flipped bit %d (byte %d, mask 0x%02x) of %d-byte frame (corrupt %s)", bits[0], bits[0]/8, 0x80>>(bits[0]%8), len(buf), impFormatPercent(imp.Corrupt)),
			"the link corrupts this frame: noise flipped bits, and only a checksum can tell; the event's frame is the frame before the flip",
			map[string]any{"bit": bits[0], "bits": bits, "byte": bits[0] / 8})
	}
}

// drop counts a drop under reason, publishes it and frees buf. describe is
// called only when someone listens.
func (ip *impairPipe) drop(reason string, buf []byte, t clock.Time, describe func() (detail, explain string, fields map[string]any)) {
	h := ip.owner()
	h.countDrop(reason)
	if h.impairSink().Active() {
		detail, explain, fields := describe()
		ip.event(observe.KindDrop, reason, buf, t,
			fmt.Sprintf("dropped %d-byte frame: %s", len(buf), detail), explain, fields)
	}
	h.putBuf(buf)
}

// event publishes one impairment decision about frame. The caller has
// checked that the sink is active.
func (ip *impairPipe) event(kind observe.Kind, reason string, frame []byte, t clock.Time, summary, explain string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["dir"] = ip.dir.String()
	fields["bytes"] = len(frame)
	h := ip.owner()
	h.impairSink().Publish(observe.Event{
		TimeNS:  int64(t),
		Host:    h.impairName(),
		Layer:   observe.LayerLink,
		Kind:    kind,
		Summary: summary + " (" + ip.dir.String() + ")",
		Explain: explain,
		Reason:  reason,
		Fields:  fields,
		Frame:   bytes.Clone(frame),
	})
}
