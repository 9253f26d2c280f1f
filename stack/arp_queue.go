package stack

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Sending through ARP, and the datagrams that wait for a resolution
// (RFC 1122 §2.3.2.2: "the link layer SHOULD save (rather than discard) at
// least one (the latest) packet of each set of packets destined to the same
// unresolved IP address").
//
// tipy keeps up to QueuePerNeighbor datagrams per neighbour and QueueTotal
// on the whole stack; when either bound is reached the OLDEST waiting
// datagram is dropped (arp-queue-full), so the latest ones survive, as the
// RFC asks. On the reply they leave in the order they were sent. When the
// resolution fails each is dropped (arp-unresolved) and its sender's onErr
// gets EHOSTUNREACH. A datagram dropped for overflow does not call onErr:
// like Linux, the loss is silent to the sender, as any loss on the way is.

// queuedDatagram is an IPv4 datagram waiting for its next hop's MAC address.
type queuedDatagram struct {
	p     *Packet     // the datagram, a copy owned by the queue, with Ethernet headroom
	onErr func(error) // the sender's error callback; may be nil
	seq   uint64      // arrival order across the stack
	at    clock.Time  // when it was queued
}

// resolveAndSend sends the IPv4 datagram in p to the neighbour nextHop on
// the interface, resolving its MAC address with ARP first when needed. When
// the datagram must wait, a copy of it is queued (p is not kept) and nil is
// returned; if the resolution fails later, onErr (when not nil) gets an
// EHOSTUNREACH *SocketError. While the entry is failed, the error is
// returned at once.
func (ifc *Iface) resolveAndSend(now clock.Time, nextHop netip.Addr, p *Packet, onErr func(error)) error {
	a := ifc.s.arp().iface(ifc)
	if e := a.cache[nextHop]; e != nil {
		switch e.state {
		case ARPReachable, ARPStatic:
			return ifc.SendFrame(now, e.mac, wire.EtherTypeIPv4, p)
		case ARPStale:
			if !e.polled {
				e.polled = true
				if err := a.sendRequest(now, e.ip, e.mac, 1); err != nil {
					ifc.s.arpEvent(now, ifc, observe.KindError, "stale entry not revalidated: "+err.Error(), "", "", nil)
				}
			}
			return ifc.SendFrame(now, e.mac, wire.EtherTypeIPv4, p)
		case ARPFailed:
			detail := fmt.Sprintf("no ARP reply from %s after %d requests; asking again in %v", e.ip, e.retries, e.changed.Add(a.l.cfg.FailedHold).Sub(now).Round(time.Millisecond))
			ifc.s.drop(now, observe.LayerARP, ReasonARPUnresolved, nil, detail)
			return sockErr("send", nextHop.String(), EHOSTUNREACH, detail)
		case ARPIncomplete:
			a.enqueue(now, e, p, onErr)
			return nil
		}
	}
	if !ifc.addrUsable() {
		detail := fmt.Sprintf("cannot resolve %s: our address %s is %s", nextHop, ifc.addr.Addr(), a.addr.state)
		ifc.s.drop(now, observe.LayerARP, ReasonARPTentative, nil, detail)
		return sockErr("send", nextHop.String(), EADDRNOTAVAIL, detail)
	}
	e := a.newEntry(now, nextHop, wire.ZeroMAC, ARPIncomplete,
		fmt.Sprintf("we have a datagram for %s but not its MAC address: the datagram waits while ARP asks", nextHop), "RFC 826")
	if e == nil {
		return sockErr("send", nextHop.String(), ENOBUFS, "the ARP cache is full")
	}
	a.enqueue(now, e, p, onErr)
	a.retry(now, e)
	return nil
}

// enqueue copies p into e's queue, dropping the oldest datagrams to stay
// within both bounds.
func (a *arpIface) enqueue(now clock.Time, e *arpEntry, p *Packet, onErr func(error)) {
	l := a.l
	q := NewPacket(wire.EthernetHeaderLen, p.Len())
	copy(q.Payload(), p.Bytes())
	l.qseq++
	e.queue = append(e.queue, queuedDatagram{p: q, onErr: onErr, seq: l.qseq, at: now})
	l.queued++
	if s := l.s; s.obs.Active() {
		s.arpEvent(now, a.ifc, observe.KindInfo,
			fmt.Sprintf("datagram queued for %s (%d waiting)", e.ip, len(e.queue)),
			fmt.Sprintf("the MAC address of %s is not known yet, so the datagram waits for the ARP reply instead of being lost", e.ip),
			"RFC 1122 §2.3.2.2",
			map[string]any{"ip": e.ip.String(), "queued": len(e.queue), "queued_total": l.queued, "bytes": p.Len()})
	}
	if len(e.queue) > l.cfg.QueuePerNeighbor {
		a.dropOldest(now, e, fmt.Sprintf("%d datagrams already wait for %s (QueuePerNeighbor)", l.cfg.QueuePerNeighbor, e.ip))
	}
	if l.queued > l.cfg.QueueTotal {
		if oa, oe := l.oldestQueued(); oe != nil {
			oa.dropOldest(now, oe, fmt.Sprintf("%d datagrams already wait on the stack (QueueTotal); the oldest waits for %s", l.cfg.QueueTotal, oe.ip))
		}
	}
}

