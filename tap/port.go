package tap

import (
	"fmt"
	"maps"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Port is one port of a [Switch] and the [Link] of the host plugged into it.
// Like the switch, it is used from the switch's loop only.
type Port struct {
	sw      *Switch
	name    string
	full    string
	mac     wire.MAC
	mtu     int
	handler Handler
	closed  bool

	in, out         impairPipe // host -> switch, switch -> host
	arrive, deliver frameQueue // frames due at the switch, frames due at the host

	txFrames, txBytes uint64
	rxFrames, rxBytes uint64
	drops             map[string]uint64
	imps              map[string]uint64
}

// PortStats are a port's counters, seen from its host: Tx is what the host
// sent into the switch, Rx what the switch delivered to it.
type PortStats struct {
	TxFrames, TxBytes uint64            // frames accepted by Send
	RxFrames, RxBytes uint64            // frames handed to the handler
	Drops             map[string]uint64 // by reason (the Drop... constants)
	// Impaired counts frames an impairment acted on without dropping them,
	// by stage: "queue" (rate-limited), "delay", "reorder", "dup", "corrupt".
	Impaired map[string]uint64
}

// Name returns the port's full name, "switch/port".
func (p *Port) Name() string { return p.full }

// MTU returns the port's MTU.
func (p *Port) MTU() int { return p.mtu }

// MAC returns the MAC of the host on this port.
func (p *Port) MAC() wire.MAC { return p.mac }

// Switch returns the switch the port belongs to.
func (p *Port) Switch() *Switch { return p.sw }

// SetHandler sets the function frames are delivered to (nil: frames that
// reach the port are dropped as "no-handler").
func (p *Port) SetHandler(h Handler) { p.handler = h }

// Send copies frame into the switch. It fails, counting and reporting the
// drop, when the port is closed or the frame is shorter than 14 bytes or
// longer than 14+MTU.
func (p *Port) Send(frame []byte) error {
	if p.closed {
		return fmt.Errorf("send on %s: %w", p.full, ErrPortClosed)
	}
	s := p.sw
	if len(frame) < ethHeaderLen || len(frame) > ethHeaderLen+p.mtu {
		p.sizeDrop(frame, In)
		return fmt.Errorf("send on %s: %d-byte frame (allowed %d to %d): %w", p.full, len(frame), ethHeaderLen, ethHeaderLen+p.mtu, ErrFrameSize)
	}
	p.txFrames++
	p.txBytes += uint64(len(frame))
	buf := s.getBuf(len(frame))
	copy(buf, frame)
	p.in.process(buf, s.loop.Now())
	return nil
}

// sizeDrop counts and reports a frame whose size the port cannot carry.
func (p *Port) sizeDrop(frame []byte, dir Direction) {
	reason, detail := DropTooBig, fmt.Sprintf("larger than 14+MTU = %d bytes", ethHeaderLen+p.mtu)
	explain := "an Ethernet link carries at most its MTU of payload after the 14-byte header; a longer frame cannot be sent"
	if len(frame) < ethHeaderLen {
		reason, detail = DropTooShort, "shorter than the 14-byte Ethernet header"
		explain = "every Ethernet frame starts with destination, source and type: 14 bytes"
	}
	p.countDrop(reason)
	if s := p.sw; s.sink.Active() {
		s.publish(p, observe.KindDrop, reason, frame, s.loop.Now(),
			fmt.Sprintf("dropped %d-byte frame: %s (%s)", len(frame), detail, dir), explain,
			map[string]any{"dir": dir.String(), "bytes": len(frame), "mtu": p.mtu})
	}
}

// SetImpairment sets what the port does to frames in direction dir from now
// on; frames already in flight keep their fate. It returns the error of
// [Impairment.Validate] and then leaves the old impairment in place.
func (p *Port) SetImpairment(dir Direction, imp Impairment) error {
	if err := imp.Validate(); err != nil {
		return fmt.Errorf("%s %s: %w", p.full, dir, err)
	}
	if dir == In {
		p.in.set(imp)
	} else {
		p.out.set(imp)
	}
	return nil
}

// SetImpairmentBoth sets the same impairment in both directions (each keeps
// its own random source and state).
func (p *Port) SetImpairmentBoth(imp Impairment) error {
	if err := p.SetImpairment(In, imp); err != nil {
		return err
	}
	return p.SetImpairment(Out, imp)
}

// Impairment returns the impairment of direction dir.
func (p *Port) Impairment(dir Direction) Impairment {
	if dir == In {
		return p.in.imp
	}
	return p.out.imp
}

// Stats returns a copy of the port's counters.
func (p *Port) Stats() PortStats {
	return PortStats{
		TxFrames: p.txFrames, TxBytes: p.txBytes,
		RxFrames: p.rxFrames, RxBytes: p.rxBytes,
		Drops:    maps.Clone(p.drops),
		Impaired: maps.Clone(p.imps),
	}
}

// Close disconnects the port: Send fails from now on, frames in flight to or
// from it are dropped and the switch forgets the addresses behind it.
func (p *Port) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	s := p.sw
	for i, q := range s.ports {
		if q == p {
			s.ports = append(s.ports[:i], s.ports[i+1:]...)
			break
		}
	}
	for mac, e := range s.table {
		if e.port == p {
			delete(s.table, mac)
		}
	}
	p.arrive.clear(p)
	p.deliver.clear(p)
	return nil
}

