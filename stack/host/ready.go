package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
)

// readyPoll is how often, on the loop's clock, WaitReady looks at the
// addresses' states.
const readyPoll = 10 * time.Millisecond

// WaitReady waits until every address of the host is usable: a host probes
// its address for conflicts before it uses it (RFC 5227 §2.1), which takes
// between about 5 and 9 seconds of the host's clock, and until then sending
// fails with EADDRNOTAVAIL. It returns an error when an address turns out to
// be in conflict, when ctx ends, or when the host is closed.
//
// In a virtual network, [Network.WaitReady] waits for every host at once,
// and takes no real time.
func (h *Host) WaitReady(ctx context.Context) error {
	return waitOn(ctx, h.Loop(), h.ctx.Done(), func() (bool, error) { return addrsReady(h) }, nil)
}

// WaitReady waits until every address of every host of the started network
// is usable (see [Host.WaitReady]). Meanwhile the network's clock runs as
// fast as possible, so that the probes take no real time; then it goes back
// to the speed it had. Call it after Start and before the hosts' sockets are
// used: while it runs, a host's timeouts would expire in a flash.
func (n *Network) WaitReady(ctx context.Context) error {
	n.mu.Lock()
	started, closed := n.started, n.closed
	n.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case !started:
		return errors.New("host: Network.WaitReady before Start: the network's clock does not run yet")
	}
	speed := -1.0 // the speed to go back to; -1: unchanged
	ready := func() (bool, error) {
		for _, h := range n.order {
			if ok, err := addrsReady(h); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	}
	fast := func() {
		if sp := n.loop.Speed(); sp != 0 && !n.loop.Paused() {
			speed = sp
			n.loop.SetSpeed(0)
		}
	}
	restore := func() {
		if speed >= 0 {
			n.loop.SetSpeed(speed)
		}
	}
	return waitOn(ctx, n.loop, n.closing, ready, &hooks{start: fast, done: restore})
}

// addrsReady reports whether every interface of h has a usable address, and
// an error for one in conflict. Loop work.
func addrsReady(h *Host) (bool, error) {
	for _, ifc := range h.Ifaces() {
		switch ifc.AddressState() {
		case stack.AddrPreferred:
		case stack.AddrConflict:
			return false, fmt.Errorf("host %s: address %s of %s is in conflict: another host uses it (RFC 5227)", h.Name(), ifc.Addr().Addr(), ifc.Name())
		default:
			return false, nil
		}
	}
	return true, nil
}

// hooks run on the loop when a wait starts (before the first look) and when
// it ends, whichever way.
type hooks struct{ start, done func() }

// waitOn evaluates cond on loop every readyPoll of the loop's clock until it
// reports true or an error, ctx ends, or closing is closed.
func waitOn(ctx context.Context, loop clock.Loop, closing <-chan struct{}, cond func() (bool, error), hk *hooks) error {
	result := make(chan error, 1)
	finished := false
	var timer *clock.Timer
	finish := func(err error) {
		finished = true
		if hk != nil && hk.done != nil {
			hk.done()
		}
		result <- err
	}
	check := func() {
		if finished {
			return
		}
		ok, err := cond()
		if ok || err != nil {
			finish(err)
			return
		}
		timer.Reset(loop.Now().Add(readyPoll))
	}
	loop.Call(func() {
		timer = loop.NewTimer(check)
		if hk != nil && hk.start != nil {
			hk.start()
		}
		check()
	})
	var stop error
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		stop = fmt.Errorf("host: waiting for addresses to be usable: %w", ctx.Err())
	case <-closing:
		stop = ErrClosed
	}
	loop.Call(func() {
		if !finished {
			timer.Stop()
			finish(stop)
		}
	})
	return <-result
}

// Sleep waits for d on the host's clock (virtual time in a virtual
// network, where it follows the network's speed), or until ctx ends or the
// host is closed.
func (h *Host) Sleep(ctx context.Context, d time.Duration) error {
	fired := make(chan struct{})
	var timer *clock.Timer
	loop := h.Loop()
	loop.Call(func() { timer = loop.Schedule(loop.Now().Add(d), func() { close(fired) }) })
	select {
	case <-fired:
		return nil
	case <-ctx.Done():
		timer.Stop()
		return ctx.Err()
	case <-h.ctx.Done():
		timer.Stop()
		return ErrClosed
	}
}
