package tap

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"sync/atomic"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// DropSendFailed is the reason under which an [Impaired] link counts and
// reports a frame whose time had come but that the inner link refused.
const DropSendFailed = "send-failed"

// Impaired is a [Link] that impairs an inner link in both directions with
// the model of a switch port ([Impairment]): frames the host sends (the Out
// direction) go through the Out impairment before the inner link's Send;
// frames the inner link receives (the In direction) go through the In
// impairment before the handler. It is how a real TAP device gets the loss,
// delay, reordering and the rest that the lab's switch gives its ports.
//
// Note the naming: a switch port's directions are seen from the switch (In
// is what its host sends), an Impaired link's from its host (Out is what the
// host sends).
//
// Everything runs on the loop: a frame due later is copied and handed to
// the inner link, or to the handler, by a loop timer at its due time. No
// goroutine is started and no clock but the loop's is read. The decisions
// are those of a switch port: the same stages, the same events (Host is the
// inner link's name, Fields["dir"] "out" or "in"), and randomness from
// clock.NewRand(seed, name+"/out") and clock.NewRand(seed, name+"/in"), so
// one seed gives one sequence of decisions.
//
// A direction whose impairment is zero, with nothing in flight, passes
// frames straight through without copying them. A frame the inner link
// refuses is counted and reported as [DropSendFailed]; when it went straight
// through, Send also returns the inner link's error. Send, SetImpairment, Impairment and Stats are called on
// the loop (loop work or [clock.Loop.Call]); SetHandler from anywhere; Close
// where the inner link allows it (a TAP from outside loop work).
type Impaired struct {
	inner   Link
	loop    clock.Loop
	sink    observe.Sink
	name    string
	mtu     int
	out, in impairSide

	handler atomic.Pointer[Handler]
	closed  atomic.Bool
	recv    Handler  // i.received, bound once
	free    [][]byte // recycled frame buffers
}

// impairSide is one direction of an Impaired link: its pipe, the queue of
// frames it has delayed, and its counters. It is the pipe's host.
type impairSide struct {
	l     *Impaired
	pipe  impairPipe
	queue frameQueue

	frames, bytes   uint64
	passed, passedB uint64
	drops, imps     map[string]uint64
}

// ImpairedStats are an [Impaired] link's counters, one set per direction.
type ImpairedStats struct {
	Out ImpairedDirStats // frames the host sends
	In  ImpairedDirStats // frames the host receives
}

// ImpairedDirStats are the counters of one direction of an [Impaired] link.
type ImpairedDirStats struct {
	// Frames and Bytes count what entered the direction: frames Send
	// accepted (Out), frames the inner link delivered (In).
	Frames, Bytes uint64
	// PassedFrames and PassedBytes count what came out, duplicates
	// included: frames the inner link's Send took (Out), frames handed to
	// the handler (In).
	PassedFrames, PassedBytes uint64
	// Drops counts dropped frames by reason: the impairment's (DropLoss,
	// DropBurstLoss, DropQueueFull), DropTooShort and DropTooBig (Send),
	// DropSendFailed, DropNoHandler and DropClosed.
	Drops map[string]uint64
	// Impaired counts frames an impairment acted on without dropping them,
	// by stage: "queue", "delay", "reorder", "dup", "corrupt".
	Impaired map[string]uint64
}

// NewImpaired wraps inner so that frames it sends go through out and frames
// it receives through in, on loop, with events to sink (nil is
// observe.Discard) and randomness derived from seed and inner's name. It
// fails when loop or inner is missing or an impairment is invalid (the
// error then wraps [ErrBadImpairment]). The wrapper takes over inner's
// handler when [Impaired.SetHandler] is called.
func NewImpaired(loop clock.Loop, inner Link, sink observe.Sink, seed uint64, out, in Impairment) (*Impaired, error) {
	if loop == nil {
		return nil, errors.New("impaired link: no loop to run on")
	}
	if inner == nil {
		return nil, errors.New("impaired link: no inner link")
	}
	name := inner.Name()
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("impaired link %s %s: %w", name, Out, err)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("impaired link %s %s: %w", name, In, err)
	}
	if sink == nil {
		sink = observe.Discard
	}
	i := &Impaired{inner: inner, loop: loop, sink: sink, name: name, mtu: inner.MTU()}
	i.out = impairSide{l: i, drops: map[string]uint64{}, imps: map[string]uint64{}}
	i.in = impairSide{l: i, drops: map[string]uint64{}, imps: map[string]uint64{}}
	i.out.pipe = impairPipe{host: &i.out, dir: Out, imp: out, rng: clock.NewRand(seed, name+"/"+Out.String()), emit: i.sendAt}
	i.in.pipe = impairPipe{host: &i.in, dir: In, imp: in, rng: clock.NewRand(seed, name+"/"+In.String()), emit: i.receiveAt}
	i.out.queue.init(loop, i.transmitQueued)
	i.in.queue.init(loop, i.deliverQueued)
	i.recv = i.received
	return i, nil
}