// oldestQueued returns the entry (and its interface) whose first waiting
// datagram arrived first on the whole stack.
func (l *arpLayer) oldestQueued() (*arpIface, *arpEntry) {
	var ba *arpIface
	var be *arpEntry
	for _, a := range l.ifs {
		if a == nil {
			continue
		}
		for _, e := range a.cache {
			if len(e.queue) > 0 && (be == nil || e.queue[0].seq < be.queue[0].seq) {
				ba, be = a, e
			}
		}
	}
	return ba, be
}

// dropOldest drops the first datagram waiting in e's queue.
func (a *arpIface) dropOldest(now clock.Time, e *arpEntry, detail string) {
	q := e.queue[0]
	e.queue[0] = queuedDatagram{}
	e.queue = e.queue[1:]
	a.l.queued--
	a.l.s.drop(now, observe.LayerARP, ReasonARPQueueFull, nil, fmt.Sprintf("%s; dropped a %d-byte datagram queued at %v", detail, q.p.Len(), q.at))
}

// release sends e's waiting datagrams, in the order they came, now that its
// MAC address is known.
func (a *arpIface) release(now clock.Time, e *arpEntry) {
	if len(e.queue) == 0 {
		return
	}
	q := e.queue
	e.queue = nil
	a.l.queued -= len(q)
	if s := a.l.s; s.obs.Active() {
		s.arpEvent(now, a.ifc, observe.KindInfo,
			fmt.Sprintf("releasing %d queued datagrams to %s at %s, in order", len(q), e.ip, e.mac),
			fmt.Sprintf("the MAC address of %s is now known, so the datagrams that waited for it leave in the order they were sent", e.ip),
			"RFC 1122 §2.3.2.2",
			map[string]any{"ip": e.ip.String(), "mac": e.mac.String(), "released": len(q), "waited_ns": int64(now.Sub(q[0].at))})
	}
	for _, d := range q {
		// A link error is counted and traced by SendFrame; the datagram
		// is lost as any frame on a link may be.
		_ = a.ifc.SendFrame(now, e.mac, wire.EtherTypeIPv4, d.p)
	}
}

// failQueue drops every datagram waiting in e's queue and tells each sender.
func (a *arpIface) failQueue(now clock.Time, e *arpEntry, detail string) {
	q := e.queue
	e.queue = nil
	a.l.queued -= len(q)
	for _, d := range q {
		a.l.s.drop(now, observe.LayerARP, ReasonARPUnresolved, nil, detail)
		if d.onErr != nil {
			d.onErr(sockErr("send", e.ip.String(), EHOSTUNREACH, detail))
		}
	}
}

// retry sends the next request of e's resolution, or, when Retries
// requests went unanswered for RetryInterval each, marks e failed.
func (a *arpIface) retry(now clock.Time, e *arpEntry) {
	cfg := &a.l.cfg
	s := a.l.s
	if e.retries > 0 && s.obs.Active() {
		s.arpEvent(now, a.ifc, observe.KindTimer,
			fmt.Sprintf("ARP retry timer for %s fired: no reply to request %d of %d", e.ip, e.retries, cfg.Retries),
			fmt.Sprintf("no host answered for %s within %v", e.ip, cfg.RetryInterval), "RFC 1122 §2.3.2.1",
			map[string]any{"ip": e.ip.String(), "retries": e.retries, "max": cfg.Retries})
	}
	if e.retries >= cfg.Retries {
		a.fail(now, e)
		return
	}
	e.retries++
	if err := a.sendRequest(now, e.ip, wire.ZeroMAC, e.retries); err != nil {
		s.arpEvent(now, a.ifc, observe.KindError, "ARP request not sent: "+err.Error(), "", "", nil)
	}
	at := now.Add(cfg.RetryInterval)
	a.timerFor(e).Reset(at)
	if s.obs.Active() {
		s.arpEvent(now, a.ifc, observe.KindTimer,
			fmt.Sprintf("ARP retry timer for %s armed for %v", e.ip, at),
			fmt.Sprintf("if no reply comes within %v, tipy asks again (request %d of %d sent)", cfg.RetryInterval, e.retries, cfg.Retries),
			"RFC 1122 §2.3.2.1",
			map[string]any{"ip": e.ip.String(), "at_ns": int64(at), "retries": e.retries, "max": cfg.Retries})
	}
}

// fail marks e failed: its datagrams are dropped, and new ones fail at once
// until FailedHold passes.
func (a *arpIface) fail(now clock.Time, e *arpEntry) {
	cfg := &a.l.cfg
	detail := fmt.Sprintf("no ARP reply from %s after %d requests", e.ip, e.retries)
	e.mac = wire.ZeroMAC
	a.setState(now, e, ARPFailed,
		fmt.Sprintf("%s; the datagrams that waited are dropped, senders get EHOSTUNREACH, and new datagrams fail at once for %v", detail, cfg.FailedHold),
		"RFC 1122 §2.3.2.1")
	a.failQueue(now, e, detail)
	a.timerFor(e).Reset(now.Add(cfg.FailedHold))
}
