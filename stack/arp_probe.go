package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// IPv4 address conflict detection (RFC 5227) and gratuitous ARP.
//
// An interface's address starts tentative. After a random delay of up to
// PROBE_WAIT the host sends PROBE_NUM probes (requests from 0.0.0.0 for the
// address), PROBE_MIN..PROBE_MAX apart. If nothing conflicting is heard until
// ANNOUNCE_WAIT after the last probe, the address is claimed (preferred) and
// announced ANNOUNCE_NUM times, ANNOUNCE_INTERVAL apart (gratuitous requests
// with sender and target both our address, §2.3).
//
// Conflicting, while tentative (§2.1.1): any ARP packet whose sender IP is
// our address, or a probe for our address from another MAC. The address is
// then in conflict and never used.
//
// Conflicting, after the claim (§2.4): an ARP packet whose sender IP is our
// address from another MAC. tipy follows §2.4 (b): the first such packet is
// answered with one defending announcement, unless another conflict was
// already defended within DEFEND_INTERVAL, in which case the host gives the
// address up (conflict), since two hosts fighting over it break both.
// A probe from another host after the claim is not a conflict: it is a
// request for our address and is answered, which tells the prober that the
// address is taken.

// AddrState is the state of an interface's address under RFC 5227.
type AddrState string

// Address states.
const (
	AddrTentative AddrState = "tentative" // being probed; not usable yet
	AddrPreferred AddrState = "preferred" // claimed; in use
	AddrConflict  AddrState = "conflict"  // another host has it; not used
)

// claimPhase is where the probe-and-announce sequence is.
type claimPhase int

const (
	phaseProbe    claimPhase = iota // sending probes
	phaseWait                       // ANNOUNCE_WAIT after the last probe
	phaseAnnounce                   // sending announcements
	phaseDone                       // claimed and announced, or given up
)

// addrClaim is the RFC 5227 state of an interface's address.
type addrClaim struct {
	state      AddrState
	phase      claimPhase
	sent       int // probes or announcements sent in the current phase
	timer      *clock.Timer
	lastDefend clock.Time
	defended   bool
}

// addrUsable reports whether the interface's address may be used: not
// tentative while probing, not in conflict.
func (ifc *Iface) addrUsable() bool {
	return ifc.s.arp().iface(ifc).addr.state == AddrPreferred
}

// AddressState returns the RFC 5227 state of the interface's address:
// "tentative", "preferred" or "conflict". Loop work only.
func (ifc *Iface) AddressState() AddrState { return ifc.s.arp().iface(ifc).addr.state }

// start begins the claim of the interface's address.
func (a *arpIface) start(now clock.Time) {
	cfg := &a.l.cfg
	if cfg.NoProbe {
		a.addr.phase = phaseDone
		a.setAddrState(now, AddrPreferred,
			"probing is off (ARPConfig.NoProbe), so the address is used at once without checking that no other host has it",
			"RFC 5227 §2.1")
		return
	}
	a.addr.state = AddrTentative
	a.addr.phase = phaseProbe
	a.addr.timer = a.l.s.loop.NewTimer(func() { a.claimStep(a.l.s.loop.Now()) })
	wait := a.randDuration(0, cfg.ProbeWait)
	at := now.Add(wait)
	a.addr.timer.Reset(at)
	if s := a.l.s; s.obs.Active() {
		own := a.ifc.addr.Addr()
		s.arpEvent(now, a.ifc, observe.KindState,
			fmt.Sprintf("address %s is tentative: probing starts in %v", own, wait),
			fmt.Sprintf("before using %s, tipy checks that no other host on the link has it; a random delay first keeps hosts that start together from probing in step", own),
			"RFC 5227 §2.1.1",
			map[string]any{"addr": own.String(), "to": string(AddrTentative), "at_ns": int64(at)})
	}
}

// randDuration returns a uniform random duration in [lo, hi].
func (a *arpIface) randDuration(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(a.l.s.rng.Int64N(int64(hi-lo)+1))
}