// Name returns the inner link's name.
func (i *Impaired) Name() string { return i.name }

// MTU returns the inner link's MTU.
func (i *Impaired) MTU() int { return i.mtu }

// MAC returns the inner link's MAC.
func (i *Impaired) MAC() wire.MAC { return i.inner.MAC() }

// Inner returns the wrapped link.
func (i *Impaired) Inner() Link { return i.inner }

// Send runs frame through the Out impairment; each copy that survives goes
// to the inner link's Send at its due time. frame is copied when it has to
// wait or be changed. Send fails, counting and reporting the drop, for a
// frame shorter than 14 bytes or longer than 14+MTU (ErrFrameSize), and
// after Close (net.ErrClosed).
func (i *Impaired) Send(frame []byte) error {
	if i.closed.Load() {
		return fmt.Errorf("send on impaired %s: %w", i.name, net.ErrClosed)
	}
	s := &i.out
	if len(frame) < ethHeaderLen || len(frame) > ethHeaderLen+i.mtu {
		i.sizeDrop(frame)
		return fmt.Errorf("send on impaired %s: %d-byte frame (allowed %d to %d): %w",
			i.name, len(frame), ethHeaderLen, ethHeaderLen+i.mtu, ErrFrameSize)
	}
	s.frames++
	s.bytes += uint64(len(frame))
	if s.pipe.imp.IsZero() && s.queue.empty() {
		return i.transmit(frame)
	}
	buf := i.getBuf(len(frame))
	copy(buf, frame)
	s.pipe.process(buf, i.loop.Now())
	return nil
}

// SetHandler sets the function that receives frames after the In
// impairment (nil stops delivery from the inner link; frames still in
// flight are then dropped as DropNoHandler). It may be called from any
// goroutine.
func (i *Impaired) SetHandler(h Handler) {
	if h == nil {
		i.handler.Store(nil)
		i.inner.SetHandler(nil)
		return
	}
	i.handler.Store(&h)
	i.inner.SetHandler(i.recv)
}

// SetImpairment sets what the link does to frames in direction dir from now
// on; frames already in flight keep their fate. It returns the error of
// [Impairment.Validate] and then leaves the old impairment in place.
func (i *Impaired) SetImpairment(dir Direction, imp Impairment) error {
	if err := imp.Validate(); err != nil {
		return fmt.Errorf("impaired link %s %s: %w", i.name, dir, err)
	}
	i.side(dir).pipe.set(imp)
	return nil
}

// Impairment returns the impairment of direction dir.
func (i *Impaired) Impairment(dir Direction) Impairment { return i.side(dir).pipe.imp }

// Stats returns a copy of the link's counters.
func (i *Impaired) Stats() ImpairedStats {
	return ImpairedStats{Out: i.out.stats(), In: i.in.stats()}
}

// Close closes the inner link and drops the frames still in flight (as
// DropClosed, at the loop's next turn). Send fails afterwards. Call it where
// the inner link's Close may be called: a TAP's from outside loop work, a
// switch port's on the loop. A second Close does nothing.
func (i *Impaired) Close() error {
	if i.closed.Swap(true) {
		return nil
	}
	err := i.inner.Close()
	i.loop.Post(i.drain)
	return err
}

func (i *Impaired) side(dir Direction) *impairSide {
	if dir == Out {
		return &i.out
	}
	return &i.in
}

// received is the inner link's handler: it runs frame, which the inner link
// may reuse after the call, through the In impairment.
func (i *Impaired) received(frame []byte) {
	s := &i.in
	s.frames++
	s.bytes += uint64(len(frame))
	if s.pipe.imp.IsZero() && s.queue.empty() {
		i.deliver(frame)
		return
	}
	buf := i.getBuf(len(frame))
	copy(buf, frame)
	s.pipe.process(buf, i.loop.Now())
}

// sendAt is the Out pipe's output: buf goes to the inner link at due.
func (i *Impaired) sendAt(buf []byte, due clock.Time) {
	if due <= i.loop.Now() && i.out.queue.empty() {
		i.transmitQueued(buf)
		return
	}
	i.out.queue.push(due, buf)
}

