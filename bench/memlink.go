package main

import (
	"errors"
	"sync"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// memLink is one end of an in-memory Ethernet cable between two tipy
// stacks, the counterpart of gVisor's pipe link: no switch, no
// impairment, no propagation delay. Send copies the frame (a tap.Link
// does not keep the caller's bytes) into a recycled buffer and queues it
// for the other end; the other end's loop delivers everything queued in
// one turn, so frames sent in a burst cost one hand-over between loops.
// The ends may run on one loop or on two.
type memLink struct {
	name string
	mac  wire.MAC
	mtu  int
	loop clock.Loop
	peer *memLink

	handler tap.Handler // set on the loop
	timer   *clock.Timer

	mu        sync.Mutex
	inbox     [][]byte // frames waiting for this end's handler
	spare     [][]byte // the other slice of the double buffer
	free      [][]byte // recycled frame buffers
	scheduled bool     // a delivery turn is armed
	closed    bool
}

// newMemLinks returns the two ends of a cable, on loops la and lb.
func newMemLinks(la, lb clock.Loop, macA, macB wire.MAC, mtu int) (*memLink, *memLink) {
	a := &memLink{name: "mem/a", mac: macA, mtu: mtu, loop: la}
	b := &memLink{name: "mem/b", mac: macB, mtu: mtu, loop: lb}
	a.peer, b.peer = b, a
	for _, l := range []*memLink{a, b} {
		l.timer = l.loop.NewTimer(l.deliver)
	}
	return a, b
}

func (l *memLink) Name() string             { return l.name }
func (l *memLink) MTU() int                 { return l.mtu }
func (l *memLink) MAC() wire.MAC            { return l.mac }
func (l *memLink) SetHandler(h tap.Handler) { l.handler = h }
func (l *memLink) frameLimit() int          { return l.mtu + wire.EthernetHeaderLen }

// Close stops the link: sends in either direction fail from now on.
func (l *memLink) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return nil
}

var errMemClosed = errors.New("memory link closed")

// Send queues a copy of frame for the other end.
func (l *memLink) Send(frame []byte) error {
	if len(frame) < wire.EthernetHeaderLen || len(frame) > l.frameLimit() {
		return tap.ErrFrameSize
	}
	p := l.peer
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errMemClosed
	}
	var buf []byte
	if n := len(p.free); n > 0 {
		buf = p.free[n-1][:len(frame)]
		p.free = p.free[:n-1]
	} else {
		buf = make([]byte, len(frame), p.frameLimit())
	}
	copy(buf, frame)
	p.inbox = append(p.inbox, buf)
	arm := !p.scheduled
	p.scheduled = true
	p.mu.Unlock()
	if arm {
		p.timer.Reset(p.loop.Now())
	}
	return nil
}

// deliver runs on l's loop: it hands every queued frame to the handler.
func (l *memLink) deliver() {
	l.mu.Lock()
	frames := l.inbox
	l.inbox, l.spare = l.spare[:0], nil
	l.scheduled = false
	l.mu.Unlock()
	if h := l.handler; h != nil {
		for _, f := range frames {
			h(f)
		}
	}
	l.mu.Lock()
	l.free = append(l.free, frames...)
	clear(frames)
	l.spare = frames[:0]
	l.mu.Unlock()
}