// sendProbe sends ARP probe n of PROBE_NUM for addr (what the explanation
// calls it: "the tentative address"), and arms timer for what follows: the
// next probe PROBE_MIN to PROBE_MAX later or, after the last, the end of
// ANNOUNCE_WAIT, which it reports by returning true (RFC 5227 §2.1.1).
func (a *arpIface) sendProbe(now clock.Time, addr netip.Addr, n int, timer *clock.Timer, what string) (last bool) {
	cfg := &a.l.cfg
	h := wire.ARPHeader{Op: wire.ARPRequest, SHA: a.ifc.mac, SPA: netip.IPv4Unspecified(), TPA: addr}
	if err := a.sendARP(now, wire.BroadcastMAC, &h,
		fmt.Sprintf("sent ARP probe %d of %d for %s", n, cfg.ProbeNum, addr),
		fmt.Sprintf("an ARP probe asks whether anyone has %s; its sender IP is 0.0.0.0 so that no host's cache learns %s", addr, what),
		"RFC 5227 §2.1.1"); err != nil {
		a.l.s.arpEvent(now, a.ifc, observe.KindError, "ARP probe not sent: "+err.Error(), "", "", nil)
	}
	if n < cfg.ProbeNum {
		timer.Reset(now.Add(a.randDuration(cfg.ProbeMin, cfg.ProbeMax)))
		return false
	}
	timer.Reset(now.Add(cfg.AnnounceWait))
	return true
}

// claimStep runs when the claim timer fires: the next probe, the end of
// ANNOUNCE_WAIT, or the next announcement.
func (a *arpIface) claimStep(now clock.Time) {
	cfg := &a.l.cfg
	c := &a.addr
	if c.state == AddrConflict {
		return
	}
	own := a.ifc.addr.Addr()
	switch c.phase {
	case phaseProbe:
		c.sent++
		if a.sendProbe(now, own, c.sent, c.timer, "the tentative address") {
			c.phase = phaseWait
		}
	case phaseWait:
		a.setAddrState(now, AddrPreferred,
			fmt.Sprintf("no host answered %d probes for %s within %v of the last, so the address is ours; it is announced next", cfg.ProbeNum, own, cfg.AnnounceWait),
			"RFC 5227 §2.1.1")
		c.phase = phaseAnnounce
		c.sent = 0
		a.announceStep(now)
	case phaseAnnounce:
		a.announceStep(now)
	}
}

// announceStep sends the next announcement and arms the timer for the one after.
func (a *arpIface) announceStep(now clock.Time) {
	cfg := &a.l.cfg
	c := &a.addr
	c.sent++
	if err := a.sendAnnouncement(now, fmt.Sprintf("sent ARP announcement %d of %d", c.sent, cfg.AnnounceNum),
		"having claimed the address, tipy announces it with a gratuitous ARP so that neighbours whose cache holds an old MAC for it update their entry",
		"RFC 5227 §2.3"); err != nil {
		a.l.s.arpEvent(now, a.ifc, observe.KindError, "ARP announcement not sent: "+err.Error(), "", "", nil)
	}
	if c.sent < cfg.AnnounceNum {
		c.timer.Reset(now.Add(cfg.AnnounceInterval))
		return
	}
	c.phase = phaseDone
}

// sendAnnouncement broadcasts a gratuitous ARP request: sender and target
// are both our address.
func (a *arpIface) sendAnnouncement(now clock.Time, summary, explain, rfc string) error {
	own := a.ifc.addr.Addr()
	h := wire.ARPHeader{Op: wire.ARPRequest, SHA: a.ifc.mac, SPA: own, TPA: own}
	return a.sendARP(now, wire.BroadcastMAC, &h, fmt.Sprintf("%s: %s is at %s", summary, own, a.ifc.mac), explain, rfc)
}

// setAddrState moves the address to st and publishes the change.
func (a *arpIface) setAddrState(now clock.Time, st AddrState, explain, rfc string) {
	from := a.addr.state
	a.addr.state = st
	if s := a.l.s; s.obs.Active() {
		own := a.ifc.addr.Addr()
		summary := fmt.Sprintf("address %s: %s → %s", own, from, st)
		if from == "" {
			summary = fmt.Sprintf("address %s is %s", own, st)
		}
		s.arpEvent(now, a.ifc, observe.KindState, summary, explain, rfc,
			map[string]any{"addr": own.String(), "from": string(from), "to": string(st)})
	}
}

