package stack

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Probing an address before taking it (RFC 5227 §2.1.1), on demand.
//
// An interface probes its own address when it gets it (arp_probe.go). A host
// may also check an address it is about to take, before configuring it: a
// DHCP client checks the address a server offered (RFC 2131 §4.4.1, with the
// probe of RFC 5227), and `arping -D` does it by hand. ProbeAddress runs
// exactly the probing of RFC 5227 §2.1.1 for such an address on the
// interface whose network holds it: a random wait of up to PROBE_WAIT, then
// PROBE_NUM probes (requests from sender 0.0.0.0 for the address, so that no
// cache learns anything) PROBE_MIN..PROBE_MAX apart. The address is in use
// when, from the start until ANNOUNCE_WAIT after the last probe, an ARP
// packet arrives whose sender IP is the address (its owner answering, or
// announcing), or a probe for the address from another host; it is free
// when nothing such arrives. Either way the interface's own address does not
// change: the caller decides what to do with the answer.

// AddrProbeResult is what probing an address found.
type AddrProbeResult struct {
	Addr   netip.Addr `json:"addr"`         // the address probed
	Iface  string     `json:"iface"`        // the interface it was probed on
	InUse  bool       `json:"in_use"`       // another host has it (or probes for it)
	By     wire.MAC   `json:"by,omitempty"` // that host's MAC, when in use
	Probes int        `json:"probes"`       // probes sent
}

// addrProbe is one probe of an address in progress on an interface.
type addrProbe struct {
	a     *arpIface
	addr  netip.Addr
	sent  int
	wait  bool // the probes are sent: waiting ANNOUNCE_WAIT
	timer *clock.Timer
	done  func(now clock.Time, r AddrProbeResult)
}

// ProbeAddress checks, with ARP probes, whether another host on the link of
// the interface whose network holds addr uses addr (RFC 5227 §2.1.1), and
// returns what it found when the probing ends (about PROBE_WAIT +
// PROBE_NUM*PROBE_MAX + ANNOUNCE_WAIT of the stack's clock at most; sooner
// when a host answers), or ctx's error. It may be called from any goroutine
// except loop work.
func (s *Stack) ProbeAddress(ctx context.Context, addr netip.Addr) (AddrProbeResult, error) {
	done := make(chan AddrProbeResult, 1)
	var stop func()
	var err error
	s.loop.Call(func() {
		a := s.arp().lookupIface(addr)
		if a == nil {
			err = sockErr("probe", addr.String(), ENETUNREACH, "the address is on the network of none of the interfaces")
			return
		}
		stop, err = a.ifc.ProbeAddress(s.loop.Now(), addr, func(_ clock.Time, r AddrProbeResult) { done <- r })
	})
	if err != nil {
		return AddrProbeResult{}, err
	}
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		s.loop.Call(stop)
		return AddrProbeResult{}, ctx.Err()
	}
}

// ProbeAddress starts probing addr on the interface (see Stack.ProbeAddress)
// and calls done, on the loop, when the probing ends. The returned stop
// ends it early without calling done. Loop work only.
func (ifc *Iface) ProbeAddress(now clock.Time, addr netip.Addr, done func(now clock.Time, r AddrProbeResult)) (stop func(), err error) {
	switch {
	case !addr.Is4() || addr.IsUnspecified() || addr.IsMulticast() || addr.IsLoopback() || ifc.isBroadcast(addr):
		return nil, sockErr("probe", addr.String(), EINVAL, "only a unicast IPv4 address can be probed")
	case !ifc.addr.Masked().Contains(addr):
		return nil, sockErr("probe", addr.String(), EINVAL, fmt.Sprintf("not on %s's network %s", ifc.name, ifc.addr.Masked()))
	case addr == ifc.addr.Addr():
		return nil, sockErr("probe", addr.String(), EINVAL, fmt.Sprintf("%s is already %s's address, probed when it was configured", addr, ifc.name))
	}
	a := ifc.s.arp().iface(ifc)
	for _, p := range a.dad {
		if p.addr == addr {
			return nil, sockErr("probe", addr.String(), EALREADY, "a probe of this address is already running on "+ifc.name)
		}
	}
	p := &addrProbe{a: a, addr: addr, done: done}
	p.timer = ifc.s.loop.NewTimer(func() { p.step(ifc.s.loop.Now()) })
	a.dad = append(a.dad, p)
	wait := a.randDuration(0, a.l.cfg.ProbeWait)
	at := now.Add(wait)
	p.timer.Reset(at)
	ifc.s.arpEvent(now, ifc, observe.KindState,
		fmt.Sprintf("probing %s on %s before taking it: first probe in %v", addr, ifc.name, wait),
		fmt.Sprintf("before a host takes %s (one a DHCP server offered, say) it asks whether any host already has it, with ARP probes from sender 0.0.0.0 so that no cache learns the address; any answer means it is taken", addr),
		"RFC 5227 §2.1.1",
		map[string]any{"addr": addr.String(), "at_ns": int64(at), "probe": true})
	return func() { p.finish(ifc.s.loop.Now(), nil, false) }, nil
}

