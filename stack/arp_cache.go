package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// The ARP cache of an interface (RFC 826, RFC 1122 §2.3.2.1).
//
// Entry states and what moves them:
//
//	incomplete  a request is out, datagrams wait; the reply → reachable,
//	            Retries requests unanswered → failed
//	reachable   confirmed by the neighbour within ReachableTime; its timer → stale
//	stale       not confirmed lately. Policy: a stale entry is still used, and
//	            the first datagram sent through it also sends one request,
//	            unicast to the cached MAC; any ARP packet from the neighbour
//	            (the answer, or its own request) makes it reachable again.
//	            Unanswered, it stays stale (RFC 1122 §2.3.2.1 lets a host
//	            choose; this is the "unicast poll" of that section, once).
//	failed      no reply after every retry; datagrams for it fail at once with
//	            EHOSTUNREACH until FailedHold passes, then the entry goes
//	            away and the next datagram starts a new resolution
//	static      added by a person; never aged, evicted or changed by ARP
//
// Limit: at most MaxEntries entries per interface that are not static. A
// new entry evicts the oldest stale, failed or incomplete-without-datagrams
// entry; reachable entries and entries with waiting datagrams are kept, and
// when nothing may go the new entry is refused (arp-cache-full).

// ARPState is the state of an ARP cache entry.
type ARPState string

// ARP cache entry states.
const (
	ARPIncomplete ARPState = "incomplete" // resolution in progress
	ARPReachable  ARPState = "reachable"  // recently confirmed
	ARPStale      ARPState = "stale"      // usable, to be revalidated
	ARPFailed     ARPState = "failed"     // no reply; held before a new try
	ARPStatic     ARPState = "static"     // configured, never aged
)

// arpEntry is one neighbour in an interface's cache.
type arpEntry struct {
	ip        netip.Addr
	mac       wire.MAC
	state     ARPState
	confirmed clock.Time // last confirmation (creation for an incomplete entry)
	changed   clock.Time // last state change: the age used for eviction
	retries   int        // requests sent in the current resolution
	polled    bool       // a stale entry already sent its one unicast request
	queue     []queuedDatagram
	timer     *clock.Timer // retry, failed hold, or reachable → stale
}

// ARPEntry is a snapshot of one cache entry for the dashboard and the API.
type ARPEntry struct {
	Iface   string        // interface name
	IP      netip.Addr    // the neighbour's IPv4 address
	MAC     wire.MAC      // its MAC address (zero while incomplete or failed)
	State   ARPState      // see the ARPState constants
	Age     time.Duration // time since the entry was last confirmed (or created)
	Queued  int           // datagrams waiting for resolution
	Retries int           // requests sent in the current resolution
	Static  bool          // added by a person, never aged
}

func newARPIface(l *arpLayer, ifc *Iface) *arpIface {
	return &arpIface{l: l, ifc: ifc, cache: make(map[netip.Addr]*arpEntry)}
}

// setState moves e to state st and publishes the change.
func (a *arpIface) setState(now clock.Time, e *arpEntry, st ARPState, why, rfc string) {
	a.setStateFields(now, e, st, why, rfc, nil)
}

// setStateFields is setState with extra fields for the event.
func (a *arpIface) setStateFields(now clock.Time, e *arpEntry, st ARPState, why, rfc string, extra map[string]any) {
	from := e.state
	e.state = st
	e.changed = now
	if s := a.l.s; s.obs.Active() {
		summary := fmt.Sprintf("cache %s: %s → %s", e.ip, from, st)
		if from == "" {
			summary = fmt.Sprintf("cache %s: new %s entry", e.ip, st)
		}
		if e.mac != wire.ZeroMAC && st != ARPIncomplete && st != ARPFailed {
			summary += " at " + e.mac.String()
		}
		s.arpEvent(now, a.ifc, observe.KindCache, summary, why, rfc, withFields(map[string]any{
			"ip": e.ip.String(), "mac": e.mac.String(), "from": string(from), "to": string(st),
		}, extra))
	}
}