// checkConflict looks for another host using our address in a received
// packet (already checked not to come from our own MAC). It reports
// whether the packet was a conflict, handled here and consumed.
func (a *arpIface) checkConflict(now clock.Time, h *wire.ARPHeader, frame wire.Ethernet) bool {
	s := a.l.s
	own := a.ifc.addr.Addr()
	c := &a.addr
	claims := h.SPA == own
	probe := h.Op == wire.ARPRequest && h.SPA.IsUnspecified() && h.TPA == own
	switch c.state {
	case AddrTentative:
		if !claims && !probe {
			return false
		}
		detail := fmt.Sprintf("%s at %s uses %s", h.Op, h.SHA, own)
		explain := fmt.Sprintf("while tentative, tipy heard %s say it has %s: the address is taken, so tipy will not use it", h.SHA, own)
		if probe {
			detail = fmt.Sprintf("%s probes for %s too", h.SHA, own)
			explain = fmt.Sprintf("another host (%s) is probing for %s at the same time: RFC 5227 treats that as a conflict so that neither host takes it", h.SHA, own)
		}
		s.drop(now, observe.LayerARP, ReasonARPConflict, frame, detail)
		a.giveUp(now, explain, "RFC 5227 §2.1.1", h.SHA)
		return true
	case AddrPreferred:
		if !claims {
			return false
		}
		s.drop(now, observe.LayerARP, ReasonARPConflict, frame, fmt.Sprintf("%s at %s claims %s", h.Op, h.SHA, own))
		if c.defended && now.Sub(c.lastDefend) < a.l.cfg.DefendInterval {
			a.giveUp(now, fmt.Sprintf("%s claims %s again within %v of our last defence: rather than fight over the address, tipy stops using it", h.SHA, own, a.l.cfg.DefendInterval),
				"RFC 5227 §2.4", h.SHA)
			return true
		}
		c.defended, c.lastDefend = true, now
		if err := a.sendAnnouncement(now, "defending "+own.String()+" against "+h.SHA.String(),
			fmt.Sprintf("%s claims our address %s; tipy defends it once with an announcement so that neighbours keep our MAC, and gives the address up if the conflict comes back within %v", h.SHA, own, a.l.cfg.DefendInterval),
			"RFC 5227 §2.4 (b)"); err != nil {
			s.arpEvent(now, a.ifc, observe.KindError, "defence not sent: "+err.Error(), "", "", nil)
		}
		return true
	case AddrConflict:
		if !claims {
			return false
		}
		s.drop(now, observe.LayerARP, ReasonARPConflict, frame, fmt.Sprintf("%s at %s uses %s, which we gave up", h.Op, h.SHA, own))
		return true
	}
	return false
}

// giveUp marks the address in conflict: it is not used any more.
func (a *arpIface) giveUp(now clock.Time, explain, rfc string, other wire.MAC) {
	if a.addr.timer != nil {
		a.addr.timer.Stop()
	}
	a.addr.phase = phaseDone
	a.setAddrState(now, AddrConflict, explain, rfc)
	a.l.s.arpEvent(now, a.ifc, observe.KindError,
		fmt.Sprintf("address conflict: %s is in use by %s; %s does not use it", a.ifc.addr.Addr(), other, a.l.s.cfg.Name),
		explain, rfc, map[string]any{"addr": a.ifc.addr.Addr().String(), "other_mac": other.String()})
}

// Announce sends a gratuitous ARP for the interface's address, so that
// neighbours update their entry for it (RFC 5227 §2.3, RFC 826). The
// address must be claimed (preferred). Loop work only.
func (ifc *Iface) Announce(now clock.Time) error {
	a := ifc.s.arp().iface(ifc)
	if a.addr.state != AddrPreferred {
		return sockErr("announce", ifc.addr.Addr().String(), EADDRNOTAVAIL, fmt.Sprintf("the address is %s", a.addr.state))
	}
	return a.sendAnnouncement(now, "sent gratuitous ARP",
		"a gratuitous ARP tells every host on the link that our address is at our MAC; hosts that already have an entry for it update it",
		"RFC 5227 §3")
}

// AnnounceARP sends a gratuitous ARP on every interface whose address is
// claimed. It may be called from any goroutine but not from loop work (it
// runs through Call).
func (s *Stack) AnnounceARP() error {
	var err error
	s.loop.Call(func() {
		now := s.loop.Now()
		var errs []error
		for _, ifc := range s.ifaces {
			errs = append(errs, ifc.Announce(now))
		}
		err = errors.Join(errs...)
	})
	return err
}