// step sends the next probe, or, ANNOUNCE_WAIT after the last, declares the
// address free.
func (p *addrProbe) step(now clock.Time) {
	a := p.a
	cfg := &a.l.cfg
	if p.wait {
		a.l.s.arpEvent(now, a.ifc, observe.KindState,
			fmt.Sprintf("probe of %s: no host answered %d probes within %v of the last; the address is free", p.addr, p.sent, cfg.AnnounceWait),
			"nobody claimed the address while it was probed, so a host may take it now (and would announce it, RFC 5227 §2.3)",
			"RFC 5227 §2.1.1",
			map[string]any{"addr": p.addr.String(), "probes": p.sent, "in_use": false, "probe": true})
		p.finish(now, &AddrProbeResult{Addr: p.addr, Iface: a.ifc.name, Probes: p.sent}, true)
		return
	}
	p.sent++
	p.wait = a.sendProbe(now, p.addr, p.sent, p.timer, "an address not yet taken")
}

// finish ends the probe; with report, done gets r.
func (p *addrProbe) finish(now clock.Time, r *AddrProbeResult, report bool) {
	a := p.a
	i := slices.Index(a.dad, p)
	if i < 0 {
		return // already ended
	}
	a.dad = slices.Delete(a.dad, i, i+1)
	p.timer.Stop()
	if report && p.done != nil {
		p.done(now, *r)
	}
}

// dadInput checks a received ARP packet against the probes running on the
// interface (RFC 5227 §2.1.1). It reports whether the packet was only an
// answer to one of our probes and needs nothing more.
func (a *arpIface) dadInput(now clock.Time, h *wire.ARPHeader) bool {
	if len(a.dad) == 0 {
		return false
	}
	answer := false
	for _, p := range slices.Clone(a.dad) {
		claims := h.SPA == p.addr
		probes := h.Op == wire.ARPRequest && h.SPA.IsUnspecified() && h.TPA == p.addr && !a.l.s.isOwnMAC(h.SHA)
		if !claims && !probes {
			continue
		}
		explain := fmt.Sprintf("%s sent an ARP packet from %s while we probed for it: another host has the address, so it must not be taken", h.SHA, p.addr)
		if probes {
			explain = fmt.Sprintf("another host (%s) is probing for %s at the same time: RFC 5227 treats that as a conflict so that neither host takes it", h.SHA, p.addr)
		}
		a.l.s.arpEvent(now, a.ifc, observe.KindError,
			fmt.Sprintf("address conflict: %s is in use by %s; %s does not use it", p.addr, h.SHA, a.l.s.cfg.Name),
			explain, "RFC 5227 §2.1.1",
			map[string]any{"addr": p.addr.String(), "other_mac": h.SHA.String(), "probes": p.sent, "in_use": true, "probe": true})
		p.finish(now, &AddrProbeResult{Addr: p.addr, Iface: a.ifc.name, InUse: true, By: h.SHA, Probes: p.sent}, true)
		// A reply to a probe is sent to 0.0.0.0: once it has told us the
		// address is taken, nothing else in it concerns us.
		answer = answer || h.Op == wire.ARPReply && h.TPA.IsUnspecified()
	}
	return answer
}

// isOwnMAC reports whether m is the MAC of one of the stack's interfaces.
func (s *Stack) isOwnMAC(m wire.MAC) bool {
	for _, ifc := range s.ifaces {
		if ifc.mac == m {
			return true
		}
	}
	return false
}