// receiveAt is the In pipe's output: buf reaches the handler at due.
func (i *Impaired) receiveAt(buf []byte, due clock.Time) {
	if due <= i.loop.Now() && i.in.queue.empty() {
		i.deliverQueued(buf)
		return
	}
	i.in.queue.push(due, buf)
}

// transmitQueued sends a buffer the link owns and recycles it.
func (i *Impaired) transmitQueued(buf []byte) {
	i.transmit(buf)
	i.putBuf(buf)
}

// deliverQueued delivers a buffer the link owns and recycles it.
func (i *Impaired) deliverQueued(buf []byte) {
	i.deliver(buf)
	i.putBuf(buf)
}

// transmit hands frame to the inner link, counting the outcome.
func (i *Impaired) transmit(frame []byte) error {
	s := &i.out
	if i.closed.Load() {
		s.countDrop(DropClosed)
		return fmt.Errorf("send on impaired %s: %w", i.name, net.ErrClosed)
	}
	if err := i.inner.Send(frame); err != nil {
		s.countDrop(DropSendFailed)
		if i.sink.Active() {
			s.pipe.event(observe.KindDrop, DropSendFailed, frame, i.loop.Now(),
				fmt.Sprintf("dropped %d-byte frame: the link refused it: %v", len(frame), err),
				"the impairment let this frame through, but the link underneath would not take it when its time came",
				map[string]any{"error": err.Error()})
		}
		return err
	}
	s.passed++
	s.passedB += uint64(len(frame))
	return nil
}

// deliver hands frame to the handler, counting the outcome.
func (i *Impaired) deliver(frame []byte) {
	s := &i.in
	if i.closed.Load() {
		s.countDrop(DropClosed)
		return
	}
	h := i.handler.Load()
	if h == nil {
		s.countDrop(DropNoHandler)
		if i.sink.Active() {
			s.pipe.event(observe.KindDrop, DropNoHandler, frame, i.loop.Now(),
				fmt.Sprintf("dropped %d-byte frame: no handler on the link", len(frame)),
				"nothing listens on this link any more, so the frame arriving there is lost", nil)
		}
		return
	}
	s.passed++
	s.passedB += uint64(len(frame))
	(*h)(frame)
}

// sizeDrop counts and reports a frame Send cannot take.
func (i *Impaired) sizeDrop(frame []byte) {
	reason, detail := DropTooBig, fmt.Sprintf("larger than 14+MTU = %d bytes", ethHeaderLen+i.mtu)
	explain := "an Ethernet link carries at most its MTU of payload after the 14-byte header; a longer frame cannot be sent"
	if len(frame) < ethHeaderLen {
		reason, detail = DropTooShort, "shorter than the 14-byte Ethernet header"
		explain = "every Ethernet frame starts with destination, source and type: 14 bytes"
	}
	i.out.countDrop(reason)
	if i.sink.Active() {
		i.out.pipe.event(observe.KindDrop, reason, frame, i.loop.Now(),
			fmt.Sprintf("dropped %d-byte frame: %s", len(frame), detail), explain,
			map[string]any{"mtu": i.mtu})
	}
}

// drain drops the frames still in flight after Close.
func (i *Impaired) drain() {
	i.out.queue.clear(&i.out)
	i.in.queue.clear(&i.in)
}

// getBuf returns a buffer of length n, recycled when possible.
func (i *Impaired) getBuf(n int) []byte {
	if k := len(i.free); k > 0 {
		b := i.free[k-1]
		i.free[k-1] = nil
		i.free = i.free[:k-1]
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]byte, n, max(n, ethHeaderLen+i.mtu))
}

// putBuf recycles a buffer nobody refers to any more.
func (i *Impaired) putBuf(b []byte) {
	if len(i.free) < 256 {
		i.free = append(i.free, b[:0])
	}
}

// The pipeHost of one direction.
func (s *impairSide) impairName() string       { return s.l.name }
func (s *impairSide) impairSink() observe.Sink { return s.l.sink }
func (s *impairSide) count(stage string)       { s.imps[stage]++ }
func (s *impairSide) countDrop(reason string)  { s.drops[reason]++ }
func (s *impairSide) getBuf(n int) []byte      { return s.l.getBuf(n) }
func (s *impairSide) putBuf(b []byte)          { s.l.putBuf(b) }

func (s *impairSide) stats() ImpairedDirStats {
	return ImpairedDirStats{
		Frames: s.frames, Bytes: s.bytes,
		PassedFrames: s.passed, PassedBytes: s.passedB,
		Drops:    maps.Clone(s.drops),
		Impaired: maps.Clone(s.imps),
	}
}

var _ Link = (*Impaired)(nil)