// withFields adds extra to f and returns f.
func withFields(f, extra map[string]any) map[string]any {
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// newEntry adds an entry for ip in state st, evicting to stay within
// MaxEntries. It returns nil (after counting arp-cache-full) when the cache
// is full of entries that may not go.
func (a *arpIface) newEntry(now clock.Time, ip netip.Addr, mac wire.MAC, st ARPState, why, rfc string) *arpEntry {
	if st != ARPStatic && a.dyn >= a.l.cfg.MaxEntries && !a.evict(now) {
		a.l.s.drop(now, observe.LayerARP, ReasonARPCacheFull, nil,
			fmt.Sprintf("no room for %s: %d entries, none stale, failed or idle", ip, a.dyn))
		return nil
	}
	e := &arpEntry{ip: ip, mac: mac, confirmed: now}
	a.cache[ip] = e
	if st != ARPStatic {
		a.dyn++
	}
	a.setState(now, e, st, why, rfc)
	return e
}

// evictable reports whether e may be evicted to make room.
func evictable(e *arpEntry) bool {
	switch e.state {
	case ARPStale, ARPFailed:
		return true
	case ARPIncomplete:
		return len(e.queue) == 0
	}
	return false
}

// evict removes the oldest evictable entry. It reports false if none is.
func (a *arpIface) evict(now clock.Time) bool {
	var victim *arpEntry
	for _, e := range a.cache {
		if !evictable(e) {
			continue
		}
		if victim == nil || e.changed < victim.changed || (e.changed == victim.changed && e.ip.Less(victim.ip)) {
			victim = e
		}
	}
	if victim == nil {
		return false
	}
	a.remove(now, victim, fmt.Sprintf("evicted: the cache holds its limit of %d entries and this %s entry is the oldest that may go", a.l.cfg.MaxEntries, victim.state))
	return true
}

// remove deletes e from the cache; datagrams still waiting fail.
func (a *arpIface) remove(now clock.Time, e *arpEntry, why string) {
	if e.timer != nil {
		e.timer.Stop()
	}
	if len(e.queue) > 0 {
		a.failQueue(now, e, "the entry was removed: "+why)
	}
	delete(a.cache, e.ip)
	if e.state != ARPStatic {
		a.dyn--
	}
	a.l.s.arpEvent(now, a.ifc, observe.KindCache, fmt.Sprintf("cache %s: %s entry removed", e.ip, e.state), why, "",
		map[string]any{"ip": e.ip.String(), "mac": e.mac.String(), "from": string(e.state), "to": "none"})
}

// confirm records that the neighbour is at mac now: the entry becomes
// reachable, its aging timer restarts, and waiting datagrams leave. extra
// adds fields to the cache event (what confirmed it).
func (a *arpIface) confirm(now clock.Time, e *arpEntry, mac wire.MAC, why, rfc string, extra map[string]any) {
	moved := e.mac != wire.ZeroMAC && e.mac != mac && e.state != ARPIncomplete && e.state != ARPFailed
	old := e.mac
	e.mac = mac
	e.confirmed = now
	e.retries = 0
	e.polled = false
	if e.state != ARPReachable {
		a.setStateFields(now, e, ARPReachable, why, rfc, extra)
	} else if moved {
		a.setStateFields(now, e, ARPReachable, why, rfc, extra) // same state, new MAC: still worth an event
	} else if s := a.l.s; s.obs.Active() {
		s.arpEvent(now, a.ifc, observe.KindCache, fmt.Sprintf("cache %s: confirmed at %s", e.ip, mac), why, rfc,
			withFields(map[string]any{"ip": e.ip.String(), "mac": mac.String(), "from": string(ARPReachable), "to": string(ARPReachable)}, extra))
	}
	if moved && a.l.s.obs.Active() {
		a.l.s.arpEvent(now, a.ifc, observe.KindCache, fmt.Sprintf("cache %s: MAC changed %s → %s", e.ip, old, mac),
			"the neighbour now answers from another MAC address (a new network card, or a failover); RFC 826 says to believe the newest packet", "RFC 826",
			map[string]any{"ip": e.ip.String(), "mac": mac.String(), "old_mac": old.String()})
	}
	a.armAging(now, e)
	a.release(now, e)
}

// armAging (re)starts the reachable → stale timer of e.
func (a *arpIface) armAging(now clock.Time, e *arpEntry) {
	at := now.Add(a.l.cfg.ReachableTime)
	a.timerFor(e).Reset(at)
}

// timerFor returns e's timer, creating it. The one timer serves every
// state: what it does when it fires depends on the state then.
func (a *arpIface) timerFor(e *arpEntry) *clock.Timer {
	if e.timer == nil {
		e.timer = a.l.s.loop.NewTimer(func() { a.entryTimer(e) })
	}
	return e.timer
}

// entryTimer runs when e's timer fires.
func (a *arpIface) entryTimer(e *arpEntry) {
	now := a.l.s.loop.Now()
	if a.cache[e.ip] != e {
		return // removed meanwhile
	}
	switch e.state {
	case ARPReachable:
		a.setState(now, e, ARPStale,
			fmt.Sprintf("%s has not confirmed its address for %v; the entry is still used, and the next datagram to it also checks it with one request", e.ip, a.l.cfg.ReachableTime),
			"RFC 1122 §2.3.2.1")
	case ARPIncomplete:
		a.retry(now, e)
	case ARPFailed:
		a.remove(now, e, fmt.Sprintf("the failed entry was held for %v; the next datagram to %s will try again", a.l.cfg.FailedHold, e.ip))
	}
}

// merge applies RFC 826's merge step: a packet from a sender in the cache
// updates its entry. A static entry is never changed by the network.
func (a *arpIface) merge(now clock.Time, e *arpEntry, mac wire.MAC, gratuitous bool) {
	s := a.l.s
	if e.state == ARPStatic {
		if e.mac != mac {
			s.arpEvent(now, a.ifc, observe.KindInfo, fmt.Sprintf("ARP says %s is at %s; the static entry (%s) is kept", e.ip, mac, e.mac),
				"static entries are set by a person and ARP packets never change them, which is what static entries are for (they resist spoofing)", "RFC 826",
				map[string]any{"ip": e.ip.String(), "mac": mac.String(), "static_mac": e.mac.String()})
		}
		return
	}
	var why string
	var extra map[string]any
	if s.obs.Active() {
		why = fmt.Sprintf("%s sent an ARP packet from %s: RFC 826 updates an entry we already have with the sender's address (merge)", e.ip, mac)
		if gratuitous {
			why = fmt.Sprintf("%s sent a gratuitous ARP: it already has an entry here, so the entry is updated to %s (an existing entry only: arp_accept=0 policy)", e.ip, mac)
			extra = map[string]any{"gratuitous": true}
		}
	}
	a.confirm(now, e, mac, why, "RFC 826", extra)
}

// learn adds the sender of a packet for our address (RFC 826: it is about
// to talk to us, so we will need its address).
func (a *arpIface) learn(now clock.Time, ip netip.Addr, mac wire.MAC) {
	var why string
	if a.l.s.obs.Active() {
		why = fmt.Sprintf("%s sent an ARP packet to our address, so RFC 826 adds it: we will likely answer it soon", ip)
	}
	e := a.newEntry(now, ip, mac, ARPReachable, why, "RFC 826")
	if e != nil {
		a.armAging(now, e)
	}
}

// lookupIface returns the ARP state of the interface whose network holds ip.
func (l *arpLayer) lookupIface(ip netip.Addr) *arpIface {
	for _, ifc := range l.s.ifaces {
		if ifc.addr.Masked().Contains(ip) {
			return l.iface(ifc)
		}
	}
	return nil
}

// AddStaticARP adds a static entry for ip, on the interface whose network
// holds it. Static entries are never aged or changed by ARP packets. Loop
// work only; from other goroutines use Call.
func (s *Stack) AddStaticARP(ip netip.Addr, mac wire.MAC) error {
	a := s.arp().lookupIface(ip)
	if a == nil {
		return fmt.Errorf("arp %s: not on the network of any interface", ip)
	}
	return a.ifc.AddStaticARP(ip, mac)
}

// AddStaticARP adds a static entry for ip on the interface, replacing any
// entry for it; datagrams waiting for ip leave at once. Loop work only.
func (ifc *Iface) AddStaticARP(ip netip.Addr, mac wire.MAC) error {
	if !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() || ip == limitedBroadcast || ifc.isBroadcast(ip) {
		return fmt.Errorf("arp %s: a static entry needs a unicast IPv4 address", ip)
	}
	if mac.IsMulticast() || mac == wire.ZeroMAC {
		return fmt.Errorf("arp %s: mac %s must be a unicast address", ip, mac)
	}
	a := ifc.s.arp().iface(ifc)
	now := ifc.s.loop.Now()
	why := fmt.Sprintf("a person set %s to %s; static entries are never aged nor changed by ARP", ip, mac)
	e := a.cache[ip]
	if e == nil {
		a.newEntry(now, ip, mac, ARPStatic, why, "RFC 1122 §2.3.2.1")
		return nil
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	if e.state != ARPStatic {
		a.dyn--
	}
	e.mac, e.confirmed, e.retries = mac, now, 0
	a.setState(now, e, ARPStatic, why, "RFC 1122 §2.3.2.1")
	a.release(now, e)
	return nil
}

// ErrNoARPEntry is wrapped by DeleteARP's error when no interface has an
// entry for the address.
var ErrNoARPEntry = errors.New("no such entry")

// DeleteARP removes the entry for ip, static or not, from every interface.
// Datagrams waiting for it fail with EHOSTUNREACH. Loop work only.
func (s *Stack) DeleteARP(ip netip.Addr) error {
	found := false
	now := s.loop.Now()
	for _, ifc := range s.ifaces {
		a := s.arp().iface(ifc)
		if e := a.cache[ip]; e != nil {
			a.remove(now, e, "deleted by a person")
			found = true
		}
	}
	if !found {
		return fmt.Errorf("arp %s: %w", ip, ErrNoARPEntry)
	}
	return nil
}

// ARPTable returns every cache entry of every interface, by interface then
// address. Loop work only; other goroutines (the web layer) call it inside
// Call.
func (s *Stack) ARPTable() []ARPEntry {
	now := s.loop.Now()
	var out []ARPEntry
	for _, ifc := range s.ifaces {
		a := s.arp().iface(ifc)
		start := len(out)
		for _, e := range a.cache {
			out = append(out, ARPEntry{
				Iface: ifc.name, IP: e.ip, MAC: e.mac, State: e.state, Age: now.Sub(e.confirmed),
				Queued: len(e.queue), Retries: e.retries, Static: e.state == ARPStatic,
			})
		}
		part := out[start:]
		sort.Slice(part, func(i, j int) bool { return part[i].IP.Less(part[j].IP) })
	}
	return out
}