func (p *Port) countDrop(reason string) { p.drops[reason]++ }
func (p *Port) count(stage string)      { p.imps[stage]++ }

// The rest of pipeHost: a port's pipes report as the port, to the switch's
// sink, with the switch's buffers.
func (p *Port) impairName() string       { return p.full }
func (p *Port) impairSink() observe.Sink { return p.sw.sink }
func (p *Port) getBuf(n int) []byte      { return p.sw.getBuf(n) }
func (p *Port) putBuf(b []byte)          { p.sw.putBuf(b) }

// arrived is the In pipe's output: buf reaches the switch at due.
func (p *Port) arrived(buf []byte, due clock.Time) {
	if due <= p.sw.loop.Now() {
		p.sw.forward(p, buf)
		return
	}
	p.arrive.push(due, buf)
}

// forward is the arrive queue's handler.
func (p *Port) forward(buf []byte) { p.sw.forward(p, buf) }

// egress takes a frame the switch sends out of this port.
func (p *Port) egress(buf []byte, now clock.Time) {
	if len(buf) > ethHeaderLen+p.mtu {
		p.sizeDrop(buf, Out)
		p.sw.putBuf(buf)
		return
	}
	p.out.process(buf, now)
}

// departed is the Out pipe's output: buf reaches the host after the
// propagation delay.
func (p *Port) departed(buf []byte, due clock.Time) {
	p.deliver.push(due.Add(p.sw.prop), buf)
}

// deliverNow hands buf to the host; it is the deliver queue's handler.
func (p *Port) deliverNow(buf []byte) {
	s := p.sw
	if p.handler == nil {
		p.countDrop(DropNoHandler)
		if s.sink.Active() {
			s.publish(p, observe.KindDrop, DropNoHandler, buf, s.loop.Now(),
				fmt.Sprintf("dropped %d-byte frame: no handler on the port", len(buf)),
				"nothing listens on this port yet, so the frame arriving there is lost",
				map[string]any{"dir": "out", "bytes": len(buf)})
		}
		s.putBuf(buf)
		return
	}
	p.rxFrames++
	p.rxBytes += uint64(len(buf))
	p.handler(buf)
	s.putBuf(buf)
}

// frameQueue holds frames until their due time and hands them, in order of
// time and then of arrival, to a handler, with a single loop timer. Switch
// ports and [Impaired] links use it.
type frameQueue struct {
	loop   clock.Loop
	timer  *clock.Timer
	handle func(buf []byte)
	items  []queuedFrame // a binary min-heap on (at, seq)
	seq    uint64
}

type queuedFrame struct {
	at  clock.Time
	seq uint64
	buf []byte
}

func (q *frameQueue) init(loop clock.Loop, handle func([]byte)) {
	q.loop = loop
	q.handle = handle
	q.timer = loop.NewTimer(q.fire)
}

func (a queuedFrame) before(b queuedFrame) bool {
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (q *frameQueue) push(at clock.Time, buf []byte) {
	q.seq++
	q.items = append(q.items, queuedFrame{at: at, seq: q.seq, buf: buf})
	h := q.items
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].before(h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	if i == 0 {
		q.timer.Reset(at)
	}
}

func (q *frameQueue) pop() queuedFrame {
	h := q.items
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = queuedFrame{}
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].before(h[m]) {
			m = l
		}
		if r < n && h[r].before(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.items = h
	return top
}

// fire hands over every frame that is due, then re-arms for the next.
func (q *frameQueue) fire() {
	now := q.loop.Now()
	for len(q.items) > 0 && q.items[0].at <= now {
		f := q.pop()
		q.handle(f.buf)
	}
	if len(q.items) > 0 {
		q.timer.Reset(q.items[0].at)
	}
}

// empty reports whether no frame is queued.
func (q *frameQueue) empty() bool { return len(q.items) == 0 }

// clear drops every queued frame, counting them as closed on h.
func (q *frameQueue) clear(h pipeHost) {
	q.timer.Stop()
	for i, f := range q.items {
		h.countDrop(DropClosed)
		h.putBuf(f.buf)
		q.items[i] = queuedFrame{}
	}
	q.items = q.items[:0]
}
